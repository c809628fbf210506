// librdkafka's mock cluster (rdkafka_mock.h): the real Kafka protocol on loopback, hosted
// in this process, for demos (`kappa broker`, `--kafka embedded`) and tests. It keeps
// about 5 MiB per partition, does not enforce read_committed and cannot look up offsets
// by time (see docs/operations.md). Declared without librdkafka's headers.
//
//   KAPPA_ASSIGN_OR_RETURN(auto cluster, kappa::connectors::kafka::EmbeddedCluster::Start());
//   KAPPA_RETURN_IF_ERROR(cluster->CreateTopic("clicks", 4));
//   ... kafka://<cluster->bootstrap()>/clicks ...
//
// Thread-safe as librdkafka's mock cluster is; the cluster lives until it is destroyed.
#ifndef KAPPA_CONNECTORS_KAFKA_EMBEDDED_CLUSTER_H_
#define KAPPA_CONNECTORS_KAFKA_EMBEDDED_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// librdkafka's handle types, as rdkafka.h and rdkafka_mock.h declare them.
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace kappa::connectors::kafka {

// Owns a librdkafka client handle (rd_kafka_destroy on release).
struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

class EmbeddedCluster {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedCluster>> Start(int brokers = 3);
  ~EmbeddedCluster();
  // host:port,... for bootstrap.servers, kafka://BOOTSTRAP/TOPIC and --kafka.
  const std::string& bootstrap() const { return bootstrap_; }
  absl::Status CreateTopic(const std::string& topic, int partitions);
  absl::Status SetBrokerDown(int broker_id, bool down);
  // For fault injection through rdkafka_mock.h (e.g. rd_kafka_mock_push_request_errors).
  rd_kafka_mock_cluster_t* mock() const { return mock_; }

 private:
  EmbeddedCluster() = default;
  Handle rk_;
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstrap_;
};

}  // namespace kappa::connectors::kafka

#endif  // KAPPA_CONNECTORS_KAFKA_EMBEDDED_CLUSTER_H_
