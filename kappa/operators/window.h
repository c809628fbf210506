// Event-time windows on keyed streams: tumbling, sliding, session and global count
// windows, with incremental aggregation, reduce, or full-contents processing.
//
// Semantics (DESIGN §3, Flink's rules with deterministic lateness):
// - Tumbling(size): [k·size, (k+1)·size). Sliding(size, slide): every [s, s+size) with
//   s ≡ 0 mod slide containing t. Session(gap): records of one key less than `gap` apart
//   merge into [first, last + gap). CountWindow(n): every n records of a key, fired and
//   purged (nothing fires at end of input for an incomplete count).
// - A time window fires when the watermark reaches end − 1; its result has timestamp
//   end − 1. With allowed lateness L the window's state is kept until end − 1 + L and a
//   record arriving in that span fires the window again (an update of the result).
// - Record r is dropped from window w iff w.end − 1 + L ≤ max(pwm(r), W_task). Without
//   idle inputs W_task ≤ pwm(r) always holds, so the decision depends only on r's own
//   partition and a replay drops exactly the same records. For sessions, r is dropped iff
//   t + L ≤ max(pwm(r), W_task) (as if its window were [t, t + 1)): any session r would
//   join ends after t and is not purged before the watermark reaches t + L, so a kept
//   record never finds its session already gone. (Judging r by [t, t + gap)
//   kept such records; whether they then merged or opened a new session depended on how
//   partitions interleaved.)
// - A record dropped from every window it belongs to goes to the operator's "late" side
//   output if the job consumes it, else to the job's errors output as kind "late".
//
// Window contents live in the keyed state backend, namespaced by window; timers are kept
// in memory and written to the backend on every barrier (timer_service.h). Called on the
// task's thread only.
#ifndef KAPPA_OPERATORS_WINDOW_H_
#define KAPPA_OPERATORS_WINDOW_H_

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "kappa/runtime/exchange.h"
#include "kappa/base/json_fwd.h"
#include "kappa/runtime/operator.h"
#include "kappa/operators/keyed.h"
#include "kappa/operators/timer_service.h"
#include "kappa/runtime/trace.h"

namespace kappa {

struct TimeWindow {
  Timestamp start = 0;
  Timestamp end = 0;
  Timestamp max_timestamp() const { return end - 1; }
  bool operator==(const TimeWindow&) const = default;
  bool operator<(const TimeWindow& o) const { return start < o.start || (start == o.start && end < o.end); }
};

}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::TimeWindow, &kappa::TimeWindow::start, &kappa::TimeWindow::end);

// Windows and window results encode as JSON: {"key":…,"window":{"start":…,"end":…},"value":…}.
template <>
struct kappa::JsonFields<kappa::TimeWindow> {
  static auto Get() {
    return std::make_tuple(json::MakeField("start", &TimeWindow::start), json::MakeField("end", &TimeWindow::end));
  }
};

namespace kappa {

// The result of an Aggregate without a window function: key, window and value.
template <typename K, typename V>
struct Windowed {
  K key;
  TimeWindow window;
  V value;
};

}  // namespace kappa

template <typename K, typename V>
struct kappa::JsonFields<kappa::Windowed<K, V>> {
  static auto Get() {
    return std::make_tuple(json::MakeField("key", &Windowed<K, V>::key),
                           json::MakeField("window", &Windowed<K, V>::window),
                           json::MakeField("value", &Windowed<K, V>::value));
  }
};
template <typename K, typename V>
struct kappa::Serializer<kappa::Windowed<K, V>>
    : kappa::FieldSerializer<kappa::Windowed<K, V>, &kappa::Windowed<K, V>::key, &kappa::Windowed<K, V>::window,
                             &kappa::Windowed<K, V>::value> {};

namespace kappa {

class WindowAssigner {
 public:
  enum class Kind { kTumbling, kSliding, kSession, kGlobalCount };

  static WindowAssigner Tumbling(absl::Duration size, absl::Duration offset = absl::ZeroDuration()) {
    return WindowAssigner(Kind::kTumbling, absl::ToInt64Milliseconds(size), absl::ToInt64Milliseconds(size),
                          absl::ToInt64Milliseconds(offset));
  }
  static WindowAssigner Sliding(absl::Duration size, absl::Duration slide) {
    return WindowAssigner(Kind::kSliding, absl::ToInt64Milliseconds(size), absl::ToInt64Milliseconds(slide), 0);
  }
  static WindowAssigner Session(absl::Duration gap) {
    return WindowAssigner(Kind::kSession, absl::ToInt64Milliseconds(gap), 0, 0);
  }
  static WindowAssigner CountWindow(int64_t count) { return WindowAssigner(Kind::kGlobalCount, count, 0, 0); }

