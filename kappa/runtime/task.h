// StreamTask: one parallel instance of a fused operator chain.
//
// A task owns its operators (head first, in topological order), its keyed state backend
// (if any operator is keyed), the producer ends of its output channels and the exchange
// writers that fill them. It is driven by the Scheduler through Step(), which does:
//
//   1. flush pending output messages; if a channel is still full → kBlocked
//   2. continue an unfinished watermark advance (timers may fire in many slices)
//   3. fire due processing-time timers
//   4. handle what other threads handed to the operators (OnWake: completed async calls)
//      once the task's waker was woken
//   5. take the next input: a source poll, or one message from an input channel
//      (round-robin over channels not held back by barrier alignment) — unless an
//      operator's InputBlocked() says it holds as many records as it may
//   6. after the budget, flush partial batches and → kYield; with no input → kIdle
//
// Watermarks: each input channel keeps the last watermark and idle flag it received; the
// task's watermark is the minimum over inputs that are neither idle nor ended. When all
// remaining inputs are idle the task tells downstream it is idle too. An operator that
// holds records (OperatorBase::WatermarkHold: calls in flight, retries waiting) holds the
// watermark back for the operators after it and for downstream: each operator gets
// min(task watermark, hold - 1 of every operator before it), the outputs the same over
// the whole chain; when a hold moves up (a call completed) the task passes on what it
// held back. The watermark and
// the inputs' are part of every checkpoint (TaskAck::watermark) and restored in Open()
// (checkpoint::RestoredState::WatermarkFor), so timers that fired stay fired and late
// records are judged as before the restore.
// Barriers: a barrier on one input holds that input back until the same barrier arrived
// on every other live input (aligned checkpoints); then operators snapshot, the barrier
// is forwarded to every output, and the inputs are released.
// End: when every input ended, operators get EndOfInput() in chain order — each one once
// no operator up to it HoldsRecords() (open calls finish, retries run on processing time
// until then) — partial batches are flushed, end-of-stream is sent to every output and the
// task finishes once it has been delivered.
#ifndef KAPPA_RUNTIME_TASK_H_
#define KAPPA_RUNTIME_TASK_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kappa/runtime/channel.h"
#include "kappa/runtime/dead_letters.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/progress.h"
#include "kappa/runtime/scheduler.h"

namespace kappa::checkpoint {
class CheckpointCoordinator;
struct TaskAck;  // coordinator.h: holds the manifest's protobuf TaskState
}  // namespace kappa::checkpoint

