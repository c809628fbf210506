// nexmark-enrich end to end: the real `kappa` binary enriches generated bids from a person
// service (tests/lookup_server.py, started by each test on a free port) that answers 503
// to 30% of calls at random and 500 to poison ids (bidder % 17 == 0) until it is fixed.
//
// The expected rows come from the generator's bids (nexmark-copy of the same events) and
// the service's rule (name "Person ID", state STATES[ID % 6]), not from the job.
//
// A bid that is not poison fails an attempt with probability 0.3 at most, so with 12
// attempts it ends as a dead letter with probability below 0.3^12 ≈ 5e-7; over the
// ≈ 1800 bids of a test that is ≈ 1e-3. The tests take 12 attempts for that reason. An
// attempt may take up to 20 s, so that a loaded machine does not turn a slow answer into
// a timeout (an error the tests do not expect).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "kappa/app/json_tree.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::kappa::testing::CompleteCheckpoints;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::testing::HasSubstr;

constexpr int kAttempts = 12;
constexpr int64_t kPoisonMod = 17;
const char* const kStates[] = {"OR", "ID", "CA", "WA", "NV", "AZ"};

bool IsPoison(int64_t bidder) { return bidder % kPoisonMod == 0; }

std::string Describe(const RunResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out.substr(0, 2000), "\nstderr:\n", r.err);
}

struct Bid {
  int64_t auction = 0, bidder = 0, price = 0, date_time = 0;
  int64_t event = -1;  // the event number in the generator's partition 0, when known
};

// The row nexmark-enrich writes for `bid`, as the service answers for its bidder.
std::string EnrichedRow(const Bid& b) {
  return absl::StrFormat(R"({"auction":%d,"bidder":%d,"price":%d,"dateTime":%d,"name":"Person %d","state":"%s"})",
                         b.auction, b.bidder, b.price, b.date_time, b.bidder, kStates[b.bidder % 6]);
}

// One line of the dead-letter output, parsed.
struct Letter {
  Bid bid;            // the record: the bid event as read
  std::string kind;
  std::string op;
  int attempts = 0;
  std::vector<std::string> errors;
  int64_t first_failure = 0, last_failure = 0;
  int64_t partition = -1, offset = -1;
};

std::vector<Letter> ReadLetters(const std::string& dir) {
  std::vector<Letter> letters;
  for (const std::string& line : OutputLines(dir)) {
    auto tree = app::ParseJsonTree(line);
    if (!tree.ok()) {
      ADD_FAILURE() << tree.status() << ": " << line;
      continue;
    }
    Letter l;
    if (const app::JsonNode* r = tree->Get("record")) {
      EXPECT_EQ(r->String("type"), "bid") << line;
      l.bid = Bid{static_cast<int64_t>(r->Number("auction")), static_cast<int64_t>(r->Number("bidder")),
                  static_cast<int64_t>(r->Number("price")), static_cast<int64_t>(r->Number("dateTime"))};
    } else {
      ADD_FAILURE() << "no record: " << line;
    }
    l.kind = tree->String("kind");
    l.op = tree->String("operator");
    l.attempts = static_cast<int>(tree->Number("attempts"));
    for (const app::JsonNode& e : tree->Items("errors")) l.errors.push_back(e.string);
    l.first_failure = static_cast<int64_t>(tree->Number("first_failure"));
    l.last_failure = static_cast<int64_t>(tree->Number("last_failure"));
    l.partition = static_cast<int64_t>(tree->Number("partition", -1));
    l.offset = static_cast<int64_t>(tree->Number("offset", -1));
    letters.push_back(std::move(l));
  }
  return letters;
}

// A bid as text, to compare multisets of bids.
std::string Key(const Bid& b) { return absl::StrCat(b.auction, "/", b.bidder, "/", b.price, "/", b.date_time); }

// The person service, a child process of the test: started on a free port, killed at the
// end.
class LookupServer {
 public:
  explicit LookupServer(const std::string& dir) : dir_(dir) {}
  ~LookupServer() { Stop(); }
  LookupServer(const LookupServer&) = delete;
  LookupServer& operator=(const LookupServer&) = delete;

