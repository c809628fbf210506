// AsyncMap: calls to external services that do not block a worker (Flink's
// AsyncDataStream).
//
//   auto http = kappa::connectors::HttpClient::Create("http://127.0.0.1:8080").value();
//   kappa::Stream<Person> people = bids.AsyncMap<Person>(
//       [http](const Bid& b, kappa::AsyncResult<Person> result) {
//         http->GetJson(absl::StrCat("/person/", b.bidder), std::move(result));
//       },
//       {.capacity = 64, .timeout = absl::Seconds(2), .retry = kappa::RetryPolicy::Exponential(
//            5, absl::Milliseconds(100), absl::Seconds(5))});
//
// fn(const In&, AsyncResult<Out>) starts one call and returns at once; whoever finishes
// the call — an I/O thread, a callback — completes the result from any thread:
// Complete(value), or Fail(error). The operator then emits the value on its task's thread
// with the input's timestamp.
//
// - Capacity: at most `capacity` records are open (called, waiting for a retry, or done
//   and waiting for their turn in ordered mode). At capacity the task takes no more input
//   (backpressure); records of a batch that arrived beyond it wait, not started, and count
//   towards nothing else.
// - Order: kOrdered emits results in input order; kUnordered as they complete. Either way
//   no result overtakes a watermark it belongs before: the operator holds the watermark
//   (WatermarkHold) at the earliest event time of the records it holds, and the task
//   passes held-back watermarks on when the hold moves.
// - Failures: an attempt fails when the call fails, when fn throws, or when it has not
//   completed after the timeout (AsyncTimeoutError). A failure the RetryPolicy deems
//   retriable is tried again after its backoff (the other calls go on meanwhile); after
//   the last attempt, or at once for a PermanentError, the record becomes a DeadLetter
//   (OperatorContext::ReportDeadLetter) with the error of every attempt and the source
//   partition and offset the record was read from (taken when it arrived; -1 behind an
//   exchange).
// - Checkpoints: every open record (in flight, waiting for a retry, not yet started) with
//   its failed attempts is operator state in every checkpoint and is called again after a
//   restore, so a crash loses none. The service may thus see a call twice (at least once);
//   the output stays exactly once. Completions that arrived before a barrier are emitted
//   before it.
// - The end of input waits until every open record was emitted or given up on.
//
// Implementation rules: everything but AsyncResult runs on the task's thread. An
// AsyncResult may be copied, moved and completed from any thread, also after the job
// ended (it is then ignored); the first completion of an attempt counts, later ones and
// those of an attempt that timed out are ignored.
#ifndef KAPPA_OPERATORS_ASYNC_H_
#define KAPPA_OPERATORS_ASYNC_H_

#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/retry.h"
#include "kappa/state/serializer.h"

namespace kappa {

enum class AsyncOrder { kOrdered, kUnordered };

struct AsyncOptions {
  // Records open at once in one operator instance (at least 1).
  int capacity = 64;
  // Per attempt; a call not completed by then fails with AsyncTimeoutError (retriable).
  // Zero: retry.attempt_timeout, and no limit when that is zero too.
  absl::Duration timeout = absl::ZeroDuration();
  AsyncOrder order = AsyncOrder::kOrdered;
  RetryPolicy retry;
};

// The failure of an attempt that did not complete within the timeout.
class AsyncTimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace internal {

template <typename Out>
struct AsyncCompletion {
  uint64_t seq = 0;
  int attempt = 0;
  std::optional<Out> value;
  std::exception_ptr error;
};

// Where completions wait for the task's thread. Shared by the operator and its results;
// closed when the operator goes away.
template <typename Out>
class AsyncInbox {
 public:
  explicit AsyncInbox(std::shared_ptr<runtime::TaskWaker> waker) : waker_(std::move(waker)) {}

  void Push(AsyncCompletion<Out> c) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      items_.push_back(std::move(c));
      wake = items_.size() == 1;  // otherwise a wake-up is on its way already
    }
    if (wake) waker_->Wake();
  }
  std::vector<AsyncCompletion<Out>> Take() {
    std::vector<AsyncCompletion<Out>> out;
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(items_);
    return out;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    items_.clear();
  }

 private:
  const std::shared_ptr<runtime::TaskWaker> waker_;
  std::mutex mu_;
  std::vector<AsyncCompletion<Out>> items_;
  bool closed_ = false;
};

template <typename T>
concept HasJsonDecode = requires(JsonCodec<T> c, std::string_view line, T* out) { c.Decode(line, size_t{0}, out); };

}  // namespace internal

