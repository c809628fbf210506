// The real Apache Kafka cluster under the Kafka tests. CTest's `kafka_broker` fixture starts
// one single-node cluster with scripts/kafka-broker before the first test labelled `kafka`
// and stops it after the last; KAPPA_TEST_KAFKA names its directory. Tests that need a
// cluster of their own (three nodes, nodes killed) start one with KafkaBrokerScript().
//
//   const std::string bootstrap = TestKafkaBootstrap();
//   ASSERT_FALSE(bootstrap.empty());
//   const std::string topic = UniqueTopicName("clicks");
//   KAPPA_ASSERT_OK(CreateTopic(bootstrap, topic, 4));
//   ... kafka://BOOTSTRAP/TOPIC ...
//   auto rows = ReadTopicRecords(bootstrap, topic);  // read_committed, to the end
//
// Every test shares the cluster, so each names its topics with UniqueTopicName.
#ifndef KAPPA_TESTS_KAFKA_CLUSTER_H_
#define KAPPA_TESTS_KAFKA_CLUSTER_H_

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "kappa/connectors/kafka/kafka_client.h"

namespace kappa::testing {

// The directory of the suite's cluster, or "" (and a test failure that says how to get
// one) when the test runs outside the fixture or the fixture could not start Kafka.
inline std::string TestKafkaDir() {
  const char* dir = std::getenv("KAPPA_TEST_KAFKA");
  if (dir == nullptr || *dir == '\0') {
    ADD_FAILURE() << "no Kafka cluster: run this test through ctest (its kafka_broker fixture starts one), "
                     "or start one with scripts/kafka-broker start DIR and set KAPPA_TEST_KAFKA=DIR";
    return "";
  }
  return dir;
}

// host:port of the suite's cluster, or "" with a test failure.
inline std::string TestKafkaBootstrap() {
  std::string dir = TestKafkaDir();
  if (dir.empty()) return "";
  std::ifstream in(dir + "/bootstrap");
  std::string bootstrap;
  if (!in || !std::getline(in, bootstrap) || bootstrap.empty()) {
    ADD_FAILURE() << "no Kafka cluster in " << dir
                  << " (its kafka_broker_start test failed: install Java 17, Maven and Kafka with scripts/setup)";
    return "";
  }
  return bootstrap;
}

// scripts/kafka-broker, for tests that run clusters of their own.
inline std::string KafkaBrokerScript() { return KAPPA_KAFKA_BROKER_SCRIPT; }

// A topic name no other test (or earlier run of this one) uses: PREFIX-TEST-PID-N.
inline std::string UniqueTopicName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  std::string test = "t";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) test = info->name();
  std::string name = absl::StrCat(std::string(prefix), "-", test, "-", getpid(), "-", counter++);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  return name.substr(0, 200);
}

namespace kafka_test_internal {
struct Destroy {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Client = std::unique_ptr<rd_kafka_t, Destroy>;

inline absl::StatusOr<Client> NewClient(rd_kafka_type_t type, const std::string& bootstrap,
                                        const std::vector<std::pair<std::string, std::string>>& settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", bootstrap}};
  all.insert(all.end(), settings.begin(), settings.end());
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) return absl::InternalError(err);
  return Client(rk);
}
}  // namespace kafka_test_internal

// Creates `topic` through Kafka's admin API and waits until every partition has a leader.
inline absl::Status CreateTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                                int replication = 1,
                                const std::vector<std::pair<std::string, std::string>>& configs = {}) {
  auto rk = kafka_test_internal::NewClient(RD_KAFKA_PRODUCER, bootstrap, {});
  if (!rk.ok()) return rk.status();
  return connectors::kafka::CreateTopic(rk->get(), topic, partitions, replication, configs);
}

struct KafkaRecord {
  int partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  int64_t timestamp = -1;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Every record of `topic` up to the end of each partition as it is now, in partition and
// offset order. read_committed (what Kappa's exactly-once output promises): records of
// aborted or still-open transactions are not returned.
inline absl::StatusOr<std::vector<KafkaRecord>> ReadTopicRecords(const std::string& bootstrap, const std::string& topic,
                                                                 bool read_committed = true, int timeout_ms = 60000) {
  auto rk = kafka_test_internal::NewClient(
      RD_KAFKA_CONSUMER, bootstrap,
      {{"group.id", "kappa-test-reader"},
       {"enable.auto.commit", "false"},
       {"enable.partition.eof", "true"},
       {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"}});
  if (!rk.ok()) return rk.status();
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk->get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t merr = rd_kafka_metadata(rk->get(), 0, t, &md, 10000);
  rd_kafka_topic_destroy(t);
  if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) return absl::UnavailableError(rd_kafka_err2str(merr));
  const int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  if (partitions == 0) return absl::NotFoundError(absl::StrCat("no topic ", topic));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk->get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  std::map<int, std::vector<KafkaRecord>> by_partition;
  int at_end = 0;
  std::vector<bool> ended(partitions, false);
  // A deadline in time, not in polls: every message is a poll of its own.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (at_end < partitions) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reading ", topic, ": ", at_end, " of ", partitions,
                                                      " partitions reached their end in ", timeout_ms, " ms"));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!ended[m->partition]) {
        ended[m->partition] = true;
        ++at_end;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string error = rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      return absl::UnavailableError(absl::StrCat("reading ", topic, ": ", error));
    } else {
      KafkaRecord r;
      r.partition = m->partition;
      r.offset = m->offset;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.timestamp = rd_kafka_message_timestamp(m, nullptr);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          r.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
        }
      }
      by_partition[m->partition].push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk->get());
  std::vector<KafkaRecord> out;
  for (auto& [p, records] : by_partition) {
    for (auto& r : records) out.push_back(std::move(r));
  }
  return out;
}

// The values of ReadTopicRecords.
inline absl::StatusOr<std::vector<std::string>> ReadTopicValues(const std::string& bootstrap, const std::string& topic,
                                                                bool read_committed = true) {
  auto records = ReadTopicRecords(bootstrap, topic, read_committed);
  if (!records.ok()) return records.status();
  std::vector<std::string> values;
  for (auto& r : *records) values.push_back(std::move(r.value));
  return values;
}

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_KAFKA_CLUSTER_H_
