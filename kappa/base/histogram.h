// A log-linear histogram of non-negative integers (latencies in microseconds, sizes),
// in the manner of HdrHistogram, which Debian does not package.
//
// Values below 256 are counted exactly; above, each power of two [2^k, 2^(k+1)) is split
// into 128 equal buckets, so a reported value r for a true value v satisfies
// v <= r < v * (1 + 1/128): better than two significant digits, over the whole int64
// range (microseconds up to ~290,000 years) in 7,296 counters (57 KiB).
//
//   kappa::Histogram h;
//   for (int64_t us : latencies) h.Record(us);
//   int64_t p99 = h.Percentile(99.0);  // within 0.8% above the exact 99th percentile
//
// Not thread-safe: give each thread its own histogram and Merge() them (what the
// `discard:` sink does: one per sink writer, merged into a shared one under a mutex).
#ifndef KAPPA_BASE_HISTOGRAM_H_
#define KAPPA_BASE_HISTOGRAM_H_

#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

namespace kappa {

class Histogram {
 public:
  // Upper bound of (reported − exact) / exact for any percentile.
  static constexpr double kRelativeError = 1.0 / 128;

  Histogram();

  // Counts `value` `count` times. Negative values are counted as 0.
  void Record(int64_t value, int64_t count = 1) {
    if (count <= 0) return;
    if (value < 0) value = 0;
    counts_[BucketIndex(static_cast<uint64_t>(value))] += count;
    count_ += count;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }

  // Adds every value counted by `other`.
  void Merge(const Histogram& other);
  void Reset();

  int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return count_ == 0 ? 0 : max_; }

  // The p-th percentile (p in [0, 100]): the smallest value v such that at least p% of
  // the counted values are <= v, reported as the upper end of v's bucket (capped by
  // max()), so never below the exact answer and within kRelativeError above it.
  // Percentile(0) is min(), Percentile(100) is max(); 0 when empty.
  int64_t Percentile(double p) const;

  // The bucket arithmetic, public for tests.
  static int BucketIndex(uint64_t value) {
    if (value < 2 * kSubBuckets) return static_cast<int>(value);
    const int msb = 63 - std::countl_zero(value);
    const int shift = msb - kSubBits;
    return (shift + 1) * kSubBuckets + static_cast<int>((value >> shift) - kSubBuckets);
  }
  static int64_t BucketLowest(int index);
  static int64_t BucketHighest(int index);

 private:
  static constexpr int kSubBits = 7;
  static constexpr int kSubBuckets = 1 << kSubBits;  // 128
  // The largest int64 has its top bit at 62: shift 55, index 56 * 128 + 127.
  static constexpr int kBuckets = (63 - kSubBits + 1) * kSubBuckets;

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = std::numeric_limits<int64_t>::max();
  int64_t max_ = 0;
};

}  // namespace kappa

#endif  // KAPPA_BASE_HISTOGRAM_H_
