// Dead letters end to end, through a job binary of a user's own (dead_letter_job.cc:
// `poison-bids`, whose pricing function throws kappa::PermanentError for the bids of every
// 7th bidder): the letters of a run in a `--dead-letter file:DIR/` directory, where each
// came from; decode failures as dead letters; a run killed with SIGKILL and restored
// writes exactly the letters and rows of an uninterrupted run; a redrive after the fix
// completes the output; bad flags fail in one line.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using testing::OutputLines;
using testing::ReadFile;

constexpr int64_t kPoisonEvery = 7;

int RunJob(const std::vector<std::string>& args, const std::string& log) {
  return testing::WaitKappa(testing::StartProgram(KAPPA_DEAD_LETTER_JOB, args, log));
}

// The text after "name": in a JSON line, up to the next ',' or '}' at its level (numbers,
// null, strings without commas).
std::string Field(const std::string& line, const std::string& name) {
  const std::string key = "\"" + name + "\":";
  size_t at = line.find(key);
  if (at == std::string::npos) return "<missing>";
  at += key.size();
  return line.substr(at, line.find_first_of(",}", at) - at);
}

// The `record` of a dead letter: an object's text, or a string's escaped text.
std::string Record(const std::string& letter) {
  const std::string key = "{\"record\":";
  if (letter.rfind(key, 0) != 0) return "<no record>";
  const size_t end = letter.find(",\"errors\":");
  return letter.substr(key.size(), end - key.size());
}

// A dead letter without its failure times, which differ from run to run.
std::string WithoutTimes(const std::string& letter) {
  static const std::regex times(",\"first_failure\":[0-9]+,\"last_failure\":[0-9]+");
  return std::regex_replace(letter, times, "");
}

std::vector<std::string> Letters(const std::string& dir) {
  std::vector<std::string> out;
  for (const std::string& l : OutputLines(dir)) out.push_back(WithoutTimes(l));
  std::sort(out.begin(), out.end());
  return out;
}

class DeadLetterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "/kappa_dead_letter_" + std::to_string(getpid()));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    // 20,000 Nexmark events as a file log: the input of most tests.
    const std::string log = *dir_ + "/setup.log";
    ASSERT_EQ(testing::WaitKappa(testing::StartKappa(
                  {"run", "nexmark-copy", "--source", "gen:nexmark?events=20000", "--sink", Events(), "-q"}, log)),
              0)
        << ReadFile(log);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    dir = *dir_ + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::create_directories(dir);
    log = dir + "/log.txt";
  }

  static std::string Events() { return "file:" + *dir_ + "/events.jsonl"; }
  static std::string EventsPath() { return *dir_ + "/events.jsonl"; }

  // The input's bids by the byte offset of their line, and which of them are poison.
  struct Bid {
    std::string line;
    int64_t bidder = 0;
  };
  static std::map<int64_t, Bid> BidsByOffset(const std::string& path) {
    std::map<int64_t, Bid> bids;
    std::ifstream in(path);
    int64_t offset = 0;
    for (std::string line; std::getline(in, line); offset += static_cast<int64_t>(line.size()) + 1) {
      if (line.find("\"type\":\"bid\"") == std::string::npos) continue;
      bids[offset] = Bid{line, std::stoll(Field(line, "bidder"))};
    }
    return bids;
  }

  static std::string* dir_;
  std::string dir;
  std::string log;
};

std::string* DeadLetterTest::dir_ = nullptr;

