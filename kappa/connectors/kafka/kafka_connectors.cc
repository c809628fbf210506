#include "kappa/connectors/kafka/kafka_connectors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kappa/connectors/kafka/endpoint.h"
#include "kappa/connectors/kafka/kafka_sink.h"
#include "kappa/connectors/kafka/kafka_source.h"

namespace kappa::connectors::kafka {
namespace {

absl::StatusOr<KafkaEndpoint> Endpoint(const std::string& bootstrap, const std::string& topic,
                                       const std::vector<std::pair<std::string, std::string>>& config,
                                       int timeout_ms) {
  KafkaEndpoint e;
  e.bootstrap = bootstrap;
  e.topic = topic;
  e.config = config;
  e.timeout_ms = timeout_ms;
  e.text = e.Describe();
  if (e.bootstrap.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", e.text, "': the Kafka config needs a bootstrap (HOST:PORT)"));
  }
  if (e.topic.empty() || e.topic.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", e.text, "': the Kafka config needs one topic name"));
  }
  return e;
}

}  // namespace

absl::StatusOr<std::shared_ptr<RawSourceConnector>> NewKafkaSource(const KafkaSourceConfig& config) {
  KAPPA_ASSIGN_OR_RETURN(KafkaEndpoint e, Endpoint(config.bootstrap, config.topic, config.config, config.timeout_ms));
  if (!config.group.empty()) e.params["group"] = config.group;
  KAPPA_ASSIGN_OR_RETURN(Position start, ParsePosition(config.start, absl::StrCat(e.text, ": start")));
  std::optional<Position> end;
  if (!config.end.empty()) {
    KAPPA_ASSIGN_OR_RETURN(end, ParsePosition(config.end, absl::StrCat(e.text, ": end")));
  }
  return NewKafkaSource(std::move(e), std::move(start), std::move(end));
}

absl::StatusOr<std::shared_ptr<RawSinkConnector>> NewKafkaSink(const KafkaSinkConfig& config) {
  KAPPA_ASSIGN_OR_RETURN(KafkaEndpoint e, Endpoint(config.bootstrap, config.topic, config.config, config.timeout_ms));
  if (!config.key.empty()) e.params["key"] = absl::StrJoin(config.key, ",");
  for (const auto& [name, value] : config.headers) e.params["header." + name] = value;
  e.params["delivery"] = config.exactly_once ? "exactly-once" : "at-least-once";
  if (!config.transactional_id.empty()) e.params["transactional.id"] = config.transactional_id;
  if (config.duplicate_on_rewind) e.params["on-rewind"] = "duplicate";
  return NewKafkaSink(std::move(e));
}

}  // namespace kappa::connectors::kafka
