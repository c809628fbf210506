// Kafka from C++ through the opt-in public header alone (kappa/kafka.h): typed sources
// and sinks made from configs, against the embedded mock cluster it also offers. Neither
// this file nor the headers it includes see librdkafka.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/kafka.h"
#include "kappa/kappa.h"

namespace kafka_api_test {

struct Msg {
  int64_t id = 0;
  int64_t ts = 0;
  std::string tag;
};

}  // namespace kafka_api_test

KAPPA_JSON(kafka_api_test::Msg, id, ts, tag);

namespace kafka_api_test {
namespace {

using kappa::connectors::KafkaSink;
using kappa::connectors::KafkaSource;
using kappa::connectors::kafka::EmbeddedCluster;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

kappa::WatermarkStrategy<Msg> ByTs() {
  return kappa::WatermarkStrategy<Msg>::BoundedOutOfOrderness(0).WithTimestamp([](const Msg& m) { return m.ts; });
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class KafkaApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EmbeddedCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    dir_ = ::testing::TempDir() + "kafka_api_test_" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<EmbeddedCluster> cluster_;
  std::string dir_;
};

// A file goes to a topic through KafkaSink<Msg>, and back to a file through
// KafkaSource<Msg> bounded by the end found at start.
TEST_F(KafkaApiTest, TypedSinkAndSourceCarryRecordsThroughATopic) {
  ASSERT_TRUE(cluster_->CreateTopic("msgs", 3).ok());
  std::vector<std::string> want;
  {
    std::ofstream in(dir_ + "/in.jsonl");
    for (int i = 0; i < 60; ++i) {
      std::string line = "{\"id\":" + std::to_string(i) + ",\"ts\":" + std::to_string(1000 + i) + ",\"tag\":\"t\"}";
      in << line << "\n";
      want.push_back(line);
    }
  }

  auto source = kappa::connectors::MakeSource<Msg>("file:" + dir_ + "/in.jsonl", {});
  ASSERT_TRUE(source.ok()) << source.status();
  auto to_kafka = KafkaSink<Msg>({.bootstrap = cluster_->bootstrap(), .topic = "msgs", .key = {"id"}});
  ASSERT_TRUE(to_kafka.ok()) << to_kafka.status();
  auto write = kappa::Job::Create("to-kafka");
  write->Source<Msg>("in", *source, ByTs()).SinkTo(*to_kafka);
  auto written = write->Execute({});
  ASSERT_TRUE(written.ok()) << written.status();

  auto from_kafka = KafkaSource<Msg>({.bootstrap = cluster_->bootstrap(), .topic = "msgs", .end = "end"});
  ASSERT_TRUE(from_kafka.ok()) << from_kafka.status();
  auto out = kappa::connectors::MakeSink<Msg>("file:" + dir_ + "/out.jsonl");
  ASSERT_TRUE(out.ok()) << out.status();
  auto read = kappa::Job::Create("from-kafka");
  read->Source<Msg>("in", *from_kafka, ByTs()).SinkTo(out->sink);
  kappa::ExecutionOptions options;
  options.parallelism = 2;
  auto result = read->Execute(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(out->finish().ok());
  EXPECT_THAT(ReadLines(dir_ + "/out.jsonl"), UnorderedElementsAreArray(want));
}

TEST_F(KafkaApiTest, BadConfigsFailInOneLineNamingTheEndpoint) {
  auto missing = KafkaSource<Msg>({.bootstrap = cluster_->bootstrap(), .topic = "nosuch", .timeout_ms = 2000});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nosuch"));

  ASSERT_TRUE(cluster_->CreateTopic("t", 1).ok());
  auto bad_start = KafkaSource<Msg>({.bootstrap = cluster_->bootstrap(), .topic = "t", .start = "yesterday"});
  ASSERT_FALSE(bad_start.ok());
  EXPECT_THAT(std::string(bad_start.status().message()),
              AllOf(HasSubstr("kafka://"), HasSubstr("/t: start"), HasSubstr("yesterday")));

  auto no_group = KafkaSource<Msg>({.bootstrap = cluster_->bootstrap(), .topic = "t", .start = "committed"});
  ASSERT_FALSE(no_group.ok());
  EXPECT_THAT(std::string(no_group.status().message()), HasSubstr("group"));

  auto no_bootstrap = KafkaSink<Msg>({.topic = "t"});
  ASSERT_FALSE(no_bootstrap.ok());
  EXPECT_THAT(std::string(no_bootstrap.status().message()), HasSubstr("bootstrap"));
  for (const auto* s : {&missing.status(), &bad_start.status(), &no_group.status(), &no_bootstrap.status()}) {
    EXPECT_EQ(std::string(s->message()).find('\n'), std::string::npos) << *s;
  }
}

}  // namespace
}  // namespace kafka_api_test