TEST_F(DeadLetterTest, PoisonRecordsBecomeDeadLettersThatSayWhereTheyCameFrom) {
  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", Events(), "--sink", "file:" + dir + "/out/", "--dead-letter",
                    "file:" + dir + "/dl/", "--checkpoint-dir", dir + "/chk", "--errors", "file:" + dir + "/errors"},
                   log),
            0)
      << ReadFile(log);
  const std::map<int64_t, Bid> bids = BidsByOffset(EventsPath());
  size_t poison = 0;
  for (const auto& [offset, bid] : bids) poison += bid.bidder % kPoisonEvery == 0;
  ASSERT_GT(poison, 10u);
  ASSERT_LT(poison, bids.size());

  EXPECT_EQ(OutputLines(dir + "/out").size(), bids.size() - poison);
  const std::vector<std::string> letters = OutputLines(dir + "/dl");
  ASSERT_EQ(letters.size(), poison);
  for (const std::string& letter : letters) {
    SCOPED_TRACE(letter);
    EXPECT_EQ(Field(letter, "kind"), "\"user\"");
    EXPECT_EQ(Field(letter, "operator"), "\"price\"");
    EXPECT_EQ(Field(letter, "attempts"), "1");
    EXPECT_EQ(Field(letter, "partition"), "0");
    EXPECT_EQ(Field(letter, "first_failure"), Field(letter, "last_failure"));
    EXPECT_GT(std::stoll(Field(letter, "first_failure")), 1'700'000'000'000);  // epoch ms
    // The offset is where the record's line starts in the file log, and the record is that
    // line as the job decoded it.
    auto bid = bids.find(std::stoll(Field(letter, "offset")));
    ASSERT_NE(bid, bids.end());
    EXPECT_EQ(bid->second.bidder % kPoisonEvery, 0);
    EXPECT_EQ(Record(letter), bid->second.line);
    EXPECT_EQ(Field(letter, "ts"), Field(bid->second.line, "dateTime"));
    EXPECT_THAT(letter, ::testing::HasSubstr("\"errors\":[\"poison bidder " + std::to_string(bid->second.bidder) +
                                             "\"]"));
  }
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr(std::to_string(poison) + " dead letters"));
  EXPECT_EQ(ReadFile(dir + "/errors"), "") << "with --dead-letter, nothing of it goes to --errors";
}

TEST_F(DeadLetterTest, WithoutADeadLetterOutputGivenUpRecordsGoToErrors) {
  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", Events(), "--sink", "file:" + dir + "/out/", "--errors",
                    "file:" + dir + "/errors", "-q"},
                   log),
            0)
      << ReadFile(log);
  std::ifstream in(dir + "/errors");
  size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_EQ(Field(line, "kind"), "\"user\"") << line;
    EXPECT_EQ(Field(line, "partition"), "0") << line;
    EXPECT_THAT(line, ::testing::HasSubstr("poison bidder")) << line;
  }
  EXPECT_GT(lines, 10u);
  EXPECT_EQ(lines + OutputLines(dir + "/out").size(), BidsByOffset(EventsPath()).size());
}

TEST_F(DeadLetterTest, RecordsThatDoNotDecodeBecomeDeadLettersWithTheirRawInput) {
  // The input with three lines broken.
  std::ifstream in(EventsPath());
  std::ofstream out(dir + "/events.jsonl");
  std::map<int64_t, std::string> broken;  // offset -> line
  int64_t offset = 0;
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    if (n == 10 || n == 500 || n == 7000) line = n == 500 ? "not json \"at all\"" : line.substr(0, line.size() / 2);
    if (n == 10 || n == 500 || n == 7000) broken[offset] = line;
    out << line << "\n";
    offset += static_cast<int64_t>(line.size()) + 1;
  }
  out.close();
  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", "file:" + dir + "/events.jsonl", "--sink",
                    "file:" + dir + "/out/", "--dead-letter", "file:" + dir + "/dl/", "--errors",
                    "file:" + dir + "/errors", "-q"},
                   log),
            0)
      << ReadFile(log);
  size_t decode = 0;
  for (const std::string& letter : OutputLines(dir + "/dl")) {
    if (Field(letter, "kind") != "\"decode\"") continue;
    SCOPED_TRACE(letter);
    ++decode;
    EXPECT_EQ(Field(letter, "operator"), "\"events\"");
    EXPECT_EQ(Field(letter, "attempts"), "1");
    EXPECT_EQ(Field(letter, "ts"), "null");
    auto at = broken.find(std::stoll(Field(letter, "offset")));
    ASSERT_NE(at, broken.end());
    // The raw line, as a JSON string.
    std::string quoted = "\"" + std::regex_replace(at->second, std::regex(R"((["\\]))"), R"(\$1)") + "\"";
    EXPECT_EQ(Record(letter), quoted);
  }
  EXPECT_EQ(decode, 3u);
  EXPECT_EQ(ReadFile(dir + "/errors"), "");
}

