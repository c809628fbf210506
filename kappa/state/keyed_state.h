// Typed keyed state: ValueState<V>, ListState<V>, MapState<UK, UV>.
//
// A handle is scoped to the task's current key (set by the runtime before user code runs)
// and to a namespace (empty for user state; a window for window contents). Values are
// serialized with Serializer<T> and stored in the task's KeyedStateBackend, so the same
// code runs on the heap and RocksDB backends and every byte is in checkpoints.
//
//   class CountPerUser : public kappa::KeyedProcessFunction<int64_t, Click, Count> {
//     void Open(kappa::RuntimeContext& ctx) override { count_ = ctx.GetValueState<int64_t>("count"); }
//     void ProcessElement(const Click& c, Context& ctx, kappa::Collector<Count>& out) override {
//       int64_t n = count_.ValueOr(0) + 1;
//       count_.Update(n);
//       ...
//     }
//     kappa::ValueState<int64_t> count_;
//   };
//
// Handles are cheap value types; they must only be used on the task's thread, from
// inside operator callbacks. Backend failures throw StateError, which fails the task.
#ifndef KAPPA_STATE_KEYED_STATE_H_
#define KAPPA_STATE_KEYED_STATE_H_

#include <algorithm>
#include <optional>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kappa/base/strings.h"
#include "kappa/base/time.h"
#include "kappa/state/backend.h"
#include "kappa/state/serializer.h"

namespace kappa {

// Thrown by state handles when the backend fails (disk full, I/O error, corrupt data).
// The runtime treats it as a task failure, never as a bad record.
class StateError : public std::runtime_error {
 public:
  explicit StateError(absl::Status status)
      : std::runtime_error(std::string(status.message())), status_(std::move(status)) {}
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
};

namespace state {

// The key that state handles are scoped to. One per keyed operator; the operator sets it
// before calling user code, firing timers or touching state.
class KeyContext {
 public:
  void Set(std::string_view key_bytes, int key_group) {
    key_bytes_.assign(key_bytes);
    key_group_ = key_group;
  }
  std::string_view key_bytes() const { return key_bytes_; }
  int key_group() const { return key_group_; }

  // Event time for event-time TTL, set by the operator before user code runs: the time
  // writes count from (a record's timestamp, a timer's time) and the time reads are judged
  // by — for a record r at t, max(t, pwm(r)) (pwm: its own partition's watermark before it,
  // which does not depend on how partitions interleave, so a replay judges alike); for a
  // timer, its time. kMinTimestamp when unknown.
  void SetEventTime(Timestamp event_time, Timestamp read_watermark) {
    event_time_ = event_time;
    read_watermark_ = read_watermark;
  }
  Timestamp event_time() const { return event_time_; }
  Timestamp read_watermark() const { return read_watermark_; }

  // Appends [key group, 2 bytes big-endian][key bytes] to out.
  void AppendPrefix(std::string* out) const {
    out->push_back(static_cast<char>((key_group_ >> 8) & 0xff));
    out->push_back(static_cast<char>(key_group_ & 0xff));
    out->append(key_bytes_);
  }

 private:
  std::string key_bytes_;
  int key_group_ = 0;
  Timestamp event_time_ = kMinTimestamp;
  Timestamp read_watermark_ = kMinTimestamp;
};

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw StateError(status);
}

// Shared plumbing of the typed handles.
class StateHandleBase {
 public:
  StateHandleBase() = default;
  StateHandleBase(KeyedStateBackend* backend, TableId table, const KeyContext* key)
      : backend_(backend), table_(table), key_(key) {}

  bool valid() const { return backend_ != nullptr; }
  // Internal: the namespace (serialized window, or empty) the handle reads and writes.
  void SetNamespace(std::string_view ns) { ns_.assign(ns); }

 protected:
  // [key group][key][varint(namespace size)][namespace][suffix]. The namespace is
  // length-prefixed because the empty namespace is a byte prefix of every other one: a
  // MapState scan in one namespace would otherwise also see the entries of the others.
  std::string_view BuildKey(std::string_view suffix = {}) {
    scratch_.clear();
    key_->AppendPrefix(&scratch_);
    kappa::internal::WriteVarint(ns_.size(), &scratch_);
    scratch_.append(ns_);
    scratch_.append(suffix);
    return scratch_;
  }

