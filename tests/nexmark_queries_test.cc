// The nexmark-qN jobs against independent reference implementations.
//
// Events come from the Nexmark generator once per suite and are written into a file log
// of four partitions (and a second log, shuffled inside each partition within less than
// the out-of-orderness bound, so no event is late). Each job runs in-process from the job
// registry, at several parallelisms, reading the log and writing part files; the test
// parses those JSON lines and compares them, as a multiset, with what a plain
// single-threaded loop over the events computes from the query's definition (DESIGN.md
// §7). The references use no engine or operator code.
//
// A third log is shuffled beyond the bound, so some events are late: what the jobs drop
// then may differ from the reference, but must not differ with parallelism (DESIGN §3).
// A fourth keeps generator order but moves every event's dateTime by up to ±1.5 s, so a
// seller may be stamped after its auction: q3, a join with no time condition, must still
// give the SQL join.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kappa/base/file_test_util.h"
#include "kappa/connectors/nexmark/event.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark/json.h"
#include "kappa/runtime/errors.h"
#include "kappa/app/job_registry.h"
#include "kappa/nexmark.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"
#include "tests/nexmark_reference.h"
#include "simdjson.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using testing::ReadFileToString;
using testing::RunResult;
using testing::RunKappa;
using testing::ScopedTempDir;
using testing::WriteStringToFile;
using nexmark::Event;

// 100k events at 500 events/s: 200 s of event time, 20 tumbling and 100 sliding windows.
constexpr int64_t kEvents = 100'000;
constexpr double kRate = 500;
constexpr uint64_t kSeed = 42;
constexpr int kPartitions = 4;
constexpr int64_t kOutOfOrdernessMs = 4000;
// The shuffled log permutes each partition inside blocks of this much event time; any
// record then trails its partition's maximum by less than the bound: none is late.
constexpr int64_t kShuffleSpanMs = 3000;

using namespace ::kappa::testing;  // NOLINT: the references and row helpers


// ---------------------------------------------------------------------------------------
// Test data: the events, and three file logs of them, made once per test program.

struct TestData {
  ScopedTempDir dir;
  std::vector<Event> events;
  std::string log;           // each partition in generator order
  std::string log_shuffled;  // shuffled within the bound: out of order, nothing late
  std::string log_late;      // shuffled beyond the bound: some records are late
  std::string log_jittered;  // generator order, each dateTime moved by up to ±kJitterMs
  std::vector<Event> jittered_events;
};

constexpr int64_t kJitterMs = 1500;

// Moves the event's dateTime by a deterministic amount in [-kJitterMs, kJitterMs].
void Jitter(Event* e, std::mt19937& rng) {
  const int64_t delta = static_cast<int64_t>(rng() % (2 * kJitterMs + 1)) - kJitterMs;
  if (e->is_person()) {
    e->person().date_time += delta;
  } else if (e->is_auction()) {
    e->auction().date_time += delta;
  } else {
    e->bid().date_time += delta;
  }
}

struct Disorder {
  int out_of_order = 0;  // events behind their partition's maximum so far
  int late = 0;          // events behind it by the out-of-orderness bound or more
};

// Permutes each block of `span_ms` of event time in one partition.
Disorder ShuffleWithinSpans(std::vector<Event>* part, int64_t span_ms, std::mt19937& rng) {
  size_t begin = 0;
  while (begin < part->size()) {
    size_t end = begin;
    int64_t block = (*part)[begin].date_time() / span_ms;
    while (end < part->size() && (*part)[end].date_time() / span_ms == block) ++end;
    std::shuffle(part->begin() + begin, part->begin() + end, rng);
    begin = end;
  }
  int64_t max_ts = INT64_MIN;
  Disorder d;
  for (const Event& e : *part) {
    if (max_ts != INT64_MIN && e.date_time() < max_ts) ++d.out_of_order;
    if (max_ts != INT64_MIN && e.date_time() <= max_ts - kOutOfOrdernessMs) ++d.late;
    max_ts = std::max(max_ts, e.date_time());
  }
  return d;
}

