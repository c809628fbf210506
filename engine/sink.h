// Sinks: where a job's results leave the engine.
//
// A SinkConnector<T> creates one SinkWriter<T> per parallel sink instance. Writers are
// called on their task's thread only; Flush() is called when the task runs out of input
// (so results show up promptly) and Close() at the end. A failing write (disk full, closed
// pipe) fails the job with the writer's message; it is never ignored.
#ifndef KAPPA_ENGINE_SINK_H_
#define KAPPA_ENGINE_SINK_H_

#include <memory>
#include <string>

#include "engine/exchange.h"
#include "engine/operator.h"

namespace kappa {

template <typename T>
class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual absl::Status Write(const Record<T>& record) = 0;
  virtual absl::Status Flush() = 0;
  virtual absl::Status Close() = 0;
};

template <typename T>
class SinkConnector {
 public:
  virtual ~SinkConnector() = default;
  virtual absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int subtask, int parallelism) = 0;
  virtual std::string description() const = 0;
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
    Check(writer_->Write(r));
    ++unflushed_;
  }
  void FlushBatches() override {
    if (unflushed_ == 0) return;
    metrics_->records_out.fetch_add(unflushed_, std::memory_order_relaxed);
    unflushed_ = 0;
    Check(writer_->Flush());
  }
  absl::Status Close() override {
    FlushBatches();
    return writer_->Close();
  }

 private:
  void Check(const absl::Status& s) {
    if (!s.ok()) throw TaskError(s);
  }
  std::shared_ptr<SinkConnector<T>> connector_;
  TaskMetrics* metrics_;
  std::unique_ptr<SinkWriter<T>> writer_;
  int64_t unflushed_ = 0;
};

}  // namespace runtime
}  // namespace kappa

#endif  // KAPPA_ENGINE_SINK_H_
