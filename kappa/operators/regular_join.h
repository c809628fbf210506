// Regular join of two keyed streams: SQL's `a JOIN b ON key(a) = key(b)`, with no time
// condition, in inner, left, right and full outer modes (Flink SQL's regular join).
//
//   orders.KeyBy(...).Join(payments.KeyBy(...)).Regular(kappa::JoinMode::kLeft)
//       .Apply([](const Order* o, const Payment* p) { return Row{...}; });
//
// Each side is kept in keyed state (a map from event time to the records of that time, in
// the task's backend: heap or RocksDB, part of every checkpoint). A record joins every
// record of the other side with its key that is in state, as soon as it arrives, in either
// arrival order; the pair is stamped max(a.ts, b.ts). fn(a, b) receives pointers; in outer
// modes the missing partner is null. fn must be a function of its arguments only: a
// retraction repeats the call.
//
// Output is a changelog of Change<Out>{op, row}, as Flink's retracting joins emit it: "+I"
// inserts a row, "-D" deletes a row inserted before. A record of a preserved side (left
// in kLeft and kFull, right in kRight and kFull) that finds no partner is emitted at once
// as +I(a, null); when its first partner arrives the operator emits -D(a, null), then
// +I(a, b). Inner joins emit only +I. A sink writes each change as one JSON line,
// {"op":"+I","row":{...}}; the current result is the multiset of +I rows minus the -D rows.
//
// Retention (optional, per side, in event time): with a TTL t for the left side, a left
// record a lives for the event-time span [a.ts, a.ts + t]: it joins a right record b only
// if b.ts ≤ a.ts + t, and it leaves state when the watermark passes a.ts + t (an event
// timer per key and timestamp). Likewise for the right side. Because the condition is
// checked on timestamps, not on what happens to be in state, live runs, replays and
// restores join the same pairs. Once a side has a TTL, a record of the other side that is
// behind max(pwm(r), task watermark) could find its partners gone: it is late, reported to
// the errors output as "late" and neither joined nor kept (DESIGN §3). A side without TTL
// is kept for good and no record is late for it. Expiry is silent: a preserved record whose
// partners expire is not re-emitted with an empty partner. This is not StateTtl
// (keyed_state.h): StateTtl expires values by processing time when they are read; the join
// decides by event time and removes entries with its own timers.
//
// Called on the task's thread only.
#ifndef KAPPA_OPERATORS_REGULAR_JOIN_H_
#define KAPPA_OPERATORS_REGULAR_JOIN_H_

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kappa/base/json_fwd.h"
#include "kappa/operators/join.h"
#include "kappa/state/serializer.h"

namespace kappa {

// Which unmatched records a regular join emits with an empty partner.
enum class JoinMode { kInner, kLeft, kRight, kFull };

// One change of a join's result: op "+I" (insert) or "-D" (delete a row inserted before).
template <typename T>
struct Change {
  std::string op;
  T row;
  bool is_insert() const { return op == "+I"; }
  friend bool operator==(const Change&, const Change&) = default;
};

}  // namespace kappa

template <typename T>
struct kappa::JsonFields<kappa::Change<T>> {
  static auto Get() {
    return std::make_tuple(json::MakeField("op", &Change<T>::op), json::MakeField("row", &Change<T>::row));
  }
};
template <typename T>
struct kappa::Serializer<kappa::Change<T>>
    : kappa::FieldSerializer<kappa::Change<T>, &kappa::Change<T>::op, &kappa::Change<T>::row> {};

namespace kappa::operators {

// Retention meaning "keep for good".
inline constexpr Timestamp kNoJoinTtl = -1;

// fn(const A*, const B*) -> Out
template <typename K, typename A, typename B, typename Out, typename Fn>
class RegularJoinOperator final : public TwoInputKeyedOperator<K, A, B, Change<Out>> {
 public:
  RegularJoinOperator(std::function<K(const A&)> ka, std::function<K(const B&)> kb, JoinMode mode,
                      Timestamp left_ttl, Timestamp right_ttl, Fn fn, std::string uid)
      : TwoInputKeyedOperator<K, A, B, Change<Out>>(std::move(ka), std::move(kb), std::move(uid)),
        keep_left_(mode == JoinMode::kLeft || mode == JoinMode::kFull),
        keep_right_(mode == JoinMode::kRight || mode == JoinMode::kFull),
        left_ttl_(left_ttl),
        right_ttl_(right_ttl),
        fn_(std::move(fn)) {}

 protected:
  // Per key: event time -> the records of that time, each with whether it found a partner
  // (only kept up to date for preserved sides).
  void InitState(RuntimeContext& ctx) override {
    left_ = ctx.GetMapState<Timestamp, std::vector<std::pair<A, bool>>>("regular-join-left");
    right_ = ctx.GetMapState<Timestamp, std::vector<std::pair<B, bool>>>("regular-join-right");
  }

