// Hand-written Nexmark queries: the baselines `kappa bench nexmark` measures the engine
// against.
//
// Each query is a plain single-threaded loop body over events in generation order, with
// ordinary containers (absl::flat_hash_map, std::deque) and no engine code: what a
// programmer would write to answer the query as fast as one core allows. They compute
// the same rows as the nexmark-qN jobs (DESIGN.md §7) on the generator's stream, which is
// in event-time order, so no watermark or lateness handling is needed: a window closes
// as soon as an event at or past its end arrives, a q4 auction as soon as an event past
// its expiry does. Rows are not materialised as JSON; each is folded into a RowSink (a
// count, a checksum so the compiler keeps the work, and optionally its latency).
//
//   std::unique_ptr<BaselineQuery> q = MakeBaselineQuery("q5");
//   RowSink out;
//   nexmark::Generator gen(config);
//   nexmark::Event e;
//   while (gen.HasNext()) { gen.NextInto(&e); q->OnEvent(e, out); }
//   q->Finish(out);
//   int64_t rows = out.rows();
//
// Not thread-safe; one query object per loop.
#ifndef KAPPA_BENCH_NEXMARK_BASELINE_H_
#define KAPPA_BENCH_NEXMARK_BASELINE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kappa/connectors/nexmark/event.h"
#include "kappa/base/histogram.h"
#include "kappa/base/time.h"

namespace kappa::bench {

// Where a baseline's rows go: counted and folded into a checksum; with a histogram, each
// row's latency (wall-clock now − (ts + shift_ms), in µs) is recorded too, and rows whose
// time is still in the future (windows closed by the end of input) are counted as ahead
// instead. shift_ms: how far behind event time a paced run's wall clock is running.
class RowSink {
 public:
  explicit RowSink(Histogram* latency_us = nullptr, Timestamp shift_ms = 0)
      : latency_us_(latency_us), shift_ms_(shift_ms) {}

  void Row(Timestamp ts, uint64_t digest) {
    ++rows_;
    checksum_ = (checksum_ ^ digest) * 0x100000001b3ULL;
    if (latency_us_ != nullptr) RecordLatency(ts);
  }

  int64_t rows() const { return rows_; }
  int64_t ahead() const { return ahead_; }
  uint64_t checksum() const { return checksum_; }

 private:
  void RecordLatency(Timestamp ts) {
    const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const int64_t us = now_us - (ts + shift_ms_) * 1000;
    if (us < 0) {
      ++ahead_;
    } else {
      latency_us_->Record(us);
    }
  }

  Histogram* latency_us_;
  Timestamp shift_ms_;
  int64_t rows_ = 0;
  int64_t ahead_ = 0;
  uint64_t checksum_ = 0xcbf29ce484222325ULL;
};

// One Nexmark query as a loop body. Events must come in generation order.
class BaselineQuery {
 public:
  virtual ~BaselineQuery() = default;
  virtual void OnEvent(const nexmark::Event& event, RowSink& out) = 0;
  // End of input: emits what is still open (windows, sessions, open auctions).
  virtual void Finish(RowSink& out) = 0;
};

// "q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q11"; null for any other name.
std::unique_ptr<BaselineQuery> MakeBaselineQuery(std::string_view query);

// The query names MakeBaselineQuery knows, in order.
const std::vector<std::string>& BaselineQueryNames();

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_NEXMARK_BASELINE_H_
