// Retries of user functions (Map, FlatMap, keyed (co-)process functions) under a RetryPolicy
// (runtime/retry.h).
//
//   bids.Map(LookUpBidder, "enrich")
//       .Retry(kappa::RetryPolicy::Exponential(5, absl::Milliseconds(100), absl::Seconds(10)));
//
// An attempt runs the user function once. Its output goes to a buffer and is emitted only
// when the attempt succeeds, so a FlatMap or process function that collected some records
// and then threw emits nothing for that attempt: output is all or nothing per attempt.
// A failed attempt whose failure is retriable (RetryPolicy::IsRetriable) puts the record
// in a queue ordered by due time, Backoff(attempt, hash) from now; the hash is taken from
// the operator's uid, the record (its serialized bytes or JSON), its event time and the
// attempt, so a replay waits the same. Records behind a waiting one go on at once.
//
// Fresh input goes first: due retries run on processing time (AdvanceProcessingTime), at
// most kRetrySlice of them at a time, between the task's input batches and whenever its
// input is drained. With policy.max_waiting records waiting the operator's InputBlocked()
// stops the task's input until retries drain, so memory stays bounded.
//
// An attempt that returns later than policy.attempt_timeout (processing time) counts as
// failed, its output dropped. After max_attempts, or at once for a failure that is not
// retriable, the record is a DeadLetter (OperatorContext::ReportDeadLetter) with the
// error of every attempt and the source partition and offset the record came from (taken
// when its first attempt failed; -1 behind an exchange). StateError and TaskError are not user failures: they fail the
// task as everywhere else.
//
// Event time: WatermarkHold() is the earliest event time of a waiting record; results
// keep the record's timestamp and partition watermark. Checkpoints: every waiting record
// with its attempts, errors, failure times and due time is one operator-state entry;
// after a restore it waits again until its due time (at once when that has passed while
// the job was down). A keyed operator takes over the waiting records of its own key
// groups at any parallelism; a stateless one takes its share round robin.
//
// State writes and timers registered by a failed attempt of a keyed process function stay
// (as in Flink, nothing is rolled back): make the function idempotent under retries.
// Called on the task's thread only, like every operator.
#ifndef KAPPA_OPERATORS_RETRY_H_
#define KAPPA_OPERATORS_RETRY_H_

#include <concepts>
#include <cstdint>
#include <exception>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/retry.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/serializer.h"

namespace kappa::operators {

// Due retries one AdvanceProcessingTime call runs before the task takes input again.
inline constexpr int kRetrySlice = 64;

// Checks a policy once, when the job is built; empty when it is usable.
inline std::string ValidateRetryPolicy(const RetryPolicy& p) {
  if (p.max_attempts < 1) return "retry policy: max_attempts must be at least 1";
  if (p.max_waiting < 1) return "retry policy: max_waiting must be at least 1";
  if (p.initial_backoff < absl::ZeroDuration() || p.max_backoff < absl::ZeroDuration()) {
    return "retry policy: backoff must not be negative";
  }
  if (p.multiplier < 1.0) return "retry policy: multiplier must be at least 1";
  if (p.jitter < 0.0 || p.jitter > 1.0) return "retry policy: jitter must be within [0, 1]";
  if (p.attempt_timeout < absl::ZeroDuration()) return "retry policy: attempt_timeout must not be negative";
  return "";
}

namespace internal {

template <typename T>
concept RetrySerializable = kappa::internal::HasSerializer<T>;
template <typename T>
concept RetryJson = requires(JsonCodec<T> c, const T& v, std::string* out, std::string_view in, T* t) {
  c.Encode(v, out);
  { c.Decode(in, size_t{0}, t) } -> std::convertible_to<absl::Status>;
};

// Bytes of a record for checkpoints and the backoff hash: its Serializer, else its JSON;
// false when the type has neither.
template <typename T>
bool EncodeRecord(const T& v, std::string* out) {
  if constexpr (RetrySerializable<T>) {
    out->push_back('s');
    Serializer<T>::Write(v, out);
    return true;
  } else if constexpr (RetryJson<T>) {
    out->push_back('j');
    JsonCodec<T>().Encode(v, out);
    return true;
  } else {
    return false;
  }
}

template <typename T>
bool DecodeRecord(std::string_view in, T* v) {
  if (in.empty()) return false;
  const char kind = in.front();
  in.remove_prefix(1);
  if constexpr (RetrySerializable<T>) {
    if (kind == 's') return Serializer<T>::Read(&in, v) && in.empty();
  }
  if constexpr (RetryJson<T>) {
    if (kind == 'j') return JsonCodec<T>().Decode(in, 0, v).ok();
  }
  return false;
}

// Collects an attempt's output; emitted only when the attempt succeeds.
template <typename T>
class BufferOutput final : public Output<T> {
 public:
  void Emit(Record<T>&& r) override { records.push_back(std::move(r)); }
  std::vector<Record<T>> records;
};

}  // namespace internal

// The retry queue and attempt loop an operator with a RetryPolicy delegates to. `In` is
// the operator's input, `Out` its output. Each call takes `attempt`, a callable
// attempt(const Record<In>&, Collector<Out>&) that prepares the operator for the record
// (e.g. sets its key) and calls the user function once.
template <typename In, typename Out>
class RetryRunner {
 public:
  explicit RetryRunner(RetryPolicy policy) : policy_(std::move(policy)) {}

