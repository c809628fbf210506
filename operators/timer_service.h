// Event-time and processing-time timers of a keyed operator, kept in the state backend.
//
// A timer is (time, key, namespace). Timers live in two backend tables per operator,
// keyed [time, 8 bytes order-preserving][key group, 2][varint key length][key][namespace],
// so a scan from the start yields them in time order and a checkpoint carries them with
// the rest of the state. Registering the same timer twice keeps one. The earliest time is
// cached in memory so an advancing watermark with nothing due costs a comparison.
//
// Called only on the owning task's thread.
#ifndef KAPPA_OPERATORS_TIMER_SERVICE_H_
#define KAPPA_OPERATORS_TIMER_SERVICE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

#include "engine/operator.h"
#include "engine/status.h"
#include "state/backend.h"
#include "state/keyed_state.h"

namespace kappa::operators {

struct FiredTimer {
  Timestamp time;
  int key_group;
  std::string_view key_bytes;
  std::string_view ns;
};

class TimerService {
 public:
  absl::Status Init(state::KeyedStateBackend* backend, const std::string& prefix) {
    backend_ = backend;
    KAPPA_ASSIGN_OR_RETURN(event_table_, backend->RegisterTable(prefix + "/timers/event", state::TableKind::kTimers));
    KAPPA_ASSIGN_OR_RETURN(proc_table_,
                           backend->RegisterTable(prefix + "/timers/processing", state::TableKind::kTimers));
    event_min_ = Earliest(event_table_);
    proc_min_ = Earliest(proc_table_);
    return absl::OkStatus();
  }

  void RegisterEventTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    Put(event_table_, key, ns, t);
    if (t < event_min_) event_min_ = t;
  }
  void DeleteEventTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    std::string_view k = Encode(key, ns, t);
    if (firing_) deleted_.insert(std::string(k));
    state::ThrowIfError(backend_->Delete(event_table_, k));
  }
  void RegisterProcessingTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    Put(proc_table_, key, ns, t);
    if (t < proc_min_) proc_min_ = t;
  }
  void DeleteProcessingTimer(const state::KeyContext& key, std::string_view ns, Timestamp t) {
    std::string_view k = Encode(key, ns, t);
    if (firing_) deleted_.insert(std::string(k));
    state::ThrowIfError(backend_->Delete(proc_table_, k));
  }

  Timestamp next_event_timer() const { return event_min_; }
  Timestamp next_processing_timer() const { return proc_min_; }

  // Fires event timers with time <= wm in order: fn(const FiredTimer&). Stops early (false)
  // when should_yield() says downstream is full; call again to continue.
  template <typename Fn, typename YieldFn>
  bool FireEventTimers(Timestamp wm, Fn&& fn, YieldFn&& should_yield) {
    return Fire(event_table_, &event_min_, wm, fn, should_yield);
  }
  template <typename Fn, typename YieldFn>
  bool FireProcessingTimers(Timestamp now, Fn&& fn, YieldFn&& should_yield) {
    return Fire(proc_table_, &proc_min_, now, fn, should_yield);
  }

 private:
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
  void Put(state::TableId table, const state::KeyContext& key, std::string_view ns, Timestamp t) {
    std::string_view k = Encode(key, ns, t);
    if (firing_ && !deleted_.empty()) deleted_.erase(std::string(k));
    state::ThrowIfError(backend_->Put(table, k, {}));
  }
  Timestamp Earliest(state::TableId table) {
    auto it = backend_->Scan(table, {});
    if (!it->Valid()) return kMaxTimestamp;
    return ReadTime(it->key());
  }

  // Fires due timers in batches: one scan collects up to kBatch due timers, which are
  // then deleted and fired in order. A timer deleted by an earlier callback of the same
  // batch is skipped; timers registered by callbacks are found by the next scan.
  template <typename Fn, typename YieldFn>
  bool Fire(state::TableId table, Timestamp* min, Timestamp upto, Fn& fn, YieldFn& should_yield) {
    constexpr size_t kBatch = 256;
    while (*min <= upto) {
      batch_.clear();
      {
        auto it = backend_->Scan(table, {});
        for (; it->Valid() && batch_.size() < kBatch; it->Next()) {
          if (ReadTime(it->key()) > upto) break;
          batch_.emplace_back(it->key());
        }
        state::ThrowIfError(it->status());
        if (batch_.empty()) {
          *min = it->Valid() ? ReadTime(it->key()) : kMaxTimestamp;
          break;
        }
      }
      firing_ = true;
      deleted_.clear();
      for (size_t i = 0; i < batch_.size(); ++i) {
        const std::string& key = batch_[i];
        if (!deleted_.empty() && deleted_.contains(key)) continue;
        state::ThrowIfError(backend_->Delete(table, key));
        std::string_view rest(key);
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
        if (i + 1 < batch_.size() && should_yield()) {
          firing_ = false;
          return false;  // the rest of the batch is still in the table
        }
      }
      firing_ = false;
      if (should_yield()) return *min > upto || !HasDue(table, upto);
    }
    return true;
  }

  bool HasDue(state::TableId table, Timestamp upto) {
    auto it = backend_->Scan(table, {});
    return it->Valid() && ReadTime(it->key()) <= upto;
  }

  state::KeyedStateBackend* backend_ = nullptr;
  state::TableId event_table_ = -1;
  state::TableId proc_table_ = -1;
  Timestamp event_min_ = kMaxTimestamp;
  Timestamp proc_min_ = kMaxTimestamp;
  std::string buf_;
  std::vector<std::string> batch_;
  bool firing_ = false;
  absl::flat_hash_set<std::string> deleted_;
};

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_TIMER_SERVICE_H_
