#include "kappa/app/prometheus_text.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/promtool.h"

namespace kappa::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Fails the test unless promtool accepts `page` without a single problem.
void ExpectPromtoolAccepts(const std::string& page) {
  kappa::testing::PromtoolResult r = kappa::testing::CheckMetrics(page);
  ASSERT_NE(r.exit_code, -1) << r.output;
  EXPECT_EQ(r.exit_code, 0) << "promtool check metrics: " << r.output << "\n--- page ---\n" << page;
  EXPECT_EQ(r.output, "") << "\n--- page ---\n" << page;
}

// The sample lines (no comments) of `page` whose metric name is exactly `name`.
std::vector<std::string> Samples(const std::string& page, const std::string& name) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    size_t end = line.find_first_of("{ ");
    if (line.substr(0, end) == name) out.emplace_back(line);
  }
  return out;
}

double ValueOf(const std::string& line) {
  double v = 0;
  absl::string_view text = absl::string_view(line).substr(line.rfind(' ') + 1);
  if (text == "+Inf") return HUGE_VAL;
  EXPECT_TRUE(absl::SimpleAtod(text, &v)) << line;
  return v;
}

// A job of two chains (a source chain with two instances, a keyed window with one) with
// every figure known.
runtime::JobSnapshot FullSnapshot() {
  runtime::JobSnapshot s;
  s.job = "nexmark-q5";
  s.state = "running";
  s.now_ms = 1'700'000'010'000;
  s.started_ms = 1'700'000'000'000;
  s.chains = {{"source -> map", 2, {"source", "map"}}, {"count -> sink", 1, {"count", "sink"}}};
  for (int i = 0; i < 2; ++i) {
    runtime::TaskView t;
    t.node = 0;
    t.subtask = i;
    t.is_source = true;
    t.records_in = 1000 + i;
    t.records_out = 900 + i;
    t.busy_ns = 1'500'000'000;
    t.backpressured_ns = 250'000'000;
    t.idle_ns = 8'250'000'000;
    t.watermark = 1'700'000'005'000;
    t.operators = {{"source", "source", 1000 + i, 1000 + i, 0, 0, 3, -1, -1},
                   {"map", "map", 1000 + i, 900 + i, 0, 2, 0, -1, -1}};
    s.tasks.push_back(t);
  }
  runtime::TaskView keyed;
  keyed.node = 1;
  keyed.subtask = 0;
  keyed.records_in = 1801;
  keyed.records_out = 40;
  keyed.busy_ns = 3'000'000'000;
  keyed.watermark = 1'700'000'004'000;
  keyed.cache_hits = 1500;
  keyed.cache_misses = 301;
  keyed.cache_evictions = 12;
  keyed.operators = {{"count", "count", 1801, 40, 7, 0, 0, 123, 4567}, {"sink", "sink", 40, 40, 0, 0, 0, -1, -1}};
  s.tasks.push_back(keyed);
  s.edges = {{0, 1, "hash", 3, 16}};
  for (int p = 0; p < 2; ++p) {
    runtime::SourcePartitionView v;
    v.progress = {"file:/tmp/log/", p, 0, 1000 + p, -1, 1000 + p, false};
    v.high_water = 1500;
    v.watermark = 1'700'000'005'000;
    v.replay_end = 1200;
    s.sources.push_back(v);
  }
  s.checkpoints.completed = 3;
  s.checkpoints.failed = 1;
  s.checkpoints.restored_id = 7;
  s.checkpoints.restore_s = 0.25;
  s.checkpoints.history = {{8, true, 1'700'000'002'000, 0.5, 0.01, 4096, ""},
                           {9, false, 1'700'000'003'000, 1.0, 0, 0, "disk full"},
                           {10, true, 1'700'000'004'000, 0.125, 0.002, 8192, ""}};
  s.sinks = {{"sink", 0, 3, 0.0625}};
  s.event_time_latency = {{0.001, 0.01, 0.1, 1}, {1, 5, 30, 40}, 41, 12.5};
  s.ingestion_latency = {{0.001, 0.01, 0.1, 1}, {10, 40, 40, 40}, 40, 0.3};
  s.errors_decode = 6;
  s.errors_user = 4;
  s.errors_late = 7;
  s.catch_up = {true, true, 1'700'000'008'000};
  s.restarts = 2;
  s.last_restart_cause = "file:/tmp/out/: No space left on device";
  s.last_restart_ms = 1'700'000'006'000;
  return s;
}

