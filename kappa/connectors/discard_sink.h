// The `discard:` sink: drops every record, counting them, for benchmarks (`kappa bench`)
// that must measure the job rather than an output format.
//
// `discard:?latency=true` also records each record's latency, wall-clock now − record.ts
// (in microseconds; record.ts is event time in ms), into a histogram. It is off by default
// because reading the clock per record costs a throughput run ~20 ns a record; it is what
// latency runs over a paced generator use, where event time ≈ arrival time. A record
// whose ts is still in the future (a window fired early by the end of a bounded input)
// is counted as `ahead` instead of going into the histogram.
//
// Results go to one process-wide DiscardStats that the benchmark resets before a run and
// reads after it. Each SinkWriter counts into its own histogram and counter (no sharing on
// the hot path) and merges them into the shared stats on Flush()/Close(), under a mutex.
//
//   kappa::connectors::DiscardStats::Global().Reset();
//   ... run a job with --sink discard:?latency=true ...
//   kappa::Histogram h = kappa::connectors::DiscardStats::Global().latency_us();
#ifndef KAPPA_CONNECTORS_DISCARD_SINK_H_
#define KAPPA_CONNECTORS_DISCARD_SINK_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "kappa/base/histogram.h"
#include "kappa/runtime/sink.h"

namespace kappa::connectors {

// What every discard: sink of the process has seen since the last Reset(). Thread-safe.
class DiscardStats {
 public:
  static DiscardStats& Global() {
    static DiscardStats* const stats = new DiscardStats();
    return *stats;
  }

  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    rows_ = 0;
    ahead_ = 0;
    latency_us_.Reset();
  }
  // Adds a writer's counts; `latency_us` may be null.
  void Add(int64_t rows, int64_t ahead, const Histogram* latency_us) {
    std::lock_guard<std::mutex> lock(mu_);
    rows_ += rows;
    ahead_ += ahead;
    if (latency_us != nullptr) latency_us_.Merge(*latency_us);
  }

  int64_t rows() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rows_;
  }
  int64_t ahead() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ahead_;
  }
  Histogram latency_us() const {
    std::lock_guard<std::mutex> lock(mu_);
    return latency_us_;
  }

 private:
  DiscardStats() = default;
  mutable std::mutex mu_;
  int64_t rows_ = 0;
  int64_t ahead_ = 0;
  Histogram latency_us_;
};

template <typename T>
class DiscardSink final : public SinkConnector<T> {
 public:
  explicit DiscardSink(bool latency) : latency_(latency) {}

  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int, int) override {
    return std::unique_ptr<SinkWriter<T>>(new Writer(latency_));
  }
  std::string description() const override { return latency_ ? "discard:?latency=true" : "discard:"; }

 private:
  // Called on its sink task's thread only.
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(bool latency) : latency_(latency) {}
    absl::Status Write(const Record<T>& r) override {
      ++rows_;
      if (latency_) {
        const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        const int64_t us = now_us - r.ts * 1000;
        if (us < 0) {
          ++ahead_;
        } else {
          histogram_.Record(us);
        }
      }
      return absl::OkStatus();
    }
    absl::Status Flush() override {
      if (rows_ == 0) return absl::OkStatus();
      DiscardStats::Global().Add(rows_, ahead_, latency_ ? &histogram_ : nullptr);
      rows_ = 0;
      ahead_ = 0;
      histogram_.Reset();
      return absl::OkStatus();
    }
    absl::Status Close() override { return Flush(); }

   private:
    const bool latency_;
    int64_t rows_ = 0;
    int64_t ahead_ = 0;
    Histogram histogram_;
  };

  bool latency_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_DISCARD_SINK_H_
