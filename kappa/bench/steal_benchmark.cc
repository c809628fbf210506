// One slow instance behind a rebalance: total throughput with round robin (the baseline)
// and with work stealing (Rebalance(Distribution::kStealing)), measured in the same run.
//
// A source of N integers feeds 4 instances of a map through a rebalance; every record
// costs 2 us, except on the map's first instance, where it costs 10x as much: spinning
// (slow computing, a slow core) or sleeping (a slow call). Round robin hands every instance a quarter of the
// batches, so the slow one sets the pace; with stealing the others take its queued
// batches. Items/s is records through the whole job.
//
//   steal_benchmark --benchmark_filter=BM_SlowInstance
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "kappa/api/job.h"
#include "kappa/testing/range_source.h"

namespace kappa::bench {
namespace {

using testing::RangeSource;

// Counts what arrives, to check that every record did.
class CountSink final : public SinkConnector<int64_t> {
 public:
  absl::StatusOr<std::unique_ptr<SinkWriter<int64_t>>> CreateWriter(int, int) override {
    return std::unique_ptr<SinkWriter<int64_t>>(new Writer(&count));
  }
  std::string description() const override { return "count"; }
  std::atomic<int64_t> count{0};

 private:
  class Writer final : public SinkWriter<int64_t> {
   public:
    explicit Writer(std::atomic<int64_t>* count) : count_(count) {}
    absl::Status Write(const Record<int64_t>&) override {
      ++local_;
      return absl::OkStatus();
    }
    absl::Status Flush() override {
      count_->fetch_add(local_);
      local_ = 0;
      return absl::OkStatus();
    }
    absl::Status Close() override { return Flush(); }

   private:
    std::atomic<int64_t>* count_;
    int64_t local_ = 0;
  };
};

void Spin(std::chrono::nanoseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// A slow call rather than slow computing: sleeps `per_record` per record, in steps of 100
// records (sleeping is coarse), without using a core while it waits.
void Wait(int64_t* calls, std::chrono::nanoseconds per_record) {
  if (++*calls % 100 == 0) std::this_thread::sleep_for(per_record * 100);
}

// range(0): records; range(1): 0 round robin, 1 stealing; range(2): 0 the slow instance
// spins (uses its core), 1 it waits (a slow call).
void BM_SlowInstance(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Distribution distribution = state.range(1) == 1 ? Distribution::kStealing : Distribution::kRoundRobin;
  const bool waits = state.range(2) == 1;
  // range(3): 1 every record has event time 0, so the watermark never advances (one epoch
  // between control messages); 0 the event time is the value: a watermark after every poll.
  const bool constant_time = state.range(3) == 1;
  const std::chrono::microseconds per_record(2);
  ExecutionOptions options;
  options.workers = 4;
  for (auto _ : state) {
    auto sink = std::make_shared<CountSink>();
    auto next = std::make_shared<std::atomic<int>>(0);
    auto job = Job::Create("slow-instance");
    job->Source<int64_t>("range", std::make_shared<RangeSource>(n),
                         WatermarkStrategy<int64_t>::BoundedOutOfOrderness(0).WithTimestamp(
                             [constant_time](const int64_t& v) { return constant_time ? int64_t{0} : v; }))
        .Rebalance(distribution, 4)
        .Map([next, per_record, waits, id = -1, calls = int64_t{0}](const int64_t& v) mutable -> int64_t {
          if (id < 0) id = next->fetch_add(1);
          const std::chrono::nanoseconds d = id == 0 ? per_record * 10 : per_record;
          if (waits) {
            Wait(&calls, d);
          } else {
            Spin(d);
          }
          return v;
        })
        .Parallelism(4)
        .SinkTo(sink);
    auto result = job->Execute(options);
    if (!result.ok() || sink->count.load() != n) {
      state.SkipWithError(result.ok() ? "records lost" : std::string(result.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(absl::StrCat(distribution == Distribution::kStealing ? "stealing" : "round robin (baseline)",
                              waits ? ", slow call" : ", slow computing",
                              constant_time ? ", no watermark advance" : ", watermark every poll"));
}

BENCHMARK(BM_SlowInstance)
    ->Args({200'000, 0, 0, 0})
    ->Args({200'000, 1, 0, 0})
    ->Args({200'000, 0, 1, 0})
    ->Args({200'000, 1, 1, 0})
    ->Args({200'000, 0, 0, 1})
    ->Args({200'000, 1, 0, 1})
    ->Args({200'000, 0, 1, 1})
    ->Args({200'000, 1, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kappa::bench
