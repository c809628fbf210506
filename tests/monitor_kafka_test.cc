// JobMonitor over a Kafka job on the suite's real broker: each partition's current end is
// the broker's high-water mark, so lag (end - position) falls to zero once the job read
// everything; and the exactly-once sink's Kafka transactions show as timed commits.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "kappa/kafka.h"
#include "kappa/kappa.h"
#include "tests/kafka_cluster.h"

namespace monitor_kafka_test {

struct Msg {
  int64_t id = 0;
  int64_t ts = 0;
};

}  // namespace monitor_kafka_test

KAPPA_JSON(monitor_kafka_test::Msg, id, ts);

namespace monitor_kafka_test {
namespace {

using kappa::connectors::KafkaSink;
using kappa::connectors::KafkaSource;

constexpr int kMessages = 3000;
constexpr int kPartitions = 3;

kappa::WatermarkStrategy<Msg> ByTs() {
  return kappa::WatermarkStrategy<Msg>::BoundedOutOfOrderness(0).WithTimestamp([](const Msg& m) { return m.ts; });
}

class MonitorKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = kappa::testing::TestKafkaBootstrap();
    ASSERT_FALSE(bootstrap_.empty());
    dir_ = ::testing::TempDir() + "monitor_kafka_test_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes kMessages messages to `topic` through a job of its own.
  void Fill(const std::string& topic) {
    {
      std::ofstream in(dir_ + "/in.jsonl");
      for (int i = 0; i < kMessages; ++i) in << "{\"id\":" << i << ",\"ts\":" << 1000 + i << "}\n";
    }
    auto source = kappa::connectors::MakeSource<Msg>("file:" + dir_ + "/in.jsonl", {});
    ASSERT_TRUE(source.ok()) << source.status();
    auto sink = KafkaSink<Msg>({.bootstrap = bootstrap_, .topic = topic, .key = {"id"}});
    ASSERT_TRUE(sink.ok()) << sink.status();
    auto job = kappa::Job::Create("fill");
    job->Source<Msg>("in", *source, ByTs()).SinkTo(*sink);
    auto written = job->Execute({});
    ASSERT_TRUE(written.ok()) << written.status();
  }

  std::string bootstrap_;
  std::string dir_;
};

TEST_F(MonitorKafkaTest, LagFallsToZeroAtTheHighWaterMarkAndTransactionsAreTimed) {
  const std::string in = kappa::testing::UniqueTopicName("monitor-in");
  const std::string out = kappa::testing::UniqueTopicName("monitor-out");
  ASSERT_TRUE(kappa::testing::CreateTopic(bootstrap_, in, kPartitions).ok());
  ASSERT_TRUE(kappa::testing::CreateTopic(bootstrap_, out, 1).ok());
  Fill(in);

  // An unbounded job follows the topic with exactly-once output; it runs until stopped.
  auto source = KafkaSource<Msg>({.bootstrap = bootstrap_, .topic = in});
  ASSERT_TRUE(source.ok()) << source.status();
  auto sink = KafkaSink<Msg>({.bootstrap = bootstrap_, .topic = out});
  ASSERT_TRUE(sink.ok()) << sink.status();
  auto job = kappa::Job::Create("follow");
  job->Source<Msg>("in", *source, ByTs()).SinkTo(*sink, "out");
  kappa::runtime::JobMonitor monitor;
  std::atomic<bool> stop{false};
  kappa::ExecutionOptions opt;
  opt.parallelism = 2;
  opt.checkpoint_dir = dir_ + "/chk";
  opt.checkpoint_interval_ms = 100;
  opt.stop_requested = &stop;
  opt.monitor = &monitor;
  absl::StatusOr<kappa::ExecutionResult> result;
  std::thread runner([&] { result = job->Execute(opt); });

  // Polls (bounded) until every partition is read to its high-water mark and a
  // transaction with output was committed.
  kappa::runtime::JobSnapshot s;
  auto caught_up = [&] {
    if (s.sources.size() != static_cast<size_t>(kPartitions)) return false;
    int64_t read = 0;
    for (const auto& p : s.sources) {
      if (p.high_water < 0 || p.progress.offset != p.high_water) return false;
      read += p.progress.offset;
    }
    return read == kMessages && !s.sinks.empty() && s.sinks.front().commits > 0;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    s = monitor.Snapshot();
    if (caught_up()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  runner.join();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(caught_up()) << "the job did not reach the high-water marks within 60 s";

  int64_t high_water = 0;
  for (const auto& p : s.sources) {
    EXPECT_EQ(p.progress.end, -1);  // unbounded: the end moves with the topic
    high_water += p.high_water;
  }
  EXPECT_EQ(high_water, kMessages);
  for (const auto& k : s.sinks) {
    EXPECT_EQ(k.uid, "out");
    EXPECT_GT(k.last_commit_s, 0);
  }
  EXPECT_GE(s.checkpoints.completed, 1);

  // After the stop: the final figures stay, and every message went out exactly once.
  const kappa::runtime::JobSnapshot last = monitor.Snapshot();
  EXPECT_EQ(last.state, "stopped");
  int64_t commits = 0;
  for (const auto& k : last.sinks) commits += k.commits;
  EXPECT_GE(commits, 1);
  auto values = kappa::testing::ReadTopicValues(bootstrap_, out);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(values->size(), static_cast<size_t>(kMessages));
}

}  // namespace
}  // namespace monitor_kafka_test
