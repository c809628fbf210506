// Engine micro-benchmarks: what the runtime costs on top of the work a query does.
//
// Each engine benchmark runs a real job (typed API → executor → tasks on the worker
// pool) over a bounded in-memory generator, and sits beside a hand-written loop doing the
// same query in the same binary (DESIGN §8): the ratio of the two items/s figures, not
// either number alone, carries the claim.
//
//   BM_FusedChain          source → Map → Filter → Map → sink, one fused task
//   BM_KeyedExchange       source → KeyBy → pass-through KeyedProcessFunction → sink,
//                          across a hash exchange, parallelism 1 and 2
//   BM_TumblingCount       source → KeyBy → Tumbling(1 s) → Count → sink
//
// Every iteration builds and executes a fresh job (construction takes microseconds, the
// records dominate). Work happens on worker threads, hence UseRealTime. Both sides sum
// what reaches the sink, and an engine run whose count or checksum differs from the
// reference loop is reported as an error rather than timed.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "kappa/api/job.h"
#include "kappa/operators/keyed.h"
#include "kappa/state/key_groups.h"
#include "kappa/testing/range_source.h"

namespace kappa::bench {
namespace {

constexpr int kMaxParallelism = 128;  // ExecutionOptions' default, used by the baselines.

using testing::RangeSource;

// What a sink adds to its checksum for one record.
int64_t Checksum(int64_t v) { return v; }
template <typename K, typename V>
int64_t Checksum(const Windowed<K, V>& w) {
  return w.value;
}

// A sink that only counts records and sums their checksums: no copies, no locks per
// record. Each writer keeps local totals and publishes them on Flush/Close.
template <typename T>
class CountingSink final : public SinkConnector<T> {
 public:
  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int, int) override {
    return std::unique_ptr<SinkWriter<T>>(new Writer(this));
  }
  std::string description() const override { return "counting:"; }
  int64_t count() const { return count_.load(); }
  int64_t sum() const { return sum_.load(); }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(CountingSink* sink) : sink_(sink) {}
    absl::Status Write(const Record<T>& r) override {
      ++count_;
      sum_ += Checksum(r.value);
      return absl::OkStatus();
    }
    absl::Status Flush() override {
      sink_->count_.fetch_add(count_, std::memory_order_relaxed);
      sink_->sum_.fetch_add(sum_, std::memory_order_relaxed);
      count_ = sum_ = 0;
      return absl::OkStatus();
    }
    absl::Status Close() override { return Flush(); }

   private:
    CountingSink* sink_;
    int64_t count_ = 0;
    int64_t sum_ = 0;
  };

  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_{0};
};

// Event time = the value, in milliseconds; in-order, so the watermark trails by nothing.
WatermarkStrategy<int64_t> ValueAsTime() {
  return WatermarkStrategy<int64_t>::BoundedOutOfOrderness(0).WithTimestamp([](const int64_t& v) { return v; });
}

