// Integration tests of `kappa bench nexmark`: run the real binary and check that its JSON
// result lines hold what the issue promises — the engine's and the baseline's figures
// side by side, on the same events, with the same rows. No timing thresholds: numbers
// only have to exist and be positive.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"
#include "simdjson.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::testing::HasSubstr;

using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One result line, parsed; fields are read with Int/Double/Bool/Str.
class Result {
 public:
  explicit Result(const std::string& line) : json_(line) {
    auto doc = parser_.parse(json_);
    ok_ = doc.error() == simdjson::SUCCESS && doc.value().is_object();
    if (ok_) object_ = doc.value().get_object().value();
  }
  bool ok() const { return ok_; }
  bool Has(const char* key) const { return ok_ && object_[key].error() == simdjson::SUCCESS; }
  int64_t Int(const char* key) const {
    int64_t v = -1;
    EXPECT_EQ(object_[key].get_int64().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  double Double(const char* key) const {
    double v = -1;
    EXPECT_EQ(object_[key].get_double().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  bool Bool(const char* key) const {
    bool v = false;
    EXPECT_EQ(object_[key].get_bool().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  std::string Str(const char* key) const {
    std::string_view v;
    EXPECT_EQ(object_[key].get_string().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return std::string(v);
  }
  const std::string& text() const { return json_; }

 private:
  std::string json_;
  simdjson::dom::parser parser_;
  simdjson::dom::object object_;
  bool ok_ = false;
};

void ExpectThroughputLine(const Result& r, const std::string& query, int64_t events) {
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_EQ(r.Str("mode"), "throughput");
  EXPECT_EQ(r.Str("query"), query);
  EXPECT_EQ(r.Int("events"), events);
  for (const char* key : {"engine_wall_s", "engine_cpu_s", "engine_events_per_s", "engine_events_per_s_per_core",
                          "baseline_cpu_s", "baseline_events_per_s_per_core", "generator_cpu_s",
                          "generator_events_per_s_per_core", "ratio"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }
  EXPECT_GT(r.Int("engine_rows"), 0);
  EXPECT_EQ(r.Int("engine_rows"), r.Int("baseline_rows")) << r.text();
  EXPECT_TRUE(r.Bool("rows_checked"));
  EXPECT_TRUE(r.Bool("rows_match"));
  EXPECT_EQ(r.Int("engine_late"), 0);
  EXPECT_THAT(r.Str("machine"), HasSubstr("cores"));
}

TEST(BenchNexmarkTest, Q1ThroughputReportsEngineAndBaselineOnTheSameEvents) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q1", "--events", "20000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  ExpectThroughputLine(Result(lines[0]), "q1", 20000);
  // Every bid is a row: 46 of every 50 events.
  EXPECT_EQ(Result(lines[0]).Int("engine_rows"), 20000 / 50 * 46);
}

TEST(BenchNexmarkTest, Q5ThroughputRowsAgreeWithTheBaselineAtParallelism2) {
  // An event rate of 20K/s spreads the events over a second of event time: several
  // sliding windows, fired one by one.
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q5", "--events", "20000", "--parallelism", "2",
                            "--event-rate", "20000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ExpectThroughputLine(r, "q5", 20000);
  EXPECT_EQ(r.Int("parallelism"), 2);
}

TEST(BenchNexmarkTest, TableModePrintsEveryColumnAndTheMachine) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q2", "--events", "5000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("engine ev/s/core"));
  EXPECT_THAT(run.out, HasSubstr("baseline ev/s/core"));
  EXPECT_THAT(run.out, HasSubstr("ratio"));
  EXPECT_THAT(run.out, HasSubstr("\nq2 "));
  EXPECT_THAT(run.out, HasSubstr("machine: "));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("MISMATCH")));
  // stderr is not a terminal here: no progress line.
  EXPECT_EQ(run.err, "");
}

TEST(BenchNexmarkTest, LatencyModeReportsOrderedPercentiles) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q1", "--rate", "20000", "--events", "20000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_EQ(r.Str("mode"), "latency");
  EXPECT_EQ(r.Int("events"), 20000);
  EXPECT_EQ(r.Int("engine_rows"), 20000 / 50 * 46);
  EXPECT_EQ(r.Int("engine_rows"), r.Int("baseline_rows"));
  EXPECT_GT(r.Int("count"), 0);
  EXPECT_LE(r.Double("p50_ms"), r.Double("p99_ms"));
  EXPECT_LE(r.Double("p99_ms"), r.Double("p999_ms"));
  EXPECT_LE(r.Double("p999_ms"), r.Double("max_ms"));
  EXPECT_GE(r.Double("p50_ms"), 0);
  EXPECT_GT(r.Int("baseline_count"), 0);
  EXPECT_LE(r.Double("baseline_p50_ms"), r.Double("baseline_p99_ms"));
  EXPECT_LE(r.Double("baseline_p99_ms"), r.Double("baseline_p999_ms"));
  EXPECT_LE(r.Double("baseline_p999_ms"), r.Double("baseline_max_ms"));
}

TEST(BenchNexmarkTest, BadQueryIsOneLineAndExitCode2) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q6", "--events", "100"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("unknown query 'q6'"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(BenchNexmarkTest, MissingEventsIsAUsageError) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--events"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
}

}  // namespace
}  // namespace kappa
