// Joins of two keyed streams: window join and interval join.
//
// Window join (Flink's `join().where().equalTo().window()`): records of both sides with the
// same key and window are paired when the window fires: fn(a, b) for every pair, stamped
// end − 1. Interval join: a and b with the same key join when
// a.ts + lower ≤ b.ts ≤ a.ts + upper, as soon as the second of the two arrives (either
// order), stamped max(a.ts, b.ts). Buffered records are dropped once the watermark makes a
// match impossible. Lateness follows DESIGN §3 (per-partition watermark of the record), so
// replays pair exactly the same records; late records go to the errors output as "late".
// Both sides' buffers live in the keyed state backend. Called on the task's thread only.
#ifndef KAPPA_OPERATORS_JOIN_H_
#define KAPPA_OPERATORS_JOIN_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/operators/keyed.h"
#include "kappa/operators/timer_service.h"
#include "kappa/operators/window.h"

namespace kappa::operators {

// Base for two-input keyed operators: routes each side to ProcessLeft / ProcessRight.
template <typename K, typename A, typename B, typename Out>
class TwoInputKeyedOperator : public runtime::OperatorBase, public runtime::WithOutput<Out> {
 public:
  TwoInputKeyedOperator(std::function<K(const A&)> key_a, std::function<K(const B&)> key_b, std::string uid)
      : key_a_(std::move(key_a)), key_b_(std::move(key_b)), uid_(std::move(uid)), left_in_(this), right_in_(this) {}

  void ProcessBatch(int input, runtime::BatchBase* batch) override {
    if (input == 0) {
      for (Record<A>& r : static_cast<runtime::Batch<A>*>(batch)->records) left_in_.Emit(std::move(r));
    } else {
      for (Record<B>& r : static_cast<runtime::Batch<B>*>(batch)->records) right_in_.Emit(std::move(r));
    }
  }
  runtime::OutputPtr InputAt(int input) override {
    return input == 0 ? runtime::OutputPtr::Of<A>(&left_in_) : runtime::OutputPtr::Of<B>(&right_in_);
  }
  void ConnectOutput(int, runtime::OutputPtr out) override { this->SetMainOutput(out); }

  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = runtime::Discard<Out>::Instance();
    runtime_ctx_.emplace(ctx, &key_.context(), uid_);
    KAPPA_RETURN_IF_ERROR(timers_.Init(ctx->backend(), uid_));
    return CatchStateError([&] { InitState(*runtime_ctx_); });
  }

  bool AdvanceWatermark(Timestamp wm) override {
    return timers_.FireEventTimers(
        wm,
        [&](const FiredTimer& t) {
          key_.SetFromBytes(t.key_bytes, t.key_group);
          OnTimer(t);
        },
        [&] { return this->ctx_->ShouldYield(); });
  }
  // The barrier: timers go to the backend before it is snapshotted.
  absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot*) override {
    return CatchStateError([&] { timers_.Flush(); });
  }

 protected:
  virtual void InitState(RuntimeContext& ctx) = 0;
  virtual void ProcessLeft(const K& key, Record<A>&& r) = 0;
  virtual void ProcessRight(const K& key, Record<B>&& r) = 0;
  virtual void OnTimer(const FiredTimer& t) = 0;

  template <typename T>
  void ReportLate(const Record<T>& r) {
    ErrorEvent e{.kind = "late", .operator_name = this->ctx_->operator_name(), .has_ts = true, .ts = r.ts,
                 .record = DescribeRecord(r.value)};
    this->ctx_->errors()->Report(e);
  }

  const std::function<K(const A&)>& key_a() const { return key_a_; }
  const std::function<K(const B&)>& key_b() const { return key_b_; }

  KeyScope<K> key_;
  TimerService timers_;
  Collector<Out> collector_;

 private:
  template <typename T, bool kLeft>
  class Side final : public Output<T> {
   public:
    explicit Side(TwoInputKeyedOperator* op) : op_(op) {}
    void Emit(Record<T>&& r) override {
      op_->CountIn();
      K key;
      const auto& fn = [this] {
        if constexpr (kLeft) {
          return &op_->key_a_;
        } else {
          return &op_->key_b_;
        }
      }();
      if (!runtime::RunGuarded(op_->ctx_, r.ts, [&] { key = (*fn)(r.value); },
                               [&] { return DescribeRecord(r.value); })) {
        return;
      }
      op_->key_.SetFromKey(key, op_->ctx_->max_parallelism());
      if constexpr (kLeft) {
        op_->ProcessLeft(key, std::move(r));
      } else {
        op_->ProcessRight(key, std::move(r));
      }
    }

   private:
    TwoInputKeyedOperator* op_;
  };

  std::function<K(const A&)> key_a_;
  std::function<K(const B&)> key_b_;
  std::string uid_;
  std::optional<RuntimeContext> runtime_ctx_;
  Side<A, true> left_in_;
  Side<B, false> right_in_;
};

template <typename K, typename A, typename B, typename Out, typename Fn>
class WindowJoinOperator final : public TwoInputKeyedOperator<K, A, B, Out> {
 public:
  WindowJoinOperator(std::function<K(const A&)> ka, std::function<K(const B&)> kb, WindowAssigner assigner, Fn fn,
                     std::string uid)
      : TwoInputKeyedOperator<K, A, B, Out>(std::move(ka), std::move(kb), std::move(uid)),
        assigner_(assigner),
        fn_(std::move(fn)) {}