namespace kappa::runtime {

using checkpoint::CheckpointCoordinator;

class Tracer;     // trace.h
struct TaskTrace;  // trace.h

// Partial-batch flushing, implemented by exchange writers and sinks.
class BatchFlusher {
 public:
  virtual ~BatchFlusher() = default;
  virtual void FlushBatches() = 0;
};

struct SourcePoll {
  size_t records = 0;
  bool would_block = false;  // nothing to read right now; poll again later
  bool finished = false;     // every partition ended, or a stop was requested
  bool stopped = false;      // finished because of a stop: no final watermark
  bool idle = false;         // every live partition is idle
  Timestamp watermark = kMinTimestamp;
};

// The reading side of a source task, implemented by the typed source operator.
class SourceDriver {
 public:
  virtual ~SourceDriver() = default;
  virtual absl::StatusOr<SourcePoll> Poll(size_t max_records) = 0;
  // Milliseconds to wait after a poll that would block.
  virtual int poll_interval_ms() const { return 20; }
};

// What a task publishes for the monitor (monitor.h): written by the task's worker thread
// with relaxed stores (per step, per watermark, per state sample), read by any thread.
//
// Time: each Step() counts as busy; the time between two steps counts by why the task
// stopped: backpressured after kBlocked (an output channel was full), idle after kIdle (no
// input, or a source with nothing to read), busy after kYield (runnable, waiting for a
// worker). `waiting`/`waiting_since_ns` say which wait is going on, so a reader can add it.
struct TaskFigures {
  enum Waiting : int { kRunning, kRunnable, kBackpressured, kIdle, kFinished };
  std::atomic<int64_t> busy_ns{0};
  std::atomic<int64_t> backpressured_ns{0};
  std::atomic<int64_t> idle_ns{0};
  std::atomic<int> waiting{kRunning};
  std::atomic<int64_t> waiting_since_ns{0};  // steady clock; 0 before the first step
  std::atomic<int64_t> watermark{kMinTimestamp};
  // The keyed state backend's BackendUsage, sampled about once a second; -1 unknown.
  std::atomic<int64_t> state_entries{-1}, state_bytes{-1};
  std::atomic<int64_t> cache_hits{-1}, cache_misses{-1}, cache_evictions{-1};
};

// Steady-clock nanoseconds, the time base of TaskFigures.
int64_t SteadyNanos();

struct TaskConfig {
  std::string name;
  int subtask = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  Clock* clock = nullptr;
  ErrorSink* errors = nullptr;
  std::unique_ptr<state::KeyedStateBackend> backend;
  const std::atomic<bool>* stop_requested = nullptr;
  SourceProgress* progress = nullptr;  // the run's board, for its sources (not owned)
  // Checkpointing (null when off): where barrier `id`'s state snapshot goes, and who is
  // told once the task snapshotted and forwarded the barrier.
  std::function<std::string(int64_t id)> snapshot_dir;
  // Whether the run still owns the checkpoint directory; checked before a state snapshot
  // is written there (its error is fatal).
  std::function<absl::Status()> check_owner;
  std::function<void(int64_t id, checkpoint::TaskAck ack)> on_checkpoint;
  std::string state_uid;  // uid of the keyed operator whose state the backend holds
  int key_group_first = 0;
  int key_group_last = -1;
  const checkpoint::RestoredState* restored = nullptr;
  // Tracing (trace.h): the run's tracer, or null when --trace is off.
  Tracer* tracer = nullptr;
  // Called when the task finished, with its sources' final offsets.
  std::function<void(checkpoint::TaskSnapshot)> on_finish;
  // The run's dead-letter output (dead_letters.h): this task's writer and its instance
  // number among all the run's tasks; null without `--dead-letter`.
  std::unique_ptr<DeadLetterWriter> dead_letters;
  int dead_letter_instance = 0;
};

class StreamTask : public Task {
 public:
  explicit StreamTask(TaskConfig config);
  ~StreamTask() override;

  // Wiring, before Open().
  void AddInput(Channel* channel, int input_index);
  OutputChannel* AddOutput(Channel* channel);
  // Operators in topological order; the first is the head.
  void AddOperator(std::unique_ptr<OperatorBase> op, std::string name, std::string uid);
  void AddFlusher(BatchFlusher* flusher) { flushers_.push_back(flusher); }
  void AddOwned(std::unique_ptr<Owned> owned) { owned_.push_back(std::move(owned)); }
  void SetSource(SourceDriver* source) { source_ = source; }

  absl::Status Open();
  StepResult Step() override;
  void OnRunEnded() override;

  // Thread-safe: asks a source task to inject barrier `id` at its next step.
  void TriggerCheckpoint(int64_t id);
  // Wires the task to a checkpoint coordinator (before Open).
  void EnableCheckpoints(CheckpointCoordinator* coordinator);