// A run killed with SIGKILL once a checkpoint is complete, then restored, publishes the
// same dead letters and rows as an uninterrupted run: none lost, none twice.
TEST_F(DeadLetterTest, ARunKilledAndRestoredWritesEveryDeadLetterOnce) {
  const std::string source = "gen:nexmark?events=400000";
  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", source, "--sink", "file:" + dir + "/ref/", "--dead-letter",
                    "file:" + dir + "/ref-dl/", "-q"},
                   log),
            0)
      << ReadFile(log);
  const std::vector<std::string> ref_rows = OutputLines(dir + "/ref");
  const std::vector<std::string> ref_letters = Letters(dir + "/ref-dl");
  ASSERT_GT(ref_letters.size(), 1000u);

  std::vector<std::string> args = {"run", "poison-bids", "--source", source, "--sink", "file:" + dir + "/out/",
                                   "--dead-letter", "file:" + dir + "/dl/", "--checkpoint-dir", dir + "/chk",
                                   "--checkpoint-interval", "50", "-p", "2"};
  pid_t pid = testing::StartProgram(KAPPA_DEAD_LETTER_JOB, args, log);
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       testing::CompleteCheckpoints(dir + "/chk").empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  ASSERT_EQ(testing::WaitKappa(pid), 128 + SIGKILL) << "the run ended before it was killed; use more events\n"
                                                    << ReadFile(log);
  const size_t at_kill = OutputLines(dir + "/dl").size();
  EXPECT_LT(at_kill, ref_letters.size()) << "the killed run had published only part of its dead letters";
  ASSERT_EQ(RunJob(args, log), 0) << ReadFile(log);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("restored checkpoint"));
  EXPECT_TRUE(OutputLines(dir + "/out") == ref_rows) << "rows differ from the uninterrupted run's";
  const std::vector<std::string> letters = Letters(dir + "/dl");
  EXPECT_EQ(letters.size(), ref_letters.size());
  EXPECT_TRUE(letters == ref_letters) << "dead letters differ from the uninterrupted run's";
}

