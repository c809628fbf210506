// Sinks: where a job's results leave the engine.
//
// A SinkConnector<T> creates one SinkWriter<T> per parallel sink instance. Writers are
// called on their task's thread only; Flush() is called when the task runs out of input
// (so results show up promptly) and Close() at the end. A failing write (disk full, closed
// pipe) fails the job with the writer's message; it is never ignored.
#ifndef KAPPA_RUNTIME_SINK_H_
#define KAPPA_RUNTIME_SINK_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "kappa/checkpoint/checkpointing.h"
#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/base/status.h"
#include "absl/strings/str_cat.h"
#include <vector>

namespace kappa {

using checkpoint::PendingFile;

template <typename T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual absl::Status Write(const Record<T>& record) = 0;
  virtual absl::Status Flush() = 0;
  virtual absl::Status Close() = 0;
  // Checkpoint barrier `id`: make everything written so far durable and return the files
  // to publish when checkpoint `id` completes. Non-transactional writers just flush.
  virtual absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) {
    KAPPA_RETURN_IF_ERROR(Flush());
    return std::vector<checkpoint::PendingFile>{};
  }
};

// What a sink learns when its job runs with checkpoints.
struct ExactlyOnceContext {
  std::string job_name;
  std::string checkpoint_dir;  // durable; sinks may stage pre-committed output under it
  // Whether this run still owns checkpoint_dir (checkpoint::DirectoryClaim): a sink calls
  // it before each write it makes there or publishes (sealing a staged file, committing,
  // recording a commit) and fails with its error, which is fatal, when another run took the
  // directory over. Null: no claim to check. Thread-safe.
  std::function<absl::Status()> check_owner;
};

template <typename T>
class SinkConnector {
 public:
  virtual ~SinkConnector() = default;
  virtual absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int subtask, int parallelism) = 0;
  virtual std::string description() const = 0;

  // Called before any writer exists when the job runs with checkpoints: switch to
  // exactly-once output (write hidden files, publish on checkpoint completion), or fail
  // when the sink cannot.
  virtual absl::Status EnableExactlyOnce(const ExactlyOnceContext& context) {
    return absl::FailedPreconditionError(
        absl::StrCat(description(), " cannot write exactly once; with checkpoints use a directory sink file:DIR/"));
  }
  // Before a (re)start with checkpoints: publish `pending` (what the restored checkpoint
  // pre-committed; may be empty), remove files of epochs that never completed, and, when
  // restoring checkpoint `restored` (-1: none), withdraw output published by checkpoints
  // after it — the rewound sources produce it again.
  virtual absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) {
    return absl::OkStatus();
  }
  // After a successful run with checkpoints: the files writers closed at end of input,
  // to publish once the final manifest is written.
  virtual std::vector<checkpoint::PendingFile> TakeFinalPending() { return {}; }
  // Checkpoint completed (its manifest is durable): make what writers pre-committed for it
  // visible. Files are renamed into place; a Kafka sink commits a transaction. Must be
  // idempotent: after a crash the same pending output is committed again on recovery.
  virtual absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending) { return checkpoint::PublishPending(pending); }
};

namespace runtime {

template <typename T>
class SinkOperator final : public OneInputOperator<T>, public BatchFlusher {
 public:
  SinkOperator(std::shared_ptr<SinkConnector<T>> connector, TaskMetrics* metrics)
      : connector_(std::move(connector)), metrics_(metrics) {}

  absl::Status Open(OperatorContext* ctx) override {
    this->ctx_ = ctx;
    auto w = connector_->CreateWriter(ctx->subtask(), ctx->parallelism());
    if (!w.ok()) return w.status();
    writer_ = std::move(*w);
    return absl::OkStatus();
  }
  void ConnectOutput(int, OutputPtr) override {}

  void Emit(Record<T>&& r) override {
    this->CountIn();
    Check(writer_->Write(r));
    ++unflushed_;
    if (--until_sample_ == 0) {
      until_sample_ = kLatencySampleEvery;
      ObserveLatency(r.ts);
    }
  }
  absl::Status SnapshotState(int64_t id, checkpoint::TaskSnapshot* out) override {
    FlushBatches();
    KAPPA_ASSIGN_OR_RETURN(std::vector<checkpoint::PendingFile> files, writer_->PreCommit(id));
    if (files.empty()) return absl::OkStatus();
    out->sinks.push_back(checkpoint::SinkPreCommit{
        .operator_uid = this->ctx_->uid(), .subtask = this->ctx_->subtask(), .files = std::move(files)});
    return absl::OkStatus();
  }
  void FlushBatches() override {
    if (unflushed_ == 0) return;
    metrics_->records_out.fetch_add(unflushed_, std::memory_order_relaxed);
    unflushed_ = 0;
    until_sample_ = 1;
    Check(writer_->Flush());
  }
  absl::Status Close() override {
    FlushBatches();
    return writer_->Close();
  }

 private:
  // End-to-end latency is sampled, so that the two clock reads stay off the per-record
  // path: the first record after each flush (every record of a slow stream) and every
  // kLatencySampleEvery-th record of a fast one.
  static constexpr int kLatencySampleEvery = 64;

  void Check(const absl::Status& s) {
    if (!s.ok()) throw TaskError(s);
  }
  void ObserveLatency(Timestamp ts) {
    const int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    constexpr int64_t kCapMs = int64_t{1} << 40;  // beyond every bucket; no overflow below
    const int64_t behind_ms = ts >= wall_ms ? 0 : ts < wall_ms - kCapMs ? kCapMs : wall_ms - ts;
    metrics_->event_time_latency.Observe(behind_ms * 1'000'000);
    if (metrics_->ingestion_ns > 0) {
      const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
      metrics_->ingestion_latency.Observe(now_ns - metrics_->ingestion_ns);
    }
  }
  std::shared_ptr<SinkConnector<T>> connector_;
  TaskMetrics* metrics_;
  std::unique_ptr<SinkWriter<T>> writer_;
  int64_t unflushed_ = 0;
  int until_sample_ = 1;
};

}  // namespace runtime
}  // namespace kappa

#endif  // KAPPA_RUNTIME_SINK_H_
