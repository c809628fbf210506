// Operators as the runtime sees them.
//
// An operator turns input records (and the passage of event and processing time) into
// output records. Operators of a task form a fused chain: each one pushes records
// directly into the next one's Output<T> — no queue, no copy. A task drives its chain:
//
//   Open(ctx) once → ProcessBatch(input, batch)* interleaved with AdvanceWatermark(wm),
//   AdvanceProcessingTime(now) and SnapshotState(id) → EndOfInput() → Close().
//
// Implementation rules (which thread calls what):
// - All calls for one operator instance come from its task's current worker thread, one
//   at a time. Operators need no locks.
// - ProcessBatch is called only on the chain's head operator (the one fed by channels);
//   chained operators receive records through their Output<In>.
// - AdvanceWatermark(wm) fires event-time timers ≤ wm in timestamp order. It may stop
//   early when ctx->ShouldYield() (downstream is full) and return false; the task calls it
//   again with the same wm once output drained. Operators downstream in the chain receive
//   the watermark only after this operator returned true.
// - User code runs inside a guard: an exception from a user function becomes an error
//   record on the job's `errors` output (RunGuarded) and the record is skipped; a
//   StateError (the backend failed) propagates and fails the task.
#ifndef KAPPA_RUNTIME_OPERATOR_H_
#define KAPPA_RUNTIME_OPERATOR_H_

#include <atomic>
#include <exception>
#include <stdexcept>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/runtime/errors.h"
#include "kappa/base/json_fwd.h"
#include "kappa/base/json_util.h"
#include "kappa/runtime/record.h"
#include "kappa/runtime/retry.h"
#include "kappa/runtime/scheduler.h"
#include "kappa/base/time.h"
#include "kappa/state/backend.h"
#include "kappa/state/keyed_state.h"

