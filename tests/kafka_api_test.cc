// Kafka from C++ through the opt-in public header alone (kappa/kafka.h): typed sources
// and sinks made from configs, against the suite's real Kafka broker (CTest's kafka_broker
// fixture; topics created with scripts/kafka-broker) and, the same job, against the
// embedded mock cluster the header also offers. Neither this file nor the headers it
// includes see librdkafka.
#include <unistd.h>

#include <cstdlib>
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
    const char* kafka = std::getenv("KAPPA_TEST_KAFKA");
    ASSERT_TRUE(kafka != nullptr && *kafka != '\0')
        << "no Kafka cluster: run this test through ctest (its kafka_broker fixture starts one)";
    kafka_dir_ = kafka;
    std::ifstream in(kafka_dir_ + "/bootstrap");
    ASSERT_TRUE(std::getline(in, bootstrap_) && !bootstrap_.empty())
        << "no Kafka cluster in " << kafka_dir_ << " (its kafka_broker_start test failed)";
    dir_ = ::testing::TempDir() + "kafka_api_test_" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A topic of the suite's broker, named for this test and process (other tests share it).
  std::string CreateTopic(const std::string& prefix, int partitions) {
    std::string topic = prefix + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                        std::to_string(getpid());
    std::string command = std::string(KAPPA_KAFKA_BROKER_SCRIPT) + " create-topic " + kafka_dir_ + " " + topic +
                          " " + std::to_string(partitions);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return topic;
  }

  // A file goes to `topic` through KafkaSink<Msg>, and back to a file through
  // KafkaSource<Msg> bounded by the end found at start.
  void CarryRecordsThroughATopic(const std::string& bootstrap, const std::string& topic);

  std::string kafka_dir_, bootstrap_;
  std::string dir_;
};

TEST_F(KafkaApiTest, TypedSinkAndSourceCarryRecordsThroughATopic) {
  CarryRecordsThroughATopic(bootstrap_, CreateTopic("msgs", 3));
}

// The same job on the mock cluster kappa/kafka.h offers for tests and demos.
TEST_F(KafkaApiTest, TheEmbeddedClusterCarriesTheSameRecords) {
  auto cluster = EmbeddedCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("msgs", 3).ok());
  CarryRecordsThroughATopic((*cluster)->bootstrap(), "msgs");
}

void KafkaApiTest::CarryRecordsThroughATopic(const std::string& bootstrap, const std::string& topic) {
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
  auto to_kafka = KafkaSink<Msg>({.bootstrap = bootstrap, .topic = topic, .key = {"id"}});
  ASSERT_TRUE(to_kafka.ok()) << to_kafka.status();
  auto write = kappa::Job::Create("to-kafka");
  write->Source<Msg>("in", *source, ByTs()).SinkTo(*to_kafka);
  auto written = write->Execute({});
  ASSERT_TRUE(written.ok()) << written.status();

  auto from_kafka = KafkaSource<Msg>({.bootstrap = bootstrap, .topic = topic, .end = "end"});
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
  const std::string nosuch = "nosuch-" + std::to_string(getpid());
  auto missing = KafkaSource<Msg>({.bootstrap = bootstrap_, .topic = nosuch, .timeout_ms = 2000});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), AllOf(HasSubstr(nosuch), HasSubstr("does not exist")));

  // Refused before the broker is asked: the topic need not exist.
  auto bad_start = KafkaSource<Msg>({.bootstrap = bootstrap_, .topic = "t", .start = "yesterday"});
  ASSERT_FALSE(bad_start.ok());
  EXPECT_THAT(std::string(bad_start.status().message()),
              AllOf(HasSubstr("kafka://"), HasSubstr("/t: start"), HasSubstr("yesterday")));

  auto no_group = KafkaSource<Msg>({.bootstrap = bootstrap_, .topic = "t", .start = "committed"});
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