  // `state_uid` names the runner's checkpoint entries: the operator's uid by default; an
  // operator with two runners (one per input) gives each its own.
  void Open(runtime::OperatorContext* ctx, Output<Out>* out, std::string state_uid = "") {
    ctx_ = ctx;
    out_ = out;
    state_uid_ = state_uid.empty() ? ctx->uid() : std::move(state_uid);
  }

  // A fresh record: its first attempt, now.
  template <typename Attempt>
  void Process(Record<In>&& r, Attempt&& attempt) {
    Waiting w;
    w.record = std::move(r);
    Run(std::move(w), attempt);
  }

  // Runs due retries in due order, at most kRetrySlice of them; false when downstream is
  // full (call again).
  template <typename Attempt>
  bool RunDue(Timestamp now, Attempt&& attempt) {
    for (int n = 0; n < kRetrySlice && !waiting_.empty(); ++n) {
      auto it = waiting_.begin();
      if (it->first.first > now) break;
      if (ctx_->ShouldYield()) return false;
      Waiting w = std::move(it->second);
      waiting_.erase(it);
      held_.erase(held_.find(w.record.ts));
      Run(std::move(w), attempt);
    }
    return true;
  }

  Timestamp next_due() const { return waiting_.empty() ? kMaxTimestamp : waiting_.begin()->first.first; }
  Timestamp hold() const { return held_.empty() ? kMaxTimestamp : *held_.begin(); }
  bool full() const { return waiting_.size() >= static_cast<size_t>(policy_.max_waiting); }
  size_t waiting() const { return waiting_.size(); }
  const RetryPolicy& policy() const { return policy_; }

  // One entry per waiting record, in due order.
  absl::Status Snapshot(checkpoint::TaskSnapshot* out) const {
    checkpoint::OperatorStateEntries state{
        .operator_uid = state_uid_, .subtask = ctx_->subtask(), .parallelism = ctx_->parallelism(), .entries = {}};
    for (const auto& [due, w] : waiting_) {
      std::string entry;
      Serializer<int64_t>::Write(w.record.ts, &entry);
      Serializer<int64_t>::Write(w.record.pwm, &entry);
      Serializer<int64_t>::Write(w.attempts, &entry);
      Serializer<std::vector<std::string>>::Write(w.errors, &entry);
      Serializer<int64_t>::Write(w.first_failure_ms, &entry);
      Serializer<int64_t>::Write(w.last_failure_ms, &entry);
      Serializer<int64_t>::Write(due.first, &entry);
      Serializer<int64_t>::Write(w.origin.partition, &entry);
      Serializer<int64_t>::Write(w.origin.offset, &entry);
      std::string record;
      if (!internal::EncodeRecord(w.record.value, &record)) {
        return absl::FailedPreconditionError(
            absl::StrCat("records waiting for a retry need a Serializer or a JSON codec to be checkpointed (",
                         typeid(In).name(), ")"));
      }
      Serializer<std::string>::Write(record, &entry);
      state.entries.push_back(std::move(entry));
    }
    out->operator_states.push_back(std::move(state));
    return absl::OkStatus();
  }