TEST(PrometheusTextTest, EveryFigureOfAFullSnapshotPassesPromtool) {
  std::string page = PrometheusText(FullSnapshot());
  ExpectPromtoolAccepts(page);
  for (const char* family :
       {"kappa_job_state", "kappa_job_start_time_seconds", "kappa_job_errors_total", "kappa_task_records_in_total",
        "kappa_task_records_out_total", "kappa_task_busy_seconds_total", "kappa_task_backpressured_seconds_total",
        "kappa_task_idle_seconds_total", "kappa_task_watermark_seconds", "kappa_state_cache_hits_total",
        "kappa_state_cache_misses_total", "kappa_state_cache_evictions_total", "kappa_operator_records_in_total",
        "kappa_operator_records_out_total", "kappa_operator_errors_total", "kappa_operator_late_records_total",
        "kappa_operator_state_entries", "kappa_operator_state_bytes", "kappa_channel_queued_batches",
        "kappa_channel_capacity_batches", "kappa_channel_fill_ratio", "kappa_source_partition_offset",
        "kappa_source_partition_high_water_offset", "kappa_source_partition_lag_offsets",
        "kappa_source_partition_watermark_seconds", "kappa_source_partition_event_time_lag_seconds",
        "kappa_source_partition_replay_end_offset", "kappa_replay_caught_up", "kappa_replay_caught_up_time_seconds",
        "kappa_checkpoints_completed_total", "kappa_checkpoints_failed_total", "kappa_checkpoint_last_duration_seconds",
        "kappa_checkpoint_last_alignment_seconds", "kappa_checkpoint_last_size_bytes", "kappa_checkpoint_restore_seconds",
        "kappa_sink_commits_total", "kappa_sink_last_commit_duration_seconds", "kappa_job_restarts_total"}) {
    EXPECT_THAT(page, HasSubstr(std::string("# TYPE ") + family + " ")) << family;
    EXPECT_FALSE(Samples(page, family).empty()) << family;
  }
}

TEST(PrometheusTextTest, RestartsAreOneCounterOfTheJob) {
  std::vector<std::string> lines = Samples(PrometheusText(FullSnapshot()), "kappa_job_restarts_total");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(ValueOf(lines[0]), 2);
}

TEST(PrometheusTextTest, FiguresCarryTheirLabelsAndBaseUnits) {
  std::string page = PrometheusText(FullSnapshot());
  EXPECT_THAT(page, HasSubstr("kappa_operator_records_out_total{job_name=\"nexmark-q5\",task=\"source -> map\","
                              "operator=\"map\",subtask=\"1\"} 901\n"));
  EXPECT_THAT(page, HasSubstr("kappa_operator_errors_total{job_name=\"nexmark-q5\",task=\"source -> map\","
                              "operator=\"source\",subtask=\"0\",kind=\"decode\"} 3\n"));
  EXPECT_THAT(page, HasSubstr("kappa_operator_late_records_total{job_name=\"nexmark-q5\",task=\"count -> sink\","
                              "operator=\"count\",subtask=\"0\"} 7\n"));
  // Nanoseconds become seconds; epoch milliseconds become epoch seconds.
  EXPECT_THAT(page, HasSubstr("kappa_task_busy_seconds_total{job_name=\"nexmark-q5\",task=\"source -> map\","
                              "subtask=\"0\"} 1.5\n"));
  EXPECT_THAT(page, HasSubstr("kappa_task_watermark_seconds{job_name=\"nexmark-q5\",task=\"count -> sink\","
                              "subtask=\"0\"} 1700000004\n"));
  // Lag against the high-water mark; event-time lag is now minus watermark.
  EXPECT_THAT(page, HasSubstr("kappa_source_partition_lag_offsets{job_name=\"nexmark-q5\",source=\"file:/tmp/log/\","
                              "partition=\"1\"} 499\n"));
  EXPECT_THAT(page, HasSubstr("kappa_source_partition_event_time_lag_seconds{job_name=\"nexmark-q5\","
                              "source=\"file:/tmp/log/\",partition=\"0\"} 5\n"));
  EXPECT_THAT(page, HasSubstr("kappa_channel_fill_ratio{job_name=\"nexmark-q5\",from_task=\"source -> map\","
                              "to_task=\"count -> sink\",partitioning=\"hash\"} 0.1875\n"));
  EXPECT_THAT(page, HasSubstr("kappa_job_errors_total{job_name=\"nexmark-q5\",kind=\"late\"} 7\n"));
  EXPECT_THAT(page, HasSubstr("kappa_job_state{job_name=\"nexmark-q5\",state=\"running\"} 1\n"));
  EXPECT_THAT(page, HasSubstr("kappa_job_state{job_name=\"nexmark-q5\",state=\"failed\"} 0\n"));
  // The newest completed checkpoint (10), not the failed 9 after 8.
  EXPECT_THAT(page, HasSubstr("kappa_checkpoint_last_id{job_name=\"nexmark-q5\"} 10\n"));
  EXPECT_THAT(page, HasSubstr("kappa_checkpoint_last_size_bytes{job_name=\"nexmark-q5\"} 8192\n"));
  EXPECT_THAT(page, HasSubstr("kappa_checkpoint_last_duration_seconds{job_name=\"nexmark-q5\"} 0.125\n"));
  EXPECT_THAT(page, HasSubstr("kappa_checkpoints_failed_total{job_name=\"nexmark-q5\"} 1\n"));
  EXPECT_THAT(page, HasSubstr("kappa_replay_caught_up{job_name=\"nexmark-q5\"} 1\n"));
  EXPECT_THAT(page, HasSubstr("kappa_replay_caught_up_time_seconds{job_name=\"nexmark-q5\"} 1700000008\n"));
}