  // Starts the service with `args`; false (and a test failure) when it does not come up.
  bool Start(const std::vector<std::string>& args) {
    const std::string url_file = dir_ + "/lookup.url";
    fs::remove(url_file);
    std::vector<std::string> all = {KAPPA_LOOKUP_SERVER, "--url-file", url_file};
    all.insert(all.end(), args.begin(), args.end());
    pid_ = ::kappa::testing::StartProgram(KAPPA_PYTHON, all, dir_ + "/lookup.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = ReadFile(url_file);
      if (!text.empty()) {
        url_ = std::string(absl::StripTrailingAsciiWhitespace(text));
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "the lookup service did not start: " << ReadFile(dir_ + "/lookup.log");
    return false;
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      ::kappa::testing::WaitKappa(pid_);
      pid_ = -1;
    }
  }

  const std::string& url() const { return url_; }

  // GET /admin/fix: poison ids answer from now on.
  void Fix() {
    httplib::Client client(url_);
    auto res = client.Get("/admin/fix");
    ASSERT_TRUE(res && res->status == 200) << "could not fix the lookup service";
  }

  // The calls the service answered: per id, and every call in order.
  struct Call {
    int64_t id = 0;
    int status = 0;
    int64_t ms = 0;  // when it was answered, epoch ms
  };
  struct Calls {
    std::map<int64_t, int> per_id;
    std::vector<Call> log;
  };
  Calls GetCalls() {
    Calls calls;
    httplib::Client client(url_);
    auto res = client.Get("/admin/calls");
    if (!res || res->status != 200) {
      ADD_FAILURE() << "GET /admin/calls failed";
      return calls;
    }
    auto tree = app::ParseJsonTree(res->body);
    if (!tree.ok()) {
      ADD_FAILURE() << tree.status();
      return calls;
    }
    if (const app::JsonNode* per_id = tree->Get("calls")) {
      for (const app::JsonField& f : per_id->fields) calls.per_id[std::stoll(f.name)] = static_cast<int>(f.node.number);
    }
    for (const app::JsonNode& entry : tree->Items("log")) {
      if (entry.items.size() == 3) {
        calls.log.push_back(Call{static_cast<int64_t>(entry.items[0].number), static_cast<int>(entry.items[1].number),
                                 static_cast<int64_t>(entry.items[2].number)});
      }
    }
    return calls;
  }

 private:
  std::string dir_;
  std::string url_;
  pid_t pid_ = -1;
};

class NexmarkEnrichTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_enrich_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The bids of `source` in input order, with their event numbers, read from
  // nexmark-copy's output (one partition: line i is event i).
  std::vector<Bid> BidsOf(const std::string& source) {
    std::vector<Bid> bids;
    RunResult r = RunKappa({"run", "nexmark-copy", "--source", source, "--sink", "stdout:", "-q"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    int64_t event = 0;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      auto row = app::ParseJsonTree(std::string_view(line.data(), line.size()));
      if (!row.ok()) {
        ADD_FAILURE() << row.status() << ": " << line;
        continue;
      }
      if (row->String("type") == "bid") {
        bids.push_back(Bid{static_cast<int64_t>(row->Number("auction")), static_cast<int64_t>(row->Number("bidder")),
                           static_cast<int64_t>(row->Number("price")), static_cast<int64_t>(row->Number("dateTime")),
                           event});
      }
      ++event;
    }
    return bids;
  }

  // The rows every bid that is not poison must give, sorted.
  static std::vector<std::string> ExpectedRows(const std::vector<Bid>& bids) {
    std::vector<std::string> rows;
    for (const Bid& b : bids) {
      if (!IsPoison(b.bidder)) rows.push_back(EnrichedRow(b));
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  // The dead letters in `dir` are exactly the poison bids of `bids`, each tried kAttempts
  // times with the error of every attempt.
  static void ExpectPoisonLetters(const std::vector<Bid>& bids, const std::string& dir) {
    std::vector<std::string> poison, lettered;
    for (const Bid& b : bids) {
      if (IsPoison(b.bidder)) poison.push_back(Key(b));
    }
    for (const Letter& l : ReadLetters(dir)) {
      SCOPED_TRACE(Key(l.bid));
      lettered.push_back(Key(l.bid));
      EXPECT_EQ(l.kind, "user");
      EXPECT_EQ(l.op, "enrich");
      EXPECT_EQ(l.attempts, kAttempts);
      ASSERT_EQ(l.errors.size(), static_cast<size_t>(kAttempts));
      for (const std::string& e : l.errors) EXPECT_THAT(e, HasSubstr(absl::StrCat("/person/", l.bid.bidder, ": 500")));
      EXPECT_GT(l.first_failure, 1'700'000'000'000);  // epoch ms
      EXPECT_LT(l.first_failure, l.last_failure);
    }
    std::sort(poison.begin(), poison.end());
    std::sort(lettered.begin(), lettered.end());
    EXPECT_EQ(lettered.size(), poison.size());
    EXPECT_TRUE(lettered == poison) << "the dead letters are not exactly the poison bids";
  }

  std::vector<std::string> EnrichArgs(const std::string& source, const std::string& out,
                                      const std::string& backoff = "2:20") {
    return {"run",         "nexmark-enrich", "--source", source, "--sink", "file:" + out + "/", "--param",
            "lookup=" + server_->url(), "--param", "timeout=20s", "--retry-attempts", std::to_string(kAttempts),
            "--retry-backoff", backoff};
  }

  // Starts the person service: 503 for 30% of calls, 500 for poison ids.
  void StartServer(std::vector<std::string> extra = {}) {
    server_ = std::make_unique<LookupServer>(dir_);
    std::vector<std::string> args = {"--poison-mod", std::to_string(kPoisonMod), "--fail-rate", "0.3"};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(server_->Start(args));
  }

  std::string dir_;
  std::unique_ptr<LookupServer> server_;
};

// Every bid that is not poison comes out enriched exactly once; every poison bid is a dead
// letter after exactly kAttempts attempts; and the bids behind a poison bid flow while it
// waits for its retries: the service answers many lookups between a poison bid's first and
// last failure (the dead letter's first_failure and last_failure, taken on the same clock
// as the service's log), more than the lookups the operator may have open at once — so not
// merely calls that were in flight already. The order of events is what is checked, not
// how long anything took.
TEST_F(NexmarkEnrichTest, EveryBidIsEnrichedOnceOrADeadLetterAndFreshBidsFlowPastPoison) {
  const std::string source = "gen:nexmark?events=2000";
  std::vector<Bid> bids = BidsOf(source);
  ASSERT_GT(bids.size(), 1500u);
  int poison = std::count_if(bids.begin(), bids.end(), [](const Bid& b) { return IsPoison(b.bidder); });
  ASSERT_GT(poison, 5) << "the input needs poison bids to be a test of them";
  ASSERT_NO_FATAL_FAILURE(StartServer());

  constexpr int kCapacity = 16;
  std::vector<std::string> args = EnrichArgs(source, dir_ + "/out", "20:200");
  args.insert(args.end(), {"--param", absl::StrCat("capacity=", kCapacity), "--checkpoint-dir", dir_ + "/chk",
                           "--dead-letter", "file:" + dir_ + "/dl/", "--errors", "file:" + dir_ + "/errors.jsonl"});
  RunResult r = RunKappa(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(poison, " dead letters"))) << Describe(r);

  std::vector<std::string> got = OutputLines(dir_ + "/out");
  std::vector<std::string> expected = ExpectedRows(bids);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the enriched rows differ from the generator's bids that are not poison";
  ExpectPoisonLetters(bids, dir_ + "/dl");
  EXPECT_EQ(ReadFile(dir_ + "/errors.jsonl"), "") << "given-up bids go to the dead letters, not to --errors";

  // Every poison bid was tried exactly kAttempts times; the 503s made the service see more
  // calls than bids.
  LookupServer::Calls calls = server_->GetCalls();
  std::map<int64_t, int> poison_bids;
  for (const Bid& b : bids) {
    if (IsPoison(b.bidder)) ++poison_bids[b.bidder];
  }
  for (const auto& [bidder, n] : poison_bids) {
    EXPECT_EQ(calls.per_id[bidder], n * kAttempts) << "bidder " << bidder << " with " << n << " bids";
  }
  int failed = std::count_if(calls.log.begin(), calls.log.end(), [](const auto& c) { return c.status == 503; });
  EXPECT_GT(failed, static_cast<int>(bids.size() / 10)) << "the service failed too few calls to test retries";

  // Each letter names where its bid was read: partition 0, at the bid's event number.
  std::map<std::string, std::set<int64_t>> events_of;
  for (const Bid& b : bids) events_of[Key(b)].insert(b.event);
  for (const Letter& l : ReadLetters(dir_ + "/dl")) {
    EXPECT_EQ(l.partition, 0) << Key(l.bid);
    EXPECT_TRUE(events_of[Key(l.bid)].count(l.offset)) << Key(l.bid) << " at offset " << l.offset;
  }

  // Fresh bids flow: for the poison bids of the first half of the input (later ones may
  // find no fresh bids left), lookups answered while they waited.
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < bids.size(); ++i) position.emplace(Key(bids[i]), i);
  int checked = 0, fewest = 1 << 30;
  for (const Letter& l : ReadLetters(dir_ + "/dl")) {
    if (position[Key(l.bid)] >= bids.size() / 2) continue;
    int answered = 0;
    for (const LookupServer::Call& c : calls.log) {
      answered += c.status == 200 && c.ms > l.first_failure && c.ms < l.last_failure;
    }
    EXPECT_GT(answered, kCapacity) << "bid " << Key(l.bid) << " held up the bids behind it";
    fewest = std::min(fewest, answered);
    ++checked;
  }
  EXPECT_GT(checked, 0);
  RecordProperty("fewest_lookups_answered_while_a_poison_bid_waited", fewest);
}

// Killed with SIGKILL once a checkpoint completed and before the input ended, then
// restarted from the checkpoint with another parallelism (2 instances, then 3: the open
// lookups of the checkpoint are dealt out anew): the committed rows are still every bid
// that is not poison, exactly once, and every poison bid one dead letter.
TEST_F(NexmarkEnrichTest, KillNineAndRestartLosesAndDuplicatesNothing) {
  // Paced at 1000 events per second of wall-clock time, so the run lasts ≈ 3 s and can be
  // killed in the middle; the restart finds every event due and reads the rest at once.
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string events = absl::StrCat("gen:nexmark?events=3000&rate=1000&partitions=2&base_time=", now_ms);
  const std::string source = events + "&pace=true";
  std::vector<Bid> bids = BidsOf(events);
  ASSERT_GT(bids.size(), 2500u);
  ASSERT_NO_FATAL_FAILURE(StartServer());

  // Backoffs up to 200 ms: a poison bid waits ≈ 1.7 s over its attempts, so many wait in
  // every checkpoint.
  std::vector<std::string> args = EnrichArgs(source, dir_ + "/out", "20:200");
  args.insert(args.end(), {"--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "100", "--dead-letter",
                           "file:" + dir_ + "/dl/", "--errors", "file:" + dir_ + "/errors.jsonl"});
  const std::string log = dir_ + "/kappa.log";
  std::vector<std::string> first = args;
  first.insert(first.end(), {"-p", "2"});
  pid_t pid = ::kappa::testing::StartKappa(first, log);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Killed once some dead letters were committed: poison bids are waiting for retries by
  // then, in the checkpoints too.
  while (std::chrono::steady_clock::now() < deadline &&
         (CompleteCheckpoints(dir_ + "/chk").size() < 2 || OutputLines(dir_ + "/dl").empty())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int64_t kill_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  kill(pid, SIGKILL);
  ASSERT_EQ(::kappa::testing::WaitKappa(pid), 128 + SIGKILL) << "the run ended before it was killed\n"
                                                             << ReadFile(log);
  const size_t before = OutputLines(dir_ + "/out").size();
  std::vector<std::string> expected = ExpectedRows(bids);
  ASSERT_GT(before, 0u) << ReadFile(log);
  ASSERT_LT(before, expected.size()) << "the kill came after the whole output was committed";

  args.insert(args.end(), {"-p", "3"});
  RunResult r = RunKappa(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("restored checkpoint")) << Describe(r);
  std::vector<std::string> got = OutputLines(dir_ + "/out");
  EXPECT_EQ(got.size(), expected.size()) << before << " rows were committed before the kill";
  EXPECT_TRUE(got == expected) << "the committed rows differ from an uninterrupted run's";
  // Pending retries and their attempt counts came back with the checkpoint: every poison
  // bid is one dead letter, after kAttempts attempts in all, and some letters' attempts
  // began before the kill and ended after it (a bid read again from the source would have
  // begun anew after the restart).
  ExpectPoisonLetters(bids, dir_ + "/dl");
  int straddling = 0;
  for (const Letter& l : ReadLetters(dir_ + "/dl")) straddling += l.first_failure < kill_ms && l.last_failure > kill_ms;
  EXPECT_GT(straddling, 0) << "no bid waiting for a retry came back from the checkpoint";
  RecordProperty("letters_whose_attempts_straddle_the_kill", straddling);
}

// The service fixed, a redrive of the dead letters enriches exactly the bids given up on:
// the first run's rows and the redrive's together are every bid, each once.
TEST_F(NexmarkEnrichTest, RedriveAfterTheFixCompletesTheOutput) {
  const std::string source = "gen:nexmark?events=2000&seed=7";
  std::vector<Bid> bids = BidsOf(source);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  std::vector<std::string> args = EnrichArgs(source, dir_ + "/out");
  args.insert(args.end(), {"--checkpoint-dir", dir_ + "/chk", "--dead-letter", "file:" + dir_ + "/dl/", "-q"});
  RunResult r = RunKappa(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ExpectPoisonLetters(bids, dir_ + "/dl");
  const size_t poison = OutputLines(dir_ + "/dl").size();
  ASSERT_GT(poison, 5u);

  ASSERT_NO_FATAL_FAILURE(server_->Fix());
  r = RunKappa({"replay", "nexmark-enrich", "--redrive", "--source", "file:" + dir_ + "/dl/", "--sink",
                "file:" + dir_ + "/redriven/", "--param", "lookup=" + server_->url(), "--param", "timeout=20s",
                "--retry-attempts",
                std::to_string(kAttempts), "--retry-backoff", "2:20", "--dead-letter", "file:" + dir_ + "/dl2/",
                "--checkpoint-dir", dir_ + "/chk2"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<std::string> redriven = OutputLines(dir_ + "/redriven");
  EXPECT_EQ(redriven.size(), poison);
  EXPECT_TRUE(OutputLines(dir_ + "/dl2").empty()) << "a redrive after the fix gives up on nothing";

  std::vector<std::string> all = OutputLines(dir_ + "/out");
  all.insert(all.end(), redriven.begin(), redriven.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> every;
  for (const Bid& b : bids) every.push_back(EnrichedRow(b));
  std::sort(every.begin(), every.end());
  EXPECT_EQ(all.size(), every.size());
  EXPECT_TRUE(all == every) << "the run and the redrive together are not every bid enriched once";
}

// A 404 (no such person) is not worth another attempt: the bid is a dead letter after
// one call, while 503s and 500s are retried.
TEST_F(NexmarkEnrichTest, NotFoundIsADeadLetterAtOnce) {
  const std::string source = "gen:nexmark?events=500";
  std::vector<Bid> bids = BidsOf(source);
  // The bidder with most bids that is neither poison nor the hot bidder.
  std::map<int64_t, int> per_bidder;
  for (const Bid& b : bids) ++per_bidder[b.bidder];
  int64_t missing = -1;
  for (const auto& [bidder, n] : per_bidder) {
    if (!IsPoison(bidder) && n < static_cast<int>(bids.size() / 4) && (missing < 0 || n > per_bidder[missing])) {
      missing = bidder;
    }
  }
  ASSERT_GE(missing, 0);
  ASSERT_NO_FATAL_FAILURE(StartServer({"--missing", std::to_string(missing)}));
  std::vector<std::string> args = EnrichArgs(source, dir_ + "/out");
  args.insert(args.end(), {"--checkpoint-dir", dir_ + "/chk", "--dead-letter", "file:" + dir_ + "/dl/", "-q"});
  RunResult r = RunKappa(args);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);

  int not_found = 0;
  for (const Letter& l : ReadLetters(dir_ + "/dl")) {
    if (l.bid.bidder != missing) continue;
    ++not_found;
    EXPECT_EQ(l.attempts, 1);
    ASSERT_EQ(l.errors.size(), 1u) << absl::StrJoin(l.errors, "; ");
    EXPECT_THAT(l.errors[0], HasSubstr(absl::StrCat("GET /person/", missing, ": 404")));
  }
  EXPECT_EQ(not_found, per_bidder[missing]);
  EXPECT_EQ(server_->GetCalls().per_id[missing], per_bidder[missing]) << "a 404 was called again";
  for (const std::string& row : OutputLines(dir_ + "/out")) {
    EXPECT_THAT(row, ::testing::Not(HasSubstr(absl::StrCat("\"bidder\":", missing, ","))));
  }
}

TEST_F(NexmarkEnrichTest, BadRetryFlagsAreOneLineErrors) {
  RunResult r = RunKappa({"run", "nexmark-enrich", "--source", "gen:nexmark?events=10", "--sink", "stdout:", "--param",
                          "lookup=http://127.0.0.1:1", "--retry-backoff", "500"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--retry-backoff '500': use MIN_MS:MAX_MS")) << Describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(r);

  r = RunKappa({"run", "nexmark-enrich", "--source", "gen:nexmark?events=10", "--sink", "stdout:", "--param",
                "lookup=http://127.0.0.1:1", "--retry-backoff", "900:100"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("MIN_MS <= MAX_MS")) << Describe(r);

  r = RunKappa({"run", "nexmark-enrich", "--source", "gen:nexmark?events=10", "--sink", "stdout:"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("lookup")) << Describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(r);
}

}  // namespace
}  // namespace kappa
