// Operator test harnesses: drive one operator directly with records, watermarks and a
// manual clock, and read what it emitted — no tasks, threads or channels.
//
//   auto op = std::make_unique<kappa::operators::WindowOperator<...>>(...);  // see window_test.cc
//   kappa::testing::OperatorHarness<Bid, Windowed<int64_t, int64_t>> h(std::move(op));
//   ASSERT_OK(h.Open());
//   h.Process(bid, /*ts=*/1000);
//   h.Watermark(9999);
//   EXPECT_EQ(h.output().size(), 1);
//
// State lives in a real HeapBackend unless the harness is given another backend; timers
// reach it on SnapshotState(), as on a checkpoint barrier. `errors()` collects error and
// late reports. Single-threaded, like a task.
#ifndef KAPPA_TESTING_HARNESS_H_
#define KAPPA_TESTING_HARNESS_H_

#include <memory>
#include <string>
#include <vector>

#include "kappa/runtime/errors.h"
#include "kappa/runtime/operator.h"
#include "kappa/state/heap_backend.h"

namespace kappa::testing {

template <typename T>
class CollectingOutput : public Output<T> {
 public:
  void Emit(Record<T>&& r) override { records.push_back(std::move(r)); }
  std::vector<T> values() const {
    std::vector<T> out;
    for (const auto& r : records) out.push_back(r.value);
    return out;
  }
  std::vector<Record<T>> records;
};

class HarnessContext : public runtime::OperatorContext {
 public:
  HarnessContext() : HarnessContext(state::HeapBackend::Create()) {}
  explicit HarnessContext(std::unique_ptr<state::KeyedStateBackend> backend)
      : backend_(std::move(backend)), errors_(nullptr, /*keep_in_memory=*/true) {}
  const std::string& operator_name() const override { return name_; }
  int subtask() const override { return subtask_; }
  int parallelism() const override { return parallelism_; }
  int max_parallelism() const override { return 128; }
  state::KeyedStateBackend* backend() override { return backend_.get(); }
  Clock* clock() override { return &clock_; }
  ErrorSink* errors() override { return &errors_; }
  bool ShouldYield() const override { return yield_; }
  Timestamp current_watermark() const override { return watermark_; }
  bool stop_requested() const override { return false; }
  const std::string& uid() const override { return name_; }
  const checkpoint::RestoredState* restored() const override { return restored_; }
  std::shared_ptr<runtime::TaskWaker> waker() override { return waker_; }
  // Kept here; a job sends them to its dead-letter output.
  void ReportDeadLetter(DeadLetter letter) override { dead_letters_.push_back(std::move(letter)); }
  // Where the record being processed came from, as a source in the chain would say.
  runtime::RecordOrigin current_origin() const override { return origin_; }

  std::string name_ = "op";
  int subtask_ = 0;
  int parallelism_ = 1;
  // Woken by other threads (async completions); OperatorHarness::Wake() delivers it.
  std::shared_ptr<runtime::TaskWaker> waker_ = std::make_shared<runtime::TaskWaker>(nullptr);
  std::vector<DeadLetter> dead_letters_;
  runtime::RecordOrigin origin_;
  std::unique_ptr<state::KeyedStateBackend> backend_;
  ErrorSink errors_;
  ManualClock clock_{0};
  bool yield_ = false;
  Timestamp watermark_ = kMinTimestamp;
  const checkpoint::RestoredState* restored_ = nullptr;
};

// Drives an operator with one input (port "late" = side output 1 is collected too).
template <typename In, typename Out, typename Late = In>
class OperatorHarness {
 public:
  explicit OperatorHarness(std::unique_ptr<runtime::OperatorBase> op,
                           std::unique_ptr<state::KeyedStateBackend> backend = state::HeapBackend::Create())
      : ctx_(std::move(backend)), op_(std::move(op)) {
    op_->ConnectOutput(0, runtime::OutputPtr::Of<Out>(&out_));
  }
  // Connects side output `port` (e.g. 1 = late) to the harness; without it late records
  // are reported to errors().
  void CollectSideOutput(int port) { op_->ConnectOutput(port, runtime::OutputPtr::Of<Late>(&side_)); }

  absl::Status Open() { return op_->Open(&ctx_); }

