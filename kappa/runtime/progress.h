// Where the sources of one run are: per source partition, the offset it started at, the
// offset it has read up to, its end (bounded sources) and the records it read.
//
// One board per run (ExecutionOptions::progress, or the run's own), so two jobs running in
// one process never see each other's partitions. Source operators register their
// partitions when they open and publish after every poll (a few atomic stores, not per
// record) from their task's worker thread; any thread may Read() at any time, e.g.
// `kappa replay`'s progress line and summary. The owner keeps it alive until the run
// ended and every reader is done.
#ifndef KAPPA_RUNTIME_PROGRESS_H_
#define KAPPA_RUNTIME_PROGRESS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

namespace kappa::runtime {

class SourceProgress {
 public:
  struct Partition {
    std::string source;  // the source connector's description
    int partition = 0;
    std::atomic<int64_t> start{0};
    std::atomic<int64_t> offset{0};
    std::atomic<int64_t> end{-1};  // -1: unbounded
    std::atomic<int64_t> records{0};
    std::atomic<bool> finished{false};
    // For monitoring: the partition's current end as the source last saw it (Kafka's
    // high-water mark; a bounded input's end), -1 unknown; its watermark (event time, ms);
    // whether it is idle.
    std::atomic<int64_t> high_water{-1};
    std::atomic<int64_t> watermark{std::numeric_limits<int64_t>::min()};
    std::atomic<bool> idle{false};
  };
  struct View {
    std::string source;
    int partition;
    int64_t start, offset, end, records;
    bool finished;
    int64_t high_water = -1;
    int64_t watermark = std::numeric_limits<int64_t>::min();
    bool idle = false;
  };

  SourceProgress() = default;
  SourceProgress(const SourceProgress&) = delete;
  SourceProgress& operator=(const SourceProgress&) = delete;

  // The returned entry stays valid as long as the board.
  Partition* Register(const std::string& source, int partition, int64_t start, int64_t end) {
    std::lock_guard<std::mutex> lock(mu_);
    Partition& p = parts_.emplace_back();
    p.source = source;
    p.partition = partition;
    p.start = start;
    p.offset = start;
    p.end = end;
    return &p;
  }

  std::vector<View> Read() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<View> out;
    for (const Partition& p : parts_) {
      out.push_back(View{p.source, p.partition, p.start.load(), p.offset.load(), p.end.load(), p.records.load(),
                         p.finished.load(), p.high_water.load(std::memory_order_relaxed),
                         p.watermark.load(std::memory_order_relaxed), p.idle.load(std::memory_order_relaxed)});
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::deque<Partition> parts_;  // stable addresses
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_PROGRESS_H_