// The cause fixed (no poison any more), a redrive of the dead letters prices exactly the
// bids that were given up on; the first run's rows and the redrive's together are those
// of a run without poison. Decode failures and records that fail again become dead
// letters again.
TEST_F(DeadLetterTest, ARedriveAfterTheFixCompletesTheOutput) {
  std::ifstream in(EventsPath());
  std::ofstream out(dir + "/events.jsonl");
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) out << (n == 42 ? std::string("{\"broken") : line) << "\n";
  out.close();
  const std::string events = "file:" + dir + "/events.jsonl";
  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", events, "--sink", "file:" + dir + "/out/", "--dead-letter",
                    "file:" + dir + "/dl/", "--checkpoint-dir", dir + "/chk", "-q"},
                   log),
            0)
      << ReadFile(log);
  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", events, "--sink", "file:" + dir + "/fixed/", "--param",
                    "poison-every=0", "-q"},
                   log),
            0)
      << ReadFile(log);
  const std::vector<std::string> first = OutputLines(dir + "/out");
  const std::vector<std::string> fixed = OutputLines(dir + "/fixed");
  const std::vector<std::string> letters = OutputLines(dir + "/dl");
  ASSERT_GT(letters.size(), 10u);
  ASSERT_LT(first.size(), fixed.size());

  ASSERT_EQ(RunJob({"replay", "poison-bids", "--redrive", "--source", "file:" + dir + "/dl/", "--param",
                    "poison-every=0", "--sink", "file:" + dir + "/redriven/", "--dead-letter",
                    "file:" + dir + "/dl2/", "--checkpoint-dir", dir + "/chk2"},
                   log),
            0)
      << ReadFile(log);
  const std::vector<std::string> redriven = OutputLines(dir + "/redriven");
  EXPECT_EQ(redriven.size(), letters.size() - 1) << "every poison bid priced; the broken line is not a bid";
  std::vector<std::string> all = first;
  all.insert(all.end(), redriven.begin(), redriven.end());
  std::sort(all.begin(), all.end());
  EXPECT_TRUE(all == fixed) << "the first run and the redrive together are not the run without poison";
  // The broken line is still broken: a decode dead letter again, with the same raw input.
  const std::vector<std::string> again = OutputLines(dir + "/dl2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(Field(again[0], "kind"), "\"decode\"");
  EXPECT_EQ(Record(again[0]), "\"{\\\"broken\"");

  // Redriven with the poison still there, every record fails again: the same records.
  ASSERT_EQ(RunJob({"replay", "poison-bids", "--redrive", "--source", "file:" + dir + "/dl/", "--sink",
                    "file:" + dir + "/still/", "--dead-letter", "file:" + dir + "/dl3/", "-q"},
                   log),
            0)
      << ReadFile(log);
  EXPECT_TRUE(OutputLines(dir + "/still").empty());
  std::multiset<std::string> before, after;
  for (const std::string& l : letters) before.insert(Record(l));
  for (const std::string& l : OutputLines(dir + "/dl3")) after.insert(Record(l));
  EXPECT_TRUE(before == after) << "a record that fails again is a dead letter again";
}

// The last line of a run's stderr log, and how many lines it has.
void ExpectOneLineError(int code, const std::string& log, int expected_code, const std::string& mentions) {
  const std::string text = ReadFile(log);
  EXPECT_EQ(code, expected_code) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_THAT(text, ::testing::HasSubstr(mentions));
}

TEST_F(DeadLetterTest, BadFlagsFailInOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{"run", "poison-bids", "--source", Events(), "--sink", "file:" + dir + "/o/", "--dead-letter", "http://x/dl"},
       "--dead-letter 'http://x/dl': unknown scheme 'http'; use file:DIR/ (a directory) or kafka://BOOTSTRAP/TOPIC"},
      {{"run", "poison-bids", "--source", Events(), "--sink", "file:" + dir + "/o/", "--dead-letter",
        "file:" + dir + "/dl"},
       "is a directory, ending in '/'"},
      {{"run", "poison-bids", "--source", Events(), "--sink", "file:" + dir + "/o/", "--dead-letter",
        "file:" + dir + "/o/"},
       "is also the --sink"},
      {{"replay", "poison-bids", "--redrive", "--sink", "file:" + dir + "/o/"}, "--source is required"},
      {{"replay", "poison-bids", "--redrive", "--source", "file:" + dir + "/dl/", "--sink", "file:" + dir + "/o/",
        "--dead-letter", "file:" + dir + "/dl/"},
       "is also the --source"},
      {{"replay", "poison-bids", "--source", Events(), "--sink", "file:" + dir + "/o/"}, "replay needs --from"},
      {{"replay", "poison-bids", "--redrive", "--source", "gen:nexmark?events=10", "--sink", "file:" + dir + "/o/"},
       "--redrive reads dead letters from a file or a Kafka topic"},
  };
  fs::create_directories(dir + "/dl");  // an existing dead-letter directory to redrive
  std::ofstream(dir + "/dl/part-0.jsonl").close();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0] + " ... " + c.args.back());
    fs::remove(log);
    ExpectOneLineError(RunJob(c.args, log), log, 2, c.mentions);
  }
}

}  // namespace
}  // namespace kappa
