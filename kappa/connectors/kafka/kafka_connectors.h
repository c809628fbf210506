// Kafka sources and sinks as typed objects, for programs that build a job with the API
// directly rather than through `--source kafka://...` (what kappa/kafka.h offers users).
// The same connectors as the kafka scheme's: JSON values decoded and encoded with
// JsonCodec<T>, offsets in checkpoints, exactly-once output with checkpoints.
// Declared without librdkafka's headers.
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_CONNECTORS_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_CONNECTORS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/base/status.h"
#include "kappa/connectors/kafka/embedded_cluster.h"
#include "kappa/connectors/raw.h"

namespace kappa::connectors {

// A topic to read; the fields are the URI parameters of kafka://BOOTSTRAP/TOPIC.
struct KafkaSourceConfig {
  std::string bootstrap;  // host:port[,host:port...], e.g. EmbeddedCluster::bootstrap()
  std::string topic;
  // Where each partition starts without a checkpoint: earliest, latest, committed (needs
  // group), ts:MS or offsets:P=O,...
  std::string start = "earliest";
  // Empty: unbounded. end (the high watermarks found at start), ts:MS or offsets:P=O,...
  std::string end;
  std::string group;  // consumer group the source commits to, for lag tools and start=committed
  std::vector<std::pair<std::string, std::string>> config;  // librdkafka settings
  int timeout_ms = 10000;  // how long to wait for the cluster at start
};

// A topic to write; as KafkaSourceConfig.
struct KafkaSinkConfig {
  std::string bootstrap;
  std::string topic;
  std::vector<std::string> key;  // top-level fields of the record's JSON, joined with '|'
  std::vector<std::pair<std::string, std::string>> headers;  // on every message
  // With checkpoints: output committed in Kafka transactions with each checkpoint (true),
  // or flushed on every barrier (false, at-least-once).
  bool exactly_once = true;
  std::string transactional_id;  // prefix of the producers' ids; default kappa-JOB-TOPIC
  // Restoring a checkpoint older than output Kafka already committed: fail (false), or
  // write that output again (true; the URI's on-rewind=duplicate).
  bool duplicate_on_rewind = false;
  std::vector<std::pair<std::string, std::string>> config;  // librdkafka settings
  int timeout_ms = 10000;
};

namespace kafka {
// The connectors of bytes behind KafkaSource<T> / KafkaSink<T>; errors name the endpoint.
absl::StatusOr<std::shared_ptr<RawSourceConnector>> NewKafkaSource(const KafkaSourceConfig& config);
absl::StatusOr<std::shared_ptr<RawSinkConnector>> NewKafkaSink(const KafkaSinkConfig& config);
}  // namespace kafka

// Fails fast, with one line, when the brokers cannot be reached or the topic is missing.
template <typename T>
absl::StatusOr<std::shared_ptr<SourceConnector<T>>> KafkaSource(const KafkaSourceConfig& config) {
  KAPPA_ASSIGN_OR_RETURN(std::shared_ptr<RawSourceConnector> raw, kafka::NewKafkaSource(config));
  return std::shared_ptr<SourceConnector<T>>(std::make_shared<JsonSource<T>>(std::move(raw)));
}

template <typename T>
absl::StatusOr<std::shared_ptr<SinkConnector<T>>> KafkaSink(const KafkaSinkConfig& config) {
  KAPPA_ASSIGN_OR_RETURN(std::shared_ptr<RawSinkConnector> raw, kafka::NewKafkaSink(config));
  return std::shared_ptr<SinkConnector<T>>(std::make_shared<JsonSink<T>>(std::move(raw)));
}

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_CONNECTORS_H_
