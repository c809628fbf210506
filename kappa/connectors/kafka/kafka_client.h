// The Kafka side of the Kafka connectors, without record types: URIs, librdkafka
// clients, offset lookups, the per-instance consumer, the producer and the transactional
// committer of staged sink output. URIs and settings: endpoint.h; the embedded (mock)
// cluster: embedded_cluster.h.
//
// Offsets belong to checkpoints: a source reads the partitions it is assigned from the
// offsets a checkpoint recorded (or from `start=`), never from the consumer group. With
// `group=G` the consumer commits what it has read to G so that the usual tools show lag;
// `start=committed` reads those offsets back.
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_CLIENT_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/connectors/kafka/embedded_cluster.h"
#include "kappa/connectors/kafka/endpoint.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors::kafka {

// A client of `type` for `endpoint` with the extra settings (applied after the
// endpoint's, so a connector can insist on what correctness needs). `conf_hook` may set
// callbacks on the configuration before the client is created.
absl::StatusOr<Handle> NewClient(rd_kafka_type_t type, const KafkaEndpoint& endpoint,
                                 const std::vector<std::pair<std::string, std::string>>& extra,
                                 void (*conf_hook)(rd_kafka_conf_t*, void*) = nullptr, void* hook_arg = nullptr);

// Partitions of the endpoint's topic; NotFound names the topic, Unavailable says the
// brokers cannot be reached.
absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const KafkaEndpoint& endpoint, int timeout_ms = 10000);

struct Watermarks {
  int64_t low = 0;   // first offset still in the log
  int64_t high = 0;  // offset the next message will get
};
absl::StatusOr<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int partition,
                                           int timeout_ms = 10000);

// Creates `topic` through the admin API of `rk` (any client of the cluster) with the
// topic settings `configs`, and waits until every partition has a leader that serves it.
absl::Status CreateTopic(rd_kafka_t* rk, const std::string& topic, int partitions, int replication,
                         const std::vector<std::pair<std::string, std::string>>& configs = {},
                         int timeout_ms = 60000);

// The timestamp of the message at `offset` (CreateTime or LogAppendTime), read with a
// consumer `rk` that has no other assignment. An offset without a message (a transaction
// marker, an aborted message under read_committed) gives the next message's.
absl::StatusOr<int64_t> MessageTimestamp(rd_kafka_t* rk, const std::string& topic, int partition, int64_t offset,
                                         int timeout_ms = 10000);

// How OffsetForTime found its answer.
enum class TimeLookup {
  kTimeIndex,  // the broker's time index (offsets_for_times)
  kPastEnd,    // no message that late: the partition's end (its newest message is older)
  kSearch,     // the broker could not look it up: binary search over message timestamps
};

// The first offset whose message timestamp is ≥ ts: offsets_for_times when the broker
// answers, else (librdkafka's mock cluster answers -1 for every real timestamp, and old
// brokers have no time index) a binary search over [low, high) reading one message per
// step. The search assumes timestamps that are non-decreasing up to a bounded disorder;
// callers that need exactness ask for ts − bound and filter by event time. `how`, if
// given, says which of the two answered.
absl::StatusOr<int64_t> OffsetForTime(rd_kafka_t* rk, const std::string& topic, int partition, int64_t ts,
                                      int timeout_ms = 10000, TimeLookup* how = nullptr);
// For tests: the same search without asking the broker first.
absl::StatusOr<int64_t> OffsetForTimeBySearch(rd_kafka_t* rk, const std::string& topic, int partition, int64_t ts,
                                              int timeout_ms = 10000);

// Resolves a start or end Position to an offset for one partition. kNoOffset: the
// position does not bound this partition (an `offsets:` list that does not name it).
inline constexpr int64_t kNoOffset = -1;
absl::StatusOr<int64_t> ResolvePosition(rd_kafka_t* rk, const KafkaEndpoint& endpoint, const Position& pos,
                                        int partition, bool is_end);

// One consumer per source instance: its partitions are assigned explicitly at their
// offsets, each with its own queue so every partition is read (and its watermark
// tracked) on its own.
class Consumer {
 public:
  static absl::StatusOr<std::shared_ptr<Consumer>> Open(const KafkaEndpoint& endpoint,
                                                        const std::vector<std::pair<int, int64_t>>& partitions);
  ~Consumer();