 protected:
  void InitState(RuntimeContext& ctx) override {
    left_ = ctx.GetListState<A>("join-left");
    right_ = ctx.GetListState<B>("join-right");
  }
  void ProcessLeft(const K&, Record<A>&& r) override { Add(left_, r); }
  void ProcessRight(const K&, Record<B>&& r) override { Add(right_, r); }

  void OnTimer(const FiredTimer& t) override {
    std::string ns(t.ns);
    left_.SetNamespace(ns);
    right_.SetNamespace(ns);
    std::vector<A> as = left_.Get();
    std::vector<B> bs = right_.Get();
    left_.Clear();
    right_.Clear();
    this->collector_.Reset(this->out_, t.time, kMinTimestamp);
    for (const A& a : as) {
      for (const B& b : bs) {
        runtime::RunGuarded(this->ctx_, t.time, [&] { this->collector_.Collect(fn_(a, b)); },
                            [&] { return DescribeRecord(a); });
      }
    }
  }

 private:
  template <typename T>
  void Add(ListState<T>& list, const Record<T>& r) {
    const Timestamp judge = std::max(r.pwm, this->ctx_->current_watermark());
    bool any = false;
    assigner_.ForEachWindow(r.ts, [&](const TimeWindow& w) {
      if (w.max_timestamp() <= judge) return;
      any = true;
      ns_.clear();
      Serializer<TimeWindow>::Write(w, &ns_);
      list.SetNamespace(ns_);
      list.Add(r.value);
      this->timers_.RegisterEventTimer(this->key_.context(), ns_, w.max_timestamp());
    });
    if (!any) this->ReportLate(r);
  }

  WindowAssigner assigner_;
  Fn fn_;
  ListState<A> left_;
  ListState<B> right_;
  std::string ns_;
};

// fn(const A&, const B&, Collector<Out>&)
template <typename K, typename A, typename B, typename Out, typename Fn>
class IntervalJoinOperator final : public TwoInputKeyedOperator<K, A, B, Out> {
 public:
  IntervalJoinOperator(std::function<K(const A&)> ka, std::function<K(const B&)> kb, Timestamp lower,
                       Timestamp upper, Fn fn, std::string uid)
      : TwoInputKeyedOperator<K, A, B, Out>(std::move(ka), std::move(kb), std::move(uid)),
        lower_(lower),
        upper_(upper),
        fn_(std::move(fn)) {}

 protected:
  void InitState(RuntimeContext& ctx) override {
    left_ = ctx.GetMapState<Timestamp, std::vector<A>>("join-left");
    right_ = ctx.GetMapState<Timestamp, std::vector<B>>("join-right");
  }

  void ProcessLeft(const K&, Record<A>&& r) override {
    if (IsLate(r)) {
      this->ReportLate(r);
      return;
    }
    right_.ForEach([&](const Timestamp& tb, std::vector<B>&& bs) {
      if (tb < r.ts + lower_ || tb > r.ts + upper_) return;
      for (const B& b : bs) Join(r.value, b, std::max(r.ts, tb));
    });
    Buffer(left_, r, kLeftNs, r.ts + upper_ + 1);
  }
  void ProcessRight(const K&, Record<B>&& r) override {
    if (IsLate(r)) {
      this->ReportLate(r);
      return;
    }
    left_.ForEach([&](const Timestamp& ta, std::vector<A>&& as) {
      if (r.ts < ta + lower_ || r.ts > ta + upper_) return;
      for (const A& a : as) Join(a, r.value, std::max(ta, r.ts));
    });
    Buffer(right_, r, kRightNs, r.ts - lower_ + 1);
  }

  void OnTimer(const FiredTimer& t) override {
    if (t.ns == kLeftNs) {
      left_.Remove(t.time - 1 - upper_);
    } else {
      right_.Remove(t.time - 1 + lower_);
    }
  }

 private:
  static constexpr std::string_view kLeftNs = "L";
  static constexpr std::string_view kRightNs = "R";

  // r.ts < pwm(r), as DESIGN §3 says; the task watermark only exceeds pwm(r) after an idle
  // partition, and then r's partners may already be cleaned up: late, not half-joined.
  template <typename T>
  bool IsLate(const Record<T>& r) const {
    return r.ts < std::max(r.pwm, this->ctx_->current_watermark());
  }

  template <typename T>
  void Buffer(MapState<Timestamp, std::vector<T>>& buf, const Record<T>& r, std::string_view ns, Timestamp cleanup) {
    std::vector<T> list = buf.Get(r.ts).value_or(std::vector<T>{});
    list.push_back(r.value);
    buf.Put(r.ts, list);
    this->timers_.RegisterEventTimer(this->key_.context(), ns, cleanup);
  }
  void Join(const A& a, const B& b, Timestamp ts) {
    this->collector_.Reset(this->out_, ts, kMinTimestamp);
    runtime::RunGuarded(this->ctx_, ts, [&] { fn_(a, b, this->collector_); }, [&] { return DescribeRecord(a); });
  }

  Timestamp lower_;
  Timestamp upper_;
  Fn fn_;
  MapState<Timestamp, std::vector<A>> left_;
  MapState<Timestamp, std::vector<B>> right_;
};

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_JOIN_H_