// The outcome of one attempt of an async call. Copyable; any thread.
template <typename Out>
class AsyncResult {
 public:
  AsyncResult() = default;
  // Made by AsyncMap for attempt `attempt` of record `seq`.
  AsyncResult(std::shared_ptr<internal::AsyncInbox<Out>> inbox, uint64_t seq, int attempt)
      : inbox_(std::move(inbox)), seq_(seq), attempt_(attempt) {}

  void Complete(Out value) const {
    if (inbox_) inbox_->Push({seq_, attempt_, std::move(value), nullptr});
  }
  // The attempt failed; the RetryPolicy classifies `error` (PermanentError: no retry).
  void Fail(std::exception_ptr error) const {
    if (inbox_) inbox_->Push({seq_, attempt_, std::nullopt, std::move(error)});
  }
  void Fail(const std::string& message) const { Fail(std::make_exception_ptr(std::runtime_error(message))); }
  void FailPermanently(const std::string& message) const { Fail(std::make_exception_ptr(PermanentError(message))); }

 private:
  std::shared_ptr<internal::AsyncInbox<Out>> inbox_;
  uint64_t seq_ = 0;
  int attempt_ = 0;
};

namespace operators {

template <typename In, typename Out, typename Fn>
class AsyncMapOperator final : public runtime::OneInputOperator<In>, public runtime::WithOutput<Out> {
 public:
  AsyncMapOperator(Fn fn, AsyncOptions options) : fn_(std::move(fn)), options_(std::move(options)) {
    timeout_ms_ = absl::ToInt64Milliseconds(options_.timeout > absl::ZeroDuration() ? options_.timeout
                                                                                   : options_.retry.attempt_timeout);
  }
  ~AsyncMapOperator() override {
    if (inbox_) inbox_->Close();
  }

  void ConnectOutput(int, runtime::OutputPtr out) override { this->SetMainOutput(out); }

  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = runtime::Discard<Out>::Instance();
    if (options_.capacity < 1) return absl::InvalidArgumentError("AsyncMap capacity must be at least 1");
    std::shared_ptr<runtime::TaskWaker> waker = ctx->waker();
    if (waker == nullptr) return absl::FailedPreconditionError("AsyncMap needs a task that can be woken");
    inbox_ = std::make_shared<internal::AsyncInbox<Out>>(waker);
    if (ctx->restored() != nullptr) {
      for (const std::string& bytes : ctx->restored()->OperatorEntriesFor(ctx->uid(), ctx->subtask(), ctx->parallelism())) {
        if (!Restore(bytes)) {
          return absl::DataLossError(absl::StrCat("a checkpointed async call of '", ctx->uid(), "' cannot be read"));
        }
      }
      if (!queued_.empty()) waker->Wake();  // issued again at the task's first step
    }
    return absl::OkStatus();
  }

  void Emit(Record<In>&& r) override {
    this->CountIn();
    // Known only now, while the source emits the record: its dead letter names it.
    Add(Entry{.input = std::move(r), .origin = this->ctx_->current_origin()});
    StartQueued();
  }

  Timestamp WatermarkHold() const override { return held_.empty() ? kMaxTimestamp : *held_.begin(); }
  bool InputBlocked() const override { return !queued_.empty() || open_ >= options_.capacity; }
  bool HoldsRecords() const override { return !entries_.empty(); }
  void OnWake() override {
    Drain();
    StartQueued();
  }
  Timestamp NextProcessingTimer() override { return timers_.empty() ? kMaxTimestamp : std::get<0>(*timers_.begin()); }
  bool AdvanceProcessingTime(Timestamp now) override {
    while (!timers_.empty() && std::get<0>(*timers_.begin()) <= now) {
      const auto [at, seq, attempt] = *timers_.begin();
      timers_.erase(timers_.begin());
      auto it = entries_.find(seq);
      if (it == entries_.end() || it->second.attempt != attempt) continue;
      if (it->second.state == State::kInFlight) {
        Failed(seq, std::make_exception_ptr(AsyncTimeoutError(absl::StrCat("timeout after ", timeout_ms_, " ms"))));
      } else if (it->second.state == State::kBackoff) {
        Start(seq);
      }
    }
    StartQueued();
    return true;
  }

  absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot* out) override {
    Drain();  // what completed before the barrier goes out before it
    checkpoint::OperatorStateEntries state{this->ctx_->uid(), this->ctx_->subtask(), this->ctx_->parallelism(), {}};
    for (const auto& [seq, e] : entries_) {
      if (e.given_up) continue;  // its dead letter went out before the barrier
      state.entries.push_back(Serialize(e));
    }
    if (!state.entries.empty()) out->operator_states.push_back(std::move(state));
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (inbox_) inbox_->Close();
    return absl::OkStatus();
  }

  // Open records (tests, the monitor).
  size_t open() const { return static_cast<size_t>(open_); }
  size_t queued() const { return queued_.size(); }

 private:
  enum class State { kQueued, kInFlight, kBackoff, kDone };
  struct Entry {
    Record<In> input;
    runtime::RecordOrigin origin;  // source partition and offset; -1 behind an exchange
    State state = State::kQueued;
    int attempt = 0;  // attempts made (the one in flight included)
    std::vector<std::string> errors;
    int64_t first_failure_ms = 0;
    int64_t last_failure_ms = 0;
    bool timed_out = false;  // the last failure was a timeout
    std::optional<Out> result;  // ordered: done, waiting for the records before it
    bool given_up = false;      // ordered: a dead letter, waiting for the records before it
  };

  void Add(Entry e) {
    const uint64_t seq = next_seq_++;
    held_.insert(e.input.ts);
    entries_.emplace(seq, std::move(e));
    queued_.push_back(seq);
  }

  void StartQueued() {
    while (!queued_.empty() && open_ < options_.capacity) {
      const uint64_t seq = queued_.front();
      queued_.pop_front();
      ++open_;
      Start(seq);
    }
  }

  void Start(uint64_t seq) {
    Entry& e = entries_.at(seq);
    e.state = State::kInFlight;
    const int attempt = ++e.attempt;
    if (timeout_ms_ > 0) timers_.emplace(this->ctx_->clock()->NowMillis() + timeout_ms_, seq, attempt);
    try {
      fn_(static_cast<const In&>(e.input.value), AsyncResult<Out>(inbox_, seq, attempt));
    } catch (const StateError&) {
      throw;
    } catch (const TaskError&) {
      throw;
    } catch (...) {
      Failed(seq, std::current_exception());
    }
  }

  void Drain() {
    for (internal::AsyncCompletion<Out>& c : inbox_->Take()) {
      auto it = entries_.find(c.seq);
      // A completion of an attempt that timed out, or of a call issued before a restore.
      if (it == entries_.end() || it->second.state != State::kInFlight || it->second.attempt != c.attempt) continue;
      if (c.value.has_value()) {
        Succeeded(c.seq, std::move(*c.value));
      } else {
        Failed(c.seq, c.error != nullptr ? c.error
                                         : std::make_exception_ptr(std::runtime_error("failed without an error")));
      }
    }
  }

  void Succeeded(uint64_t seq, Out value) {
    Entry& e = entries_.at(seq);
    if (options_.order == AsyncOrder::kUnordered) {
      this->out_->Emit(Record<Out>{std::move(value), e.input.ts, e.input.pwm});
      Erase(seq);
      return;
    }
    e.state = State::kDone;
    e.result.emplace(std::move(value));
    EmitReadyHead();
  }

  void Failed(uint64_t seq, std::exception_ptr error) {
    Entry& e = entries_.at(seq);
    std::string message;
    bool retriable = true;
    bool timed_out = false;
    try {
      std::rethrow_exception(error);
    } catch (const StateError&) {
      throw;
    } catch (const TaskError&) {
      throw;
    } catch (const std::exception& ex) {
      message = ex.what();
      retriable = options_.retry.IsRetriable(ex);
      timed_out = dynamic_cast<const AsyncTimeoutError*>(&ex) != nullptr;
    } catch (...) {
      message = "unknown exception";
    }
    const int64_t now = this->ctx_->clock()->NowMillis();
    e.errors.push_back(std::move(message));
    if (e.first_failure_ms == 0) e.first_failure_ms = now;
    e.last_failure_ms = now;
    e.timed_out = timed_out;
    if (retriable && e.attempt < options_.retry.max_attempts) {
      e.state = State::kBackoff;
      const absl::Duration wait = options_.retry.Backoff(e.attempt, JitterSeed(e));
      timers_.emplace(now + absl::ToInt64Milliseconds(wait), seq, e.attempt);
      return;
    }
    GiveUp(seq);
  }

  void GiveUp(uint64_t seq) {
    Entry& e = entries_.at(seq);
    DeadLetter letter;
    letter.record = runtime::TraceJson(e.input.value);
    letter.errors = e.errors;
    letter.attempts = e.attempt;
    letter.first_failure_ms = e.first_failure_ms;
    letter.last_failure_ms = e.last_failure_ms;
    letter.operator_name = this->ctx_->uid();
    letter.partition = e.origin.partition;
    letter.offset = e.origin.offset;
    letter.ts = e.input.ts;
    letter.kind = e.timed_out ? "timeout" : "user";
    this->ctx_->ReportDeadLetter(std::move(letter));
    if (options_.order == AsyncOrder::kUnordered) {
      Erase(seq);
      return;
    }
    e.state = State::kDone;
    e.given_up = true;
    EmitReadyHead();
  }

  // Ordered mode: emits the finished records at the head, in input order.
  void EmitReadyHead() {
    while (!entries_.empty() && entries_.begin()->second.state == State::kDone) {
      Entry& e = entries_.begin()->second;
      if (e.result.has_value()) this->out_->Emit(Record<Out>{std::move(*e.result), e.input.ts, e.input.pwm});
      Erase(entries_.begin()->first);
    }
  }

  void Erase(uint64_t seq) {
    auto it = entries_.find(seq);
    held_.erase(held_.find(it->second.input.ts));
    if (it->second.state != State::kQueued) --open_;
    entries_.erase(it);
  }

  // The jitter of a backoff depends on the record and the attempt only, so a replay waits
  // as the first run did.
  uint64_t JitterSeed(const Entry& e) const {
    std::string bytes;
    EncodeValue(e.input.value, &bytes);
    uint64_t h = std::hash<std::string>{}(bytes) ^ (static_cast<uint64_t>(e.attempt) * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 33;  // splitmix64's finalizer
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
  }

  static void EncodeValue(const In& v, std::string* out) {
    if constexpr (kappa::internal::HasSerializer<In>) {
      Serializer<In>::Write(v, out);
    } else if constexpr (kappa::internal::HasJsonEncode<In> && kappa::internal::HasJsonDecode<In>) {
      JsonCodec<In>().Encode(v, out);
    } else {
      static_assert(kappa::internal::HasSerializer<In>,
                    "AsyncMap keeps open calls in checkpoints: give its input type a Serializer "
                    "(KAPPA_SERIALIZABLE) or a JsonCodec (KAPPA_JSON)");
    }
  }
  static bool DecodeValue(std::string_view bytes, In* v) {
    if constexpr (kappa::internal::HasSerializer<In>) {
      return Serializer<In>::Read(&bytes, v) && bytes.empty();
    } else {
      return JsonCodec<In>().Decode(bytes, 0, v).ok();
    }
  }

  // One open record in a checkpoint: its failed attempts (errors, first and last failure,
  // whether the last timed out), timestamp, partition watermark, origin and the input.
  static constexpr char kFormat = 1;
  std::string Serialize(const Entry& e) const {
    // An attempt in flight (or done in ordered mode, not yet emitted) has not failed: it
    // is made again after a restore, so only the failed attempts count.
    std::string out(1, kFormat);
    Serializer<std::vector<std::string>>::Write(e.errors, &out);
    Serializer<int64_t>::Write(e.first_failure_ms, &out);
    Serializer<int64_t>::Write(e.last_failure_ms, &out);
    Serializer<bool>::Write(e.timed_out, &out);
    Serializer<int64_t>::Write(e.input.ts, &out);
    Serializer<int64_t>::Write(e.input.pwm, &out);
    Serializer<int64_t>::Write(e.origin.partition, &out);
    Serializer<int64_t>::Write(e.origin.offset, &out);
    EncodeValue(e.input.value, &out);
    return out;
  }
  bool Restore(std::string_view bytes) {
    if (bytes.empty() || bytes[0] != kFormat) return false;
    bytes.remove_prefix(1);
    Entry e;
    int64_t partition = -1;
    if (!Serializer<std::vector<std::string>>::Read(&bytes, &e.errors) ||
        !Serializer<int64_t>::Read(&bytes, &e.first_failure_ms) || !Serializer<int64_t>::Read(&bytes, &e.last_failure_ms) ||
        !Serializer<bool>::Read(&bytes, &e.timed_out) || !Serializer<int64_t>::Read(&bytes, &e.input.ts) ||
        !Serializer<int64_t>::Read(&bytes, &e.input.pwm) || !Serializer<int64_t>::Read(&bytes, &partition) ||
        !Serializer<int64_t>::Read(&bytes, &e.origin.offset) || !DecodeValue(bytes, &e.input.value)) {
      return false;
    }
    e.origin.partition = static_cast<int>(partition);
    e.attempt = static_cast<int>(e.errors.size());
    Add(std::move(e));
    return true;
  }

  Fn fn_;
  const AsyncOptions options_;
  int64_t timeout_ms_ = 0;
  std::shared_ptr<internal::AsyncInbox<Out>> inbox_;
  std::map<uint64_t, Entry> entries_;  // every record held, by input order
  std::deque<uint64_t> queued_;        // not started yet (over capacity)
  int open_ = 0;                       // entries started (not queued)
  // (when, record, attempt): the timeout of an attempt in flight, or the end of a backoff.
  std::set<std::tuple<Timestamp, uint64_t, int>> timers_;
  std::multiset<Timestamp> held_;  // event times of the entries: the watermark hold
  uint64_t next_seq_ = 0;
};

}  // namespace operators
}  // namespace kappa

#endif  // KAPPA_OPERATORS_ASYNC_H_