  bool is_source() const { return source_ != nullptr; }
  const TaskConfig& config() const { return config_; }
  Timestamp current_watermark() const { return current_wm_; }
  bool OutputsBacklogged() const;
  TaskMetrics& metrics() { return metrics_; }
  const TaskMetrics& metrics() const { return metrics_; }
  const TaskFigures& figures() const { return figures_; }
  // The chain's operators, head first (after wiring): name, uid and what each reported to
  // the errors output.
  size_t num_operators() const { return contexts_.size(); }
  const std::string& operator_name(size_t i) const;
  const std::string& operator_uid(size_t i) const;
  const ErrorSink* operator_errors(size_t i) const;
  int64_t operator_late_to_side_output(size_t i) const;
  int64_t operator_records_in(size_t i) const { return ops_[i]->records_in(); }
  // The task's tracing state; null unless config.tracer is set.
  TaskTrace* trace() { return trace_.get(); }
  // Dead letters this task wrote to the run's dead-letter output (task thread, or after the run).
  int64_t dead_letters_written() const { return config_.dead_letters ? config_.dead_letters->written() : 0; }

 private:
  class Context;
  struct InputState {
    Channel* channel;
    int input_index;
    Timestamp watermark = kMinTimestamp;
    bool idle = false;
    bool ended = false;
    bool held = false;  // received the barrier being aligned
  };
  enum class Phase { kRunning, kFinishing, kDraining, kDone };

  StepResult StepGuarded();
  StepResult StepImpl();
  void SampleState(int64_t now_ns);
  bool FlushOutputs();
  void FlushBatches();
  void Broadcast(MessageKind kind, int64_t value);
  void HandleMessage(size_t input, Message&& m);
  void ProcessMarkedBatch(int input, BatchBase* batch);
  void MaybeAdvance();
  void StartAdvance(Timestamp wm);
  bool ContinueAdvance();
  void UpdateIdle();
  void OnBarrier(size_t input, int64_t id);
  void MaybeCompleteAlignment();
  void CompleteCheckpoint(int64_t id);
  bool FireProcessingTimers();
  void ScheduleProcessingWake();
  bool PollSource();
  // The latest watermark operator i lets pass to the operators after it.
  Timestamp HoldLimit(size_t i) const;
  // Starts an advance when a hold moved up and held-back watermarks can go on.
  void MaybeReleaseHold();
  bool RecordsHeldUpTo(size_t i) const;
  bool AnyOperator(bool (OperatorBase::*predicate)() const) const;
  StepResult WaitForUnblockedInput();

  TaskConfig config_;
  std::vector<InputState> inputs_;
  std::vector<std::unique_ptr<OutputChannel>> outputs_;
  std::vector<std::unique_ptr<OperatorBase>> ops_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<BatchFlusher*> flushers_;
  std::vector<std::unique_ptr<Owned>> owned_;
  SourceDriver* source_ = nullptr;
  TaskMetrics metrics_;
  TaskFigures figures_;
  int64_t last_sample_ns_ = 0;
  int64_t align_start_ns_ = 0;  // when the first barrier of the checkpoint being aligned arrived
  std::unique_ptr<TaskTrace> trace_;
  OriginTracker origin_;  // the record the source is emitting, for dead letters

  Phase phase_ = Phase::kRunning;
  size_t next_input_ = 0;
  size_t live_inputs_ = 0;
  Timestamp current_wm_ = kMinTimestamp;  // the inputs' combined watermark
  std::vector<Timestamp> op_wm_;          // what each operator was given (holds apply)
  Timestamp out_wm_ = kMinTimestamp;      // what went to the outputs
  std::shared_ptr<TaskWaker> waker_;
  bool waker_attached_ = false;
  size_t end_index_ = 0;  // operators that got EndOfInput()
  bool advancing_ = false;
  Timestamp target_wm_ = kMinTimestamp;
  size_t advance_index_ = 0;
  bool idle_sent_ = false;
  int64_t aligning_id_ = -1;
  size_t held_count_ = 0;
  std::atomic<int64_t> requested_checkpoint_{-1};
  int64_t last_checkpoint_ = -1;
  Timestamp proc_wake_at_ = kMaxTimestamp;
  bool proc_firing_ = false;
  size_t proc_index_ = 0;
  bool source_finished_ = false;
  int empty_polls_ = 0;
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_TASK_H_