  void ProcessLeft(const K&, Record<A>&& r) override {
    if (right_ttl_ != kNoJoinTtl && IsLate(r)) {
      this->ReportLate(r);
      return;
    }
    bool matched = false;
    updates_b_.clear();
    right_.ForEach([&](const Timestamp& tb, std::vector<std::pair<B, bool>>&& bs) {
      if (!Pairs(r.ts, tb)) return;
      const Timestamp ts = std::max(r.ts, tb);
      bool changed = false;
      for (auto& [b, b_matched] : bs) {
        if (keep_right_ && !b_matched) {
          Emit(kDelete, nullptr, &b, ts);
          b_matched = true;
          changed = true;
        }
        Emit(kInsert, &r.value, &b, ts);
        matched = true;
      }
      if (changed) updates_b_.emplace_back(tb, std::move(bs));
    });
    for (const auto& [tb, bs] : updates_b_) right_.Put(tb, bs);
    if (keep_left_ && !matched) Emit(kInsert, &r.value, nullptr, r.ts);
    Buffer(left_, std::move(r), matched, kLeftNs, left_ttl_);
  }

  void ProcessRight(const K&, Record<B>&& r) override {
    if (left_ttl_ != kNoJoinTtl && IsLate(r)) {
      this->ReportLate(r);
      return;
    }
    bool matched = false;
    updates_a_.clear();
    left_.ForEach([&](const Timestamp& ta, std::vector<std::pair<A, bool>>&& as) {
      if (!Pairs(ta, r.ts)) return;
      const Timestamp ts = std::max(ta, r.ts);
      bool changed = false;
      for (auto& [a, a_matched] : as) {
        if (keep_left_ && !a_matched) {
          Emit(kDelete, &a, nullptr, ts);
          a_matched = true;
          changed = true;
        }
        Emit(kInsert, &a, &r.value, ts);
        matched = true;
      }
      if (changed) updates_a_.emplace_back(ta, std::move(as));
    });
    for (const auto& [ta, as] : updates_a_) left_.Put(ta, as);
    if (keep_right_ && !matched) Emit(kInsert, nullptr, &r.value, r.ts);
    Buffer(right_, std::move(r), matched, kRightNs, right_ttl_);
  }

  // The watermark passed ts + ttl of the records of one key and timestamp.
  void OnTimer(const FiredTimer& t) override {
    if (t.ns == kLeftNs) {
      left_.Remove(t.time - 1 - left_ttl_);
    } else {
      right_.Remove(t.time - 1 - right_ttl_);
    }
  }

 private:
  static constexpr std::string_view kLeftNs = "L";
  static constexpr std::string_view kRightNs = "R";
  static constexpr std::string_view kInsert = "+I";
  static constexpr std::string_view kDelete = "-D";

  // Whether records at ta (left) and tb (right) are both alive at the later of the two.
  bool Pairs(Timestamp ta, Timestamp tb) const {
    if (left_ttl_ != kNoJoinTtl && tb > ta + left_ttl_) return false;
    if (right_ttl_ != kNoJoinTtl && ta > tb + right_ttl_) return false;
    return true;
  }

  template <typename T>
  bool IsLate(const Record<T>& r) const {
    return r.ts < std::max(r.pwm, this->ctx_->current_watermark());
  }

  template <typename T>
  void Buffer(MapState<Timestamp, std::vector<std::pair<T, bool>>>& side, Record<T>&& r, bool matched,
              std::string_view ns, Timestamp ttl) {
    std::vector<std::pair<T, bool>> list = side.Get(r.ts).value_or(std::vector<std::pair<T, bool>>{});
    list.emplace_back(std::move(r.value), matched);
    side.Put(r.ts, list);
    if (ttl != kNoJoinTtl) this->timers_.RegisterEventTimer(this->key_.context(), ns, r.ts + ttl + 1);
  }

  void Emit(std::string_view op, const A* a, const B* b, Timestamp ts) {
    this->collector_.Reset(this->out_, ts, kMinTimestamp);
    runtime::RunGuarded(
        this->ctx_, ts, [&] { this->collector_.Collect(Change<Out>{std::string(op), fn_(a, b)}); },
        [&] { return a != nullptr ? DescribeRecord(*a) : DescribeRecord(*b); });
  }

  const bool keep_left_;
  const bool keep_right_;
  const Timestamp left_ttl_;
  const Timestamp right_ttl_;
  Fn fn_;
  MapState<Timestamp, std::vector<std::pair<A, bool>>> left_;
  MapState<Timestamp, std::vector<std::pair<B, bool>>> right_;
  std::vector<std::pair<Timestamp, std::vector<std::pair<A, bool>>>> updates_a_;
  std::vector<std::pair<Timestamp, std::vector<std::pair<B, bool>>>> updates_b_;
};

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_REGULAR_JOIN_H_
