// Where the sources of one run are: per source partition, the offset it started at, the
// offset it has read up to, its end (bounded sources) and the records it read.
//
// One board per run (ExecutionOptions::progress, or the run's own), so two jobs running in
// one process never see each other's partitions. Source operators register their
// partitions when they open and publish after every poll (a few atomic stores, not per
// record) from their task's worker thread; any thread may Read() at any time, e.g.
// `kappa replay`'s progress line and summary. The owner keeps it alive until the run
// ended and every reader is done.
//
// `replay --then-follow` also tracks the catch-up: a following partition whose reader
// knows where its history ends (the partition's end when it was opened) records the
// moment its position first reaches that end. Once every partition of the run has
// registered (MarkComplete(), after every source opened), ReadCatchUp() says whether all
// of them have.
#ifndef KAPPA_RUNTIME_PROGRESS_H_
#define KAPPA_RUNTIME_PROGRESS_H_

#include <algorithm>
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
    // Following partitions: where the history ends (-1: unknown, or not following), the
    // epoch ms at which the position first reached it (0: not yet; stored after, and read
    // before, the records read up to that end).
    std::atomic<int64_t> history_end{-1};
    std::atomic<int64_t> caught_up_ms{0};
    std::atomic<int64_t> history_records{0};
  };
  struct View {
    std::string source;
    int partition;
    int64_t start, offset, end, records;
    bool finished;
    int64_t high_water = -1;
    int64_t watermark = std::numeric_limits<int64_t>::min();
    bool idle = false;
    int64_t history_end = -1;
    int64_t caught_up_ms = 0;
    int64_t history_records = 0;
  };
  // Whether every partition has reached the end its history had (see above).
  struct CatchUp {
    bool tracking = false;  // every partition knows where its history ends
    bool caught_up = false;
    int64_t at_ms = 0;      // when the last one reached it
    int64_t records = 0;    // records read up to those ends
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
                         p.watermark.load(std::memory_order_relaxed), p.idle.load(std::memory_order_relaxed),
                         p.history_end.load(), p.caught_up_ms.load(), p.history_records.load()});
    }
    return out;
  }

  // Forgets every partition, for a run that starts over (a restart after a failure): its
  // sources register again. Only while no source task of the run exists.
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    parts_.clear();
    complete_.store(false);
  }

  // Every source of the run has registered its partitions (the run calls this once all
  // its tasks are open, before any reads).
  void MarkComplete() { complete_.store(true); }
  bool complete() const { return complete_.load(); }

  static CatchUp CatchUpOf(const std::vector<View>& views) {
    CatchUp c;
    c.tracking = !views.empty();
    c.caught_up = true;
    for (const View& v : views) {
      if (v.history_end < 0) c.tracking = false;
      if (v.caught_up_ms == 0) c.caught_up = false;
      c.at_ms = std::max(c.at_ms, v.caught_up_ms);
      c.records += v.history_records;
    }
    c.caught_up = c.caught_up && c.tracking;
    if (!c.caught_up) c.at_ms = 0;
    return c;
  }
  CatchUp ReadCatchUp() const {
    if (!complete()) return CatchUp{};
    return CatchUpOf(Read());
  }

 private:
  mutable std::mutex mu_;
  std::deque<Partition> parts_;  // stable addresses
  std::atomic<bool> complete_{false};
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_PROGRESS_H_