TEST(PrometheusTextTest, LabelValuesWithQuotesBackslashesAndNewlinesAreEscaped) {
  runtime::JobSnapshot s = FullSnapshot();
  s.job = "say \"hi\"\\now\nthen";
  s.chains[0].name = "a\"b";
  s.tasks[0].operators[0].uid = "back\\slash\n";
  s.sources[0].progress.source = "file:/tmp/\"odd\"\\dir\n/";
  std::string page = PrometheusText(s);
  ExpectPromtoolAccepts(page);
  EXPECT_THAT(page, HasSubstr("job_name=\"say \\\"hi\\\"\\\\now\\nthen\""));
  EXPECT_THAT(page, HasSubstr("task=\"a\\\"b\""));
  EXPECT_THAT(page, HasSubstr("operator=\"back\\\\slash\\n\""));
  EXPECT_THAT(page, HasSubstr("source=\"file:/tmp/\\\"odd\\\"\\\\dir\\n/\""));
  // No raw newline inside a sample: every line is a comment or starts with a metric name.
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty()) continue;
    EXPECT_TRUE(line[0] == '#' || absl::StartsWith(line, "kappa_")) << line;
  }
}

TEST(PrometheusTextTest, HistogramsAreCumulativeAndEndWithInf) {
  std::string page = PrometheusText(FullSnapshot());
  std::vector<std::string> buckets = Samples(page, "kappa_sink_event_time_latency_seconds_bucket");
  ASSERT_EQ(buckets.size(), 5u);
  EXPECT_THAT(buckets[0], HasSubstr("le=\"0.001\""));
  EXPECT_THAT(buckets[3], HasSubstr("le=\"1\""));
  EXPECT_THAT(buckets[4], HasSubstr("le=\"+Inf\""));
  for (size_t i = 1; i < buckets.size(); ++i) EXPECT_LE(ValueOf(buckets[i - 1]), ValueOf(buckets[i])) << buckets[i];
  std::vector<std::string> count = Samples(page, "kappa_sink_event_time_latency_seconds_count");
  std::vector<std::string> sum = Samples(page, "kappa_sink_event_time_latency_seconds_sum");
  ASSERT_EQ(count.size(), 1u);
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_EQ(ValueOf(buckets[4]), ValueOf(count[0]));
  EXPECT_EQ(ValueOf(count[0]), 41);
  EXPECT_EQ(ValueOf(sum[0]), 12.5);
  EXPECT_THAT(page, HasSubstr("# TYPE kappa_sink_event_time_latency_seconds histogram\n"));
  EXPECT_EQ(Samples(page, "kappa_sink_ingestion_latency_seconds_bucket").size(), 5u);
}

