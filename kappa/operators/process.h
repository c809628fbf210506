// KeyedProcessFunction: per-record logic with keyed state and timers.
//
//   class Dedup : public kappa::KeyedProcessFunction<int64_t, Bid, Bid> {
//    public:
//     void Open(kappa::RuntimeContext& ctx) override { seen_ = ctx.GetValueState<bool>("seen"); }
//     void ProcessElement(const Bid& b, Context& ctx, kappa::Collector<Bid>& out) override {
//       if (seen_.Value()) return;
//       seen_.Update(true);
//       ctx.RegisterEventTimeTimer(ctx.timestamp() + 60'000);  // forget after a minute
//       out.Collect(b);
//     }
//     void OnTimer(kappa::Timestamp t, Context& ctx, kappa::Collector<Bid>& out) override { seen_.Clear(); }
//    private:
//     kappa::ValueState<bool> seen_;
//   };
//
// State handles are scoped to the current key. Event-time timers fire when the watermark
// reaches them, processing-time timers when the clock does; both are part of every
// checkpoint and survive restarts. ctx.IsLate() tells whether the record is behind its partition's
// watermark (r.ts < pwm(r), deterministic across replays). Called on the task's thread.
//
// With a RetryPolicy (KeyedStream::Process(fn, policy), Connect(...).Process(fn, policy);
// operators/retry.h) ProcessElement (ProcessElement1/2) is tried again after a failure,
// with the record's key, state and timers context set again; its output per attempt is
// all or nothing. OnTimer is not retried.
#ifndef KAPPA_OPERATORS_PROCESS_H_
#define KAPPA_OPERATORS_PROCESS_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/operators/keyed.h"
#include "kappa/operators/retry.h"
#include "kappa/operators/timer_service.h"

namespace kappa {

// What keyed process functions see of the record or timer being handled.
template <typename K>
class KeyedContext {
 public:
  virtual ~KeyedContext() = default;
  // Event time of the record being processed, or of the timer firing.
  virtual Timestamp timestamp() const = 0;
  virtual const K& current_key() const = 0;
  virtual bool IsLate() const = 0;
  virtual Timestamp current_watermark() const = 0;
  virtual Timestamp current_processing_time() const = 0;
  virtual void RegisterEventTimeTimer(Timestamp t) = 0;
  virtual void DeleteEventTimeTimer(Timestamp t) = 0;
  virtual void RegisterProcessingTimeTimer(Timestamp t) = 0;
  virtual void DeleteProcessingTimeTimer(Timestamp t) = 0;
  // True inside OnTimer for a processing-time timer.
  virtual bool processing_time_timer() const = 0;
};

template <typename K, typename In, typename Out>
class KeyedProcessFunction {
 public:
  using Context = KeyedContext<K>;
  using OutputType = Out;
  virtual ~KeyedProcessFunction() = default;
  virtual void Open(RuntimeContext& ctx) {}
  virtual void ProcessElement(const In& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void OnTimer(Timestamp time, Context& ctx, Collector<Out>& out) {}
};

namespace operators {

template <typename K, typename In, typename Out>
class KeyedProcessOperator final : public runtime::OneInputOperator<In>,
                                   public runtime::WithOutput<Out>,
                                   private KeyedContext<K> {
 public:
  using Function = KeyedProcessFunction<K, In, Out>;

  KeyedProcessOperator(std::function<K(const In&)> key_fn, std::unique_ptr<Function> fn, std::string uid)
      : key_fn_(std::move(key_fn)), fn_(std::move(fn)), uid_(std::move(uid)) {}
  // ProcessElement under a retry policy.
  KeyedProcessOperator(std::function<K(const In&)> key_fn, std::unique_ptr<Function> fn, std::string uid,
                       RetryPolicy policy)
      : KeyedProcessOperator(std::move(key_fn), std::move(fn), std::move(uid)) {
    retry_.emplace(std::move(policy));
  }

  void ConnectOutput(int, runtime::OutputPtr out) override { this->SetMainOutput(out); }

  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = runtime::Discard<Out>::Instance();
    runtime_ctx_.emplace(ctx, &key_.context(), uid_);
    KAPPA_RETURN_IF_ERROR(timers_.Init(ctx->backend(), uid_));
    if (retry_) {
      retry_->Open(ctx, this->out_);
      KAPPA_RETURN_IF_ERROR(retry_->Restore([&](const In& v) {
        std::string bytes;
        Serializer<K>::Write(key_fn_(v), &bytes);
        return state::KeyGroupFor(bytes, ctx->max_parallelism());
      }));
    }
    return CatchStateError([&] { RunUserOpen([&] { fn_->Open(*runtime_ctx_); }); });
  }

