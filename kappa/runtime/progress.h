// Where the sources of the running job are: per source partition, the offset it started
// at, the offset it has read up to, its end (bounded sources) and the records it read.
// Source operators publish into the process-wide board after every poll (a few atomic
// stores, not per record); `kappa replay` draws its progress bar and summary from it.
#ifndef KAPPA_RUNTIME_PROGRESS_H_
#define KAPPA_RUNTIME_PROGRESS_H_

#include <atomic>
#include <cstdint>
#include <deque>
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
  };
  struct View {
    std::string source;
    int partition;
    int64_t start, offset, end, records;
    bool finished;
  };

  static SourceProgress& Global() {
    static SourceProgress board;
    return board;
  }

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
                         p.finished.load()});
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::deque<Partition> parts_;  // stable addresses
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_PROGRESS_H_
