// The `discard:` sink: drops every record, counting them, for benchmarks (`kappa bench`)
// that must measure the job rather than an output format. Records reach it unencoded
// (wants_values() is false): only their event times.
//
// `discard:?latency=true` also records each record's latency, wall-clock now − record.ts
// (in microseconds; record.ts is event time in ms), into a histogram, "now" being when a
// batch of records reaches the sink (JsonSink<T> hands them over when the sink task runs
// out of input, or every 4096 records). It is off by default; it is what latency runs
// over a paced generator use, where event time ≈ arrival time. A record whose ts is still
// in the future (a window fired early by the end of a bounded input) is counted as
// `ahead` instead of going into the histogram.
//
// Results belong to the sink: each DiscardSink has its own DiscardStats, which whoever
// opened it reads after the run. Each writer counts into its own histogram and counter
// (no sharing on the hot path) and merges them into the stats on Flush()/Close(), under
// a mutex.
//
//   KAPPA_ASSIGN_OR_RETURN(auto out, kappa::connectors::MakeSink<Row>("discard:?latency=true"));
//   ... run a job into out.sink ...
//   std::shared_ptr<const DiscardStats> stats = kappa::connectors::DiscardStatsOf(out.raw.get());
//   kappa::Histogram h = stats->latency_us();
#ifndef KAPPA_CONNECTORS_DISCARD_SINK_H_
#define KAPPA_CONNECTORS_DISCARD_SINK_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "kappa/base/histogram.h"
#include "kappa/connectors/raw.h"

namespace kappa::connectors {

// What the writers of one discard: sink have seen. Thread-safe.
class DiscardStats {
 public:
  // Adds a writer's counts; `latency_us` may be null.
  void Add(int64_t rows, int64_t ahead, const Histogram* latency_us);

  int64_t rows() const;
  int64_t ahead() const;
  Histogram latency_us() const;

 private:
  mutable std::mutex mu_;
  int64_t rows_ = 0;
  int64_t ahead_ = 0;
  Histogram latency_us_;
};

class DiscardSink final : public RawSinkConnector {
 public:
  explicit DiscardSink(bool latency) : latency_(latency), stats_(std::make_shared<DiscardStats>()) {}

  absl::StatusOr<std::unique_ptr<RawSinkWriter>> CreateWriter(int subtask, int parallelism) override;
  std::string description() const override { return latency_ ? "discard:?latency=true" : "discard:"; }
  bool wants_values() const override { return false; }

  std::shared_ptr<const DiscardStats> stats() const { return stats_; }

 private:
  const bool latency_;
  const std::shared_ptr<DiscardStats> stats_;
};

// The stats of `sink` if it is a discard: sink, else null.
std::shared_ptr<const DiscardStats> DiscardStatsOf(const RawSinkConnector* sink);

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_DISCARD_SINK_H_
