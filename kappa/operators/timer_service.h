// Event-time and processing-time timers of a keyed operator.
//
// A timer is (time, key, namespace), encoded as [time, 8 bytes order-preserving][key group,
// 2][varint key length][key][namespace], so byte order is firing order. Registering the same
// timer twice keeps one.
//
// Timers are kept in memory, one ordered set per kind, and written back to two backend
// tables (<uid>/timers/event, <uid>/timers/processing) by Flush(), which the operator calls
// on every checkpoint barrier before the backend is snapshotted. Registering, deleting and
// firing a timer thus costs no backend access (on RocksDB, firing used to scan from the
// start of a table over the tombstones of every timer fired before), and a checkpoint holds
// exactly the pending timers. Init() loads the tables: after a restore they hold the task's
// key groups of the checkpoint's timers, whatever the parallelism that wrote them.
//
// Memory is bounded by `capacity` timers per kind. When a registration crosses it, every
// change is written back and the later half of the timers leaves memory: from then on timers
// at or after the earliest one that left (the horizon) are registered and deleted in the
// backend directly, and when memory runs out of earlier timers, firing loads the next ones
// from the backend in order.
//
// Called only on the owning task's thread. Backend failures throw StateError.
#ifndef KAPPA_OPERATORS_TIMER_SERVICE_H_
#define KAPPA_OPERATORS_TIMER_SERVICE_H_

#include <algorithm>
#include <string>
#include <string_view>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"

#include "kappa/runtime/operator.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "kappa/operators/state_errors.h"
#include "kappa/state/backend.h"
#include "kappa/state/keyed_state.h"

namespace kappa::operators {

struct FiredTimer {
  Timestamp time;
  int key_group;
  std::string_view key_bytes;
  std::string_view ns;
};

class TimerService {
 public:
  static constexpr size_t kDefaultCapacity = size_t{1} << 20;

  // Timers per kind kept in memory (at least 2); set before Init.
  void set_capacity(size_t timers) { capacity_ = std::max<size_t>(timers, 2); }

  absl::Status Init(state::KeyedStateBackend* backend, const std::string& prefix) {
    backend_ = backend;
    KAPPA_ASSIGN_OR_RETURN(event_.table, backend->RegisterTable(prefix + "/timers/event", state::TableKind::kTimers));
    KAPPA_ASSIGN_OR_RETURN(proc_.table,
                           backend->RegisterTable(prefix + "/timers/processing", state::TableKind::kTimers));
    return CatchStateError([&] {
      Load(event_);
      Load(proc_);
    });
  }