  KeyedStateBackend* backend_ = nullptr;
  TableId table_ = -1;
  const KeyContext* key_ = nullptr;
  std::string ns_;
  std::string scratch_;
  std::string value_buf_;
};

}  // namespace state

// Time-to-live of a state's values, on one of two clocks:
//
// - Ttl::EventTime(d): a value written while processing a record (or firing a timer) at
//   event time t expires at t + d. A record r at time t' reads it as absent once
//   t + d <= max(t', pwm(r)) (pwm: r's partition's watermark before it, docs/api.md "The
//   deterministic rule"); an event-time timer once t + d <= its time. Both depend on the
//   input alone, so a replay or a restore expires exactly what the live run did. Expired
//   values are also reclaimed in the background, read or not, once the task's watermark
//   passed them (backend.h); a read never sees what a reclaim may have dropped, because it
//   also judges by the backend's ttl_watermark(), which no record's max(t', pwm(r)) is
//   below in a run without idle partitions.
// - Ttl::ProcessingTime(d) (and the plain absl::Duration overloads): Flink's StateTtlConfig
//   with OnCreateAndWrite and NeverReturnExpired — expires d of wall-clock time after the
//   last write, removed only when read. Not replayable: a replay runs at another time.
//
// Either way the expiry is stored with the value ([expiry, 8 bytes][value]; per element
// for lists), so it survives restores.
struct StateTtl {
  enum class Time { kProcessing, kEvent };
  int64_t ttl_ms = 0;            // 0: values never expire
  const Clock* clock = nullptr;  // processing time; set by RuntimeContext
  Time time = Time::kProcessing;

  static StateTtl ProcessingTime(absl::Duration ttl) { return {absl::ToInt64Milliseconds(ttl), nullptr, Time::kProcessing}; }
  static StateTtl EventTime(absl::Duration ttl) { return {absl::ToInt64Milliseconds(ttl), nullptr, Time::kEvent}; }
  bool enabled() const { return ttl_ms > 0; }
  bool event_time() const { return time == Time::kEvent; }
};
using Ttl = StateTtl;

namespace state {
// The expiry a value written now gets.
inline int64_t TtlExpiry(const StateTtl& ttl, const KeyedStateBackend& backend, const KeyContext& key) {
  int64_t base;
  if (!ttl.event_time()) {
    base = ttl.clock->NowMillis();
  } else {
    base = key.event_time();
    // Written outside a record or timer (Open): count from what the task has seen.
    if (base == kMinTimestamp) base = std::max(key.read_watermark(), backend.ttl_watermark());
  }
  int64_t expiry;
  if (__builtin_add_overflow(base, ttl.ttl_ms, &expiry)) expiry = kMaxTimestamp;
  return expiry;
}
// A value with expiry e reads as absent once e <= this.
inline int64_t TtlNow(const StateTtl& ttl, const KeyedStateBackend& backend, const KeyContext& key) {
  if (!ttl.event_time()) return ttl.clock->NowMillis();
  return std::max(key.read_watermark(), backend.ttl_watermark());
}
// TTL framing of one stored value: [expiry, 8 bytes][value] when a TTL is set.
inline void WriteExpiry(int64_t expiry, std::string* out) { Serializer<int64_t>::Write(expiry, out); }
// Strips the expiry; false when the value has expired at `now`.
inline bool Unexpired(int64_t now, std::string_view* in) {
  int64_t expires = 0;
  if (!Serializer<int64_t>::Read(in, &expires)) throw StateError(absl::DataLossError("corrupt value in state"));
  return now < expires;
}
}  // namespace state

template <typename V>
class ValueState : public state::StateHandleBase {
 public:
  using StateHandleBase::StateHandleBase;
  ValueState(state::KeyedStateBackend* backend, state::TableId table, const state::KeyContext* key, StateTtl ttl)
      : StateHandleBase(backend, table, key), ttl_(ttl) {}

