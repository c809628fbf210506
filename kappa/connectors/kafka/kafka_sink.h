// A Kafka topic as a sink: `kafka://BOOTSTRAP/TOPIC?key=F1,F2&header.NAME=VALUE`.
//
// Each record is one message: the value is the record as JSON, the key the named fields
// of it (joined with '|'; no key: librdkafka spreads messages over partitions), the
// timestamp the record's event time, and the `header.*` parameters its headers.
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
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kappa/base/file_writer.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/sink.h"
#include "kappa/base/status.h"

namespace kappa::connectors {

namespace kafka {

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

}  // namespace kafka

template <typename T>
class KafkaSink final : public SinkConnector<T> {
 public:
  explicit KafkaSink(kafka::KafkaEndpoint endpoint) : endpoint_(std::move(endpoint)) {
    auto key = endpoint_.params.find("key");
    if (key != endpoint_.params.end()) {
      key_fields_ = absl::StrSplit(key->second, ',', absl::SkipEmpty());
    }
  }

  absl::Status EnableExactlyOnce(const ExactlyOnceContext& context) override {
    auto delivery = endpoint_.params.find("delivery");
    if (delivery != endpoint_.params.end() && delivery->second == "at-least-once") return absl::OkStatus();
    std::string safe;
    for (char c : endpoint_.topic) safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
    std::string dir = absl::StrCat(context.checkpoint_dir, "/kafka-sink/", safe);
    KAPPA_RETURN_IF_ERROR(CreateDirectories(dir));
    auto prefix = endpoint_.params.find("transactional.id");
    committer_ = std::make_unique<kafka::TransactionCommitter>(
        endpoint_, dir,
        prefix != endpoint_.params.end() ? prefix->second : absl::StrCat("kappa-", context.job_name, "-", safe));
    stage_dir_ = dir;
    return absl::OkStatus();
  }
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) override {
    return committer_ ? committer_->Recover(pending, restored) : absl::OkStatus();
  }
  absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending) override {
    return committer_ ? committer_->Commit(pending) : absl::OkStatus();
  }
  std::vector<checkpoint::PendingFile> TakeFinalPending() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(final_);
  }

  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int subtask, int parallelism) override {
    if (committer_) return std::unique_ptr<SinkWriter<T>>(new StagingWriter(this, subtask));
    KAPPA_ASSIGN_OR_RETURN(auto producer, kafka::Producer::Open(endpoint_, ""));
    return std::unique_ptr<SinkWriter<T>>(new DirectWriter(this, std::move(producer)));
  }
  std::string description() const override { return endpoint_.Describe(); }

 private:
  class DirectWriter final : public SinkWriter<T> {
   public:
    DirectWriter(KafkaSink* sink, std::unique_ptr<kafka::Producer> producer)
        : keys_(sink->key_fields_), producer_(std::move(producer)) {}
    absl::Status Write(const Record<T>& r) override {
      buf_.clear();
      codec_.Encode(r.value, &buf_);
      KAPPA_RETURN_IF_ERROR(keys_.Extract(buf_, &key_));
      return producer_->Produce(buf_, key_, r.ts);
    }
    absl::Status Flush() override { return producer_->Poll(); }
    // At-least-once with checkpoints: everything before the barrier is acknowledged.
    absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t) override {
      KAPPA_RETURN_IF_ERROR(producer_->Flush(300000));
      return std::vector<checkpoint::PendingFile>{};
    }
    absl::Status Close() override { return producer_->Flush(300000); }

   private:
    kafka::KeyExtractor keys_;
    std::unique_ptr<kafka::Producer> producer_;
    JsonCodec<T> codec_;
    std::string buf_, key_;
  };

  class StagingWriter final : public SinkWriter<T> {
   public:
    StagingWriter(KafkaSink* sink, int subtask)
        : sink_(sink), subtask_(subtask), keys_(sink->key_fields_), stage_(sink->stage_dir_, subtask) {}
    absl::Status Write(const Record<T>& r) override {
      buf_.clear();
      codec_.Encode(r.value, &buf_);
      KAPPA_RETURN_IF_ERROR(keys_.Extract(buf_, &key_));
      return stage_.Append(buf_, key_, r.ts);
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) override {
      KAPPA_ASSIGN_OR_RETURN(std::string path, stage_.Seal(id));
      if (path.empty()) return std::vector<checkpoint::PendingFile>{};
      return std::vector<checkpoint::PendingFile>{{path, absl::StrCat(sink_->endpoint_.Describe(), "@", id)}};
    }
    absl::Status Close() override {
      KAPPA_ASSIGN_OR_RETURN(std::string path, stage_.Seal(kafka::kFinalId));
      if (path.empty()) return absl::OkStatus();
      std::lock_guard<std::mutex> lock(sink_->mu_);
      sink_->final_.push_back({path, absl::StrCat(sink_->endpoint_.Describe(), "@final")});
      return absl::OkStatus();
    }

   private:
    KafkaSink* sink_;
    int subtask_;
    kafka::KeyExtractor keys_;
    kafka::StagingFile stage_;
    JsonCodec<T> codec_;
    std::string buf_, key_;
  };

  kafka::KafkaEndpoint endpoint_;
  std::vector<std::string> key_fields_;
  std::unique_ptr<kafka::TransactionCommitter> committer_;
  std::string stage_dir_;
  std::mutex mu_;
  std::vector<checkpoint::PendingFile> final_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_SINK_H_