  // Takes over the waiting records the restored checkpoint holds for this instance:
  // keyed operators pass `key_group` (the key group of a record) and take every record of
  // their own key groups; others take their round-robin share.
  template <typename KeyGroupOf = std::nullptr_t>
  absl::Status Restore(KeyGroupOf key_group = nullptr) {
    const checkpoint::RestoredState* restored = ctx_->restored();
    if (restored == nullptr) return absl::OkStatus();
    constexpr bool kKeyed = !std::is_same_v<KeyGroupOf, std::nullptr_t>;
    const std::vector<std::string> entries =
        kKeyed ? restored->OperatorEntriesFor(state_uid_, 0, 1)
               : restored->OperatorEntriesFor(state_uid_, ctx_->subtask(), ctx_->parallelism());
    const state::KeyGroupRange mine =
        state::KeyGroupRange::ForOperator(ctx_->max_parallelism(), ctx_->parallelism(), ctx_->subtask());
    for (const std::string& entry : entries) {
      std::string_view in = entry;
      Waiting w;
      int64_t attempts = 0;
      Timestamp due = 0;
      int64_t partition = -1;
      std::string record;
      if (!Serializer<int64_t>::Read(&in, &w.record.ts) || !Serializer<int64_t>::Read(&in, &w.record.pwm) ||
          !Serializer<int64_t>::Read(&in, &attempts) || !Serializer<std::vector<std::string>>::Read(&in, &w.errors) ||
          !Serializer<int64_t>::Read(&in, &w.first_failure_ms) || !Serializer<int64_t>::Read(&in, &w.last_failure_ms) ||
          !Serializer<int64_t>::Read(&in, &due) || !Serializer<int64_t>::Read(&in, &partition) ||
          !Serializer<int64_t>::Read(&in, &w.origin.offset) || !Serializer<std::string>::Read(&in, &record) || !in.empty() ||
          !internal::DecodeRecord(record, &w.record.value)) {
        return absl::DataLossError(absl::StrCat("a record waiting for a retry in '", state_uid_,
                                                "' cannot be read back from the checkpoint"));
      }
      if constexpr (kKeyed) {
        if (!mine.Contains(key_group(w.record.value))) continue;
      }
      w.attempts = static_cast<int>(attempts);
      w.origin.partition = static_cast<int>(partition);
      w.hash = RecordHash(w.record);
      Wait(std::move(w), due);
    }
    return absl::OkStatus();
  }

 private:
  struct Waiting {
    Record<In> record;
    int attempts = 0;  // made so far
    std::vector<std::string> errors;
    int64_t first_failure_ms = 0;
    int64_t last_failure_ms = 0;
    runtime::RecordOrigin origin;  // the source partition and offset, when the record came straight from one
    uint64_t hash = 0;  // of the record, for the backoff's jitter; 0 until the first failure
  };

  template <typename Attempt>
  void Run(Waiting&& w, Attempt& attempt) {
    std::string error;
    bool retriable = true;
    buffer_.records.clear();
    collector_.Reset(&buffer_, w.record.ts, w.record.pwm);
    const Timestamp start = ctx_->clock()->NowMillis();
    try {
      attempt(static_cast<const Record<In>&>(w.record), collector_);
    } catch (const StateError&) {
      throw;
    } catch (const TaskError&) {
      throw;
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "exception";
      retriable = policy_.IsRetriable(e);
    } catch (...) {
      error = "unknown exception";
      retriable = !policy_.retriable;
    }
    const Timestamp end = ctx_->clock()->NowMillis();
    const int64_t timeout_ms = absl::ToInt64Milliseconds(policy_.attempt_timeout);
    if (error.empty() && timeout_ms > 0 && end - start > timeout_ms) {
      error = absl::StrCat("timeout: the attempt took ", end - start, " ms, more than ", timeout_ms, " ms");
    }
    ++w.attempts;
    // A fresh record's first attempt runs while the source emits it: its origin is known
    // now, and not when a retry runs on processing time.
    if (!error.empty() && w.attempts == 1) w.origin = ctx_->current_origin();
    if (error.empty()) {
      for (Record<Out>& r : buffer_.records) out_->Emit(std::move(r));
      buffer_.records.clear();
      return;
    }
    buffer_.records.clear();
    if (w.errors.empty()) w.first_failure_ms = end;
    w.last_failure_ms = end;
    w.errors.push_back(std::move(error));
    if (!retriable || w.attempts >= policy_.max_attempts) {
      GiveUp(std::move(w));
      return;
    }
    if (w.hash == 0) w.hash = RecordHash(w.record);
    const uint64_t random = state::StableHash(absl::StrCat(w.hash, "/", w.attempts));
    Wait(std::move(w), end + absl::ToInt64Milliseconds(policy_.Backoff(w.attempts, random)));
  }

