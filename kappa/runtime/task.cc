#include "kappa/runtime/task.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "kappa/checkpoint/coordinator.h"
#include "kappa/runtime/trace.h"

namespace kappa::runtime {
namespace {
// Messages (or source polls) a task handles before it lets another task run.
constexpr int kStepBudget = 16;
constexpr size_t kSourcePollRecords = 1024;
// How often a task samples its state backend's usage for the monitor.
constexpr int64_t kStateSampleNs = 1'000'000'000;

void Add(std::atomic<int64_t>& a, int64_t by) {
  a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
}  // namespace

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class StreamTask::Context : public OperatorContext {
 public:
  Context(StreamTask* task, size_t index, std::string name, std::string uid)
      : task_(task), index_(index), name_(std::move(name)), uid_(std::move(uid)),
        errors_(ErrorSink::ForwardTo{task->config_.errors}) {}
  const std::string& operator_name() const override { return name_; }
  int subtask() const override { return task_->config_.subtask; }
  int parallelism() const override { return task_->config_.parallelism; }
  int max_parallelism() const override { return task_->config_.max_parallelism; }
  state::KeyedStateBackend* backend() override { return task_->config_.backend.get(); }
  Clock* clock() override { return task_->config_.clock; }
  ErrorSink* errors() override { return task_->config_.errors != nullptr ? &errors_ : nullptr; }
  const ErrorSink& counted_errors() const { return errors_; }
  void CountLateToSideOutput() override {
    late_to_side_output_.store(late_to_side_output_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  int64_t late_to_side_output() const { return late_to_side_output_.load(std::memory_order_relaxed); }
  bool ShouldYield() const override { return task_->OutputsBacklogged(); }
  Timestamp current_watermark() const override { return task_->op_wm_[index_]; }
  const std::string& uid() const override { return uid_; }
  const checkpoint::RestoredState* restored() const override { return task_->config_.restored; }
  SourceProgress* progress() override { return task_->config_.progress; }
  TaskTrace* trace() override { return task_->trace_.get(); }
  std::shared_ptr<TaskWaker> waker() override { return task_->waker_; }
  bool stop_requested() const override {
    return task_->config_.stop_requested != nullptr && task_->config_.stop_requested->load(std::memory_order_relaxed);
  }
  RecordOrigin current_origin() const override { return task_->origin_.Get(); }
  OriginTracker* origin_tracker() override { return &task_->origin_; }
  bool has_dead_letter_output() const override { return task_->config_.dead_letters != nullptr; }
  void ReportDeadLetter(DeadLetter letter) override {
    if (!task_->config_.dead_letters) return OperatorContext::ReportDeadLetter(std::move(letter));
    if (letter.partition < 0) {
      const RecordOrigin origin = current_origin();
      letter.partition = origin.partition;
      letter.offset = origin.offset;
    }
    task_->config_.dead_letters->Write(letter);
  }

 private:
  StreamTask* task_;
  size_t index_;
  std::string name_;
  std::string uid_;
  ErrorSink errors_;  // counts this operator's reports, passes them on to the job's
  std::atomic<int64_t> late_to_side_output_{0};
};

StreamTask::StreamTask(TaskConfig config)
    : Task(config.name), config_(std::move(config)), waker_(std::make_shared<TaskWaker>()) {
  if (config_.tracer != nullptr) {
    trace_ = std::make_unique<TaskTrace>();
    trace_->tracer = config_.tracer;
    trace_->instance = config_.subtask;
  }
}
StreamTask::~StreamTask() { waker_->Detach(); }

void StreamTask::OnRunEnded() { waker_->Detach(); }

const std::string& StreamTask::operator_name(size_t i) const { return contexts_[i]->operator_name(); }
const std::string& StreamTask::operator_uid(size_t i) const { return contexts_[i]->uid(); }
const ErrorSink* StreamTask::operator_errors(size_t i) const { return &contexts_[i]->counted_errors(); }
int64_t StreamTask::operator_late_to_side_output(size_t i) const { return contexts_[i]->late_to_side_output(); }

void StreamTask::AddInput(Channel* channel, int input_index) {
  inputs_.push_back(InputState{channel, input_index});
  ++live_inputs_;
}

OutputChannel* StreamTask::AddOutput(Channel* channel) {
  outputs_.push_back(std::make_unique<OutputChannel>(channel));
  return outputs_.back().get();
}

void StreamTask::AddOperator(std::unique_ptr<OperatorBase> op, std::string name, std::string uid) {
  ops_.push_back(std::move(op));
  contexts_.push_back(std::make_unique<Context>(this, contexts_.size(), std::move(name), std::move(uid)));
  op_wm_.push_back(kMinTimestamp);
}

absl::Status StreamTask::Open() {
  // Restored event time: timers fired up to the restored watermark stay fired, and the
  // operators judge records against it as the interrupted run did (RestoredState::WatermarkFor).
  if (config_.restored != nullptr && config_.restored->keeps_event_time && !contexts_.empty()) {
    std::optional<checkpoint::WatermarkPosition> w = config_.restored->WatermarkFor(
        contexts_.front()->uid(), config_.subtask, config_.parallelism, config_.key_group_first,
        config_.key_group_last);
    if (w) {
      current_wm_ = w->watermark;
      figures_.watermark.store(current_wm_, std::memory_order_relaxed);
      if (w->input_watermarks.size() == inputs_.size()) {
        for (size_t i = 0; i < inputs_.size(); ++i) inputs_[i].watermark = w->input_watermarks[i];
      }
    }
  }
  std::fill(op_wm_.begin(), op_wm_.end(), current_wm_);
  out_wm_ = current_wm_;
  for (size_t i = 0; i < ops_.size(); ++i) {
    absl::Status s = ops_[i]->Open(contexts_[i].get());
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(contexts_[i]->operator_name(), ": ", s.message()));
  }
  // Records an operator restored (calls that were open at the checkpoint) hold back the
  // operators after it, as they did when the checkpoint was taken.
  Timestamp limit = kMaxTimestamp;
  for (size_t i = 0; i < ops_.size(); ++i) {
    op_wm_[i] = std::min(current_wm_, limit);
    limit = std::min(limit, HoldLimit(i));
  }
  out_wm_ = std::min(current_wm_, limit);
  return absl::OkStatus();
}

bool StreamTask::OutputsBacklogged() const {
  for (const auto& o : outputs_) {
    if (o->has_pending()) return true;
  }
  return false;
}

void StreamTask::EnableCheckpoints(CheckpointCoordinator* c) {
  std::string task = name();
  config_.snapshot_dir = [c, task](int64_t id) { return c->SnapshotDir(id, task); };
  config_.check_owner = [c] { return c->CheckOwner(); };
  config_.on_checkpoint = [c](int64_t id, checkpoint::TaskAck ack) { c->OnAck(id, std::move(ack)); };
  config_.on_finish = [c](checkpoint::TaskSnapshot s) { c->OnTaskFinished(std::move(s)); };
}

void StreamTask::TriggerCheckpoint(int64_t id) {
  int64_t cur = requested_checkpoint_.load();
  while (cur < id && !requested_checkpoint_.compare_exchange_weak(cur, id)) {
  }
  Notify();
}

Task::StepResult StreamTask::Step() {
  const int64_t start = SteadyNanos();
  // The wait that ends now, by why the last step stopped.
  const int waited = figures_.waiting.load(std::memory_order_relaxed);
  const int64_t since = figures_.waiting_since_ns.load(std::memory_order_relaxed);
  figures_.waiting.store(TaskFigures::kRunning, std::memory_order_relaxed);
  if (since > 0) {
    if (waited == TaskFigures::kRunnable) Add(figures_.busy_ns, start - since);
    if (waited == TaskFigures::kBackpressured) Add(figures_.backpressured_ns, start - since);
    if (waited == TaskFigures::kIdle) Add(figures_.idle_ns, start - since);
  }
  const StepResult result = StepGuarded();
  const int64_t end = SteadyNanos();
  Add(figures_.busy_ns, end - start);
  if (config_.backend && (result == StepResult::kFinished || end - last_sample_ns_ >= kStateSampleNs)) {
    SampleState(end);
  }
  figures_.waiting_since_ns.store(end, std::memory_order_relaxed);
  switch (result) {
    case StepResult::kYield:
      figures_.waiting.store(TaskFigures::kRunnable, std::memory_order_relaxed);
      break;
    case StepResult::kBlocked:
      figures_.waiting.store(TaskFigures::kBackpressured, std::memory_order_relaxed);
      break;
    case StepResult::kIdle:
      figures_.waiting.store(TaskFigures::kIdle, std::memory_order_relaxed);
      break;
    case StepResult::kFinished:
      figures_.waiting.store(TaskFigures::kFinished, std::memory_order_relaxed);
      break;
  }
  return result;
}

void StreamTask::SampleState(int64_t now_ns) {
  last_sample_ns_ = now_ns;
  const state::BackendUsage u = config_.backend->Usage();
  figures_.state_entries.store(u.entries, std::memory_order_relaxed);
  figures_.state_bytes.store(u.bytes, std::memory_order_relaxed);
  figures_.cache_hits.store(u.cache_hits, std::memory_order_relaxed);
  figures_.cache_misses.store(u.cache_misses, std::memory_order_relaxed);
  figures_.cache_evictions.store(u.cache_evictions, std::memory_order_relaxed);
}

Task::StepResult StreamTask::StepGuarded() {
  try {
    return StepImpl();
  } catch (const StateError& e) {
    scheduler()->Fail(absl::Status(e.status().code(), absl::StrCat(name(), ": state backend failed: ", e.what())));
  } catch (const TaskError& e) {
    scheduler()->Fail(e.status());
  } catch (const std::exception& e) {
    scheduler()->Fail(absl::InternalError(absl::StrCat(name(), ": ", e.what())));
  }
  return StepResult::kFinished;
}

Task::StepResult StreamTask::StepImpl() {
  if (!waker_attached_) {
    // Only now can a wake-up be a Notify(): operators may ask for one while they open,
    // before the task is with a scheduler; the flag they left is found below.
    waker_->Attach(this);
    waker_attached_ = true;
  }
  int budget = kStepBudget;
  while (true) {
    if (!FlushOutputs()) return StepResult::kBlocked;
    if (advancing_) {
      if (!ContinueAdvance()) continue;  // output backlog: the flush above decides
      MaybeAdvance();
      continue;
    }
    if (proc_firing_ || (config_.clock->NowMillis() >= proc_wake_at_)) {
      proc_wake_at_ = kMaxTimestamp;
      if (!FireProcessingTimers()) continue;
      MaybeReleaseHold();
      if (advancing_) continue;
    }
    if (waker_->TakePending()) {
      for (auto& op : ops_) op->OnWake();
      MaybeReleaseHold();
      continue;
    }
    if (phase_ == Phase::kFinishing) {
      // Each operator ends once everything before it (and itself) emitted all it holds:
      // the task does not end while calls are open.
      while (end_index_ < ops_.size() && !RecordsHeldUpTo(end_index_)) ops_[end_index_++]->EndOfInput();
      if (end_index_ < ops_.size()) {
        FlushBatches();
        if (!FlushOutputs()) return StepResult::kBlocked;
        ScheduleProcessingWake();
        return StepResult::kIdle;  // the waker or a processing-time timer brings us back
      }
      FlushBatches();
      Broadcast(MessageKind::kEndOfStream, 0);
      phase_ = Phase::kDraining;
      continue;
    }
    if (phase_ == Phase::kDraining) {
      for (size_t i = 0; i < ops_.size(); ++i) {
        absl::Status s = ops_[i]->Close();
        if (!s.ok()) {
          // A fatal error names its cause in full; it is reported as it is.
          scheduler()->Fail(checkpoint::IsFatal(s)
                                ? s
                                : absl::Status(s.code(), absl::StrCat(contexts_[i]->operator_name(), ": ", s.message())));
          break;
        }
      }
      if (config_.dead_letters) {
        if (absl::Status s = config_.dead_letters->Close(); !s.ok()) {
          scheduler()->Fail(checkpoint::IsFatal(s)
                                ? s
                                : absl::Status(s.code(), absl::StrCat(name(), ": dead-letter output: ", s.message())));
        }
      }
      phase_ = Phase::kDone;
      if (config_.on_finish) {
        checkpoint::TaskSnapshot final_offsets;
        for (auto& op : ops_) {
          if (dynamic_cast<SourceDriver*>(op.get()) != nullptr) (void)op->SnapshotState(-1, &final_offsets);
        }
        config_.on_finish(std::move(final_offsets));
      }
      return StepResult::kFinished;
    }
    if (budget-- <= 0) {
      FlushBatches();
      ScheduleProcessingWake();
      return StepResult::kYield;
    }
    if (source_ != nullptr) {
      int64_t want = requested_checkpoint_.load(std::memory_order_acquire);
      if (want > last_checkpoint_) {
        CompleteCheckpoint(want);
        continue;
      }
      if (AnyOperator(&OperatorBase::InputBlocked)) return WaitForUnblockedInput();
      if (!PollSource()) {
        FlushBatches();
        if (!FlushOutputs()) return StepResult::kBlocked;
        ScheduleProcessingWake();
        // Back off from 1 ms to the source's interval while nothing arrives, so a record
        // that shows up soon after waits about a millisecond, and an idle source costs
        // little.
        int wait = std::min(source_->poll_interval_ms(), 1 << std::min(empty_polls_, 10));
        ++empty_polls_;
        scheduler()->WakeAfter(this, std::chrono::milliseconds(wait));
        return StepResult::kIdle;
      }
      empty_polls_ = 0;
      continue;
    }
    if (AnyOperator(&OperatorBase::InputBlocked)) return WaitForUnblockedInput();
    // Next input message, round-robin over channels not held by alignment.
    bool got = false;
    for (size_t n = 0; n < inputs_.size(); ++n) {
      size_t i = (next_input_ + n) % inputs_.size();
      InputState& in = inputs_[i];
      if (in.ended || in.held) continue;
      std::optional<Message> m = in.channel->TryPop();
      if (!m) continue;
      next_input_ = i + 1;
      HandleMessage(i, std::move(*m));
      got = true;
      break;
    }
    if (!got) {
      FlushBatches();
      if (!FlushOutputs()) return StepResult::kBlocked;
      ScheduleProcessingWake();
      return StepResult::kIdle;
    }
  }
}

bool StreamTask::AnyOperator(bool (OperatorBase::*predicate)() const) const {
  for (const auto& op : ops_) {
    if (((*op).*predicate)()) return true;
  }
  return false;
}

// An operator holds as many records as it may: no input until processing time (its
// retries) frees room. Output is flushed so downstream sees what is done.
Task::StepResult StreamTask::WaitForUnblockedInput() {
  FlushBatches();
  if (!FlushOutputs()) return StepResult::kBlocked;
  ScheduleProcessingWake();
  return StepResult::kIdle;
}

bool StreamTask::PollSource() {
  if (source_finished_) return true;
  // What this poll reads enters the job now (ingestion time for the sinks' latency).
  metrics_.ingestion_ns = SteadyNanos();
  absl::StatusOr<SourcePoll> poll = source_->Poll(kSourcePollRecords);
  if (!poll.ok()) {
    scheduler()->Fail(poll.status());
    source_finished_ = true;
    return true;
  }
  metrics_.records_in.fetch_add(static_cast<int64_t>(poll->records), std::memory_order_relaxed);
  if (poll->idle != idle_sent_) {
    FlushBatches();
    Broadcast(poll->idle ? MessageKind::kIdle : MessageKind::kActive, 0);
    idle_sent_ = poll->idle;
  }
  if (poll->finished) {
    source_finished_ = true;
    if (!poll->stopped && current_wm_ < kMaxTimestamp) StartAdvance(kMaxTimestamp);
    phase_ = Phase::kFinishing;
    return true;
  }
  if (poll->watermark > current_wm_) StartAdvance(poll->watermark);
  return !poll->would_block || poll->records > 0;
}

bool StreamTask::FlushOutputs() {
  bool all = true;
  for (auto& o : outputs_) all &= o->Flush();
  return all;
}

void StreamTask::FlushBatches() {
  for (BatchFlusher* f : flushers_) f->FlushBatches();
}

void StreamTask::Broadcast(MessageKind kind, int64_t value) {
  for (auto& o : outputs_) o->Send(Message::Control(kind, value));
}

// A batch with marked records: each marked record is processed on its own, inside its
// trace, so that everything the chain emits for it is marked too; the records between
// marked ones go on in slices, in order.
void StreamTask::ProcessMarkedBatch(int input, BatchBase* batch) {
  OperatorBase* head = ops_.front().get();
  const std::vector<BatchMark> marks = *batch->marks;
  if (trace_ == nullptr) {  // marks from a traced producer, without a tracer here
    head->ProcessBatch(input, batch);
    return;
  }
  const Context& ctx = *contexts_.front();
  size_t next = 0;
  for (const BatchMark& mark : marks) {
    if (mark.index < next || mark.index >= batch->size()) continue;
    if (mark.index > next) head->ProcessBatch(input, batch->Slice(next, mark.index).get());
    trace_->current = mark.trace;
    const Timestamp ts = batch->TimestampAt(mark.index);
    trace_->Write(trace_->head_is_sink ? "sink" : "in", ctx.operator_name(), ctx.uid(),
                  TraceRecordText(head->DescribeBatchRecord(input, batch, mark.index)), &ts);
    head->OnTracedBatchRecord(input, batch, mark.index, trace_.get());
    head->ProcessBatch(input, batch->Slice(mark.index, mark.index + 1).get());
    trace_->current = -1;
    next = mark.index + 1;
  }
  if (next < batch->size()) head->ProcessBatch(input, batch->Slice(next, batch->size()).get());
}

void StreamTask::HandleMessage(size_t i, Message&& m) {
  InputState& in = inputs_[i];
  switch (m.kind) {
    case MessageKind::kBatch:
      metrics_.records_in.fetch_add(static_cast<int64_t>(m.batch->size()), std::memory_order_relaxed);
      metrics_.ingestion_ns = m.batch->ingestion_ns;
      if (m.batch->marks != nullptr) [[unlikely]] {
        ProcessMarkedBatch(in.input_index, m.batch.get());
      } else {
        ops_.front()->ProcessBatch(in.input_index, m.batch.get());
      }
      break;
    case MessageKind::kWatermark:
      in.watermark = std::max(in.watermark, m.value);
      in.idle = false;
      UpdateIdle();
      MaybeAdvance();
      break;
    case MessageKind::kIdle:
      in.idle = true;
      UpdateIdle();
      MaybeAdvance();
      break;
    case MessageKind::kActive:
      in.idle = false;
      UpdateIdle();
      break;
    case MessageKind::kBarrier:
      OnBarrier(i, m.value);
      break;
    case MessageKind::kEndOfStream:
      in.ended = true;
      --live_inputs_;
      MaybeCompleteAlignment();
      if (live_inputs_ == 0) {
        // Inputs that ended with a final watermark have already advanced us; a stopped
        // run ends without firing what is still open.
        phase_ = Phase::kFinishing;
      } else {
        UpdateIdle();
        MaybeAdvance();
      }
      break;
  }
}

void StreamTask::MaybeAdvance() {
  if (advancing_ || phase_ != Phase::kRunning) return;
  Timestamp combined = kMaxTimestamp;
  bool any = false;
  for (const InputState& in : inputs_) {
    if (in.ended || in.idle) continue;
    combined = std::min(combined, in.watermark);
    any = true;
  }
  if (!any) return;
  if (combined > current_wm_) StartAdvance(combined);
}

void StreamTask::StartAdvance(Timestamp wm) {
  advancing_ = true;
  target_wm_ = wm;
  advance_index_ = 0;
}

Timestamp StreamTask::HoldLimit(size_t i) const {
  const Timestamp hold = ops_[i]->WatermarkHold();
  if (hold == kMaxTimestamp) return kMaxTimestamp;
  return hold <= kMinTimestamp ? kMinTimestamp : hold - 1;
}

void StreamTask::MaybeReleaseHold() {
  if (advancing_) return;
  Timestamp limit = kMaxTimestamp;
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (std::min(current_wm_, limit) > op_wm_[i]) {
      StartAdvance(current_wm_);
      return;
    }
    limit = std::min(limit, HoldLimit(i));
  }
  if (std::min(current_wm_, limit) > out_wm_) StartAdvance(current_wm_);
}

bool StreamTask::RecordsHeldUpTo(size_t i) const {
  for (size_t j = 0; j <= i; ++j) {
    if (ops_[j]->HoldsRecords()) return true;
  }
  return false;
}

bool StreamTask::ContinueAdvance() {
  // Each operator gets the watermark less what the operators before it hold back; an
  // operator sees its new watermark as current while it fires timers for it.
  current_wm_ = target_wm_;
  Timestamp limit = kMaxTimestamp;
  for (size_t j = 0; j < advance_index_; ++j) limit = std::min(limit, HoldLimit(j));
  for (; advance_index_ < ops_.size(); ++advance_index_) {
    const size_t i = advance_index_;
    const Timestamp wm = std::min(target_wm_, limit);
    if (wm > op_wm_[i]) {
      const Timestamp previous = op_wm_[i];
      op_wm_[i] = wm;
      if (!ops_[i]->AdvanceWatermark(wm)) {
        op_wm_[i] = previous;
        return false;
      }
    }
    limit = std::min(limit, HoldLimit(i));
  }
  // Every timer up to the lowest operator watermark has fired: event-time TTL may now
  // reclaim what expired by it (no record or timer still to come is judged by a smaller
  // watermark).
  Timestamp lowest = target_wm_;
  for (Timestamp w : op_wm_) lowest = std::min(lowest, w);
  if (config_.backend) config_.backend->AdvanceTtlWatermark(lowest);
  advancing_ = false;
  const Timestamp out = std::min(target_wm_, limit);
  if (out > out_wm_) {
    out_wm_ = out;
    figures_.watermark.store(out, std::memory_order_relaxed);
    FlushBatches();
    Broadcast(MessageKind::kWatermark, out);
  }
  return true;
}

void StreamTask::UpdateIdle() {
  if (inputs_.empty()) return;
  bool all_idle = true;
  for (const InputState& in : inputs_) {
    if (!in.ended && !in.idle) all_idle = false;
  }
  if (live_inputs_ == 0) all_idle = false;
  if (all_idle != idle_sent_) {
    FlushBatches();
    Broadcast(all_idle ? MessageKind::kIdle : MessageKind::kActive, 0);
    idle_sent_ = all_idle;
  }
}

void StreamTask::OnBarrier(size_t i, int64_t id) {
  if (id > aligning_id_) {
    aligning_id_ = id;
    align_start_ns_ = SteadyNanos();
    held_count_ = 0;
    for (InputState& in : inputs_) in.held = false;
  } else if (id < aligning_id_) {
    return;  // a barrier of a checkpoint that was superseded
  }
  if (!inputs_[i].held) {
    inputs_[i].held = true;
    ++held_count_;
  }
  MaybeCompleteAlignment();
}

void StreamTask::MaybeCompleteAlignment() {
  if (aligning_id_ <= last_checkpoint_) return;
  size_t needed = 0;
  size_t have = 0;
  for (const InputState& in : inputs_) {
    if (in.ended && !in.held) continue;
    ++needed;
    if (in.held) ++have;
  }
  if (have < needed || have == 0) return;
  CompleteCheckpoint(aligning_id_);
  for (InputState& in : inputs_) in.held = false;
  held_count_ = 0;
}

void StreamTask::CompleteCheckpoint(int64_t id) {
  last_checkpoint_ = id;
  checkpoint::TaskAck ack;
  ack.task = name();
  if (align_start_ns_ > 0) {
    ack.alignment_s = static_cast<double>(SteadyNanos() - align_start_ns_) / 1e9;
    align_start_ns_ = 0;
  }
  checkpoint::WatermarkPosition& wm = ack.watermark.emplace();
  wm.operator_uid = contexts_.empty() ? name() : contexts_.front()->uid();
  wm.subtask = config_.subtask;
  wm.parallelism = config_.parallelism;
  wm.key_group_first = config_.key_group_first;
  wm.key_group_last = config_.key_group_last;
  wm.watermark = current_wm_;
  for (const InputState& in : inputs_) wm.input_watermarks.push_back(in.watermark);
  for (size_t i = 0; i < ops_.size(); ++i) {
    absl::Status s = ops_[i]->SnapshotState(id, &ack.snapshot);
    if (!s.ok()) {
      scheduler()->Fail(checkpoint::IsFatal(s) ? s
                                               : absl::Status(s.code(), absl::StrCat(contexts_[i]->operator_name(),
                                                                                     ": snapshot failed: ", s.message())));
      return;
    }
  }
  if (config_.dead_letters) {
    absl::Status s = config_.dead_letters->PreCommit(id, config_.dead_letter_instance, &ack.snapshot);
    if (!s.ok()) {
      scheduler()->Fail(checkpoint::IsFatal(s) ? s
                                               : absl::Status(s.code(), absl::StrCat(name(), ": dead-letter output: ",
                                                                                     s.message())));
      return;
    }
  }
  if (config_.backend && config_.snapshot_dir) {
    if (config_.check_owner) {
      if (absl::Status owned = config_.check_owner(); !owned.ok()) {
        scheduler()->Fail(owned);
        return;
      }
    }
    std::string dir = config_.snapshot_dir(id);
    auto files = config_.backend->Snapshot(dir);
    if (!files.ok()) {
      scheduler()->Fail(absl::Status(files.status().code(),
                                     absl::StrCat(name(), ": state snapshot failed: ", files.status().message())));
      return;
    }
    checkpoint::TaskState state;
    state.set_operator_uid(config_.state_uid);
    state.set_subtask(config_.subtask);
    state.set_parallelism(config_.parallelism);
    state.set_key_group_first(config_.key_group_first);
    state.set_key_group_last(config_.key_group_last);
    state.set_backend(std::string(config_.backend->name()));
    state.set_dir(dir);  // absolute for now; the coordinator makes it relative
    for (const std::string& f : *files) state.add_files()->set_path(f);
    for (const auto& t : config_.backend->Tables()) {
      auto* e = state.add_tables();
      e->set_name(t.name);
      e->set_kind(static_cast<int>(t.kind));
    }
    ack.state = std::move(state);
  }
  FlushBatches();
  Broadcast(MessageKind::kBarrier, id);
  if (config_.on_checkpoint) config_.on_checkpoint(id, std::move(ack));
}

bool StreamTask::FireProcessingTimers() {
  Timestamp now = config_.clock->NowMillis();
  if (!proc_firing_) {
    proc_firing_ = true;
    proc_index_ = 0;
  }
  for (; proc_index_ < ops_.size(); ++proc_index_) {
    if (!ops_[proc_index_]->AdvanceProcessingTime(now)) return false;
  }
  proc_firing_ = false;
  return true;
}

void StreamTask::ScheduleProcessingWake() {
  Timestamp next = kMaxTimestamp;
  for (auto& op : ops_) next = std::min(next, op->NextProcessingTimer());
  if (next == kMaxTimestamp || next >= proc_wake_at_) return;
  proc_wake_at_ = next;
  Timestamp delay = std::max<Timestamp>(0, next - config_.clock->NowMillis());
  scheduler()->WakeAfter(this, std::chrono::milliseconds(delay));
}

}  // namespace kappa::runtime