  std::optional<V> Value() {
    absl::Status s = backend_->Get(table_, BuildKey(), &value_buf_);
    if (absl::IsNotFound(s)) return std::nullopt;
    state::ThrowIfError(s);
    std::string_view in(value_buf_);
    if (ttl_.enabled() && !state::Unexpired(state::TtlNow(ttl_, *backend_, *key_), &in)) {
      Clear();
      return std::nullopt;
    }
    V v{};
    if (!ParseFromString(in, &v)) throw StateError(absl::DataLossError("corrupt value in state"));
    return v;
  }
  V ValueOr(V fallback) {
    std::optional<V> v = Value();
    return v ? std::move(*v) : std::move(fallback);
  }
  void Update(const V& v) {
    value_buf_.clear();
    if (ttl_.enabled()) state::WriteExpiry(state::TtlExpiry(ttl_, *backend_, *key_), &value_buf_);
    Serializer<V>::Write(v, &value_buf_);
    state::ThrowIfError(backend_->Put(table_, BuildKey(), value_buf_));
  }
  void Clear() { state::ThrowIfError(backend_->Delete(table_, BuildKey())); }

 private:
  StateTtl ttl_;
};

// Folds every added value into one with a reduce function (Flink's ReducingState):
//   ReducingState<int64_t, std::plus<>> total = ctx.GetReducingState<int64_t>("total", std::plus<>());
//   total.Add(5); total.Add(7); *total.Get() == 12
template <typename V, typename Fn>
class ReducingState {
 public:
  ReducingState() = default;
  ReducingState(ValueState<V> value, Fn fn) : value_(std::move(value)), fn_(std::move(fn)) {}
  void Add(const V& v) {
    std::optional<V> cur = value_.Value();
    value_.Update(cur ? fn_(*cur, v) : v);
  }
  std::optional<V> Get() { return value_.Value(); }
  void Clear() { value_.Clear(); }
  void SetNamespace(std::string_view ns) { value_.SetNamespace(ns); }

 private:
  ValueState<V> value_;
  Fn fn_;
};

// Adds values into an accumulator and reads a result (Flink's AggregatingState). Agg has
// Create() -> Acc, Add(Acc&, const In&) and Result(const Acc&) -> Out, like window aggregates.
template <typename In, typename Agg>
class AggregatingState {
 public:
  using Acc = std::remove_cvref_t<decltype(std::declval<Agg&>().Create())>;
  using Out = std::remove_cvref_t<decltype(std::declval<Agg&>().Result(std::declval<const Acc&>()))>;
  AggregatingState() = default;
  AggregatingState(ValueState<Acc> acc, Agg agg) : acc_(std::move(acc)), agg_(std::move(agg)) {}
  void Add(const In& v) {
    Acc acc = acc_.ValueOr(agg_.Create());
    agg_.Add(acc, v);
    acc_.Update(acc);
  }
  std::optional<Out> Get() {
    std::optional<Acc> acc = acc_.Value();
    if (!acc) return std::nullopt;
    return agg_.Result(*acc);
  }
  void Clear() { acc_.Clear(); }
  void SetNamespace(std::string_view ns) { acc_.SetNamespace(ns); }

 private:
  ValueState<Acc> acc_;
  Agg agg_;
};

// A value state with a write-back cache of deserialized values, for state touched on
// every record (window accumulators on RocksDB). A read loads from the backend once (also
// remembering absence); updates change the cached object in place and reach the backend
// only on Flush() — which the operator calls on every checkpoint barrier, before the
// backend is snapshotted — or when the cache is full: then everything dirty is written and
// unused entries are evicted down to half the capacity (an entry used since the last
// eviction survives one round). A value created and cleared between two flushes never
// touches the backend at all.
//
//   V* acc = state.Find();            // null when absent
//   if (!acc) acc = &state.Put(V{});  // creates it
//   ++*acc;
//   state.MarkDirty();                // after changing *Find() in place
template <typename V>
class CachedValueState : public state::StateHandleBase {
 public:
  using StateHandleBase::StateHandleBase;

  // Entries kept (at least 2).
  void set_capacity(size_t entries) { capacity_ = std::max<size_t>(entries, 2); }