  // Of the operator and the record (its bytes and event time): the same in a replay.
  uint64_t RecordHash(const Record<In>& r) const {
    std::string bytes = ctx_->uid();
    internal::EncodeRecord(r.value, &bytes);
    absl::StrAppend(&bytes, "@", r.ts);
    return state::StableHash(bytes);
  }

  void Wait(Waiting&& w, Timestamp due) {
    held_.insert(w.record.ts);
    waiting_.emplace(std::make_pair(due, next_seq_++), std::move(w));
  }

  void GiveUp(Waiting&& w) {
    DeadLetter letter;
    letter.record = DescribeRecord(w.record.value);
    letter.record_is_json = kappa::internal::HasJsonEncode<In>;
    letter.errors = std::move(w.errors);
    letter.attempts = w.attempts;
    letter.first_failure_ms = w.first_failure_ms;
    letter.last_failure_ms = w.last_failure_ms;
    letter.operator_name = ctx_->uid();
    letter.partition = w.origin.partition;
    letter.offset = w.origin.offset;
    letter.ts = w.record.ts;
    ctx_->ReportDeadLetter(std::move(letter));
  }

  RetryPolicy policy_;
  runtime::OperatorContext* ctx_ = nullptr;
  std::string state_uid_;
  Output<Out>* out_ = nullptr;
  internal::BufferOutput<Out> buffer_;
  Collector<Out> collector_;
  // Waiting records by (due time, arrival): equal due times keep their order.
  std::map<std::pair<Timestamp, uint64_t>, Waiting> waiting_;
  std::multiset<Timestamp> held_;  // event times of the waiting records
  uint64_t next_seq_ = 0;
};

// Map and FlatMap with a RetryPolicy. `Fn` is called as fn(const In&, Collector<Out>&)
// (Stream::Map wraps a map function into that form); the record stays the operator's
// until an attempt succeeds or it is given up on.
template <typename In, typename Out, typename Fn>
class RetryingOperator final : public runtime::OneInputOperator<In>, public runtime::WithOutput<Out> {
 public:
  RetryingOperator(Fn fn, RetryPolicy policy) : fn_(std::move(fn)), runner_(std::move(policy)) {}
  void ConnectOutput(int, runtime::OutputPtr out) override { this->SetMainOutput(out); }
  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = runtime::Discard<Out>::Instance();
    runner_.Open(ctx, this->out_);
    return runner_.Restore();
  }
  void Emit(Record<In>&& r) override {
    this->CountIn();
    runner_.Process(std::move(r), attempt_);
  }
  Timestamp NextProcessingTimer() override { return runner_.next_due(); }
  bool AdvanceProcessingTime(Timestamp now) override { return runner_.RunDue(now, attempt_); }
  Timestamp WatermarkHold() const override { return runner_.hold(); }
  bool InputBlocked() const override { return runner_.full(); }
  bool HoldsRecords() const override { return runner_.waiting() > 0; }
  absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot* out) override { return runner_.Snapshot(out); }

  size_t waiting() const { return runner_.waiting(); }

 private:
  struct Attempt {
    Fn* fn;
    void operator()(const Record<In>& r, Collector<Out>& out) const { (*fn)(r.value, out); }
  };
  Fn fn_;
  RetryRunner<In, Out> runner_;
  Attempt attempt_{&fn_};
};

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_RETRY_H_
