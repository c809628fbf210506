// Plumbing shared by keyed operators (windows, process functions, joins): the key of the
// current record, its key group, state tables and timers in the task's backend.
#ifndef KAPPA_OPERATORS_KEYED_H_
#define KAPPA_OPERATORS_KEYED_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "kappa/runtime/operator.h"
#include "kappa/operators/timer_service.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/keyed_state.h"

namespace kappa {

// Gives user functions their keyed state. State names are part of the job's contract with
// its checkpoints and savepoints: keep them stable across versions.
class RuntimeContext {
 public:
  RuntimeContext(runtime::OperatorContext* ctx, const state::KeyContext* key, std::string prefix)
      : ctx_(ctx), key_(key), prefix_(std::move(prefix)) {}

  template <typename V>
  ValueState<V> GetValueState(const std::string& name) {
    return ValueState<V>(ctx_->backend(), Table(name, state::TableKind::kPoint), key_);
  }
  // A value that expires `ttl` after it was last written, in event time
  // (Ttl::EventTime(absl::Minutes(5)): replayable, reclaimed in the background) or in
  // processing time (Ttl::ProcessingTime(...), or a plain absl::Duration: Flink's
  // behaviour, removed when read, not replayable). See StateTtl in keyed_state.h.
  template <typename V>
  ValueState<V> GetValueState(const std::string& name, StateTtl ttl) {
    state::TableId table = Table(name, state::TableKind::kPoint);
    return ValueState<V>(ctx_->backend(), table, key_, Prepare(table, ttl, state::TtlLayout::kValue));
  }
  template <typename V>
  ValueState<V> GetValueState(const std::string& name, absl::Duration ttl) {
    return GetValueState<V>(name, StateTtl::ProcessingTime(ttl));
  }
  template <typename V>
  CachedValueState<V> GetCachedValueState(const std::string& name) {
    state::TableId table = Table(name, state::TableKind::kPoint);
    ctx_->backend()->BypassCache(table);  // the handle caches the values itself
    return CachedValueState<V>(ctx_->backend(), table, key_);
  }
  // Whether a write-back cache pays off: a disk backend, not the heap.
  bool backend_is_on_disk() const { return ctx_->backend()->name() != "heap"; }
  // A list whose elements expire `ttl` after they were added.
  template <typename V>
  ListState<V> GetListState(const std::string& name, StateTtl ttl) {
    state::TableId table = Table(name, state::TableKind::kPoint);
    return ListState<V>(ctx_->backend(), table, key_, Prepare(table, ttl, state::TtlLayout::kListElements));
  }
  template <typename V>
  ListState<V> GetListState(const std::string& name, absl::Duration ttl) {
    return GetListState<V>(name, StateTtl::ProcessingTime(ttl));
  }
  // A map whose entries expire `ttl` after they were last put.
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name, StateTtl ttl) {
    state::TableId table = Table(name, state::TableKind::kOrdered);
    return MapState<UK, UV>(ctx_->backend(), table, key_, Prepare(table, ttl, state::TtlLayout::kValue));
  }
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name, absl::Duration ttl) {
    return GetMapState<UK, UV>(name, StateTtl::ProcessingTime(ttl));
  }
  template <typename V, typename Fn>
  ReducingState<V, Fn> GetReducingState(const std::string& name, Fn fn) {
    return ReducingState<V, Fn>(GetValueState<V>(name), std::move(fn));
  }
  template <typename In, typename Agg>
  AggregatingState<In, Agg> GetAggregatingState(const std::string& name, Agg agg) {
    using Acc = typename AggregatingState<In, Agg>::Acc;
    return AggregatingState<In, Agg>(GetValueState<Acc>(name), std::move(agg));
  }
  // Reducing and aggregating state whose value expires `ttl` after its last Add.
  template <typename V, typename Fn>
  ReducingState<V, Fn> GetReducingState(const std::string& name, Fn fn, StateTtl ttl) {
    return ReducingState<V, Fn>(GetValueState<V>(name, ttl), std::move(fn));
  }
  template <typename V, typename Fn>
  ReducingState<V, Fn> GetReducingState(const std::string& name, Fn fn, absl::Duration ttl) {
    return ReducingState<V, Fn>(GetValueState<V>(name, ttl), std::move(fn));
  }
  template <typename In, typename Agg>
  AggregatingState<In, Agg> GetAggregatingState(const std::string& name, Agg agg, StateTtl ttl) {
    using Acc = typename AggregatingState<In, Agg>::Acc;
    return AggregatingState<In, Agg>(GetValueState<Acc>(name, ttl), std::move(agg));
  }
  template <typename In, typename Agg>
  AggregatingState<In, Agg> GetAggregatingState(const std::string& name, Agg agg, absl::Duration ttl) {
    using Acc = typename AggregatingState<In, Agg>::Acc;
    return AggregatingState<In, Agg>(GetValueState<Acc>(name, ttl), std::move(agg));
  }
  template <typename V>
  ListState<V> GetListState(const std::string& name) {
    return ListState<V>(ctx_->backend(), Table(name, state::TableKind::kPoint), key_);
  }
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name) {
    return MapState<UK, UV>(ctx_->backend(), Table(name, state::TableKind::kOrdered), key_);
  }
  int subtask() const { return ctx_->subtask(); }
  int parallelism() const { return ctx_->parallelism(); }
  const std::string& operator_name() const { return ctx_->operator_name(); }

 private:
  state::TableId Table(const std::string& name, state::TableKind kind) {
    auto t = ctx_->backend()->RegisterTable(prefix_ + "/" + name, kind);
    if (!t.ok()) throw StateError(t.status());
    return *t;
  }
  // Processing time reads the task's clock; event-time tables are declared to the backend,
  // which then reclaims their expired entries in the background.
  StateTtl Prepare(state::TableId table, StateTtl ttl, state::TtlLayout layout) {
    if (!ttl.event_time()) {
      ttl.clock = ctx_->clock();
    } else if (ttl.enabled()) {
      ctx_->backend()->SetTtl(table, layout);
    }
    return ttl;
  }
  runtime::OperatorContext* ctx_;
  const state::KeyContext* key_;
  std::string prefix_;
};

namespace operators {

// Sets the current key from a record and restores typed keys from timers.
template <typename K>
class KeyScope {
 public:
  void SetFromKey(const K& key, int max_parallelism) {
    buf_.clear();
    Serializer<K>::Write(key, &buf_);
    ctx_.Set(buf_, state::KeyGroupFor(buf_, max_parallelism));
  }
  void SetFromBytes(std::string_view bytes, int key_group) { ctx_.Set(bytes, key_group); }
  // What event-time TTL counts from and judges by (KeyContext::SetEventTime).
  void SetEventTime(Timestamp event_time, Timestamp read_watermark) { ctx_.SetEventTime(event_time, read_watermark); }
  K DecodeKey() const {
    K k{};
    if (!ParseFromString(ctx_.key_bytes(), &k)) throw StateError(absl::DataLossError("corrupt key in timer"));
    return k;
  }
  const state::KeyContext& context() const { return ctx_; }

 private:
  state::KeyContext ctx_;
  std::string buf_;
};

// Stable hash of a key, as the hash exchange uses it: records and state agree on key groups.
template <typename K>
uint64_t HashKey(const K& key) {
  thread_local std::string buf;
  buf.clear();
  Serializer<K>::Write(key, &buf);
  return state::StableHash(buf);
}

}  // namespace operators
}  // namespace kappa

#endif  // KAPPA_OPERATORS_KEYED_H_