  Kind kind() const { return kind_; }
  bool is_session() const { return kind_ == Kind::kSession; }
  bool is_count() const { return kind_ == Kind::kGlobalCount; }
  Timestamp size() const { return size_; }
  Timestamp slide() const { return slide_; }
  Timestamp gap() const { return size_; }
  int64_t count() const { return size_; }

  // Empty when the parameters make no sense (checked when the job is built).
  std::string Validate() const {
    if (size_ <= 0) return "window size, gap and count must be positive";
    if (kind_ == Kind::kSliding && (slide_ <= 0 || slide_ > size_)) return "slide must be in (0, size]";
    return "";
  }

  // Calls f(TimeWindow) for every window containing ts (time windows only).
  template <typename F>
  void ForEachWindow(Timestamp ts, F&& f) const {
    switch (kind_) {
      case Kind::kTumbling:
      case Kind::kSliding: {
        Timestamp last_start = ts - Mod(ts - offset_, slide_);
        for (Timestamp s = last_start; s > ts - size_; s -= slide_) f(TimeWindow{s, s + size_});
        break;
      }
      case Kind::kSession:
        f(TimeWindow{ts, ts + size_});
        break;
      case Kind::kGlobalCount:
        f(TimeWindow{kMinTimestamp, kMaxTimestamp});
        break;
    }
  }

 private:
  WindowAssigner(Kind kind, Timestamp size, Timestamp slide, Timestamp offset)
      : kind_(kind), size_(size), slide_(slide), offset_(offset) {}
  static Timestamp Mod(Timestamp a, Timestamp m) { return ((a % m) + m) % m; }

  Kind kind_;
  Timestamp size_;
  Timestamp slide_;
  Timestamp offset_;
};

inline WindowAssigner Tumbling(absl::Duration size) { return WindowAssigner::Tumbling(size); }
inline WindowAssigner Sliding(absl::Duration size, absl::Duration slide) {
  return WindowAssigner::Sliding(size, slide);
}
inline WindowAssigner Session(absl::Duration gap) { return WindowAssigner::Session(gap); }
inline WindowAssigner CountWindow(int64_t n) { return WindowAssigner::CountWindow(n); }

// Built-in aggregate: number of records.
struct Count {
  int64_t Create() const { return 0; }
  template <typename T>
  void Add(int64_t& acc, const T&) const {
    ++acc;
  }
  int64_t Result(const int64_t& acc) const { return acc; }
  void Merge(int64_t& acc, const int64_t& other) const { acc += other; }
};

namespace operators {

// Window contents policies: what a window keeps and how it produces output.
// Each has: Init(RuntimeContext&), SetNamespace(ns), bool Add(const In&) (true when the
// window may be new), MergeFrom(ns_from) (into the current namespace), Emit(key, window,
// collector), Clear().

// Incremental aggregation: the accumulator is the state.
template <typename K, typename In, typename Agg, typename ResultFn, typename Out>
class AggregateContents {
 public:
  using Acc = std::remove_cvref_t<decltype(std::declval<Agg&>().Create())>;
  AggregateContents(Agg agg, ResultFn fn) : agg_(std::move(agg)), fn_(std::move(fn)) {}