// Runs `job`, then checks the sink against the reference totals. False (after
// SkipWithError) when the run failed or produced something else.
template <typename T>
bool RunAndCheck(benchmark::State& state, Job& job, const ExecutionOptions& options, const CountingSink<T>& sink,
                 int64_t want_count, int64_t want_sum) {
  absl::StatusOr<ExecutionResult> result = job.Execute(options);
  if (!result.ok()) {
    static std::string message;
    message = std::string(result.status().message());
    state.SkipWithError(message.c_str());
    return false;
  }
  if (sink.count() != want_count || sink.sum() != want_sum) {
    // SkipWithError keeps the pointer, not a copy: the message must outlive the run.
    static std::string message;
    message = absl::StrCat("sink saw ", sink.count(), " records (sum ", sink.sum(), "), expected ", want_count,
                           " (sum ", want_sum, ")");
    state.SkipWithError(message.c_str());
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// 1. Fused stateless chain: x*3, keep evens, +1.

struct FusedTotals {
  int64_t count = 0;
  int64_t sum = 0;
};

FusedTotals FusedReference(int64_t n) {
  FusedTotals t;
  for (int64_t i = 0; i < n; ++i) {
    int64_t x = i * 3;
    if (x % 2 != 0) continue;
    int64_t y = x + 1;
    benchmark::DoNotOptimize(std::as_const(y));  // const: the lvalue form miscompiles here (GCC 12, benchmark 1.7.1)
    ++t.count;
    t.sum += y;
  }
  return t;
}

void BM_FusedChainBaseline(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    FusedTotals t = FusedReference(n);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_FusedChain(benchmark::State& state) {
  const int64_t n = state.range(0);
  const FusedTotals want = FusedReference(n);
  ExecutionOptions options;
  options.parallelism = 1;
  options.workers = 1;
  for (auto _ : state) {
    auto sink = std::make_shared<CountingSink<int64_t>>();
    auto job = Job::Create("fused-chain");
    job->Source<int64_t>("range", std::make_shared<RangeSource>(n), ValueAsTime())
        .Map([](const int64_t& x) { return x * 3; })
        .Filter([](const int64_t& x) { return x % 2 == 0; })
        .Map([](const int64_t& x) { return x + 1; })
        .SinkTo(sink);
    if (!RunAndCheck(state, *job, options, *sink, want.count, want.sum)) break;
  }
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_FusedChainBaseline)->Arg(1 << 20)->Arg(1 << 22)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FusedChain)->Arg(1 << 20)->Arg(1 << 22)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---------------------------------------------------------------------------------------
// 2. Hash exchange into a stateless keyed operator: KeyBy(x % 1024), emit the value.

constexpr int64_t kExchangeKeys = 1024;
constexpr size_t kBatch = runtime::kDefaultBatchSize;

class PassThrough final : public KeyedProcessFunction<int64_t, int64_t, int64_t> {
 public:
  void ProcessElement(const int64_t& v, Context&, Collector<int64_t>& out) override { out.Collect(v); }
};

// Routes every record by the engine's stable key hash into one of `p` buffers, consuming
// a buffer whenever it holds a batch (what the exchange and its consumers do, minus
// threads, channels and operators).
FusedTotals ExchangeReference(int64_t n, int p) {
  FusedTotals t;
  std::vector<std::vector<int64_t>> buffers(p);
  for (auto& b : buffers) b.reserve(kBatch);
  auto consume = [&t](std::vector<int64_t>& b) {
    for (int64_t v : b) {
      benchmark::DoNotOptimize(std::as_const(v));
      ++t.count;
      t.sum += v;
    }
    b.clear();
  };
  for (int64_t i = 0; i < n; ++i) {
    int kg = state::KeyGroupForHash(operators::HashKey<int64_t>(i % kExchangeKeys), kMaxParallelism);
    auto& b = buffers[state::OperatorIndexForKeyGroup(kg, kMaxParallelism, p)];
    b.push_back(i);
    if (b.size() >= kBatch) consume(b);
  }
  for (auto& b : buffers) consume(b);
  return t;
}

void BM_KeyedExchangeBaseline(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int p = static_cast<int>(state.range(1));
  for (auto _ : state) {
    FusedTotals t = ExchangeReference(n, p);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_KeyedExchange(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int p = static_cast<int>(state.range(1));
  ExecutionOptions options;
  options.parallelism = p;
  options.workers = 2;
  options.state_backend = StateBackendKind::kHeap;  // the engine's overhead, not a disk's
  for (auto _ : state) {
    auto sink = std::make_shared<CountingSink<int64_t>>();
    auto job = Job::Create("keyed-exchange");
    job->Source<int64_t>("range", std::make_shared<RangeSource>(n), ValueAsTime())
        .Parallelism(1)  // one partition: a single producer feeding p consumers
        .KeyBy([](const int64_t& x) { return x % kExchangeKeys; })
        .Process(std::make_unique<PassThrough>())
        .SinkTo(sink);
    if (!RunAndCheck(state, *job, options, *sink, n, n * (n - 1) / 2)) break;
  }
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_KeyedExchangeBaseline)
    ->ArgsProduct({{1 << 20}, {1, 2}})
    ->ArgNames({"n", "p"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_KeyedExchange)
    ->ArgsProduct({{1 << 20}, {1, 2}})
    ->ArgNames({"n", "p"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---------------------------------------------------------------------------------------
// 3. Windowed aggregation: KeyBy(x % keys), Tumbling(1 s) on ts = x ms, Count().
//
// With in-order time x and 10000 keys, a 1000 ms window holds 1000 distinct keys once
// each: every record creates a window's state and timer, and every window result is 1 —
// the stateful path at its most expensive per record. With 100 keys each window holds
// 10 records per key, closer to a typical aggregation.

constexpr int64_t kWindowMillis = 1000;

// Counts per (key, window start) and emits a window's counts when event time reaches
// its last millisecond, as the watermark would; emits what is left at the end.
FusedTotals TumblingReference(int64_t n, int64_t keys) {
  FusedTotals t;
  absl::flat_hash_map<std::pair<int64_t, int64_t>, int64_t> counts;
  auto emit_until = [&](int64_t wm) {
    for (auto it = counts.begin(); it != counts.end();) {
      if (it->first.second + kWindowMillis - 1 <= wm) {
        int64_t c = it->second;
        ++t.count;
        t.sum += c;
        counts.erase(it++);
      } else {
        ++it;
      }
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ts = i;
    ++counts[{i % keys, ts - ts % kWindowMillis}];
    if (ts % kWindowMillis == kWindowMillis - 1) emit_until(ts);
  }
  emit_until(kMaxTimestamp);  // the bounded source's final watermark
  return t;
}

void BM_TumblingCountBaseline(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    FusedTotals t = TumblingReference(n, state.range(1));
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_TumblingCount(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int64_t keys = state.range(1);
  const FusedTotals want = TumblingReference(n, keys);
  ExecutionOptions options;
  options.parallelism = 1;
  options.workers = 2;
  options.state_backend = StateBackendKind::kHeap;  // the engine's overhead, not a disk's
  for (auto _ : state) {
    auto sink = std::make_shared<CountingSink<Windowed<int64_t, int64_t>>>();
    auto job = Job::Create("tumbling-count");
    job->Source<int64_t>("range", std::make_shared<RangeSource>(n), ValueAsTime())
        .KeyBy([keys](const int64_t& x) { return x % keys; })
        .Window(Tumbling(absl::Milliseconds(kWindowMillis)))
        .Aggregate(Count())
        .SinkTo(sink);
    if (!RunAndCheck(state, *job, options, *sink, want.count, want.sum)) break;
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// keys = 10000: every (key, window) holds one record — each record creates, fires and
// purges a window (the worst case). keys = 100: a window holds 10 records per key.
BENCHMARK(BM_TumblingCountBaseline)
    ->ArgsProduct({{1 << 20}, {100, 10000}})
    ->ArgNames({"n", "keys"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TumblingCount)
    ->ArgsProduct({{1 << 20}, {100, 10000}})
    ->ArgNames({"n", "keys"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kappa::bench