  void Emit(Record<In>&& r) override {
    this->CountIn();
    if (retry_) {
      retry_->Process(std::move(r), RetryAttempt{this});
      return;
    }
    if (!runtime::RunGuarded(this->ctx_, r.ts, [&] { current_key_ = key_fn_(r.value); },
                             [&] { return DescribeRecord(r.value); })) {
      return;
    }
    key_.SetFromKey(current_key_, this->ctx_->max_parallelism());
    key_.SetEventTime(r.ts, std::max(r.ts, r.pwm));
    ts_ = r.ts;
    late_ = r.ts < r.pwm;
    proc_timer_ = false;
    collector_.Reset(this->out_, r.ts, r.pwm);
    runtime::RunGuarded(this->ctx_, r.ts, [&] { fn_->ProcessElement(r.value, *this, collector_); },
                        [&] { return DescribeRecord(r.value); });
  }

  bool AdvanceWatermark(Timestamp wm) override {
    return timers_.FireEventTimers(
        wm, [&](const FiredTimer& t) { OnTimer(t, false); }, [&] { return this->ctx_->ShouldYield(); });
  }
  Timestamp NextProcessingTimer() override {
    const Timestamp timer = timers_.next_processing_timer();
    return retry_ ? std::min(timer, retry_->next_due()) : timer;
  }
  bool AdvanceProcessingTime(Timestamp now) override {
    if (!timers_.FireProcessingTimers(
            now, [&](const FiredTimer& t) { OnTimer(t, true); }, [&] { return this->ctx_->ShouldYield(); })) {
      return false;
    }
    return !retry_ || retry_->RunDue(now, RetryAttempt{this});
  }
  Timestamp WatermarkHold() const override { return retry_ ? retry_->hold() : kMaxTimestamp; }
  bool InputBlocked() const override { return retry_ && retry_->full(); }
  bool HoldsRecords() const override { return retry_ && retry_->waiting() > 0; }
  // The barrier: timers go to the backend before it is snapshotted; waiting retries are
  // operator state.
  absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot* out) override {
    KAPPA_RETURN_IF_ERROR(CatchStateError([&] { timers_.Flush(); }));
    return retry_ ? retry_->Snapshot(out) : absl::OkStatus();
  }

 private:
  // One attempt of ProcessElement for a record under retry: its key, state scope and
  // lateness are set again first, as for a fresh record.
  struct RetryAttempt {
    KeyedProcessOperator* op;
    void operator()(const Record<In>& r, Collector<Out>& out) const {
      op->current_key_ = op->key_fn_(r.value);
      op->key_.SetFromKey(op->current_key_, op->ctx_->max_parallelism());
      op->key_.SetEventTime(r.ts, std::max(r.ts, r.pwm));
      op->ts_ = r.ts;
      op->late_ = r.ts < r.pwm;
      op->proc_timer_ = false;
      op->fn_->ProcessElement(r.value, *op, out);
    }
  };

  void OnTimer(const FiredTimer& t, bool processing) {
    key_.SetFromBytes(t.key_bytes, t.key_group);
    current_key_ = key_.DecodeKey();
    if (processing) {
      key_.SetEventTime(this->ctx_->current_watermark(), this->ctx_->current_watermark());
    } else {
      key_.SetEventTime(t.time, t.time);
    }
    ts_ = t.time;
    late_ = false;
    proc_timer_ = processing;
    collector_.Reset(this->out_, processing ? this->ctx_->current_watermark() : t.time, kMinTimestamp);
    runtime::RunGuarded(this->ctx_, t.time, [&] { fn_->OnTimer(t.time, *this, collector_); },
                        [] { return std::string("timer"); });
  }

  // Context
  Timestamp timestamp() const override { return ts_; }
  const K& current_key() const override { return current_key_; }
  bool IsLate() const override { return late_; }
  Timestamp current_watermark() const override { return this->ctx_->current_watermark(); }
  Timestamp current_processing_time() const override { return this->ctx_->clock()->NowMillis(); }
  void RegisterEventTimeTimer(Timestamp t) override { timers_.RegisterEventTimer(key_.context(), {}, t); }
  void DeleteEventTimeTimer(Timestamp t) override { timers_.DeleteEventTimer(key_.context(), {}, t); }
  void RegisterProcessingTimeTimer(Timestamp t) override { timers_.RegisterProcessingTimer(key_.context(), {}, t); }
  void DeleteProcessingTimeTimer(Timestamp t) override { timers_.DeleteProcessingTimer(key_.context(), {}, t); }
  bool processing_time_timer() const override { return proc_timer_; }

