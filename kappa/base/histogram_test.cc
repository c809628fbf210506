#include "kappa/base/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kappa {
namespace {

// The exact p-th percentile by the histogram's definition: the value at rank
// ceil(p% of n) (at least 1) of the sorted values. p is given in thousandths of a percent
// so that the rank is computed in exact integer arithmetic.
int64_t ExactPercentile(std::vector<int64_t> values, double p) {
  std::sort(values.begin(), values.end());
  if (p <= 0) return values.front();
  if (p >= 100) return values.back();
  const auto milli = static_cast<int64_t>(std::llround(p * 1000));
  const auto n = static_cast<int64_t>(values.size());
  int64_t rank = (milli * n + 100'000 - 1) / 100'000;
  rank = std::max<int64_t>(rank, 1);
  return values[static_cast<size_t>(rank - 1)];
}

// Reported percentiles are never below the exact one and at most kRelativeError above.
void ExpectWithinError(const Histogram& h, const std::vector<int64_t>& values, double p) {
  const int64_t exact = ExactPercentile(values, p);
  const int64_t got = h.Percentile(p);
  EXPECT_GE(got, exact) << "p" << p;
  EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + Histogram::kRelativeError)) << "p" << p;
}

TEST(HistogramTest, EmptyReportsZeros) {
  Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.Percentile(99.9), 0);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  std::vector<int64_t> values;
  for (int64_t v = 1; v <= 100; ++v) {
    h.Record(v);
    values.push_back(v);
  }
  EXPECT_EQ(h.count(), 100);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100);
  EXPECT_EQ(h.Percentile(50), 50);
  EXPECT_EQ(h.Percentile(99), 99);
  EXPECT_EQ(h.Percentile(99.9), 100);
  EXPECT_EQ(h.Percentile(100), 100);
  EXPECT_EQ(h.Percentile(0), 1);
  for (double p : {1.0, 10.0, 25.0, 75.0, 90.0}) EXPECT_EQ(h.Percentile(p), ExactPercentile(values, p));
}

TEST(HistogramTest, UniformValuesWithinRelativeError) {
  Histogram h;
  std::vector<int64_t> values;
  for (int64_t v = 1; v <= 1'000'000; v += 7) {
    h.Record(v);
    values.push_back(v);
  }
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) ExpectWithinError(h, values, p);
  EXPECT_EQ(h.Percentile(100), values.back());
}

TEST(HistogramTest, SkewedValuesWithinRelativeError) {
  // Log-normal-ish latencies in microseconds, spanning µs to many seconds.
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(6.0, 2.5);
  Histogram h;
  std::vector<int64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<int64_t>(dist(rng));
    h.Record(v);
    values.push_back(v);
  }
  for (double p : {0.1, 50.0, 90.0, 99.0, 99.9, 99.99}) ExpectWithinError(h, values, p);
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
}

TEST(HistogramTest, KnownTailPercentiles) {
  // 990 fast values, 9 slow, 1 very slow: p99 is fast, p99.9 slow, max the outlier.
  Histogram h;
  h.Record(1'000, 990);
  h.Record(50'000, 9);
  h.Record(3'600'000'000);  // an hour in µs
  EXPECT_EQ(h.count(), 1000);
  EXPECT_GE(h.Percentile(50), 1'000);
  EXPECT_LE(h.Percentile(50), 1'008);
  EXPECT_GE(h.Percentile(99), 1'000);
  EXPECT_LE(h.Percentile(99), 1'008);
  EXPECT_GE(h.Percentile(99.9), 50'000);
  EXPECT_LE(h.Percentile(99.9), 50'391);
  EXPECT_EQ(h.Percentile(100), 3'600'000'000);
  EXPECT_EQ(h.max(), 3'600'000'000);
}

TEST(HistogramTest, SingleValueIsReportedExactly) {
  Histogram h;
  h.Record(123'456'789);
  // The bucket's upper end is capped by max: one value comes back as itself.
  EXPECT_EQ(h.Percentile(50), 123'456'789);
  EXPECT_EQ(h.Percentile(0), 123'456'789);
}

TEST(HistogramTest, NegativeValuesCountAsZeroAndHugeValuesFit) {
  Histogram h;
  h.Record(-5);
  h.Record(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(h.count(), 2);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.Percentile(100), std::numeric_limits<int64_t>::max());
}

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> small(0, 5'000), large(1'000'000, 90'000'000);
  Histogram a, b, all;
  std::vector<int64_t> values;
  for (int i = 0; i < 50'000; ++i) {
    const int64_t x = small(rng), y = large(rng);
    a.Record(x);
    b.Record(y);
    all.Record(x);
    all.Record(y);
    values.push_back(x);
    values.push_back(y);
  }
  Histogram merged;
  merged.Merge(a);
  merged.Merge(b);
  merged.Merge(Histogram());  // merging an empty one changes nothing
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  for (double p : {1.0, 25.0, 50.0, 75.0, 99.0, 99.9}) {
    EXPECT_EQ(merged.Percentile(p), all.Percentile(p)) << p;
    ExpectWithinError(merged, values, p);
  }
}

TEST(HistogramTest, ResetEmptiesAndAllowsReuse) {
  Histogram h;
  h.Record(10);
  h.Record(1'000'000);
  h.Reset();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.Percentile(50), 0);
  h.Record(42);
  EXPECT_EQ(h.count(), 1);
  EXPECT_EQ(h.Percentile(99), 42);
  EXPECT_EQ(h.min(), 42);
}

TEST(HistogramTest, BucketsTileTheRangeWithBoundedWidth) {
  // Consecutive buckets are adjacent, and each is narrow relative to its values.
  for (int i = 1; i < Histogram::BucketIndex(std::numeric_limits<int64_t>::max()); ++i) {
    ASSERT_EQ(Histogram::BucketLowest(i), Histogram::BucketHighest(i - 1) + 1) << i;
    const int64_t lo = Histogram::BucketLowest(i), hi = Histogram::BucketHighest(i);
    ASSERT_LE(static_cast<double>(hi - lo), static_cast<double>(lo) * Histogram::kRelativeError) << i;
    ASSERT_EQ(Histogram::BucketIndex(static_cast<uint64_t>(lo)), i);
    ASSERT_EQ(Histogram::BucketIndex(static_cast<uint64_t>(hi)), i);
  }
}

}  // namespace
}  // namespace kappa
