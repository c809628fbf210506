// A Kafka topic as a sink: `kafka://BOOTSTRAP/TOPIC?key=F1,F2&header.NAME=VALUE`.
//
// Each record is one message: the value is the record as JSON, the key the named fields
// of it (joined with '|'; no key: librdkafka spreads messages over partitions), the
// timestamp the record's event time, and the `header.*` parameters its headers. The sink
// takes JSON lines (a RawSinkConnector; JsonSink<T> encodes a job's records).
//
// Without checkpoints every sink instance has an idempotent producer (retries neither
// duplicate nor reorder) and the run flushes it before it ends.
//
// With checkpoints the sink is exactly-once (unless `delivery=at-least-once`: flush on
// every barrier). librdkafka cannot resume another process's transaction, so the sink
// stages output durably and commits it in a Kafka transaction once its checkpoint is
// complete:
//  - between barriers, instance i appends its records to a staging file under
//    CHECKPOINT_DIR/kafka-sink/TOPIC/;
//  - on barrier n it syncs the file and lists it in checkpoint n (pre-commit);
//  - when checkpoint n is complete, the transactional producer of instance i
//    (transactional.id PREFIX-i; PREFIX defaults to kappa-JOB-TOPIC) produces the file in
//    one transaction, commits it, records n as committed for i, and deletes the file;
//  - after a crash, recovery commits what the restored checkpoint pre-committed and was
//    not yet recorded as committed. init_transactions() with the same id fences a zombie
//    producer of the crashed run and aborts whatever it left open.
// Consumers see each checkpoint's output once, atomically, with isolation.level=
// read_committed. The remaining gap: a crash after Kafka committed a transaction and
// before the sink recorded it (a file rename) produces that checkpoint's output again.
//
// Declared without librdkafka's headers; the connector is in kafka_sink.cc.
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/base/file_writer.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/connectors/kafka/endpoint.h"
#include "kappa/connectors/raw.h"

namespace kappa::connectors::kafka {

// The topic of `endpoint` as a sink of JSON lines. Fails fast (one line naming the
// endpoint) when the brokers cannot be reached or the topic does not exist.
absl::StatusOr<std::shared_ptr<RawSinkConnector>> NewKafkaSink(KafkaEndpoint endpoint);

class Producer;  // kafka_client.h

// Keys of records: the named top-level fields of the encoded JSON.
class KeyExtractor {
 public:
  explicit KeyExtractor(std::vector<std::string> fields) : fields_(std::move(fields)) {}
  absl::Status Extract(std::string_view json, std::string* key) const;
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::string> fields_;
};

// Stages one sink instance's output between barriers (framed records in a hidden file).
class StagingFile {
 public:
  StagingFile(std::string dir, int subtask) : dir_(std::move(dir)), subtask_(subtask) {}
  absl::Status Append(std::string_view value, std::string_view key, int64_t ts);
  // Syncs and closes the current file and names it after checkpoint `id`; "" when nothing
  // was written since the last seal.
  absl::StatusOr<std::string> Seal(int64_t id);

 private:
  absl::Status Drain();
  std::string dir_;
  int subtask_;
  std::unique_ptr<FileWriter> file_;
  std::string path_;
  std::string buf_;
};

// Commits staged files in Kafka transactions, one transactional producer per instance.
class TransactionCommitter {
 public:
  TransactionCommitter(KafkaEndpoint endpoint, std::string stage_dir, std::string transactional_prefix);
  ~TransactionCommitter();
  // Commits each staged file not committed yet, in order. Idempotent.
  absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending);
  // Before a run: commit what the restored checkpoint pre-committed, delete staging files of
  // epochs that never completed, and warn when output of checkpoints after `restored` was
  // already committed (Kafka cannot withdraw it; it will be produced again).
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored);

 private:
  absl::StatusOr<int64_t> LastCommitted(int subtask);
  absl::Status RecordCommitted(int subtask, int64_t id);
  absl::Status CommitFile(const std::string& path);

  KafkaEndpoint endpoint_;
  std::string stage_dir_;
  std::string prefix_;
  std::mutex mu_;
  std::map<int, std::unique_ptr<Producer>> producers_;
  std::map<int, int64_t> committed_;
};

// The staged file of instance `subtask` for checkpoint `id` (kFinalId: the run's end).
inline constexpr int64_t kFinalId = INT64_MAX;
std::string StagedName(const std::string& dir, int subtask, int64_t id);

}  // namespace kappa::connectors::kafka

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_