  std::function<K(const In&)> key_fn_;
  std::unique_ptr<Function> fn_;
  std::string uid_;
  KeyScope<K> key_;
  std::optional<RuntimeContext> runtime_ctx_;
  TimerService timers_;
  Collector<Out> collector_;
  std::optional<RetryRunner<In, Out>> retry_;
  K current_key_{};
  Timestamp ts_ = 0;
  bool late_ = false;
  bool proc_timer_ = false;
};

}  // namespace operators
}  // namespace kappa

#include "kappa/operators/join.h"

namespace kappa {

// Two keyed streams with the same key type, processed together with shared keyed state
// and timers (Flink's KeyedCoProcessFunction): incremental joins, enrichment, state
// machines fed by two inputs. Either input may arrive first.
template <typename K, typename A, typename B, typename Out>
class KeyedCoProcessFunction {
 public:
  using Context = KeyedContext<K>;
  using OutputType = Out;
  using FirstType = A;
  using SecondType = B;
  virtual ~KeyedCoProcessFunction() = default;
  virtual void Open(RuntimeContext& ctx) {}
  virtual void ProcessElement1(const A& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void ProcessElement2(const B& value, Context& ctx, Collector<Out>& out) = 0;
  virtual void OnTimer(Timestamp time, Context& ctx, Collector<Out>& out) {}
};

namespace operators {

template <typename K, typename A, typename B, typename Out>
class KeyedCoProcessOperator final : public TwoInputKeyedOperator<K, A, B, Out>, private KeyedContext<K> {
 public:
  using Function = KeyedCoProcessFunction<K, A, B, Out>;
  KeyedCoProcessOperator(std::function<K(const A&)> ka, std::function<K(const B&)> kb, std::unique_ptr<Function> fn,
                         std::string uid)
      : TwoInputKeyedOperator<K, A, B, Out>(std::move(ka), std::move(kb), std::move(uid)), fn_(std::move(fn)) {}
  // ProcessElement1 and ProcessElement2 under a retry policy, each input with its own
  // queue (checkpointed as uid/1 and uid/2).
  KeyedCoProcessOperator(std::function<K(const A&)> ka, std::function<K(const B&)> kb, std::unique_ptr<Function> fn,
                         std::string uid, RetryPolicy policy)
      : KeyedCoProcessOperator(std::move(ka), std::move(kb), std::move(fn), std::move(uid)) {
    retry_first_.emplace(policy);
    retry_second_.emplace(std::move(policy));
  }

  absl::Status Open(runtime::OperatorContext* ctx) override {
    KAPPA_RETURN_IF_ERROR((TwoInputKeyedOperator<K, A, B, Out>::Open(ctx)));
    if (!retry_first_) return absl::OkStatus();
    retry_first_->Open(ctx, this->out_, ctx->uid() + "/1");
    retry_second_->Open(ctx, this->out_, ctx->uid() + "/2");
    KAPPA_RETURN_IF_ERROR(retry_first_->Restore([&](const A& v) { return KeyGroupOf(this->key_a()(v)); }));
    return retry_second_->Restore([&](const B& v) { return KeyGroupOf(this->key_b()(v)); });
  }
  Timestamp NextProcessingTimer() override {
    Timestamp next = this->timers_.next_processing_timer();
    if (retry_first_) next = std::min({next, retry_first_->next_due(), retry_second_->next_due()});
    return next;
  }
  bool AdvanceProcessingTime(Timestamp now) override {
    if (!this->timers_.FireProcessingTimers(
            now,
            [&](const FiredTimer& t) {
              this->key_.SetFromBytes(t.key_bytes, t.key_group);
              Fire(t, true);
            },
            [&] { return this->ctx_->ShouldYield(); })) {
      return false;
    }
    if (!retry_first_) return true;
    return retry_first_->RunDue(now, FirstAttempt{this}) && retry_second_->RunDue(now, SecondAttempt{this});
  }
  Timestamp WatermarkHold() const override {
    return retry_first_ ? std::min(retry_first_->hold(), retry_second_->hold()) : kMaxTimestamp;
  }
  bool InputBlocked() const override {
    return retry_first_ && retry_first_->waiting() + retry_second_->waiting() >=
                               static_cast<size_t>(retry_first_->policy().max_waiting);
  }
  bool HoldsRecords() const override {
    return retry_first_ && retry_first_->waiting() + retry_second_->waiting() > 0;
  }
  absl::Status SnapshotState(int64_t id, checkpoint::TaskSnapshot* out) override {
    KAPPA_RETURN_IF_ERROR((TwoInputKeyedOperator<K, A, B, Out>::SnapshotState(id, out)));
    if (!retry_first_) return absl::OkStatus();
    KAPPA_RETURN_IF_ERROR(retry_first_->Snapshot(out));
    return retry_second_->Snapshot(out);
  }

