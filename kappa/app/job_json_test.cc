#include "kappa/app/job_json.h"

#include <string>

#include "gtest/gtest.h"
#include "kappa/app/json_tree.h"

namespace kappa::app {
namespace {

using runtime::JobSnapshot;

// Two chains (a source of parallelism 1 feeding a window of parallelism 2), as a run
// would show them 2 s apart.
JobSnapshot Before() {
  JobSnapshot s;
  s.job = "q5 \"hot\"";
  s.state = "running";
  s.started_ms = 1'000'000;
  s.now_ms = 1'010'000;
  s.chains = {{"source -> map", 1, {"source", "map"}}, {"window -> sink", 2, {"window", "sink"}}};
  runtime::TaskView source;
  source.node = 0;
  source.is_source = true;
  source.records_in = 1000;
  source.records_out = 1000;
  source.busy_ns = 1'000'000'000;
  s.tasks.push_back(source);
  for (int i = 0; i < 2; ++i) {
    runtime::TaskView w;
    w.node = 1;
    w.subtask = i;
    w.records_in = 500;
    w.records_out = 10;
    w.busy_ns = 100'000'000;
    w.backpressured_ns = 0;
    w.idle_ns = 500'000'000;
    w.watermark = 1'700'000'000'000;
    s.tasks.push_back(w);
  }
  runtime::SourcePartitionView p;
  p.progress = {"gen:nexmark", 0, 0, 1000, -1, 1000, false};
  p.high_water = 5000;
  p.watermark = 1'009'000;
  s.sources.push_back(p);
  return s;
}

JobSnapshot After() {
  JobSnapshot s = Before();
  s.now_ms += 2000;
  s.tasks[0].records_in += 4000;   // 2000/s
  s.tasks[0].records_out += 4000;
  s.tasks[0].busy_ns += 1'500'000'000;  // 75% of 2 s
  s.tasks[1].records_in += 1000;   // 500/s
  s.tasks[1].records_out += 20;
  s.tasks[1].busy_ns += 1'000'000'000;  // 50%
  s.tasks[1].backpressured_ns += 500'000'000;  // 25%
  s.tasks[1].idle_ns += 500'000'000;
  s.tasks[2].records_in += 3000;   // 1500/s
  s.tasks[2].records_out += 60;
  s.tasks[2].busy_ns += 2'000'000'000;  // 100%
  s.tasks[2].idle_ns += 0;
  s.sources[0].progress.offset = 5000;
  s.sources[0].progress.records = 5000;
  s.sources[0].high_water = 7000;
  s.sources[0].watermark = 1'010'500;
  runtime::EdgeView e;
  e.from = 0;
  e.to = 1;
  e.partitioning = "hash";
  e.queued_batches = 3;
  e.capacity_batches = 12;
  s.edges.push_back(e);
  return s;
}

JsonNode Parse(const std::string& text) {
  absl::StatusOr<JsonNode> root = ParseJsonTree(text);
  EXPECT_TRUE(root.ok()) << root.status() << "\n" << text;
  return root.ok() ? *root : JsonNode();
}

TEST(JobJsonTest, CarriesTheSnapshotsFields) {
  JobSnapshot s = After();
  s.tasks[1].operators.push_back({"window", "window(10 s)", 7, 3, 2, 1, 0, 42, 4096});
  s.checkpoints.completed = 4;
  s.checkpoints.failed = 1;
  s.checkpoints.restored_id = 2;
  s.checkpoints.restore_s = 0.25;
  s.checkpoints.history.push_back({5, true, 1'011'000, 0.125, 0.01, 65536, ""});
  s.checkpoints.history.push_back({6, false, 1'011'500, 0.5, 0, 0, "disk full"});
  s.sinks.push_back({"sink", 1, 9, 0.003});
  s.last_errors.push_back({1'011'900, "decode", "source", "bad \"json\"\n"});
  s.errors_decode = 1;
  s.errors_late = 2;
  s.catch_up = {true, true, 1'011'800};
  s.event_time_latency.bounds = {0.1, 1, 10};
  s.event_time_latency.counts = {0, 10, 10};
  s.event_time_latency.count = 10;
  s.event_time_latency.sum = 5;

  JsonNode j = Parse(JobJson(s, nullptr));
  EXPECT_EQ(j.String("job"), "q5 \"hot\"");
  EXPECT_EQ(j.String("state"), "running");
  EXPECT_EQ(j.Number("now_ms"), 1'012'000);
  EXPECT_EQ(j.Number("started_ms"), 1'000'000);
  EXPECT_FALSE(j.Has("interval_s"));

  ASSERT_EQ(j.Items("chains").size(), 2u);
  const JsonNode& window = j.Items("chains")[1];
  EXPECT_EQ(window.String("name"), "window -> sink");
  EXPECT_EQ(window.Number("parallelism"), 2);
  ASSERT_EQ(window.Items("operator_uids").size(), 2u);
  EXPECT_EQ(window.Items("operator_uids")[0].string, "window");
  EXPECT_EQ(window.Number("records_in"), 1500 + 3500);  // the sum of its tasks
  EXPECT_EQ(window.Number("records_out"), 30 + 70);
  EXPECT_FALSE(window.Has("records_in_per_s"));  // no rates without a previous snapshot

  ASSERT_EQ(j.Items("tasks").size(), 3u);
  const JsonNode& t = j.Items("tasks")[1];
  EXPECT_EQ(t.Number("node"), 1);
  EXPECT_EQ(t.Number("subtask"), 0);
  EXPECT_FALSE(t.Bool("is_source"));
  EXPECT_TRUE(j.Items("tasks")[0].Bool("is_source"));
  EXPECT_EQ(t.Number("busy_ns"), 1'100'000'000);
  EXPECT_EQ(t.Number("watermark"), 1'700'000'000'000);
  EXPECT_TRUE(j.Items("tasks")[0].IsNull("watermark"));  // none yet
  EXPECT_EQ(t.Number("cache_hits"), -1);
  ASSERT_EQ(t.Items("operators").size(), 1u);
  const JsonNode& op = t.Items("operators")[0];
  EXPECT_EQ(op.String("uid"), "window");
  EXPECT_EQ(op.Number("late_dropped"), 2);
  EXPECT_EQ(op.Number("state_entries"), 42);
  EXPECT_EQ(op.Number("state_bytes"), 4096);

  ASSERT_EQ(j.Items("edges").size(), 1u);
  EXPECT_EQ(j.Items("edges")[0].String("partitioning"), "hash");
  EXPECT_EQ(j.Items("edges")[0].Number("fill"), 0.25);

  ASSERT_EQ(j.Items("sources").size(), 1u);
  const JsonNode& p = j.Items("sources")[0];
  EXPECT_EQ(p.String("source"), "gen:nexmark");
  EXPECT_EQ(p.Number("offset"), 5000);
  EXPECT_EQ(p.Number("end"), -1);
  EXPECT_EQ(p.Number("high_water"), 7000);
  EXPECT_EQ(p.Number("lag"), 2000);  // high-water mark - position
  EXPECT_EQ(p.Number("watermark"), 1'010'500);
  EXPECT_DOUBLE_EQ(p.Number("event_time_lag_s"), 1.5);  // now - watermark
  EXPECT_FALSE(p.Bool("idle"));
  EXPECT_EQ(p.Number("replay_end"), -1);

  const JsonNode* c = j.Get("checkpoints");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Number("completed"), 4);
  EXPECT_EQ(c->Number("failed"), 1);
  EXPECT_EQ(c->Number("restored_id"), 2);
  EXPECT_EQ(c->Number("restore_s"), 0.25);
  ASSERT_EQ(c->Items("history").size(), 2u);
  EXPECT_EQ(c->Items("history")[0].Number("bytes"), 65536);
  EXPECT_EQ(c->Items("history")[0].Number("duration_s"), 0.125);
  EXPECT_TRUE(c->Items("history")[0].Bool("completed"));
  EXPECT_FALSE(c->Items("history")[1].Bool("completed"));
  EXPECT_EQ(c->Items("history")[1].String("error"), "disk full");

  ASSERT_EQ(j.Items("sinks").size(), 1u);
  EXPECT_EQ(j.Items("sinks")[0].Number("commits"), 9);
  EXPECT_EQ(j.Items("sinks")[0].Number("last_commit_s"), 0.003);

  const JsonNode* lat = j.Get("event_time_latency");
  ASSERT_NE(lat, nullptr);
  EXPECT_EQ(lat->Number("count"), 10);
  EXPECT_EQ(lat->Items("counts").size(), 3u);
  EXPECT_DOUBLE_EQ(lat->Number("p50_s"), 0.1 + 0.9 * 0.5);  // halfway through (0.1, 1]
  EXPECT_TRUE(j.Get("ingestion_latency")->IsNull("p50_s"));  // no observations

  ASSERT_EQ(j.Items("last_errors").size(), 1u);
  EXPECT_EQ(j.Items("last_errors")[0].String("error"), "bad \"json\"\n");
  EXPECT_EQ(j.Items("last_errors")[0].String("operator_name"), "source");
  EXPECT_EQ(j.Number("errors_decode"), 1);
  EXPECT_EQ(j.Number("errors_late"), 2);

  const JsonNode* catch_up = j.Get("catch_up");
  ASSERT_NE(catch_up, nullptr);
  EXPECT_TRUE(catch_up->Bool("tracking"));
  EXPECT_TRUE(catch_up->Bool("caught_up"));
  EXPECT_EQ(catch_up->Number("at_ms"), 1'011'800);
}

TEST(JobJsonTest, RatesAndSharesOverTheIntervalBetweenSnapshots) {
  JobSnapshot before = Before(), now = After();
  JsonNode j = Parse(JobJson(now, &before));
  EXPECT_DOUBLE_EQ(j.Number("interval_s"), 2.0);

  const JsonNode& source = j.Items("tasks")[0];
  EXPECT_DOUBLE_EQ(source.Number("records_in_per_s"), 2000);
  EXPECT_DOUBLE_EQ(source.Number("busy"), 0.75);
  EXPECT_DOUBLE_EQ(source.Number("backpressured"), 0);

  const JsonNode& w0 = j.Items("tasks")[1];
  EXPECT_DOUBLE_EQ(w0.Number("records_in_per_s"), 500);
  EXPECT_DOUBLE_EQ(w0.Number("records_out_per_s"), 10);
  EXPECT_DOUBLE_EQ(w0.Number("busy"), 0.5);
  EXPECT_DOUBLE_EQ(w0.Number("backpressured"), 0.25);
  EXPECT_DOUBLE_EQ(w0.Number("idle"), 0.25);
  EXPECT_DOUBLE_EQ(j.Items("tasks")[2].Number("busy"), 1.0);

  // A chain: records/s summed over its instances, shares their mean.
  const JsonNode& window = j.Items("chains")[1];
  EXPECT_DOUBLE_EQ(window.Number("records_in_per_s"), 2000);
  EXPECT_DOUBLE_EQ(window.Number("records_out_per_s"), 40);
  EXPECT_DOUBLE_EQ(window.Number("busy"), 0.75);
  EXPECT_DOUBLE_EQ(window.Number("backpressured"), 0.125);
  EXPECT_DOUBLE_EQ(window.Number("idle"), 0.125);
  EXPECT_DOUBLE_EQ(j.Items("chains")[0].Number("records_out_per_s"), 2000);

  EXPECT_DOUBLE_EQ(j.Items("sources")[0].Number("records_per_s"), 2000);
}

TEST(JobJsonTest, SharesStayWithinZeroAndOne) {
  JobSnapshot before = Before(), now = After();
  now.tasks[1].busy_ns += 10'000'000'000;  // more than the interval (clock skew between counters)
  JsonNode j = Parse(JobJson(now, &before));
  EXPECT_DOUBLE_EQ(j.Items("tasks")[1].Number("busy"), 1.0);
}

TEST(JobJsonTest, ACounterThatWentBackCountsFromZero) {
  // The previous snapshot was of an earlier run (the process restored and started again).
  JobSnapshot before = After(), now = Before();
  now.now_ms = before.now_ms + 1000;
  JsonNode j = Parse(JobJson(now, &before));
  EXPECT_DOUBLE_EQ(j.Items("tasks")[0].Number("records_in_per_s"), 1000);
  EXPECT_GE(j.Items("chains")[1].Number("records_in_per_s"), 0);
}

TEST(JobJsonTest, TasksNewSinceThePreviousSnapshotCountFromZero) {
  JobSnapshot before = Before(), now = After();
  before.tasks.pop_back();  // subtask 1 of the window was not there yet
  JsonNode j = Parse(JobJson(now, &before));
  EXPECT_DOUBLE_EQ(j.Items("tasks")[2].Number("records_in_per_s"), 3500 / 2.0);
}

TEST(JobJsonTest, LagOfBoundedFinishedAndUnknownPartitions) {
  JobSnapshot s = Before();
  s.sources.clear();
  runtime::SourcePartitionView bounded;
  bounded.progress = {"file:/log", 0, 100, 400, 1000, 300, false};
  bounded.watermark = kMaxTimestamp;  // the input ended
  runtime::SourcePartitionView finished;
  finished.progress = {"file:/log", 1, 0, 900, 1000, 800, true};
  runtime::SourcePartitionView unknown;
  unknown.progress = {"gen:nexmark", 0, 0, 50, -1, 50, false};
  s.sources = {bounded, finished, unknown};
  JsonNode j = Parse(JobJson(s, nullptr));
  ASSERT_EQ(j.Items("sources").size(), 3u);
  EXPECT_EQ(j.Items("sources")[0].Number("lag"), 600);  // no high-water mark: the bounded end
  EXPECT_EQ(j.Items("sources")[0].Number("event_time_lag_s"), 0);
  EXPECT_EQ(j.Items("sources")[1].Number("lag"), 0);
  EXPECT_TRUE(j.Items("sources")[2].IsNull("lag"));
  EXPECT_TRUE(j.Items("sources")[2].IsNull("watermark"));
  EXPECT_TRUE(j.Items("sources")[2].IsNull("event_time_lag_s"));
}

TEST(JobJsonTest, EmptySnapshotIsValidJson) {
  JsonNode j = Parse(JobJson(JobSnapshot(), nullptr));
  EXPECT_EQ(j.String("state"), "starting");
  EXPECT_TRUE(j.Items("tasks").empty());
  EXPECT_TRUE(j.Items("chains").empty());
}

TEST(HistogramQuantileTest, InterpolatesWithinTheBucketLikePrometheus) {
  runtime::HistogramView h;
  EXPECT_LT(HistogramQuantile(h, 0.5), 0);
  h.bounds = {0.001, 0.01, 0.1};
  h.counts = {10, 30, 40};
  h.count = 50;  // 10 beyond the last bound
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.1), 0.0005);        // rank 5 of 10 in [0, 1 ms]
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.4), 0.001 + 0.009 * 0.5);  // rank 20: 10 of 20 in (1, 10 ms]
  EXPECT_DOUBLE_EQ(HistogramQuantile(h, 0.99), 0.1);          // past the last bound
}

TEST(JsonTreeTest, RejectsMalformedJson) {
  EXPECT_FALSE(ParseJsonTree("{\"a\":[1,2}").ok());
  EXPECT_FALSE(ParseJsonTree("[1]").ok());
  EXPECT_FALSE(ParseJsonTree("{\"a\":1}x").ok());
  EXPECT_FALSE(ParseJsonTree("<html>").ok());
  std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_FALSE(ParseJsonTree("{\"a\":" + deep + "}").ok());
  absl::StatusOr<JsonNode> ok = ParseJsonTree("{\"a\":[1,{\"b\":null}],\"c\":\"x\",\"d\":true}");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->Items("a").size(), 2u);
  EXPECT_TRUE(ok->Items("a")[1].IsNull("b"));
  EXPECT_EQ(ok->String("c"), "x");
  EXPECT_TRUE(ok->Bool("d"));
  EXPECT_EQ(ok->Number("missing", -7), -7);
}

}  // namespace
}  // namespace kappa::app