  // pwm defaults to "not late relative to its partition".
  void Process(In value, Timestamp ts, Timestamp pwm = kMinTimestamp, int input = 0) {
    runtime::Batch<In> batch;
    batch.records.push_back(Record<In>{std::move(value), ts, pwm});
    op_->ProcessBatch(input, &batch);
  }
  // Advances the operator's watermark (as its task would) and fires timers.
  void Watermark(Timestamp wm) {
    ctx_.watermark_ = wm;
    while (!op_->AdvanceWatermark(wm)) {
    }
    if (ctx_.backend() != nullptr) ctx_.backend()->AdvanceTtlWatermark(wm);  // timers fired: TTL may reclaim
  }
  void AdvanceProcessingTime(Timestamp to) {
    ctx_.clock_.Set(to);
    while (!op_->AdvanceProcessingTime(to)) {
    }
  }
  void EndOfInput() {
    Watermark(kMaxTimestamp);
    op_->EndOfInput();
  }
  // What the task does when its waker was woken (async completions arrived): calls
  // OnWake(). False when nothing woke it.
  bool Wake() {
    if (!ctx_.waker_->TakePending()) return false;
    op_->OnWake();
    return true;
  }
  // What a checkpoint barrier asks of the operator: cached state and timers go to the
  // backend, which then holds what a snapshot would; what the operator adds beyond keyed
  // state (operator-state entries) goes to *out when given.
  absl::Status SnapshotState(int64_t checkpoint_id = 1, checkpoint::TaskSnapshot* out = nullptr) {
    checkpoint::TaskSnapshot snapshot;
    return op_->SnapshotState(checkpoint_id, out != nullptr ? out : &snapshot);
  }
  // Records the operator gave up on (retries, operators/retry.h).
  const std::vector<DeadLetter>& dead_letters() const { return ctx_.dead_letters_; }

  std::vector<Out> output() const { return out_.values(); }
  const std::vector<Record<Out>>& records() const { return out_.records; }
  std::vector<Late> side_output() const { return side_.values(); }
  void ClearOutput() { out_.records.clear(); }
  HarnessContext& context() { return ctx_; }
  ErrorSink& errors() { return ctx_.errors_; }
  runtime::OperatorBase* op() { return op_.get(); }

 private:
  HarnessContext ctx_;
  std::unique_ptr<runtime::OperatorBase> op_;
  CollectingOutput<Out> out_;
  CollectingOutput<Late> side_;
};

// Drives a two-input operator (joins).
template <typename A, typename B, typename Out>
class TwoInputHarness {
 public:
  explicit TwoInputHarness(std::unique_ptr<runtime::OperatorBase> op,
                           std::unique_ptr<state::KeyedStateBackend> backend = state::HeapBackend::Create())
      : ctx_(std::move(backend)), op_(std::move(op)) {
    op_->ConnectOutput(0, runtime::OutputPtr::Of<Out>(&out_));
  }
  absl::Status Open() { return op_->Open(&ctx_); }
  void ProcessLeft(A value, Timestamp ts, Timestamp pwm = kMinTimestamp) {
    runtime::Batch<A> batch;
    batch.records.push_back(Record<A>{std::move(value), ts, pwm});
    op_->ProcessBatch(0, &batch);
  }
  void ProcessRight(B value, Timestamp ts, Timestamp pwm = kMinTimestamp) {
    runtime::Batch<B> batch;
    batch.records.push_back(Record<B>{std::move(value), ts, pwm});
    op_->ProcessBatch(1, &batch);
  }
  void Watermark(Timestamp wm) {
    ctx_.watermark_ = wm;
    while (!op_->AdvanceWatermark(wm)) {
    }
  }
  absl::Status SnapshotState(int64_t checkpoint_id = 1) {
    checkpoint::TaskSnapshot snapshot;
    return op_->SnapshotState(checkpoint_id, &snapshot);
  }
  std::vector<Out> output() const { return out_.values(); }
  const std::vector<Record<Out>>& records() const { return out_.records; }
  HarnessContext& context() { return ctx_; }
  ErrorSink& errors() { return ctx_.errors_; }

 private:
  HarnessContext ctx_;
  std::unique_ptr<runtime::OperatorBase> op_;
  CollectingOutput<Out> out_;
};

}  // namespace kappa::testing

#endif  // KAPPA_TESTING_HARNESS_H_