namespace kappa {


namespace internal {
template <typename T>
concept HasJsonEncode = requires(JsonCodec<T> c, const T& v, std::string* out) { c.Encode(v, out); };
}  // namespace internal

// Best-effort text of a record for error and late outputs: JSON if a codec exists.
template <typename T>
std::string DescribeRecord(const T& v) {
  if constexpr (internal::HasJsonEncode<T>) {
    std::string out;
    JsonCodec<T>().Encode(v, &out);
    return out;
  } else {
    return std::string("<") + typeid(T).name() + ">";
  }
}

// Thrown by runtime parts (sinks, sources) for failures that must stop the job with a
// clear message rather than drop a record: disk full, unwritable output. Like
// StateError, never treated as a user error.
class TaskError : public std::runtime_error {
 public:
  explicit TaskError(absl::Status status)
      : std::runtime_error(std::string(status.message())), status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

// End-to-end latency at a sink (runtime::JobMonitor's histograms): observed on the task's
// thread, read by any thread. Bounds in nanoseconds, 1 ms .. 60 s; buckets[i] counts
// observations in (bound[i-1], bound[i]], the last one everything above 60 s.
struct LatencyHistogram {
  static constexpr int kBounds = 15;
  static constexpr int64_t kBoundNs[kBounds] = {
      1'000'000,     2'500'000,     5'000'000,      10'000'000,     25'000'000,
      50'000'000,    100'000'000,   250'000'000,    500'000'000,    1'000'000'000,
      2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000, 60'000'000'000};
  std::atomic<int64_t> buckets[kBounds + 1] = {};
  std::atomic<int64_t> count{0};
  // In seconds, as a double: the latencies of a replay of old events are decades, and a
  // nanosecond sum of a few of them overflows int64.
  std::atomic<double> sum_s{0};

  // One writer (the task's thread): plain loads and stores, no read-modify-write.
  void Observe(int64_t ns) {
    if (ns < 0) ns = 0;
    int i = ns > kBoundNs[kBounds - 1] ? kBounds : 0;  // far behind (a replay): one comparison
    while (i < kBounds && ns > kBoundNs[i]) ++i;
    Bump(buckets[i], 1);
    Bump(count, 1);
    sum_s.store(sum_s.load(std::memory_order_relaxed) + static_cast<double>(ns) / 1e9, std::memory_order_relaxed);
  }

 private:
  static void Bump(std::atomic<int64_t>& a, int64_t by) {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

// Per-task counters, read by the summary at the end of a run, by the monitor and by tests.
struct TaskMetrics {
  std::atomic<int64_t> records_in{0};
  std::atomic<int64_t> records_out{0};
  // When (steady-clock ns) the input the task is working on entered the job: set from each
  // source poll and from each batch received (BatchBase::ingestion_ns); exchanges stamp the
  // batches they open with it. Task thread only.
  int64_t ingestion_ns = 0;
  // At the task's sinks: emission time minus event time, and minus ingestion time.
  LatencyHistogram event_time_latency;
  LatencyHistogram ingestion_latency;
};

namespace runtime {

template <typename T>
struct IsPair : std::false_type {};
template <typename A, typename B>
struct IsPair<std::pair<A, B>> : std::true_type {};
template <typename T>
struct IsVector : std::false_type {};
template <typename T, typename A>
struct IsVector<std::vector<T, A>> : std::true_type {};

// A record or key as JSON for a trace line (trace.h): through the job's codec when the
// type has one; numbers, strings, pairs and vectors of those directly.
template <typename T>
std::string TraceJson(const T& v) {
  if constexpr (internal::HasJsonEncode<T>) {
    return DescribeRecord(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    std::string out;
    json::AppendDouble(static_cast<double>(v), &out);
    return out;
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    std::string out;
    json::AppendString(std::string_view(v), &out);
    return out;
  } else if constexpr (IsPair<T>::value) {
    return "[" + TraceJson(v.first) + "," + TraceJson(v.second) + "]";
  } else if constexpr (IsVector<T>::value) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ",";
      out += TraceJson(v[i]);
    }
    return out + "]";
  } else {
    return DescribeRecord(v);
  }
}

class SourceProgress;
struct TaskTrace;  // trace.h

// Wakes a task from any thread: work for its operators arrived from elsewhere (an async
// call completed on an I/O thread). The task then calls OnWake() on each of its operators
// on its own thread. Shared by the task and whoever may wake it. Before the task runs
// (Attach, at its first step) a Wake() only leaves the flag the first step finds; once the
// task's run ended (Detach) a Wake() notifies nobody, so a call completing late is harmless.
class TaskWaker {
 public:
  explicit TaskWaker(Task* task = nullptr) : task_(task) {}
  void Attach(Task* task) {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = task;
  }
  // Any thread.
  void Wake() {
    pending_.store(true, std::memory_order_release);
    std::lock_guard<std::mutex> lock(mu_);
    if (task_ != nullptr) task_->Notify();
  }
  // The task's thread: whether Wake() was called since the last TakePending().
  bool TakePending() { return pending_.exchange(false, std::memory_order_acq_rel); }
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = nullptr;
  }

 private:
  std::mutex mu_;
  Task* task_;
  std::atomic<bool> pending_{false};
};

// Where the record being processed came from: its source partition and offset, or -1
// each when unknown.
struct RecordOrigin {
  int partition = -1;
  int64_t offset = -1;
};

// The origin of the record a task's source is emitting, for the operators chained after
// it (dead letters name it). The source sets it once per read of a partition and clears
// it after; the offset is asked of the partition's reader only when someone wants it, so
// emitting a record costs nothing more. Task thread only.
class OriginTracker {
 public:
  void Set(int partition, const void* reader, int64_t (*offset_of)(const void*)) {
    partition_ = partition;
    reader_ = reader;
    offset_of_ = offset_of;
  }
  void Clear() { Set(-1, nullptr, nullptr); }
  RecordOrigin Get() const {
    if (reader_ == nullptr) return {};
    return {partition_, offset_of_(reader_)};
  }

 private:
  int partition_ = -1;
  const void* reader_ = nullptr;
  int64_t (*offset_of_)(const void*) = nullptr;
};

// Services a task gives to each of its operators. Owned by the task.
class OperatorContext {
 public:
  virtual ~OperatorContext() = default;
  virtual const std::string& operator_name() const = 0;
  virtual int subtask() const = 0;
  virtual int parallelism() const = 0;
  virtual int max_parallelism() const = 0;
  // The task's keyed state backend; null in tasks without keyed operators.
  virtual state::KeyedStateBackend* backend() = 0;
  virtual Clock* clock() = 0;
  virtual ErrorSink* errors() = 0;
  // True when downstream channels are full: stop firing timers and return false.
  virtual bool ShouldYield() const = 0;
  // The task's current (combined) event-time watermark.
  virtual Timestamp current_watermark() const = 0;
  // Sources: a stop (Ctrl-C) was requested; end the stream.
  virtual bool stop_requested() const = 0;
  // The operator's stable id (names its state and its entries in checkpoints).
  virtual const std::string& uid() const = 0;
  // What the checkpoint this run restores recorded (source positions), or null for a
  // fresh start.
  virtual const checkpoint::RestoredState* restored() const = 0;
  // The run's source progress board, where source operators publish their positions;
  // null outside a run (e.g. in a test harness).
  virtual SourceProgress* progress() { return nullptr; }
  // A late record went to the operator's "late" side output (not to the errors output,
  // which counts by itself): counted for the monitor.
  virtual void CountLateToSideOutput() {}
  // The task's tracing state while --trace is on (trace.h); null otherwise.
  virtual TaskTrace* trace() { return nullptr; }
  // Wakes the task from another thread (TaskWaker); null where nothing can wake it.
  virtual std::shared_ptr<TaskWaker> waker() { return nullptr; }
  // The origin of the record being processed: known in a source's chain while the source
  // emits it; unknown ({-1, -1}) behind an exchange and in timers. An operator that keeps
  // a record for later (a retry) takes it when the record arrives.
  virtual RecordOrigin current_origin() const { return {}; }
  // Sources: where they publish the partition they are emitting from; null outside a task.
  virtual OriginTracker* origin_tracker() { return nullptr; }
  // Whether the run has a dead-letter output (`--dead-letter`): sources then send records
  // that do not decode there instead of to errors().
  virtual bool has_dead_letter_output() const { return false; }
  // A record given up on (retry.h): goes to the job's dead-letter output, exactly once
  // with checkpoints. Without a dead-letter output it is reported on errors() instead.
  // A letter without a partition gets current_origin()'s.
  virtual void ReportDeadLetter(DeadLetter letter) {
    if (letter.partition < 0) {
      const RecordOrigin origin = current_origin();
      letter.partition = origin.partition;
      letter.offset = origin.offset;
    }
    ErrorEvent ev{.kind = letter.kind, .operator_name = letter.operator_name, .partition = letter.partition,
                  .offset = letter.offset, .has_ts = true, .ts = letter.ts,
                  .error = letter.errors.empty() ? std::string() : letter.errors.back(),
                  .record = std::move(letter.record)};
    errors()->Report(ev);
  }
};

// Type-erased pointer to an Output<T>, checked against T when unwrapped.
struct OutputPtr {
  std::type_index type = typeid(void);
  void* ptr = nullptr;

  template <typename T>
  static OutputPtr Of(Output<T>* out) {
    return {typeid(T), static_cast<void*>(out)};
  }
  template <typename T>
  Output<T>* As() const {
    if (type != typeid(T)) std::terminate();  // a graph wiring bug, caught by tests
    return static_cast<Output<T>*>(ptr);
  }
};

// Something a task owns for its chain (exchange writers, fan-outs).
class Owned {
 public:
  virtual ~Owned() = default;
};

class OperatorBase {
 public:
  virtual ~OperatorBase() = default;

  virtual absl::Status Open(OperatorContext* ctx) {
    ctx_ = ctx;
    return absl::OkStatus();
  }
  // Head operators only: records that arrived on `input` (0, or 1 for two-input operators).
  virtual void ProcessBatch(int input, BatchBase* batch) = 0;
  // Fires event-time timers ≤ wm; false = yielded, call again.
  virtual bool AdvanceWatermark(Timestamp wm) { return true; }
  // The earliest event time among records this operator holds and has not yet emitted
  // results for (calls in flight, records waiting for a retry); kMaxTimestamp when none.
  // The task passes on to the operators after this one, and downstream, only watermarks
  // before the hold (at most hold - 1: a watermark W says no record at or before W
  // follows), so no result arrives behind a watermark it belongs before; when the hold
  // moves up the task passes on what it held back. (AsyncMap, retries.)
  virtual Timestamp WatermarkHold() const { return kMaxTimestamp; }
  // True while the operator holds as many records as it may (retries waiting, an
  // AsyncMap with `capacity` calls open): the task takes no input (no source poll, no
  // channel message; barriers wait behind it too) until it is false again, and keeps
  // firing processing time and taking wake-ups meanwhile, so memory stays bounded. The
  // operator arranges the wake-up: a processing-time timer, or its task's waker.
  virtual bool InputBlocked() const { return false; }
  // True while the operator holds records it has not yet emitted results for (retries
  // waiting, calls in flight). When every input ended, the task calls an operator's
  // EndOfInput() only once no operator up to and including it holds records (in chain
  // order), and ends only when none does.
  virtual bool HoldsRecords() const { return false; }
  // On the task's thread, after its waker was woken: take what other threads handed over
  // (completed async calls) and emit what is ready.
  virtual void OnWake() {}
  // Earliest pending processing-time timer, or kMaxTimestamp.
  virtual Timestamp NextProcessingTimer() { return kMaxTimestamp; }
  // Fires processing-time timers ≤ now; false = yielded, call again.
  virtual bool AdvanceProcessingTime(Timestamp now) { return true; }
  // Called on a barrier after alignment, before the barrier moves on: add what the
  // checkpoint needs beyond keyed state (source offsets, pre-committed sink files).
  virtual absl::Status SnapshotState(int64_t checkpoint_id, checkpoint::TaskSnapshot* out) { return absl::OkStatus(); }
  // All inputs ended (after the final watermark, if any).
  virtual void EndOfInput() {}
  virtual absl::Status Close() { return absl::OkStatus(); }

  // Wiring, done once by the executor before Open.
  // The operator's typed input, for a chained producer to emit into.
  virtual OutputPtr InputAt(int input) = 0;
  // Connects output `port` (0 = main, 1.. = side outputs / split outputs).
  virtual void ConnectOutput(int port, OutputPtr out) = 0;

  // Tracing (trace.h), head operators: record i of a batch on `input` as JSON, and the
  // notice that this marked record is processed next.
  virtual std::string DescribeBatchRecord(int input, BatchBase* batch, size_t i) { return "<record>"; }
  virtual void OnTracedBatchRecord(int input, BatchBase* batch, size_t i, TaskTrace* trace) {}

  // Records that reached the operator's inputs, for the job monitor (any thread may read).
  int64_t records_in() const { return records_in_.load(std::memory_order_relaxed); }
  // Counts one record in; called first by every input's Emit. Only the task's thread
  // writes, so a relaxed load and store do (a plain add, no locked instruction).
  void CountIn() { records_in_.store(records_in_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

 protected:
  OperatorContext* ctx_ = nullptr;

 private:
  std::atomic<int64_t> records_in_{0};
};

// Runs fn(); converts an exception from user code into an error record. Returns false
// when fn threw (the record is skipped). StateError is not user error: it propagates.
template <typename Fn, typename DescribeFn>
bool RunGuarded(OperatorContext* ctx, Timestamp ts, Fn&& fn, DescribeFn&& describe) {
  try {
    fn();
    return true;
  } catch (const StateError&) {
    throw;
  } catch (const TaskError&) {
    throw;
  } catch (const PermanentError& e) {
    // A poison record: a dead letter at once. describe() is the record's JSON when its
    // type has a codec, else "<type name>" (never JSON).
    const int64_t now = ctx->clock()->NowMillis();
    DeadLetter letter{.record = describe(), .errors = {e.what()}, .attempts = 1, .first_failure_ms = now,
                      .last_failure_ms = now, .operator_name = ctx->uid(), .ts = ts, .kind = "user"};
    letter.record_is_json = !letter.record.starts_with('<');
    ctx->ReportDeadLetter(std::move(letter));
  } catch (const std::exception& e) {
    ErrorEvent ev{.kind = "user", .operator_name = ctx->operator_name(), .has_ts = true, .ts = ts,
                  .error = e.what(), .record = describe()};
    ctx->errors()->Report(ev);
  } catch (...) {
    ErrorEvent ev{.kind = "user", .operator_name = ctx->operator_name(), .has_ts = true, .ts = ts,
                  .error = "unknown exception", .record = describe()};
    ctx->errors()->Report(ev);
  }
  return false;
}

// Implemented by operators that remember marked records in their state (windows): called
// with each marked record just before the operator receives it, inside its trace.
template <typename T>
class TracedInput {
 public:
  virtual ~TracedInput() = default;
  virtual void OnTracedRecord(const Record<T>& r, TaskTrace* trace) = 0;
};

// Base for operators with one input of type In: they are the Output<In> their producer
// emits into.
template <typename In>
class OneInputOperator : public OperatorBase, public Output<In> {
 public:
  void ProcessBatch(int, BatchBase* batch) override {
    for (Record<In>& r : static_cast<Batch<In>*>(batch)->records) this->Emit(std::move(r));
  }
  OutputPtr InputAt(int) override { return OutputPtr::Of<In>(this); }
  std::string DescribeBatchRecord(int, BatchBase* batch, size_t i) override {
    return TraceJson(static_cast<Batch<In>*>(batch)->records[i].value);
  }
  void OnTracedBatchRecord(int, BatchBase* batch, size_t i, TaskTrace* trace) override {
    if (auto* traced = dynamic_cast<TracedInput<In>*>(this)) {
      traced->OnTracedRecord(static_cast<Batch<In>*>(batch)->records[i], trace);
    }
  }
};

// Mixin holding the main output of type Out.
template <typename Out>
class WithOutput {
 public:
  void SetMainOutput(OutputPtr out) { out_ = out.As<Out>(); }

 protected:
  Output<Out>* out_ = nullptr;
};

}  // namespace runtime

// What user functions emit into (FlatMap, Process, window functions). Collect() stamps
// the record with the timestamp of the input being processed (or of the firing timer).
template <typename T>
class Collector {
 public:
  Collector() = default;
  Collector(Output<T>* out, Timestamp ts, Timestamp pwm) : out_(out), ts_(ts), pwm_(pwm) {}

  void Collect(T value) { out_->Emit(Record<T>{std::move(value), ts_, pwm_}); }
  void CollectWithTimestamp(T value, Timestamp ts) { out_->Emit(Record<T>{std::move(value), ts, pwm_}); }

  // Internal: re-targets the collector for the next input.
  void Reset(Output<T>* out, Timestamp ts, Timestamp pwm) {
    out_ = out;
    ts_ = ts;
    pwm_ = pwm;
  }
  Timestamp timestamp() const { return ts_; }

 private:
  Output<T>* out_ = nullptr;
  Timestamp ts_ = 0;
  Timestamp pwm_ = kMinTimestamp;
};

}  // namespace kappa

#endif  // KAPPA_RUNTIME_OPERATOR_H_