  // On a disk backend the accumulators sit in a write-back cache (CachedValueState),
  // flushed on every barrier: a record then costs no (de)serialization and no backend
  // access while its window is hot. On the heap backend the cache would only add a layer.
  void Init(RuntimeContext& ctx) {
    cached_ = ctx.backend_is_on_disk();
    if (cached_) {
      cache_ = ctx.GetCachedValueState<Acc>("window-contents");
    } else {
      acc_ = ctx.GetValueState<Acc>("window-contents");
    }
  }
  void SetNamespace(std::string_view ns) {
    if (cached_) {
      cache_.SetNamespace(ns);
    } else {
      acc_.SetNamespace(ns);
    }
  }
  bool Add(const In& v) {
    if (cached_) {
      Acc* acc = cache_.Find();
      bool fresh = acc == nullptr;
      if (fresh) acc = &cache_.Put(agg_.Create());
      agg_.Add(*acc, v);
      cache_.MarkDirty();
      return fresh;
    }
    std::optional<Acc> acc = acc_.Value();
    bool fresh = !acc.has_value();
    if (fresh) acc.emplace(agg_.Create());
    agg_.Add(*acc, v);
    acc_.Update(*acc);
    return fresh;
  }
  void MergeFrom(std::string_view from_ns, std::string_view into_ns) {
    SetNamespace(from_ns);
    std::optional<Acc> from = Read();
    if (!from) return;
    Clear();
    SetNamespace(into_ns);
    std::optional<Acc> into = Read();
    if (!into) {
      Write(std::move(*from));
      return;
    }
    if constexpr (requires(Agg& g, Acc& a, const Acc& b) { g.Merge(a, b); }) {
      agg_.Merge(*into, *from);
      Write(std::move(*into));
    }
  }
  void Emit(const K& key, const TimeWindow& w, Collector<Out>& out) {
    if (cached_) {
      Acc* acc = cache_.Find();
      if (acc != nullptr) fn_(key, w, agg_.Result(*acc), out);
      return;
    }
    std::optional<Acc> acc = acc_.Value();
    if (!acc) return;
    fn_(key, w, agg_.Result(*acc), out);
  }
  void Clear() {
    if (cached_) {
      cache_.Clear();
    } else {
      acc_.Clear();
    }
  }
  void Flush() {
    if (cached_) cache_.Flush();
  }

 private:
  std::optional<Acc> Read() {
    if (!cached_) return acc_.Value();
    Acc* acc = cache_.Find();
    return acc ? std::optional<Acc>(*acc) : std::nullopt;
  }
  void Write(Acc acc) {
    if (cached_) {
      cache_.Put(std::move(acc));
    } else {
      acc_.Update(acc);
    }
  }

  Agg agg_;
  ResultFn fn_;
  bool cached_ = false;
  ValueState<Acc> acc_;
  CachedValueState<Acc> cache_;
};

// Reduce: the running reduction is the state; the result is the reduced value.
template <typename K, typename In, typename Fn>
class ReduceContents {
 public:
  explicit ReduceContents(Fn fn) : fn_(std::move(fn)) {}
  void Init(RuntimeContext& ctx) { value_ = ctx.GetValueState<In>("window-contents"); }
  void SetNamespace(std::string_view ns) { value_.SetNamespace(ns); }
  bool Add(const In& v) {
    std::optional<In> cur = value_.Value();
    if (!cur) {
      value_.Update(v);
      return true;
    }
    value_.Update(fn_(*cur, v));
    return false;
  }
  void MergeFrom(std::string_view from_ns, std::string_view into_ns) {
    value_.SetNamespace(from_ns);
    std::optional<In> from = value_.Value();
    if (!from) return;
    value_.Clear();
    value_.SetNamespace(into_ns);
    std::optional<In> into = value_.Value();
    value_.Update(into ? fn_(*into, *from) : *from);
  }
  void Emit(const K&, const TimeWindow&, Collector<In>& out) {
    std::optional<In> v = value_.Value();
    if (v) out.Collect(std::move(*v));
  }
  void Clear() { value_.Clear(); }
  void Flush() {}

 private:
  Fn fn_;
  ValueState<In> value_;
};

// Full contents: every record is kept; fn(key, window, elements, out) sees them all.
template <typename K, typename In, typename Fn, typename Out>
class ProcessContents {
 public:
  explicit ProcessContents(Fn fn) : fn_(std::move(fn)) {}
  void Init(RuntimeContext& ctx) { list_ = ctx.GetListState<In>("window-contents"); }
  void SetNamespace(std::string_view ns) { list_.SetNamespace(ns); }
  bool Add(const In& v) {
    list_.Add(v);
    return true;
  }
  void MergeFrom(std::string_view from_ns, std::string_view into_ns) {
    list_.SetNamespace(from_ns);
    std::vector<In> from = list_.Get();
    list_.Clear();
    list_.SetNamespace(into_ns);
    for (const In& v : from) list_.Add(v);
  }
  void Emit(const K& key, const TimeWindow& w, Collector<Out>& out) {
    std::vector<In> elements = list_.Get();
    if (elements.empty()) return;
    fn_(key, w, elements, out);
  }
  void Clear() { list_.Clear(); }
  void Flush() {}

