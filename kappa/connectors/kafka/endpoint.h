// Kafka URIs and the Kafka settings of a run, without librdkafka:
//
//   kafka://BOOTSTRAP/TOPIC?start=...&end=...&group=G&key=F1,F2&header.N=V
//   kafka:TOPIC           the bootstrap given by `--kafka BOOTSTRAP|embedded`
//
// librdkafka settings pass through: `--kafka-config key=value` (every client of the run)
// and `kafka.KEY=VALUE` URI parameters (one connector), e.g. security.protocol=SASL_SSL.
#ifndef KAPPA_CONNECTORS_KAFKA_ENDPOINT_H_
#define KAPPA_CONNECTORS_KAFKA_ENDPOINT_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors::kafka {

// Settings the command line gives every Kafka connector of a run.
struct KafkaSettings {
  std::string bootstrap;  // for kafka:TOPIC URIs (--kafka)
  std::vector<std::pair<std::string, std::string>> config;  // --kafka-config key=value
  int timeout_ms = 10000;  // how long to wait for the cluster when a connector starts
};

// A parsed kafka URI.
struct KafkaEndpoint {
  std::string bootstrap;
  std::string topic;
  std::map<std::string, std::string> params;  // Kappa's parameters (start, end, group, key, ...)
  std::vector<std::pair<std::string, std::string>> config;  // librdkafka settings
  std::string text;                                         // the URI as given
  int timeout_ms = 10000;
  std::string Describe() const;                             // kafka://BOOTSTRAP/TOPIC
};

// Parses kafka://BOOTSTRAP/TOPIC or kafka:TOPIC; `allowed` lists the Kappa parameters this
// connector understands (others are an error naming them).
absl::StatusOr<KafkaEndpoint> ParseEndpoint(const Uri& uri, const KafkaSettings& settings,
                                            const std::vector<std::string>& allowed);

}  // namespace kappa::connectors::kafka

#endif  // KAPPA_CONNECTORS_KAFKA_ENDPOINT_H_
