// Integration tests of `kappa bench nexmark`, `kappa bench kafka` and `kappa bench job`: run
// the real binary
// and check that its JSON result lines hold what the issues promise — the engine's and the
// baseline's figures side by side, on the same events, with the same rows. No timing
// thresholds: numbers only have to exist and be positive.
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
#include "kappa/base/file_test_util.h"
#include "tests/bench_result.h"
#include "tests/kappa_process.h"
#include "simdjson.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::testing::HasSubstr;

using ::kappa::testing::Lines;
using ::kappa::testing::Result;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;

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

// --metrics both: each repetition without and then with a monitor scraped every second
// (and once at the end); the medians of both and the cost are reported, the rows agree.
TEST(BenchNexmarkTest, MetricsBothRunsEachRepetitionWithoutAndWithAScrapedMonitor) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q5", "--events", "20000", "--event-rate", "20000",
                            "--repetitions", "2", "--metrics", "both", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ExpectThroughputLine(r, "q5", 20000);
  EXPECT_EQ(r.Str("metrics"), "both");
  EXPECT_GT(r.Double("engine_wall_median_s"), 0);
  EXPECT_GT(r.Double("metrics_wall_median_s"), 0);
  EXPECT_GT(r.Double("metrics_cpu_median_s"), 0);
  EXPECT_GE(r.Int("scrapes"), 2);  // at least the final scrape of each run with metrics
  EXPECT_GT(r.Double("scrape_cpu_s"), 0);
  EXPECT_GT(r.Double("metrics_wall_cost"), -1);
}

TEST(BenchNexmarkTest, MetricsTableShowsBothMediansAndTheCost) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q1", "--events", "5000", "--metrics", "both"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("metrics off and on"));
  EXPECT_THAT(run.out, HasSubstr("metrics: median of 1 runs off / on:"));
  EXPECT_THAT(run.out, HasSubstr("ms CPU in all"));
}

TEST(BenchNexmarkTest, BadMetricsValueIsOneLineAndExitCode2) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q1", "--events", "100", "--metrics", "sometimes"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--metrics 'sometimes': use off, on or both"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  RunResult latency = RunKappa({"bench", "nexmark", "--query", "q1", "--rate", "1000", "--events", "100",
                                "--metrics", "on"});
  EXPECT_EQ(latency.exit_code, 2);
  EXPECT_THAT(latency.err, HasSubstr("--metrics is for throughput runs"));
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

// `kappa bench kafka` against the embedded mock cluster: Kafka -> q0 -> Kafka beside the raw
// librdkafka loop, and live beside replay. Only that every figure exists and the rows agree.
TEST(BenchKafkaTest, ReportsEngineBaselineAndLiveWithTheSameRows) {
  RunResult run = RunKappa({"bench", "kafka", "--events", "5000", "--partitions", "4", "--latency-rate", "2000",
                            "--latency-duration", "5", "--out-of-orderness", "500", "--json"},
                           /*stderr_file=*/"", std::chrono::seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_EQ(r.Int("events"), 5000);
  EXPECT_EQ(r.Int("partitions"), 4);
  // q0 emits every bid: 46 of every 50 events.
  const int64_t bids = 5000 / 50 * 46;
  EXPECT_EQ(r.Int("bids"), bids);
  EXPECT_EQ(r.Int("engine_rows"), bids);
  EXPECT_EQ(r.Int("baseline_rows"), bids);
  EXPECT_EQ(r.Int("live_rows"), bids);
  EXPECT_TRUE(r.Bool("rows_match"));
  EXPECT_TRUE(r.Bool("contents_checked"));
  for (const char* key : {"engine_wall_s", "engine_cpu_s", "engine_events_per_s", "engine_events_per_s_per_core",
                          "baseline_wall_s", "baseline_cpu_s", "baseline_events_per_s",
                          "baseline_events_per_s_per_core", "ratio", "ratio_per_core", "replay_s",
                          "replay_events_per_s", "live_wall_s", "live_events_per_s", "live_producer_events_per_s",
                          "live_vs_replay"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }
  EXPECT_THAT(r.Str("broker"), HasSubstr("embedded"));
  EXPECT_THAT(r.Str("machine"), HasSubstr("cores"));
  // q5 with exactly-once output on the mock: the hand-written q5's rows, committed.
  EXPECT_EQ(r.Int("q5_replay_rows"), r.Int("q5_replay_expected_rows"));
  EXPECT_EQ(r.Int("q5_baseline_rows"), r.Int("q5_replay_expected_rows"));
  EXPECT_GE(r.Int("q5_replay_rows"), 5);
  EXPECT_GE(r.Int("q5_live_windows"), 1);
  EXPECT_EQ(r.Int("q5_live_rows"), r.Int("q5_live_expected_rows"));
  EXPECT_GT(r.Double("q5_latency_p50_ms"), 0);
}

TEST(BenchKafkaTest, TablePrintsEveryRunAndNoMismatch) {
  RunResult run = RunKappa({"bench", "kafka", "--events", "2000", "--partitions", "2", "--latency-duration", "0"},
                           /*stderr_file=*/"", std::chrono::seconds(120));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("\nengine: nexmark-q0 replay"));
  EXPECT_THAT(run.out, HasSubstr("\nbaseline: raw librdkafka"));
  EXPECT_THAT(run.out, HasSubstr("engine / baseline"));
  EXPECT_THAT(run.out, HasSubstr("\nreplay, from its source assigned"));
  EXPECT_THAT(run.out, HasSubstr("\nlive: nexmark-q0"));
  EXPECT_THAT(run.out, HasSubstr("live / replay"));
  EXPECT_THAT(run.out, HasSubstr("1840 bids in, 1840 / 1840 / 1840 out"));
  EXPECT_THAT(run.out, HasSubstr("machine: "));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("MISMATCH")));
  EXPECT_EQ(run.err, "");  // stderr is not a terminal: no progress line
}