 private:
  Fn fn_;
  ListState<In> list_;
};

template <typename K, typename In, typename Out, typename Contents>
class WindowOperator final : public runtime::OneInputOperator<In>,
                             public runtime::WithOutput<Out>,
                             public runtime::TracedInput<In> {
 public:
  WindowOperator(std::function<K(const In&)> key_fn, WindowAssigner assigner, Timestamp allowed_lateness,
                 Contents contents, std::string uid)
      : key_fn_(std::move(key_fn)),
        assigner_(assigner),
        lateness_(allowed_lateness),
        contents_(std::move(contents)),
        uid_(std::move(uid)) {}

  void ConnectOutput(int port, runtime::OutputPtr out) override {
    if (port == 0) {
      this->SetMainOutput(out);
    } else {
      late_ = out.As<In>();
    }
  }

  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = runtime::Discard<Out>::Instance();
    runtime_ctx_.emplace(ctx, &key_.context(), uid_);
    KAPPA_RETURN_IF_ERROR(CatchStateError([&] {
      contents_.Init(*runtime_ctx_);
      if (assigner_.is_session()) sessions_ = runtime_ctx_->GetValueState<std::vector<TimeWindow>>("sessions");
      if (assigner_.is_count()) count_ = runtime_ctx_->GetValueState<int64_t>("count");
    }));
    return timers_.Init(ctx->backend(), uid_);
  }

  void Emit(Record<In>&& r) override {
    this->CountIn();
    K key;
    if (!runtime::RunGuarded(this->ctx_, r.ts, [&] { key = key_fn_(r.value); },
                             [&] { return DescribeRecord(r.value); })) {
      return;
    }
    key_.SetFromKey(key, this->ctx_->max_parallelism());
    // Aggregate, reduce and merge functions are user code too: an exception skips the
    // record (for the windows it had not reached yet) and is reported.
    bool any = false;
    bool ok = runtime::RunGuarded(
        this->ctx_, r.ts,
        [&] {
          if (assigner_.is_count()) {
            any = true;
            AddToCount(key, r);
            return;
          }
          const Timestamp judge = std::max(r.pwm, this->ctx_->current_watermark());
          if (assigner_.is_session()) {
            TimeWindow own{r.ts, r.ts + assigner_.gap()};
            if (!IsLate(TimeWindow{r.ts, r.ts + 1}, judge)) {
              any = true;
              AddToSession(key, own, r);
            }
          } else {
            assigner_.ForEachWindow(r.ts, [&](const TimeWindow& w) {
              if (IsLate(w, judge)) return;
              any = true;
              AddToWindow(key, w, r);
            });
          }
        },
        [&] { return DescribeRecord(r.value); });
    if (ok && !any) Late(std::move(r));
  }

  // Tracing: the windows a marked record is about to enter remember its trace, and fire
  // their results inside it.
  void OnTracedRecord(const Record<In>& r, runtime::TaskTrace* t) override {
    trace_ = t;
    K key;
    try {
      key = key_fn_(r.value);
    } catch (...) {
      return;  // Emit reports it
    }
    if (assigner_.is_count()) return;  // a count window fires inside the record's own call
    std::string key_bytes;
    Serializer<K>::Write(key, &key_bytes);
    const std::string key_text = runtime::DescribeTraced(key);
    const Timestamp judge = std::max(r.pwm, this->ctx_->current_watermark());
    bool any = false;
    auto touch = [&](const TimeWindow& w, std::string entry) {
      any = true;
      traced_[std::move(entry)] = t->current;
      t->tracer->Write(runtime::TraceEvent{.kind = "window", .op = this->ctx_->operator_name(), .uid = uid_,
                                           .instance = t->instance, .trace = t->current, .record = key_text,
                                           .has_ts = true, .ts = r.ts, .has_window = true, .window_start = w.start,
                                           .window_end = w.end, .has_timer = true, .timer = w.max_timestamp()});
    };
    if (assigner_.is_session()) {
      // Sessions merge: the key's next fired session carries the trace.
      if (!IsLate(TimeWindow{r.ts, r.ts + 1}, judge)) touch(TimeWindow{r.ts, r.ts + assigner_.gap()}, key_bytes);
    } else {
      assigner_.ForEachWindow(r.ts, [&](const TimeWindow& w) {
        if (!IsLate(w, judge)) touch(w, key_bytes + NsOf(w));
      });
    }
    if (!any) t->Write("late", this->ctx_->operator_name(), uid_, runtime::DescribeTraced(r.value), &r.ts);
  }

