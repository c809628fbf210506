#include "kappa/base/histogram.h"

#include <algorithm>
#include <cmath>

namespace kappa {

Histogram::Histogram() : counts_(kBuckets, 0) {}

int64_t Histogram::BucketLowest(int index) {
  if (index < 2 * kSubBuckets) return index;
  const int shift = index / kSubBuckets - 1;
  const int64_t sub = index % kSubBuckets;
  return (kSubBuckets + sub) << shift;
}

int64_t Histogram::BucketHighest(int index) {
  if (index < 2 * kSubBuckets) return index;
  const int shift = index / kSubBuckets - 1;
  // For the very last bucket this is 2^63 − 1, the largest int64.
  return BucketLowest(index) + ((int64_t{1} << shift) - 1);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  // Only the buckets between other's min and max can be non-zero.
  const int lo = BucketIndex(static_cast<uint64_t>(other.min_));
  const int hi = BucketIndex(static_cast<uint64_t>(other.max_));
  for (int i = lo; i <= hi; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void Histogram::Reset() {
  if (count_ == 0) return;
  std::fill(counts_.begin() + BucketIndex(static_cast<uint64_t>(min_)),
            counts_.begin() + BucketIndex(static_cast<uint64_t>(max_)) + 1, 0);
  count_ = 0;
  min_ = std::numeric_limits<int64_t>::max();
  max_ = 0;
}

int64_t Histogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min_;  // also NaN
  if (p >= 100) return max_;
  // Rank of the wanted value, 1-based: ceil(p% of count), at least 1. p% of count is
  // computed in floating point (99.9% of 1000 comes out as 999.0000000000001), so a
  // result within rounding error of an integer is that integer.
  const double exact = p / 100.0 * static_cast<double>(count_);
  const double nearest = std::round(exact);
  const double ranked = std::abs(exact - nearest) <= 1e-9 * std::max(1.0, exact) ? nearest : std::ceil(exact);
  const auto rank = std::max<int64_t>(1, static_cast<int64_t>(ranked));
  int64_t seen = 0;
  const int hi = BucketIndex(static_cast<uint64_t>(max_));
  for (int i = BucketIndex(static_cast<uint64_t>(min_)); i <= hi; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(BucketHighest(i), min_, max_);
  }
  return max_;
}

}  // namespace kappa
