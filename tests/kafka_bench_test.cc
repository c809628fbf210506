// `kappa bench kafka --kafka BOOTSTRAP` against the suite's real Apache Kafka cluster: the
// JSON result holds every figure, the engine and the raw librdkafka loop wrote the same
// rows, nexmark-q5's exactly-once output (read with isolation.level=read_committed) has the
// rows of the hand-written q5, and the topics the bench created are gone afterwards. No
// timing thresholds: numbers only have to exist and be positive.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/bench_result.h"
#include "tests/kafka_cluster.h"
#include "tests/kappa_process.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::kappa::testing::CreateTopic;
using ::kappa::testing::KafkaRecord;
using ::kappa::testing::ReadTopicRecords;
using ::kappa::testing::Lines;
using ::kappa::testing::Result;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::kappa::testing::TestKafkaBootstrap;
using ::kappa::testing::UniqueTopicName;
using ::testing::HasSubstr;

// Every topic of the cluster, from its metadata.
std::set<std::string> Topics(const std::string& bootstrap) {
  std::set<std::string> topics;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    ADD_FAILURE() << err;
    return topics;
  }
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, nullptr, &md, 10000);
  EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i) topics.insert(md->topics[i].topic);
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  return topics;
}


// A small run. Five seconds of paced input at 2000 events/s with a 500 ms watermark bound: the first
// 2 s slide ends within 2 s of the first event, so at least one window closes.
std::vector<std::string> BenchArgs(const std::string& bootstrap, const std::string& latency_duration,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"bench",          "kafka", "--kafka",          bootstrap,
                                   "--events",       "5000",  "--partitions",     "2",
                                   "--latency-rate", "2000",  "--latency-duration", latency_duration,
                                   "--out-of-orderness", "500", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(KafkaBenchTest, RealClusterReportsQ0BesideTheRawLoopAndExactlyOnceQ5) {
  const std::string bootstrap = TestKafkaBootstrap();
  ASSERT_FALSE(bootstrap.empty());
  RunResult run = RunKappa(BenchArgs(bootstrap, "5"), /*stderr_file=*/"", std::chrono::seconds(180));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ASSERT_TRUE(r.ok()) << r.text();

  // Configuration.
  EXPECT_EQ(r.Int("events"), 5000);
  EXPECT_EQ(r.Int("partitions"), 2);
  EXPECT_EQ(r.Str("broker"), bootstrap);
  EXPECT_EQ(r.Int("brokers"), 1);
  EXPECT_THAT(r.Str("broker_version"), ::testing::StartsWith("3.9"));
  EXPECT_EQ(r.Int("replication_factor"), 1);
  EXPECT_TRUE(r.Bool("topics_created"));
  EXPECT_EQ(r.Int("q5_checkpoint_interval_ms"), 1000);
  EXPECT_EQ(r.Int("q5_out_of_orderness_ms"), 500);
  EXPECT_EQ(r.Int("q5_live_rate_per_s"), 2000);
  EXPECT_EQ(r.Double("q5_live_duration_s"), 5);
  EXPECT_THAT(r.Str("machine"), HasSubstr("cores"));

  // q0: every bid (46 of every 50 events) once, from the engine, the raw loop and the live run.
  const int64_t bids = 5000 / 50 * 46;
  EXPECT_EQ(r.Int("bids"), bids);
  EXPECT_EQ(r.Int("engine_rows"), bids);
  EXPECT_EQ(r.Int("baseline_rows"), bids);
  EXPECT_EQ(r.Int("live_rows"), bids);
  EXPECT_TRUE(r.Bool("rows_match"));
  EXPECT_TRUE(r.Bool("contents_checked"));
  EXPECT_GT(r.Int("input_bytes"), r.Int("output_bytes"));
  EXPECT_GT(r.Int("output_bytes"), 0);
  for (const char* key : {"engine_wall_s", "engine_cpu_s", "engine_events_per_s", "engine_events_per_s_per_core",
                          "engine_mb_per_s", "baseline_wall_s", "baseline_cpu_s", "baseline_events_per_s",
                          "baseline_events_per_s_per_core", "baseline_mb_per_s", "ratio", "ratio_per_core",
                          "replay_s", "replay_events_per_s", "live_wall_s", "live_events_per_s",
                          "live_producer_events_per_s", "live_vs_replay", "fill_s"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }

  // q5 replay: 5000 events at the generator's 10M events/s of event time fall into one 2 s
  // slide, so into 5 sliding windows, each with at least one row (more on ties).
  EXPECT_EQ(r.Int("q5_replay_rows"), r.Int("q5_replay_expected_rows"));
  EXPECT_EQ(r.Int("q5_baseline_rows"), r.Int("q5_replay_expected_rows"));
  EXPECT_GE(r.Int("q5_replay_rows"), 5);
  for (const char* key : {"q5_replay_s", "q5_events_per_s", "q5_baseline_s", "q5_baseline_events_per_s", "q5_ratio"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }
  // q5 live: the rows of every window the paced input closed, committed and read back.
  EXPECT_EQ(r.Int("q5_live_events"), 10000);
  EXPECT_GE(r.Int("q5_live_windows"), 1);
  EXPECT_EQ(r.Int("q5_live_rows"), r.Int("q5_live_expected_rows"));
  EXPECT_GE(r.Int("q5_live_rows"), r.Int("q5_live_windows"));
  EXPECT_GE(r.Int("q5_live_checkpoints"), 1);
  for (const char* key : {"q5_latency_p50_ms", "q5_latency_p99_ms", "q5_latency_max_ms", "q5_close_latency_p50_ms",
                          "q5_close_latency_p99_ms", "q5_close_latency_max_ms"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }
  EXPECT_LE(r.Double("q5_latency_p50_ms"), r.Double("q5_latency_p99_ms"));
  EXPECT_LE(r.Double("q5_latency_p99_ms"), r.Double("q5_latency_max_ms"));
  // The newest bid of a window comes before the event that closes it.
  EXPECT_GE(r.Double("q5_latency_p50_ms"), r.Double("q5_close_latency_p50_ms"));

  // Every topic the bench created is deleted.
  const std::string prefix = r.Str("topic_prefix");
  ASSERT_THAT(prefix, ::testing::StartsWith("kappa-bench-"));
  for (const std::string& topic : Topics(bootstrap)) EXPECT_FALSE(topic.starts_with(prefix)) << topic;
}

TEST(KafkaBenchTest, TopicsTheUserNamesAreUsedAndKept) {
  const std::string bootstrap = TestKafkaBootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string in = UniqueTopicName("bench-in");
  const std::string out = UniqueTopicName("bench-out");
  ASSERT_TRUE(CreateTopic(bootstrap, in, 3).ok());
  ASSERT_TRUE(CreateTopic(bootstrap, out, 3).ok());
  RunResult run = RunKappa(BenchArgs(bootstrap, "0", {"--in-topic", in, "--out-topic", out}),
                           /*stderr_file=*/"", std::chrono::seconds(180));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_FALSE(r.Bool("topics_created"));
  EXPECT_EQ(r.Int("partitions"), 3);  // the input topic's, not --partitions
  EXPECT_TRUE(r.Bool("rows_match"));
  EXPECT_EQ(r.Int("q5_live_events"), 0);
  const std::set<std::string> topics = Topics(bootstrap);
  EXPECT_TRUE(topics.contains(in));
  EXPECT_TRUE(topics.contains(out));
  // The input once (the live q0 run appends it a second time); in the output every run's
  // rows: q0's three times, then q5's committed rows, the engine's and the baseline's.
  constexpr int kTimeoutMs = 120'000;
  absl::StatusOr<std::vector<KafkaRecord>> inputs = ReadTopicRecords(bootstrap, in, true, kTimeoutMs);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  EXPECT_EQ(inputs->size(), 2u * 5000);
  absl::StatusOr<std::vector<KafkaRecord>> rows = ReadTopicRecords(bootstrap, out, true, kTimeoutMs);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(static_cast<int64_t>(rows->size()),
            3 * r.Int("bids") + r.Int("q5_replay_rows") + r.Int("q5_baseline_rows"));
}

}  // namespace
}  // namespace kappa