  bool AdvanceWatermark(Timestamp wm) override {
    return timers_.FireEventTimers(
        wm, [&](const FiredTimer& t) { OnTimer(t); }, [&] { return this->ctx_->ShouldYield(); });
  }

  // The barrier: cached window contents and timers go to the backend before it is
  // snapshotted.
  absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot*) override {
    return CatchStateError([&] {
      contents_.Flush();
      timers_.Flush();
    });
  }

 private:
  static Timestamp SatAdd(Timestamp a, Timestamp b) {
    return (b > 0 && a > kMaxTimestamp - b) ? kMaxTimestamp : a + b;
  }
  bool IsLate(const TimeWindow& w, Timestamp judge) const { return SatAdd(w.max_timestamp(), lateness_) <= judge; }

  std::string_view Ns(const TimeWindow& w) {
    ns_.clear();
    Serializer<Timestamp>::Write(w.start, &ns_);
    Serializer<Timestamp>::Write(w.end, &ns_);
    return ns_;
  }
  static TimeWindow ParseNs(std::string_view ns) {
    TimeWindow w;
    Serializer<Timestamp>::Read(&ns, &w.start);
    Serializer<Timestamp>::Read(&ns, &w.end);
    return w;
  }

  void RegisterTimers(const TimeWindow& w, std::string_view ns) {
    timers_.RegisterEventTimer(key_.context(), ns, w.max_timestamp());
    if (lateness_ > 0) timers_.RegisterEventTimer(key_.context(), ns, SatAdd(w.max_timestamp(), lateness_));
  }
  void DeleteTimers(const TimeWindow& w, std::string_view ns) {
    timers_.DeleteEventTimer(key_.context(), ns, w.max_timestamp());
    if (lateness_ > 0) timers_.DeleteEventTimer(key_.context(), ns, SatAdd(w.max_timestamp(), lateness_));
  }

  void AddToWindow(const K& key, const TimeWindow& w, const Record<In>& r) {
    std::string_view ns = Ns(w);
    contents_.SetNamespace(ns);
    if (contents_.Add(r.value)) RegisterTimers(w, ns);
    // Within allowed lateness, after the window fired: fire again with the update.
    if (w.max_timestamp() <= this->ctx_->current_watermark()) Fire(key, w);
  }

  void AddToSession(const K& key, TimeWindow w, const Record<In>& r) {
    std::vector<TimeWindow> sessions = sessions_.ValueOr({});
    TimeWindow merged = w;
    std::vector<TimeWindow> keep, absorbed;
    for (const TimeWindow& s : sessions) {
      if (s.start < w.end && w.start < s.end) {
        absorbed.push_back(s);
        merged.start = std::min(merged.start, s.start);
        merged.end = std::max(merged.end, s.end);
      } else {
        keep.push_back(s);
      }
    }
    std::string merged_ns(Ns(merged));
    for (const TimeWindow& s : absorbed) {
      if (s == merged) continue;
      std::string from(Ns(s));
      DeleteTimers(s, from);
      contents_.MergeFrom(from, merged_ns);
    }
    contents_.SetNamespace(merged_ns);
    contents_.Add(r.value);
    bool existed = std::find(absorbed.begin(), absorbed.end(), merged) != absorbed.end();
    if (!existed) RegisterTimers(merged, merged_ns);
    keep.push_back(merged);
    std::sort(keep.begin(), keep.end());
    sessions_.Update(keep);
    if (merged.max_timestamp() <= this->ctx_->current_watermark()) Fire(key, merged);
  }