  V* Find() {
    last_ = &Lookup(/*load=*/true);
    return last_->value ? &*last_->value : nullptr;
  }
  V& Put(V v) {
    last_ = &Lookup(/*load=*/false);
    last_->value = std::move(v);
    last_->dirty = true;
    return *last_->value;
  }
  void MarkDirty() { last_->dirty = true; }
  void Clear() {
    std::string_view key = BuildKey();
    auto it = cache_.find(AbslView(key));
    if (it != cache_.end() && !it->second.persisted) {
      cache_.erase(it);  // never written back: nothing to delete
    } else if (it != cache_.end()) {
      it->second.value.reset();
      it->second.dirty = true;
    } else {
      state::ThrowIfError(backend_->Delete(table_, key));
    }
    last_ = nullptr;
  }
  // Writes every changed entry to the backend.
  void Flush() {
    for (auto it = cache_.begin(); it != cache_.end();) {
      Entry& e = it->second;
      if (e.dirty) {
        if (e.value) {
          value_buf_.clear();
          Serializer<V>::Write(*e.value, &value_buf_);
          state::ThrowIfError(backend_->Put(table_, it->first, value_buf_));
          e.persisted = true;
        } else if (e.persisted) {
          state::ThrowIfError(backend_->Delete(table_, it->first));
          e.persisted = false;
        }
        e.dirty = false;
      }
      if (!e.value && !e.persisted) {
        cache_.erase(it++);
      } else {
        ++it;
      }
    }
    last_ = nullptr;
  }
  size_t cached() const { return cache_.size(); }

 private:
  struct Entry {
    std::optional<V> value;
    bool dirty = false;
    bool persisted = false;   // the backend holds a value for this key
    bool referenced = true;   // used since the last eviction
  };
  Entry& Lookup(bool load) {
    std::string_view key = BuildKey();
    auto it = cache_.find(AbslView(key));
    if (it != cache_.end()) {
      it->second.referenced = true;
      return it->second;
    }
    if (cache_.size() >= capacity_) {
      Flush();
      Evict();
      key = BuildKey();
    }
    Entry e;
    if (load) {
      absl::Status s = backend_->Get(table_, key, &value_buf_);
      if (s.ok()) {
        e.value.emplace();
        e.persisted = true;
        if (!ParseFromString(value_buf_, &*e.value)) throw StateError(absl::DataLossError("corrupt value in state"));
      } else if (!absl::IsNotFound(s)) {
        state::ThrowIfError(s);
      }
    } else {
      // Put without a prior read: whether the backend has the key does not matter for a
      // write, but a later Clear must delete it, so assume it might.
      e.persisted = true;
    }
    return cache_.emplace(std::string(key), std::move(e)).first->second;
  }
  // After a Flush: every entry is clean.
  void Evict() {
    for (int round = 0; round < 2 && cache_.size() > capacity_ / 2; ++round) {
      for (auto it = cache_.begin(); it != cache_.end() && cache_.size() > capacity_ / 2;) {
        if (round == 0 && it->second.referenced) {
          it->second.referenced = false;
          ++it;
        } else {
          cache_.erase(it++);
        }
      }
    }
  }
  size_t capacity_ = size_t{1} << 20;
  // Node-based: the entry Find() returned stays put while others are added.
  absl::node_hash_map<std::string, Entry> cache_;
  Entry* last_ = nullptr;
};

template <typename V>
class ListState : public state::StateHandleBase {
 public:
  using StateHandleBase::StateHandleBase;
  // With a TTL, each element expires `ttl` after it was added (Flink's per-element list TTL).
  ListState(state::KeyedStateBackend* backend, state::TableId table, const state::KeyContext* key, StateTtl ttl)
      : StateHandleBase(backend, table, key), ttl_(ttl) {}

  void Add(const V& v) {
    value_buf_.clear();
    if (ttl_.enabled()) state::WriteExpiry(state::TtlExpiry(ttl_, *backend_, *key_), &value_buf_);
    Serializer<V>::Write(v, &value_buf_);
    state::ThrowIfError(backend_->Append(table_, BuildKey(), value_buf_));
  }
  // Calls fn(V&&) for each unexpired element in insertion order.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    absl::Status s = backend_->Get(table_, BuildKey(), &value_buf_);
    if (absl::IsNotFound(s)) return;
    state::ThrowIfError(s);
    std::string list = std::move(value_buf_);  // fn may touch this handle again
    const int64_t now = ttl_.enabled() ? state::TtlNow(ttl_, *backend_, *key_) : 0;
    bool ok = state::ForEachListElement(list, [&](std::string_view e) {
      if (ttl_.enabled() && !state::Unexpired(now, &e)) return;
      V v{};
      if (!ParseFromString(e, &v)) throw StateError(absl::DataLossError("corrupt list element in state"));
      fn(std::move(v));
    });
    if (!ok) throw StateError(absl::DataLossError("corrupt list in state"));
  }
  std::vector<V> Get() {
    std::vector<V> out;
    ForEach([&](V&& v) { out.push_back(std::move(v)); });
    return out;
  }
  void Update(const std::vector<V>& values) {
    Clear();
    for (const V& v : values) Add(v);
  }
  bool IsEmpty() {
    if (ttl_.enabled()) {
      bool any = false;
      ForEach([&](V&&) { any = true; });
      return !any;
    }
    absl::Status s = backend_->Get(table_, BuildKey(), &value_buf_);
    if (absl::IsNotFound(s)) return true;
    state::ThrowIfError(s);
    return value_buf_.empty();
  }
  void Clear() { state::ThrowIfError(backend_->Delete(table_, BuildKey())); }

 private:
  StateTtl ttl_;
};