const TestData& Data() {
  static std::unique_ptr<TestData> data = [] {
    auto d = std::make_unique<TestData>();
    nexmark::GeneratorConfig config;
    config.seed = kSeed;
    config.events = kEvents;
    config.rate = kRate;
    for (nexmark::Generator gen(config); gen.HasNext();) d->events.push_back(gen.Next());

    d->log = d->dir.Path("log");
    d->log_shuffled = d->dir.Path("log-shuffled");
    d->log_late = d->dir.Path("log-late");
    d->log_jittered = d->dir.Path("log-jittered");
    std::mt19937 rng(7);
    std::mt19937 jitter_rng(11);
    Disorder shuffled, late;
    for (const std::string& log : {d->log, d->log_shuffled, d->log_late, d->log_jittered}) {
      fs::create_directories(log);
      for (int p = 0; p < kPartitions; ++p) {
        std::vector<Event> part;
        for (nexmark::Generator gen(config, p, kPartitions); gen.HasNext();) part.push_back(gen.Next());
        if (log == d->log_shuffled) {
          Disorder x = ShuffleWithinSpans(&part, kShuffleSpanMs, rng);
          shuffled.out_of_order += x.out_of_order;
          shuffled.late += x.late;
        }
        if (log == d->log_late) late.late += ShuffleWithinSpans(&part, 2 * kOutOfOrdernessMs, rng).late;
        if (log == d->log_jittered) {
          for (Event& e : part) {
            Jitter(&e, jitter_rng);
            d->jittered_events.push_back(e);
          }
        }
        std::string text;
        for (const Event& e : part) {
          nexmark::AppendJson(e, &text);
          text.push_back('\n');
        }
        WriteStringToFile(absl::StrFormat("%s/events-%d.jsonl", log, p), text);
      }
    }
    EXPECT_GT(shuffled.out_of_order, static_cast<int>(kEvents / 4)) << "the shuffled log should be out of order";
    EXPECT_EQ(shuffled.late, 0) << "the shuffled log should have no late event";
    EXPECT_GT(late.late, static_cast<int>(kEvents / 20)) << "the late log should have many late events";
    return d;
  }();
  return *data;
}

// ---------------------------------------------------------------------------------------
// Running a job.

// Output of one run: the lines of each part file, in file order.
using PartFiles = std::vector<std::vector<std::string>>;