  void RegisterEventTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    Register(event_, Encode(key, ns, t));
  }
  void DeleteEventTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    Delete(event_, Encode(key, ns, t));
  }
  void RegisterProcessingTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    Register(proc_, Encode(key, ns, t));
  }
  void DeleteProcessingTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    Delete(proc_, Encode(key, ns, t));
  }

  // The earliest pending timer's time (or a lower bound of it), kMaxTimestamp if none.
  Timestamp next_event_timer() const { return Next(event_); }
  Timestamp next_processing_timer() const { return Next(proc_); }

  // Fires event timers with time <= wm in order: fn(const FiredTimer&). Timers registered
  // by fn that are due fire in the same call. Stops early (false) when should_yield() says
  // downstream is full; call again to continue.
  template <typename Fn, typename YieldFn>
  bool FireEventTimers(Timestamp wm, Fn&& fn, YieldFn&& should_yield) {
    return Fire(event_, wm, fn, should_yield);
  }
  template <typename Fn, typename YieldFn>
  bool FireProcessingTimers(Timestamp now, Fn&& fn, YieldFn&& should_yield) {
    return Fire(proc_, now, fn, should_yield);
  }

  // Writes every registration and deletion since the last flush to the backend. Call on
  // the checkpoint barrier, before the backend is snapshotted.
  void Flush() {
    Flush(event_);
    Flush(proc_);
  }

  // Timers in memory (both kinds), for tests.
  size_t in_memory() const { return event_.timers.size() + proc_.timers.size(); }

 private:
  struct Queue {
    state::TableId table = -1;
    // The pending timers before the horizon (all of them when nothing spilled); true when
    // the backend holds the timer too.
    absl::btree_map<std::string, bool, std::less<>> timers;
    // Timers the backend holds that fired or were deleted since the last flush.
    absl::flat_hash_set<std::string> deleted;
    size_t unwritten = 0;  // entries of `timers` the backend does not hold
    bool spilled = false;  // timers >= horizon live only in the backend
    std::string horizon;
  };

  // Big-endian with the sign bit flipped: byte order equals numeric order.
  static void AppendTime(Timestamp t, std::string* out) {
    auto u = static_cast<uint64_t>(t) ^ (uint64_t{1} << 63);
    for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
  static Timestamp ReadTime(std::string_view s) {
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(s[i]);
    return static_cast<Timestamp>(u ^ (uint64_t{1} << 63));
  }
  std::string_view Encode(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    buf_.clear();
    AppendTime(t, &buf_);
    buf_.push_back(static_cast<char>((key.key_group() >> 8) & 0xff));
    buf_.push_back(static_cast<char>(key.key_group() & 0xff));
    kappa::internal::WriteVarint(key.key_bytes().size(), &buf_);
    buf_.append(key.key_bytes());
    buf_.append(ns);
    return buf_;
  }

  void Register(Queue& q, std::string_view k) {
    if (q.spilled && k >= std::string_view(q.horizon)) {
      state::ThrowIfError(backend_->Put(q.table, k, {}));
      return;
    }
    auto it = q.timers.lower_bound(k);
    if (it != q.timers.end() && it->first == k) return;
    // Deleted and registered again before a flush: the backend still holds it.
    const bool written = !q.deleted.empty() && q.deleted.erase(AbslView(k)) > 0;
    q.timers.emplace_hint(it, std::string(k), written);
    if (!written) ++q.unwritten;
    if (q.timers.size() > capacity_) Spill(q);
  }

  void Delete(Queue& q, std::string_view k) {
    if (q.spilled && k >= std::string_view(q.horizon)) {
      state::ThrowIfError(backend_->Delete(q.table, k));
      return;
    }
    auto it = q.timers.find(k);
    if (it == q.timers.end()) return;
    Forget(q, it);
  }

  // Removes a timer from memory, remembering to delete it from the backend if it is there.
  void Forget(Queue& q, absl::btree_map<std::string, bool, std::less<>>::iterator it) {
    if (it->second) {
      q.deleted.emplace(it->first);
    } else {
      --q.unwritten;
    }
    q.timers.erase(it);
  }

  void Flush(Queue& q) {
    for (const std::string& k : q.deleted) state::ThrowIfError(backend_->Delete(q.table, k));
    q.deleted.clear();
    if (q.unwritten == 0) return;
    for (auto& [k, written] : q.timers) {
      if (written) continue;
      state::ThrowIfError(backend_->Put(q.table, k, {}));
      written = true;
    }
    q.unwritten = 0;
  }

  // Memory is full: write everything back, keep the earlier half.
  void Spill(Queue& q) {
    Flush(q);
    auto mid = q.timers.begin();
    std::advance(mid, q.timers.size() / 2);
    q.horizon = mid->first;
    q.timers.erase(mid, q.timers.end());
    q.spilled = true;
  }

  // Memory holds nothing (fresh start, or every timer before the horizon is gone): reads
  // the earliest timers of the backend, up to half the capacity.
  void Load(Queue& q) {
    Flush(q);
    q.timers.clear();
    q.spilled = false;
    q.horizon.clear();
    const size_t limit = std::max<size_t>(capacity_ / 2, 1);
    auto it = backend_->Scan(q.table, {});
    for (; it->Valid(); it->Next()) {
      if (q.timers.size() >= limit) {
        q.spilled = true;
        q.horizon.assign(it->key());
        break;
      }
      q.timers.emplace_hint(q.timers.end(), std::string(it->key()), true);
    }
    state::ThrowIfError(it->status());
  }

  static Timestamp Next(const Queue& q) {
    if (!q.timers.empty()) return ReadTime(q.timers.begin()->first);
    return q.spilled ? ReadTime(q.horizon) : kMaxTimestamp;
  }

  static bool HasDue(const Queue& q, Timestamp upto) {
    if (!q.timers.empty()) return ReadTime(q.timers.begin()->first) <= upto;
    return q.spilled && ReadTime(q.horizon) <= upto;
  }

  template <typename Fn, typename YieldFn>
  bool Fire(Queue& q, Timestamp upto, Fn& fn, YieldFn& should_yield) {
    while (HasDue(q, upto)) {
      if (q.timers.empty()) {
        Load(q);
        continue;
      }
      auto it = q.timers.begin();
      fired_.assign(it->first);
      Forget(q, it);
      std::string_view rest(fired_);
      FiredTimer timer;
      timer.time = ReadTime(rest);
      rest.remove_prefix(8);
      timer.key_group = (static_cast<uint8_t>(rest[0]) << 8) | static_cast<uint8_t>(rest[1]);
      rest.remove_prefix(2);
      uint64_t klen = 0;
      kappa::internal::ReadVarint(&rest, &klen);
      timer.key_bytes = rest.substr(0, klen);
      timer.ns = rest.substr(klen);
      fn(timer);
      if (should_yield()) return !HasDue(q, upto);
    }
    return true;
  }

  state::KeyedStateBackend* backend_ = nullptr;
  size_t capacity_ = kDefaultCapacity;
  Queue event_;
  Queue proc_;
  std::string buf_;
  std::string fired_;
};

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_TIMER_SERVICE_H_