TEST(PrometheusTextTest, UnknownFiguresAreLeftOutNotPrintedAsMinusOne) {
  runtime::JobSnapshot s = FullSnapshot();
  for (auto& t : s.tasks) {
    t.watermark = kMinTimestamp;
    t.cache_hits = t.cache_misses = t.cache_evictions = -1;
    for (auto& op : t.operators) op.state_entries = op.state_bytes = -1;
  }
  // Records out the task counts together for two operators (two sinks in one chain).
  s.tasks[0].operators[0].records_out = -1;
  s.tasks[0].operators[1].records_in = -1;
  for (auto& p : s.sources) {
    p.high_water = -1;
    p.replay_end = -1;
    p.watermark = kMinTimestamp;
  }
  s.checkpoints = {};
  s.catch_up = {};
  s.sinks[0].commits = 0;
  s.event_time_latency = {};
  s.ingestion_latency = {};
  std::string page = PrometheusText(s);
  ExpectPromtoolAccepts(page);
  EXPECT_THAT(page, Not(HasSubstr(" -1\n")));
  for (const char* family :
       {"kappa_task_watermark_seconds", "kappa_state_cache_hits_total", "kappa_operator_state_entries",
        "kappa_operator_state_bytes", "kappa_source_partition_high_water_offset", "kappa_source_partition_lag_offsets",
        "kappa_source_partition_watermark_seconds", "kappa_source_partition_event_time_lag_seconds",
        "kappa_source_partition_replay_end_offset", "kappa_replay_caught_up", "kappa_checkpoint_last_duration_seconds",
        "kappa_checkpoint_restore_seconds", "kappa_sink_last_commit_duration_seconds",
        "kappa_sink_event_time_latency_seconds_bucket"}) {
    EXPECT_THAT(page, Not(HasSubstr(family))) << family;
  }
  EXPECT_THAT(page, Not(HasSubstr("kappa_operator_records_out_total{job_name=\"nexmark-q5\",task=\"source -> map\","
                                  "operator=\"source\",subtask=\"0\"}")));
  EXPECT_THAT(page, HasSubstr("kappa_operator_records_out_total{job_name=\"nexmark-q5\",task=\"source -> map\","
                              "operator=\"map\",subtask=\"0\"} 900\n"));
  // Counters that are known stay, at zero.
  EXPECT_THAT(page, HasSubstr("kappa_checkpoints_completed_total{job_name=\"nexmark-q5\"} 0\n"));
}

TEST(PrometheusTextTest, AnEndedSourceHasAnInfiniteWatermarkAndNoLag) {
  runtime::JobSnapshot s = FullSnapshot();
  for (auto& p : s.sources) {
    p.progress.end = p.progress.offset;
    p.progress.finished = true;
    p.watermark = kMaxTimestamp;
  }
  s.tasks[2].watermark = kMaxTimestamp;
  std::string page = PrometheusText(s);
  ExpectPromtoolAccepts(page);
  for (const std::string& line : Samples(page, "kappa_source_partition_lag_offsets")) EXPECT_EQ(ValueOf(line), 0) << line;
  for (const std::string& line : Samples(page, "kappa_source_partition_event_time_lag_seconds")) {
    EXPECT_EQ(ValueOf(line), 0) << line;
  }
  EXPECT_THAT(page, HasSubstr("kappa_source_partition_watermark_seconds{job_name=\"nexmark-q5\",source=\"file:/tmp/log/\","
                              "partition=\"0\"} +Inf\n"));
  EXPECT_THAT(page, HasSubstr("kappa_task_watermark_seconds{job_name=\"nexmark-q5\",task=\"count -> sink\","
                              "subtask=\"0\"} +Inf\n"));
  EXPECT_THAT(page, HasSubstr("kappa_source_partition_end_offset{job_name=\"nexmark-q5\",source=\"file:/tmp/log/\","
                              "partition=\"1\"} 1001\n"));
}

TEST(PrometheusTextTest, ChainsSharingANameGetDistinctTaskLabels) {
  runtime::JobSnapshot s = FullSnapshot();
  s.chains[1].name = s.chains[0].name;
  s.edges.push_back({0, 1, "hash", 2, 16});  // a second edge between the same chains: summed
  std::string page = PrometheusText(s);
  ExpectPromtoolAccepts(page);
  EXPECT_THAT(page, HasSubstr("task=\"source -> map #0\""));
  EXPECT_THAT(page, HasSubstr("task=\"source -> map #1\""));
  std::vector<std::string> queued = Samples(page, "kappa_channel_queued_batches");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(ValueOf(queued[0]), 5);
}

TEST(PrometheusTextTest, AnEmptySnapshotPassesPromtool) {
  runtime::JobSnapshot s;
  std::string page = PrometheusText(s);
  ExpectPromtoolAccepts(page);
  EXPECT_THAT(page, HasSubstr("kappa_job_state{job_name=\"\",state=\"starting\"} 1\n"));
}

TEST(PrometheusTextTest, PromtoolRejectsABrokenPage) {
  // The check itself can fail: a counter without _total and a malformed line are reported.
  kappa::testing::PromtoolResult lint = kappa::testing::CheckMetrics(
      "# HELP kappa_records Records.\n# TYPE kappa_records counter\nkappa_records 1\n");
  ASSERT_NE(lint.exit_code, -1) << lint.output;
  EXPECT_NE(lint.exit_code, 0);
  EXPECT_THAT(lint.output, HasSubstr("_total"));
  kappa::testing::PromtoolResult broken = kappa::testing::CheckMetrics("kappa_x{job_name=\"a} 1\n");
  EXPECT_NE(broken.exit_code, 0);
}

}  // namespace
}  // namespace kappa::app