// Runs `job_name` in-process from the registry at `parallelism` over the file log `log`;
// returns the part files it wrote. Fails the test on errors, bad input and, unless
// `allow_late`, on late records reported by windows.
PartFiles RunJob(const std::string& job_name, const std::string& log, int parallelism, bool allow_late) {
  static int run = 0;
  std::string out = Data().dir.Path(absl::StrCat("out-", run++));
  JobRegistry registry;
  nexmark::RegisterQueries(&registry);
  const JobDefinition* def = registry.Find(job_name);
  if (def == nullptr) {
    ADD_FAILURE() << "no job " << job_name;
    return {};
  }
  JobBindings bindings;
  bindings.default_source = "file:" + log;
  bindings.default_sink = "file:" + out + "/";
  auto job = Job::Create(def->name);
  JobContext ctx(job.get(), bindings);
  def->build(ctx);
  if (!job->status().ok()) {
    ADD_FAILURE() << job->status();
    return {};
  }
  ErrorSink errors(nullptr, /*keep_in_memory=*/true);
  ExecutionOptions options;
  options.parallelism = parallelism;
  options.workers = 2;
  options.errors = &errors;
  absl::StatusOr<ExecutionResult> result = job->Execute(options);
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(ctx.Finish().ok());
  EXPECT_EQ(errors.decode_errors(), 0);
  EXPECT_EQ(errors.user_errors(), 0);
  if (!allow_late) {
    EXPECT_EQ(errors.late_records(), 0);
  }
  int shown = 0;
  for (const ErrorEvent& e : errors.events()) {
    if (e.kind == "late" && allow_late) continue;
    if (shown++ < 5) ADD_FAILURE() << e.kind << " " << e.operator_name << ": " << e.error << " " << e.record;
  }

  std::vector<fs::path> files;
  if (fs::exists(out)) {
    for (const auto& entry : fs::directory_iterator(out)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  PartFiles parts;
  for (const fs::path& f : files) {
    std::vector<std::string> lines = absl::StrSplit(ReadFileToString(f.string()), '\n', absl::SkipEmpty());
    parts.push_back(std::move(lines));
  }
  fs::remove_all(out);
  return parts;
}

std::vector<std::string> CanonicalRows(const PartFiles& parts, const Schema& schema) {
  simdjson::dom::parser parser;
  std::vector<std::string> rows;
  for (const auto& lines : parts) {
    for (const std::string& line : lines) rows.push_back(Canonical(parser, line, schema));
  }
  return rows;
}

// q4 output folded as a reader of upserts does: category -> its last row, and how many
// rows (closed auctions that counted) it had.
struct Q4Result {
  std::map<int64_t, std::string> last;
  std::map<int64_t, int64_t> rows;
};
Q4Result FoldQ4(const PartFiles& parts) {
  Q4Result r;
  simdjson::dom::parser parser;
  std::map<int64_t, size_t> file_of;
  for (size_t f = 0; f < parts.size(); ++f) {
    for (const std::string& line : parts[f]) {
      std::string row = Canonical(parser, line, kQ4Schema);
      simdjson::dom::element doc;
      int64_t category = 0;
      if (parser.parse(line).get(doc) || doc["category"].get_int64().get(category)) continue;  // reported above
      // Upserts of one key must stay in order, so all rows of a category are in one file.
      auto [it, fresh] = file_of.emplace(category, f);
      EXPECT_EQ(it->second, f) << "category " << category << " in two part files";
      r.last[category] = row;
      r.rows[category]++;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// The engine against the references, in order and shuffled within the bound.

struct RunConfig {
  int parallelism;
  bool shuffled;
};
void PrintTo(const RunConfig& c, std::ostream* os) {
  *os << "parallelism " << c.parallelism << (c.shuffled ? ", shuffled input" : "");
}

class NexmarkQueriesTest : public ::testing::TestWithParam<RunConfig> {
 protected:
  PartFiles Run(const std::string& job_name) {
    const TestData& d = Data();
    return RunJob(job_name, GetParam().shuffled ? d.log_shuffled : d.log, GetParam().parallelism,
                  /*allow_late=*/false);
  }
  void RunAndCompare(const std::string& job_name, const Schema& schema, const std::vector<std::string>& reference) {
    ASSERT_FALSE(reference.empty());
    ExpectSameRows(CanonicalRows(Run(job_name), schema), reference);
  }
  static const std::vector<Event>& events() { return Data().events; }
};

TEST_P(NexmarkQueriesTest, Q0PassesEveryBidThrough) { RunAndCompare("nexmark-q0", kBidSchema, RefQ0(events())); }

TEST_P(NexmarkQueriesTest, Q1ConvertsEveryPrice) { RunAndCompare("nexmark-q1", kQ1Schema, RefQ1(events())); }

TEST_P(NexmarkQueriesTest, Q2SelectsAuctionsDivisibleBy123) { RunAndCompare("nexmark-q2", kQ2Schema, RefQ2(events())); }

TEST_P(NexmarkQueriesTest, Q3JoinsLocalSellersWithCategory10Auctions) {
  RunAndCompare("nexmark-q3", kQ3Schema, RefQ3(events()));
}

// q4 rows are upserts: the last row per category is the answer, and each category gets
// one row per counted auction.
TEST_P(NexmarkQueriesTest, Q4AveragesHighestBidsPerCategory) {
  std::map<int64_t, std::pair<double, int64_t>> reference = RefQ4(events());
  ASSERT_FALSE(reference.empty());
  Q4Result got = FoldQ4(Run("nexmark-q4"));
  Q4Result want;
  for (const auto& [category, avg_count] : reference) {
    want.last[category] = Row(kQ4Schema, {category, avg_count.first});
    want.rows[category] = avg_count.second;
  }
  EXPECT_EQ(got.last, want.last);
  EXPECT_EQ(got.rows, want.rows);
}

TEST_P(NexmarkQueriesTest, Q5FindsHottestAuctionsPerSlidingWindow) {
  RunAndCompare("nexmark-q5", kQ5Schema, RefQ5(events()));
}

TEST_P(NexmarkQueriesTest, Q7FindsHighestBidsPerWindow) { RunAndCompare("nexmark-q7", kBidSchema, RefQ7(events())); }

TEST_P(NexmarkQueriesTest, Q8FindsPersonsSellingInTheirFirstWindow) {
  RunAndCompare("nexmark-q8", kQ8Schema, RefQ8(events()));
}

TEST_P(NexmarkQueriesTest, Q11CountsBidsPerSession) { RunAndCompare("nexmark-q11", kQ11Schema, RefQ11(events())); }

INSTANTIATE_TEST_SUITE_P(Parallelism, NexmarkQueriesTest,
                         ::testing::Values(RunConfig{1, false}, RunConfig{2, false}, RunConfig{4, false},
                                           RunConfig{4, true}),
                         [](const ::testing::TestParamInfo<RunConfig>& info) {
                           return absl::StrCat("p", info.param.parallelism, info.param.shuffled ? "_shuffled" : "");
                         });

// The comparisons above only mean something if every query has plenty of output.
TEST(NexmarkReferenceTest, EveryQueryHasSubstantialOutput) {
  const std::vector<Event>& ev = Data().events;
  EXPECT_GT(RefQ0(ev).size(), 80'000u);
  EXPECT_GT(RefQ1(ev).size(), 80'000u);
  EXPECT_GT(RefQ2(ev).size(), 100u);
  EXPECT_GT(RefQ3(ev).size(), 200u);
  std::map<int64_t, std::pair<double, int64_t>> q4 = RefQ4(ev);
  EXPECT_EQ(q4.size(), 5u);
  for (const auto& [category, avg_count] : q4) EXPECT_GT(avg_count.second, 200) << "category " << category;
  EXPECT_GT(RefQ5(ev).size(), 100u);
  EXPECT_GE(RefQ7(ev).size(), 20u);
  EXPECT_GT(RefQ8(ev).size(), 100u);
  EXPECT_GT(RefQ11(ev).size(), 1000u);
}

// ---------------------------------------------------------------------------------------
// q3 is the SQL join with no time condition: jittered timestamps (a seller stamped after
// its auction) and late records change nothing.

TEST(NexmarkQ3Test, JitteredTimestampsGiveTheSqlJoin) {
  const TestData& d = Data();
  const std::vector<std::string> reference = RefQ3(d.jittered_events);
  // The jitter matters: some category-10 auctions are stamped before their seller.
  std::map<int64_t, int64_t> person_time;
  for (const Event& e : d.jittered_events) {
    if (e.is_person()) person_time[e.person().id] = e.person().date_time;
  }
  int auction_first = 0;
  for (const Event& e : d.jittered_events) {
    if (!e.is_auction() || e.auction().category != 10) continue;
    auto it = person_time.find(e.auction().seller);
    if (it != person_time.end() && it->second > e.auction().date_time) ++auction_first;
  }
  EXPECT_GT(auction_first, 20);  // 51 with these seeds
  for (int parallelism : {1, 4}) {
    SCOPED_TRACE(absl::StrCat("parallelism ", parallelism));
    ExpectSameRows(CanonicalRows(RunJob("nexmark-q3", d.log_jittered, parallelism, /*allow_late=*/false), kQ3Schema),
                   reference);
  }
}

// The same through the binary: `kappa run nexmark-q3` over the jittered JSON lines.
TEST(NexmarkQ3Test, KappaRunOverJitteredJsonLinesGivesTheSqlJoin) {
  const TestData& d = Data();
  const std::string out = d.dir.Path("q3-kappa-run");
  RunResult r = RunKappa(
      {"run", "nexmark-q3", "--source", "file:" + d.log_jittered, "--sink", "file:" + out + "/", "-p", "2", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  PartFiles parts;
  for (const auto& entry : fs::directory_iterator(out)) {
    std::vector<std::string> lines = absl::StrSplit(ReadFileToString(entry.path().string()), '\n', absl::SkipEmpty());
    parts.push_back(std::move(lines));
  }
  ExpectSameRows(CanonicalRows(parts, kQ3Schema), RefQ3(d.jittered_events));
}

TEST(NexmarkQ3Test, LateRecordsAreJoinedToo) {
  ExpectSameRows(CanonicalRows(RunJob("nexmark-q3", Data().log_late, 2, /*allow_late=*/false), kQ3Schema),
                 RefQ3(Data().events));
}

// ---------------------------------------------------------------------------------------
// Late input: what is dropped may differ from the reference, but never with parallelism
// or the interleaving of partitions (DESIGN §3: lateness is judged per partition).

struct QuerySpec {
  std::string job;
  const Schema* schema;  // null for q4 (upserts)
};
void PrintTo(const QuerySpec& q, std::ostream* os) { *os << q.job; }

class NexmarkLateInputTest : public ::testing::TestWithParam<QuerySpec> {};

TEST_P(NexmarkLateInputTest, OutputIsTheSameAtAnyParallelism) {
  const QuerySpec& q = GetParam();
  auto summarize = [&](int parallelism) {
    PartFiles parts = RunJob(q.job, Data().log_late, parallelism, /*allow_late=*/true);
    std::vector<std::string> rows;
    if (q.schema == nullptr) {
      Q4Result r = FoldQ4(parts);
      for (const auto& [category, row] : r.last) rows.push_back(absl::StrCat(row, "|rows=", r.rows[category]));
    } else {
      rows = CanonicalRows(parts, *q.schema);
    }
    return rows;
  };
  std::vector<std::string> at1 = summarize(1);
  ASSERT_FALSE(at1.empty());
  for (int p : {2, 4}) {
    SCOPED_TRACE(absl::StrCat("parallelism ", p, " against 1"));
    ExpectSameRows(summarize(p), at1, "parallelism 1");
  }
}

INSTANTIATE_TEST_SUITE_P(Queries, NexmarkLateInputTest,
                         ::testing::Values(QuerySpec{"nexmark-q2", &kQ2Schema}, QuerySpec{"nexmark-q3", &kQ3Schema},
                                           QuerySpec{"nexmark-q4", nullptr}, QuerySpec{"nexmark-q5", &kQ5Schema},
                                           QuerySpec{"nexmark-q7", &kBidSchema}, QuerySpec{"nexmark-q8", &kQ8Schema},
                                           QuerySpec{"nexmark-q11", &kQ11Schema}),
                         [](const ::testing::TestParamInfo<QuerySpec>& info) { return info.param.job.substr(8); });

}  // namespace
}  // namespace kappa