TEST(BenchKafkaTest, InputBeyondTheMockRetentionIsAUsageError) {
  // ~58 MiB of JSON in one partition: the mock would silently drop most of it.
  RunResult run = RunKappa({"bench", "kafka", "--events", "200000", "--partitions", "1"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--partitions"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(BenchKafkaTest, TopicNamesWithoutARealClusterAreAUsageError) {
  RunResult run = RunKappa({"bench", "kafka", "--in-topic", "a", "--out-topic", "b"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--kafka"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(BenchKafkaTest, AnUnreachableClusterIsOneLine) {
  RunResult run = RunKappa({"bench", "kafka", "--kafka", "127.0.0.1:1", "--events", "100", "--json"},
                           /*stderr_file=*/"", std::chrono::seconds(60));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("127.0.0.1:1"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.out, "");
}

// `kappa bench job`: a registered job beside its sources read alone, on the same events.
void ExpectJobLine(const Result& r, const std::string& job, int64_t events) {
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_EQ(r.Str("mode"), "job");
  EXPECT_EQ(r.Str("job"), job);
  EXPECT_EQ(r.Str("baseline"), "read only");
  EXPECT_EQ(r.Int("events"), events);
  EXPECT_EQ(r.Int("baseline_events"), events);
  EXPECT_TRUE(r.Bool("events_match"));
  for (const char* key : {"job_wall_s", "job_cpu_s", "job_events_per_s", "job_events_per_s_per_core",
                          "baseline_wall_s", "baseline_cpu_s", "baseline_events_per_s",
                          "baseline_events_per_s_per_core", "ratio", "wall_ratio"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }
  EXPECT_EQ(r.Int("job_late"), 0);
  EXPECT_EQ(r.Int("job_errors"), 0);
  EXPECT_THAT(r.Str("machine"), HasSubstr("cores"));
}

TEST(BenchJobTest, HotAuctionsReportsTheJobAndItsSourcesReadAloneOnTheSameEvents) {
  // 1000 events/s of event time: 20 s, so two or three tumbling 10 s windows.
  RunResult run = RunKappa({"bench", "job", "hot-auctions", "--source", "gen:nexmark?events=20000&rate=1000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ExpectJobLine(r, "hot-auctions", 20000);
  EXPECT_TRUE(r.Bool("rows_counted"));
  EXPECT_GE(r.Int("job_rows"), 2) << r.text();
  EXPECT_EQ(r.Int("parallelism"), 1);
  EXPECT_EQ(run.err, "");  // stderr is not a terminal: no progress line
}

// Over a file log at parallelism 2, with a job parameter: the rows the bench counts are the
// rows `kappa run` writes for the same job, input and parameters.
TEST(BenchJobTest, FileLogRowsAreThoseOfARunOfTheSameJob) {
  testing::ScopedTempDir dir;
  const std::string log = dir.Path("log") + "/";
  RunResult copy = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=20000&rate=1000&partitions=3",
                             "--sink", "file:" + log, "-p", "3", "--quiet"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  RunResult run = RunKappa({"run", "hot-auctions", "--source", "file:" + log, "--sink", "file:" + dir.Path("out.jsonl"),
                            "--param", "window=2s", "--quiet"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const int64_t rows = static_cast<int64_t>(Lines(testing::ReadFileToString(dir.Path("out.jsonl"))).size());
  ASSERT_GT(rows, 5);

  RunResult bench = RunKappa({"bench", "job", "hot-auctions", "--source", "file:" + log, "--param", "window=2s", "-p",
                              "2", "--repetitions", "2", "--json"});
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  std::vector<std::string> lines = Lines(bench.out);
  ASSERT_EQ(lines.size(), 1u) << bench.out;
  Result r(lines[0]);
  ExpectJobLine(r, "hot-auctions", 20000);
  EXPECT_EQ(r.Int("job_rows"), rows) << r.text();
  EXPECT_EQ(r.Int("parallelism"), 2);
  EXPECT_EQ(r.Int("repetitions"), 2);
}

TEST(BenchJobTest, TablePrintsTheJobTheReadOnlyBaselineAndTheRatio) {
  RunResult run = RunKappa({"bench", "job", "nexmark-q2", "--source", "gen:nexmark", "--events", "5000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("kappa bench job nexmark-q2: --source gen:nexmark?events=5000"));
  EXPECT_THAT(run.out, HasSubstr("\nnexmark-q2 "));
  EXPECT_THAT(run.out, HasSubstr("\nread only "));
  EXPECT_THAT(run.out, HasSubstr("ratio job / read only"));
  EXPECT_THAT(run.out, HasSubstr("machine: "));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("DIFFER")));
  EXPECT_EQ(run.err, "");
}

TEST(BenchJobTest, UnboundedSourceIsOneLineAndExitCode2) {
  for (const std::string& source : {std::string("gen:nexmark"), std::string("kafka:bids"),
                                    std::string("events=kafka://localhost:9092/bids?start=earliest"),
                                    std::string("file:/tmp/log?follow=true")}) {
    RunResult run = RunKappa({"bench", "job", "hot-auctions", "--source", source});
    EXPECT_EQ(run.exit_code, 2) << source;
    EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
    EXPECT_THAT(run.err, HasSubstr("bounded")) << run.err;
    EXPECT_EQ(run.out, "") << source;
  }
}

TEST(BenchJobTest, UnknownJobIsAUsageError) {
  RunResult run = RunKappa({"bench", "job", "no-such-job", "--source", "gen:nexmark?events=10"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("unknown job 'no-such-job'"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
}

}  // namespace
}  // namespace kappa