  void AddToCount(const K& key, const Record<In>& r) {
    TimeWindow global{kMinTimestamp, kMaxTimestamp};
    std::string_view ns = Ns(global);
    contents_.SetNamespace(ns);
    count_.SetNamespace(ns);
    contents_.Add(r.value);
    int64_t n = count_.ValueOr(0) + 1;
    if (n >= assigner_.count()) {
      collector_.Reset(this->out_, r.ts, kMinTimestamp);
      runtime::RunGuarded(this->ctx_, r.ts, [&] { contents_.Emit(key, global, collector_); },
                          [&] { return std::string("count window"); });
      contents_.Clear();
      count_.Clear();
    } else {
      count_.Update(n);
    }
  }

  static std::string NsOf(const TimeWindow& w) {
    std::string ns;
    Serializer<Timestamp>::Write(w.start, &ns);
    Serializer<Timestamp>::Write(w.end, &ns);
    return ns;
  }

  void Fire(const K& key, const TimeWindow& w) {
    if (!traced_.empty()) [[unlikely]] {
      if (FireTraced(key, w)) return;
    }
    FireUntraced(key, w);
  }

  // A window a marked record entered fires inside that record's trace.
  bool FireTraced(const K& key, const TimeWindow& w) {
    std::string entry(key_.context().key_bytes());
    auto it = traced_.find(entry + NsOf(w));
    if (it == traced_.end()) it = traced_.find(entry);
    if (it == traced_.end()) return false;
    runtime::TaskTrace* t = trace_;
    const int32_t previous = t->current;
    t->current = it->second;
    if (lateness_ == 0) traced_.erase(it);
    t->tracer->Write(runtime::TraceEvent{.kind = "fire", .op = this->ctx_->operator_name(), .uid = uid_,
                                         .instance = t->instance, .trace = t->current,
                                         .record = runtime::DescribeTraced(key), .has_window = true,
                                         .window_start = w.start, .window_end = w.end, .has_timer = true,
                                         .timer = w.max_timestamp()});
    FireUntraced(key, w);
    t->current = previous;
    return true;
  }

  void FireUntraced(const K& key, const TimeWindow& w) {
    collector_.Reset(this->out_, w.max_timestamp(), kMinTimestamp);
    runtime::RunGuarded(this->ctx_, w.max_timestamp(), [&] { contents_.Emit(key, w, collector_); },
                        [&] { return std::string("window [") + std::to_string(w.start) + ", " +
                                     std::to_string(w.end) + ")"; });
  }

  void Purge(const TimeWindow& w) {
    contents_.Clear();
    if (assigner_.is_session()) {
      std::vector<TimeWindow> sessions = sessions_.ValueOr({});
      sessions.erase(std::remove(sessions.begin(), sessions.end(), w), sessions.end());
      if (sessions.empty()) {
        sessions_.Clear();
      } else {
        sessions_.Update(sessions);
      }
    }
  }

  void OnTimer(const FiredTimer& t) {
    key_.SetFromBytes(t.key_bytes, t.key_group);
    std::string ns(t.ns);
    TimeWindow w = ParseNs(ns);
    contents_.SetNamespace(ns);
    K key = key_.DecodeKey();
    if (t.time == w.max_timestamp()) {
      Fire(key, w);
      contents_.SetNamespace(ns);
      if (lateness_ == 0) Purge(w);
    } else {
      Purge(w);
    }
  }

  void Late(Record<In>&& r) {
    if (late_ != nullptr) {
      this->ctx_->CountLateToSideOutput();
      late_->Emit(std::move(r));
      return;
    }
    ErrorEvent e{.kind = "late", .operator_name = this->ctx_->operator_name(), .has_ts = true, .ts = r.ts,
                 .record = DescribeRecord(r.value)};
    this->ctx_->errors()->Report(e);
  }

  std::function<K(const In&)> key_fn_;
  WindowAssigner assigner_;
  Timestamp lateness_;
  Contents contents_;
  std::string uid_;
  KeyScope<K> key_;
  std::optional<RuntimeContext> runtime_ctx_;
  TimerService timers_;
  ValueState<std::vector<TimeWindow>> sessions_;
  ValueState<int64_t> count_;
  Output<In>* late_ = nullptr;
  Collector<Out> collector_;
  std::string ns_;
  // Tracing only: the trace that last entered each (key bytes + window namespace), or each
  // key's sessions (key bytes).
  runtime::TaskTrace* trace_ = nullptr;
  std::unordered_map<std::string, int32_t> traced_;
};

}  // namespace operators
}  // namespace kappa

#endif  // KAPPA_OPERATORS_WINDOW_H_