template <typename UK, typename UV>
class MapState : public state::StateHandleBase {
 public:
  using StateHandleBase::StateHandleBase;
  // With a TTL, each entry expires `ttl` after it was last put (read as absent, and
  // removed when read).
  MapState(state::KeyedStateBackend* backend, state::TableId table, const state::KeyContext* key, StateTtl ttl)
      : StateHandleBase(backend, table, key), ttl_(ttl) {}

  std::optional<UV> Get(const UK& k) {
    absl::Status s = backend_->Get(table_, UserKey(k), &value_buf_);
    if (absl::IsNotFound(s)) return std::nullopt;
    state::ThrowIfError(s);
    std::string_view in(value_buf_);
    if (ttl_.enabled() && !state::Unexpired(state::TtlNow(ttl_, *backend_, *key_), &in)) {
      Remove(k);
      return std::nullopt;
    }
    UV v{};
    if (!ParseFromString(in, &v)) throw StateError(absl::DataLossError("corrupt map value in state"));
    return v;
  }
  bool Contains(const UK& k) { return Get(k).has_value(); }
  void Put(const UK& k, const UV& v) {
    value_buf_.clear();
    if (ttl_.enabled()) state::WriteExpiry(state::TtlExpiry(ttl_, *backend_, *key_), &value_buf_);
    Serializer<UV>::Write(v, &value_buf_);
    state::ThrowIfError(backend_->Put(table_, UserKey(k), value_buf_));
  }
  void Remove(const UK& k) { state::ThrowIfError(backend_->Delete(table_, UserKey(k))); }

  // Calls fn(const UK&, UV&&) for each entry in key-byte order. Do not modify the map
  // from inside fn; collect keys and modify afterwards.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    std::string prefix(BuildKey());
    const int64_t now = ttl_.enabled() ? state::TtlNow(ttl_, *backend_, *key_) : 0;
    auto it = backend_->Scan(table_, prefix);
    for (; it->Valid(); it->Next()) {
      std::string_view uk = it->key().substr(prefix.size());
      std::string_view value = it->value();
      if (ttl_.enabled() && !state::Unexpired(now, &value)) continue;
      UK k{};
      UV v{};
      if (!ParseFromString(uk, &k) || !ParseFromString(value, &v)) {
        throw StateError(absl::DataLossError("corrupt map entry in state"));
      }
      fn(k, std::move(v));
    }
    state::ThrowIfError(it->status());
  }
  std::vector<std::pair<UK, UV>> Entries() {
    std::vector<std::pair<UK, UV>> out;
    ForEach([&](const UK& k, UV&& v) { out.emplace_back(k, std::move(v)); });
    return out;
  }
  bool IsEmpty() {
    if (ttl_.enabled()) {
      bool any = false;
      ForEach([&](const UK&, UV&&) { any = true; });
      return !any;
    }
    auto it = backend_->Scan(table_, BuildKey());
    bool empty = !it->Valid();
    state::ThrowIfError(it->status());
    return empty;
  }
  void Clear() {
    std::vector<std::string> keys;
    {
      auto it = backend_->Scan(table_, BuildKey());
      for (; it->Valid(); it->Next()) keys.emplace_back(it->key());
      state::ThrowIfError(it->status());
    }
    for (const std::string& k : keys) state::ThrowIfError(backend_->Delete(table_, k));
  }

 private:
  std::string_view UserKey(const UK& k) {
    key_buf_.clear();
    Serializer<UK>::Write(k, &key_buf_);
    return BuildKey(key_buf_);
  }
  std::string key_buf_;
  StateTtl ttl_;
};

}  // namespace kappa

#endif  // KAPPA_STATE_KEYED_STATE_H_