  // Up to `max` messages of `partition` without waiting; the caller destroys them.
  // A consumer-wide fatal error (e.g. an offset that retention removed) is returned.
  absl::StatusOr<size_t> Poll(int partition, rd_kafka_message_t** out, size_t max);
  const KafkaEndpoint& endpoint() const { return endpoint_; }
  // The partition's high-water mark as of the last fetch response (librdkafka's cached
  // figure: no request to the broker), or -1 before the first one.
  int64_t HighWater(int partition) const;
  // The offset the consumer reads next in `partition` (librdkafka's position, which moves
  // past transaction markers that are never returned as messages), or -1 when unknown.
  int64_t Position(int partition) const;

 private:
  Consumer() = default;
  absl::Status CheckErrors();

  KafkaEndpoint endpoint_;
  Handle rk_;
  std::map<int, rd_kafka_queue_t*> queues_;
  uint64_t polls_ = 0;
};

// A producer for a sink instance (idempotent), or a transactional one for committing
// staged output. Produce() blocks while librdkafka's queue is full (backpressure), and
// delivery failures surface on the next call: nothing is dropped silently.
class Producer {
 public:
  // transactional_id empty: idempotent producer.
  static absl::StatusOr<std::unique_ptr<Producer>> Open(const KafkaEndpoint& endpoint,
                                                        const std::string& transactional_id);
  ~Producer();

  absl::Status Produce(std::string_view value, std::string_view key, int64_t timestamp_ms);
  // Serves delivery reports without waiting.
  absl::Status Poll();
  // Waits until every produced message is acknowledged (or failed).
  absl::Status Flush(int timeout_ms);

  // Transactions (transactional producers only).
  absl::Status Begin();
  absl::Status Commit(int timeout_ms);
  absl::Status Abort(int timeout_ms);
  // Within the open transaction: commits `offset` with `metadata` for `partition` of the
  // endpoint's topic to consumer group `group` (a group without members), atomically with
  // the transaction's messages. Offsets below 0 are not sent (librdkafka skips them).
  absl::Status SendOffsets(const std::string& group, int partition, int64_t offset, const std::string& metadata,
                           int timeout_ms);

  int64_t delivered() const { return delivered_.load(); }

  // Whether librdkafka raised a fatal error on this producer (it is unusable from then on):
  // *reason says what, *fenced whether a newer producer with the same transactional id
  // fenced it (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH).
  bool Fatal(std::string* reason, bool* fenced) const;

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);
  absl::Status DeliveryStatus();

  KafkaEndpoint endpoint_;
  Handle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  std::vector<std::pair<std::string, std::string>> headers_;
  bool transactional_ = false;
  std::atomic<int64_t> delivered_{0};
  std::mutex mu_;
  std::string delivery_error_;  // first failed delivery
};

// What consumer group `group` has committed for `partition` of the endpoint's topic,
// read_committed: while a transaction that commits offsets to the group is open, the broker
// answers UNSTABLE_OFFSET_COMMIT and this retries until `timeout_ms`. offset < 0: nothing
// committed.
struct CommittedOffset {
  int64_t offset = -1;
  std::string metadata;
};
absl::StatusOr<CommittedOffset> ReadCommittedOffset(const KafkaEndpoint& endpoint, const std::string& group,
                                                    int partition, int timeout_ms = 60000);

// How long one transactional call for `endpoint` (init_transactions, sending offsets,
// commit, abort, reading a transactional group's offsets) waits for the cluster:
// `fallback_ms`, or the producer's transaction.timeout.ms when that is set lower
// (`--kafka-config transaction.timeout.ms=MS` or `?kafka.transaction.timeout.ms=MS`): the
// broker aborts a transaction older than that anyway, and a sink that gives up sooner
// fails the run sooner, which a restart strategy then handles.
int TransactionCallTimeoutMs(const KafkaEndpoint& endpoint, int fallback_ms);

// Reads every message of the endpoint's topic that exists now (from the low to the high
// watermark of each partition), as values in partition and offset order. For `kappa diff`.
// read_committed unless the endpoint's config says otherwise: messages of aborted or open
// transactions are not returned (and their offsets, like transaction markers', hold none).
absl::StatusOr<std::vector<std::string>> ReadTopic(const KafkaEndpoint& endpoint, int timeout_ms = 30000);

// The value of field `name` in the top-level JSON object `json`, as its JSON text.
absl::StatusOr<std::string> JsonFieldText(std::string_view json, const std::string& name);

}  // namespace kappa::connectors::kafka

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_CLIENT_H_