 protected:
  void InitState(RuntimeContext& ctx) override {
    RunUserOpen([&] { fn_->Open(ctx); });
  }
  void ProcessLeft(const K& key, Record<A>&& r) override {
    if (retry_first_) {
      retry_first_->Process(std::move(r), FirstAttempt{this});
      return;
    }
    Begin(key, r.ts, r.pwm);
    runtime::RunGuarded(this->ctx_, r.ts, [&] { fn_->ProcessElement1(r.value, *this, this->collector_); },
                        [&] { return DescribeRecord(r.value); });
  }
  void ProcessRight(const K& key, Record<B>&& r) override {
    if (retry_second_) {
      retry_second_->Process(std::move(r), SecondAttempt{this});
      return;
    }
    Begin(key, r.ts, r.pwm);
    runtime::RunGuarded(this->ctx_, r.ts, [&] { fn_->ProcessElement2(r.value, *this, this->collector_); },
                        [&] { return DescribeRecord(r.value); });
  }
  void OnTimer(const FiredTimer& t) override { Fire(t, false); }

 private:
  // One attempt for a record under retry: the key, state scope and lateness are set again
  // first, as for a fresh record.
  struct FirstAttempt {
    KeyedCoProcessOperator* op;
    void operator()(const Record<A>& r, Collector<Out>& out) const {
      const K key = op->key_a()(r.value);
      op->key_.SetFromKey(key, op->ctx_->max_parallelism());
      op->Begin(key, r.ts, r.pwm);
      op->fn_->ProcessElement1(r.value, *op, out);
    }
  };
  struct SecondAttempt {
    KeyedCoProcessOperator* op;
    void operator()(const Record<B>& r, Collector<Out>& out) const {
      const K key = op->key_b()(r.value);
      op->key_.SetFromKey(key, op->ctx_->max_parallelism());
      op->Begin(key, r.ts, r.pwm);
      op->fn_->ProcessElement2(r.value, *op, out);
    }
  };
  int KeyGroupOf(const K& key) const {
    std::string bytes;
    Serializer<K>::Write(key, &bytes);
    return state::KeyGroupFor(bytes, this->ctx_->max_parallelism());
  }

  void Begin(const K& key, Timestamp ts, Timestamp pwm) {
    key_value_ = key;
    this->key_.SetEventTime(ts, std::max(ts, pwm));
    ts_ = ts;
    late_ = ts < pwm;
    proc_timer_ = false;
    this->collector_.Reset(this->out_, ts, pwm);
  }
  void Fire(const FiredTimer& t, bool processing) {
    key_value_ = this->key_.DecodeKey();
    if (processing) {
      this->key_.SetEventTime(this->ctx_->current_watermark(), this->ctx_->current_watermark());
    } else {
      this->key_.SetEventTime(t.time, t.time);
    }
    ts_ = t.time;
    late_ = false;
    proc_timer_ = processing;
    this->collector_.Reset(this->out_, processing ? this->ctx_->current_watermark() : t.time, kMinTimestamp);
    runtime::RunGuarded(this->ctx_, t.time, [&] { fn_->OnTimer(t.time, *this, this->collector_); },
                        [] { return std::string("timer"); });
  }

  Timestamp timestamp() const override { return ts_; }
  const K& current_key() const override { return key_value_; }
  bool IsLate() const override { return late_; }
  Timestamp current_watermark() const override { return this->ctx_->current_watermark(); }
  Timestamp current_processing_time() const override { return this->ctx_->clock()->NowMillis(); }
  void RegisterEventTimeTimer(Timestamp t) override { this->timers_.RegisterEventTimer(this->key_.context(), {}, t); }
  void DeleteEventTimeTimer(Timestamp t) override { this->timers_.DeleteEventTimer(this->key_.context(), {}, t); }
  void RegisterProcessingTimeTimer(Timestamp t) override {
    this->timers_.RegisterProcessingTimer(this->key_.context(), {}, t);
  }
  void DeleteProcessingTimeTimer(Timestamp t) override {
    this->timers_.DeleteProcessingTimer(this->key_.context(), {}, t);
  }
  bool processing_time_timer() const override { return proc_timer_; }

  std::unique_ptr<Function> fn_;
  std::optional<RetryRunner<A, Out>> retry_first_;
  std::optional<RetryRunner<B, Out>> retry_second_;
  K key_value_{};
  Timestamp ts_ = 0;
  bool late_ = false;
  bool proc_timer_ = false;
};

}  // namespace operators
}  // namespace kappa

#endif  // KAPPA_OPERATORS_PROCESS_H_
