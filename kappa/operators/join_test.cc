#include "kappa/operators/join.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/testing/harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::operators {
namespace {

struct Order {
  std::string key;
  int64_t id = 0;
};
struct Payment {
  std::string key;
  int64_t id = 0;
};

}  // namespace
}  // namespace kappa::operators

KAPPA_SERIALIZABLE(kappa::operators::Order, &kappa::operators::Order::key, &kappa::operators::Order::id);
KAPPA_SERIALIZABLE(kappa::operators::Payment, &kappa::operators::Payment::key, &kappa::operators::Payment::id);

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

using Harness = kappa::testing::TwoInputHarness<Order, Payment, std::string>;

std::string PairName(const Order& a, const Payment& b) { return absl::StrCat(a.key, ":o", a.id, "+p", b.id); }

// Joined pairs with their output timestamps, "key:o<id>+p<id>@ts", for order-free comparison.
std::vector<std::string> Stamped(const Harness& h) {
  std::vector<std::string> out;
  for (const auto& r : h.records()) out.push_back(absl::StrCat(r.value, "@", r.ts));
  return out;
}

// Keys of a state table as a checkpoint would hold them (timers are written on the barrier).
int64_t TableSize(Harness& h, const std::string& name) {
  EXPECT_TRUE(h.SnapshotState().ok());
  auto table = h.context().backend()->RegisterTable(name);
  EXPECT_TRUE(table.ok());
  return h.context().backend()->ApproximateKeys(*table);
}

std::function<std::string(const Order&)> OrderKey() {
  return [](const Order& o) { return o.key; };
}
std::function<std::string(const Payment&)> PaymentKey() {
  return [](const Payment& p) { return p.key; };
}

// --- Window join ------------------------------------------------------------------------

struct PairFn {
  std::string operator()(const Order& a, const Payment& b) const {
    if (b.id < 0) throw std::runtime_error("bad payment");
    return PairName(a, b);
  }
};

constexpr char kWindowUid[] = "wj";

std::unique_ptr<runtime::OperatorBase> WindowJoin(WindowAssigner assigner) {
  return std::make_unique<WindowJoinOperator<std::string, Order, Payment, std::string, PairFn>>(
      OrderKey(), PaymentKey(), assigner, PairFn(), kWindowUid);
}

TEST(WindowJoinTest, JoinsRecordsOfTheSameKeyAndWindowWhenTheWindowEnds) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"a", 2}, 9999);
  h.Watermark(9998);
  EXPECT_THAT(h.output(), IsEmpty());
  h.Watermark(9999);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p2"));
  ASSERT_EQ(h.records().size(), 1u);
  EXPECT_EQ(h.records()[0].ts, 9999);  // window end - 1
  EXPECT_EQ(h.records()[0].pwm, kMinTimestamp);
}

TEST(WindowJoinTest, ArrivalOrderOfTheTwoSidesDoesNotChangeTheOutput) {
  auto run = [](bool left_first) {
    Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
    EXPECT_TRUE(h.Open().ok());
    auto lefts = [&] {
      h.ProcessLeft({"a", 1}, 1000);
      h.ProcessLeft({"a", 2}, 12000);
      h.ProcessLeft({"b", 3}, 5000);
    };
    auto rights = [&] {
      h.ProcessRight({"a", 10}, 3000);
      h.ProcessRight({"a", 20}, 15000);
      h.ProcessRight({"b", 30}, 9000);
    };
    if (left_first) {
      lefts();
      rights();
    } else {
      rights();
      lefts();
    }
    h.Watermark(kMaxTimestamp);
    return Stamped(h);
  };
  std::vector<std::string> left_first = run(true);
  EXPECT_THAT(left_first, UnorderedElementsAre("a:o1+p10@9999", "b:o3+p30@9999", "a:o2+p20@19999"));
  EXPECT_THAT(run(false), UnorderedElementsAreArray(left_first));
}

TEST(WindowJoinTest, EmitsTheCrossProductOfEachWindowSeparately) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 100);
  h.ProcessRight({"a", 10}, 200);
  h.ProcessLeft({"a", 2}, 300);
  h.ProcessRight({"a", 20}, 400);
  h.ProcessRight({"a", 30}, 500);
  h.ProcessLeft({"a", 3}, 10000);   // next window: one left ...
  h.ProcessRight({"a", 40}, 19999);  // ... one right
  h.ProcessLeft({"a", 4}, 20000);   // a window with no right side: nothing
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Stamped(h), UnorderedElementsAre("a:o1+p10@9999", "a:o1+p20@9999", "a:o1+p30@9999",
                                               "a:o2+p10@9999", "a:o2+p20@9999", "a:o2+p30@9999",
                                               "a:o3+p40@19999"));
}

TEST(WindowJoinTest, RecordsOfDifferentKeysAreNotJoined) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"b", 2}, 1000);
  h.ProcessLeft({"c", 3}, 2000);
  h.ProcessRight({"c", 4}, 3000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("c:o3+p4"));
}

TEST(WindowJoinTest, SlidingWindowsJoinAPairOncePerWindowTheyShare) {
  Harness h(WindowJoin(WindowAssigner::Sliding(absl::Seconds(10), absl::Seconds(5))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 6000);    // [0,10000) and [5000,15000)
  h.ProcessRight({"a", 2}, 8000);   // the same two windows
  h.ProcessLeft({"b", 3}, 2000);    // [-5000,5000) and [0,10000)
  h.ProcessRight({"b", 4}, 12000);  // [5000,15000) and [10000,20000): none shared
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Stamped(h), UnorderedElementsAre("a:o1+p2@9999", "a:o1+p2@14999"));
}

TEST(WindowJoinTest, RecordLateForItsPartitionIsCountedAsLateAndNotJoined) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  h.context().name_ = "orders-payments";
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"a", 2}, 2000, /*pwm=*/9999);  // its partition already passed end - 1
  h.ProcessRight({"a", 3}, 3000, /*pwm=*/9998);  // still in time
  h.ProcessLeft({"a", 4}, 4000, /*pwm=*/20000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p3"));
  EXPECT_EQ(h.errors().late_records(), 2);
  EXPECT_EQ(h.errors().user_errors(), 0);
  std::vector<ErrorEvent> events = h.errors().events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, "late");
  EXPECT_EQ(events[0].operator_name, "orders-payments");
  EXPECT_EQ(events[0].ts, 2000);
  EXPECT_EQ(events[1].kind, "late");
  EXPECT_EQ(events[1].ts, 4000);
}

TEST(WindowJoinTest, RecordForAWindowThatAlreadyFiredIsLate) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.Watermark(9999);  // fires [0,10000) with nothing to pair
  h.ProcessRight({"a", 2}, 2000);  // its partition looked on time, but the window is gone
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_EQ(h.errors().late_records(), 1);
  EXPECT_EQ(TableSize(h, "wj/join-right"), 0);
}

TEST(WindowJoinTest, StateOfAWindowIsClearedWhenItFires) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessLeft({"b", 2}, 1000);
  h.ProcessRight({"a", 3}, 2000);
  h.ProcessLeft({"a", 4}, 15000);
  EXPECT_EQ(TableSize(h, "wj/join-left"), 3);  // (a,[0,10s)), (b,[0,10s)), (a,[10s,20s))
  EXPECT_EQ(TableSize(h, "wj/join-right"), 1);
  EXPECT_EQ(TableSize(h, "wj/timers/event"), 3);
  h.Watermark(9999);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p3"));
  EXPECT_EQ(TableSize(h, "wj/join-left"), 1);
  EXPECT_EQ(TableSize(h, "wj/join-right"), 0);
  EXPECT_EQ(TableSize(h, "wj/timers/event"), 1);
  h.Watermark(kMaxTimestamp);
  EXPECT_EQ(TableSize(h, "wj/join-left"), 0);
  EXPECT_EQ(TableSize(h, "wj/timers/event"), 0);
}

TEST(WindowJoinTest, ThrowingJoinFunctionIsReportedAndOtherPairsAreEmitted) {
  Harness h(WindowJoin(WindowAssigner::Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"a", -1}, 2000);
  h.ProcessRight({"a", 2}, 3000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p2"));
  EXPECT_EQ(h.errors().user_errors(), 1);
  ASSERT_EQ(h.errors().events().size(), 1u);
  EXPECT_EQ(h.errors().events()[0].error, "bad payment");
  EXPECT_EQ(h.errors().events()[0].ts, 9999);
}

// --- Interval join ----------------------------------------------------------------------

struct CollectPair {
  void operator()(const Order& a, const Payment& b, Collector<std::string>& out) const {
    if (b.id < 0) throw std::runtime_error("bad payment");
    out.Collect(PairName(a, b));
  }
};

constexpr char kIntervalUid[] = "ij";

std::unique_ptr<runtime::OperatorBase> IntervalJoin(Timestamp lower, Timestamp upper) {
  return std::make_unique<IntervalJoinOperator<std::string, Order, Payment, std::string, CollectPair>>(
      OrderKey(), PaymentKey(), lower, upper, CollectPair(), kIntervalUid);
}

// Payments are identified by their timestamp in these tests.
TEST(IntervalJoinTest, BoundsAreInclusiveAtBothEnds) {
  Harness h(IntervalJoin(/*lower=*/10, /*upper=*/20));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  for (Timestamp t : {1009, 1010, 1015, 1020, 1021}) h.ProcessRight({"a", t}, t);
  EXPECT_THAT(Stamped(h), ElementsAre("a:o1+p1010@1010", "a:o1+p1015@1015", "a:o1+p1020@1020"));
}

TEST(IntervalJoinTest, RightSideArrivingFirstJoinsTheSamePairs) {
  Harness h(IntervalJoin(/*lower=*/10, /*upper=*/20));
  ASSERT_TRUE(h.Open().ok());
  for (Timestamp t : {1009, 1010, 1015, 1020, 1021}) h.ProcessRight({"a", t}, t);
  EXPECT_THAT(h.output(), IsEmpty());
  h.ProcessLeft({"a", 1}, 1000);
  EXPECT_THAT(Stamped(h), UnorderedElementsAre("a:o1+p1010@1010", "a:o1+p1015@1015", "a:o1+p1020@1020"));
}

TEST(IntervalJoinTest, NegativeLowerBoundJoinsEarlierRightRecordsStampedWithTheLaterTimestamp) {
  Harness h(IntervalJoin(/*lower=*/-50, /*upper=*/30));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  for (Timestamp t : {949, 950, 960, 1000, 1030, 1031}) h.ProcessRight({"a", t}, t);
  EXPECT_THAT(Stamped(h),
              ElementsAre("a:o1+p950@1000", "a:o1+p960@1000", "a:o1+p1000@1000", "a:o1+p1030@1030"));
  // And from the other side: a late-stamped left record joins earlier payments.
  h.ProcessLeft({"a", 2}, 1040);  // joins payments in [990, 1070]
  std::vector<std::string> out = Stamped(h);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_THAT(std::vector<std::string>(out.begin() + 4, out.end()),
              UnorderedElementsAre("a:o2+p1000@1040", "a:o2+p1030@1040", "a:o2+p1031@1040"));
}

TEST(IntervalJoinTest, RecordsOfDifferentKeysAreNotJoined) {
  Harness h(IntervalJoin(/*lower=*/0, /*upper=*/100));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"b", 2}, 1050);
  h.ProcessRight({"a", 3}, 1050);
  h.ProcessLeft({"b", 4}, 2000);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p3"));
}

TEST(IntervalJoinTest, EveryPairIsJoinedOnceWithRepeatedTimestamps) {
  Harness h(IntervalJoin(/*lower=*/0, /*upper=*/0));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessLeft({"a", 2}, 1000);
  h.ProcessRight({"a", 3}, 1000);
  h.ProcessRight({"a", 4}, 1000);
  h.ProcessLeft({"a", 5}, 1000);
  EXPECT_THAT(h.output(), UnorderedElementsAre("a:o1+p3", "a:o2+p3", "a:o1+p4", "a:o2+p4", "a:o5+p3", "a:o5+p4"));
}

TEST(IntervalJoinTest, LeftRecordIsBufferedUntilTheWatermarkPassesItsUpperBound) {
  Harness h(IntervalJoin(/*lower=*/10, /*upper=*/20));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.Watermark(1020);  // a payment at 1020 may still come
  EXPECT_EQ(TableSize(h, "ij/join-left"), 1);
  h.ProcessRight({"a", 1020}, 1020, /*pwm=*/1020);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p1020"));
  h.Watermark(1021);
  EXPECT_EQ(TableSize(h, "ij/join-left"), 0);
  EXPECT_EQ(TableSize(h, "ij/join-right"), 0);
  EXPECT_EQ(TableSize(h, "ij/timers/event"), 0);
  // After cleanup a payment that could have matched is late for its partition: reported, not lost.
  h.ProcessRight({"a", 2020}, 1020, /*pwm=*/1021);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p1020"));
  EXPECT_EQ(h.errors().late_records(), 1);
  ASSERT_EQ(h.errors().events().size(), 1u);
  EXPECT_EQ(h.errors().events()[0].kind, "late");
  EXPECT_EQ(h.errors().events()[0].ts, 1020);
}

TEST(IntervalJoinTest, RightRecordIsBufferedUntilTheWatermarkPassesItsLowerBound) {
  // A payment at 1000 matches orders in [980, 990].
  Harness h(IntervalJoin(/*lower=*/10, /*upper=*/20));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessRight({"a", 1}, 1000);
  h.Watermark(990);
  EXPECT_EQ(TableSize(h, "ij/join-right"), 1);
  h.ProcessLeft({"a", 2}, 990, /*pwm=*/990);
  EXPECT_THAT(Stamped(h), ElementsAre("a:o2+p1@1000"));
  h.Watermark(991);
  EXPECT_EQ(TableSize(h, "ij/join-right"), 0);
  EXPECT_EQ(TableSize(h, "ij/join-left"), 1);  // the order at 990 waits until 1011
  h.ProcessLeft({"a", 3}, 990, /*pwm=*/991);
  EXPECT_EQ(h.output().size(), 1u);
  EXPECT_EQ(h.errors().late_records(), 1);
  h.Watermark(1011);
  EXPECT_EQ(TableSize(h, "ij/join-left"), 0);
  EXPECT_EQ(TableSize(h, "ij/timers/event"), 0);
}

TEST(IntervalJoinTest, RecordsBehindTheirPartitionWatermarkAreReportedLateAndNotBuffered) {
  Harness h(IntervalJoin(/*lower=*/0, /*upper=*/100));
  h.context().name_ = "orders-payments";
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000, /*pwm=*/1001);
  h.ProcessRight({"a", 2}, 1050, /*pwm=*/1051);
  h.ProcessRight({"a", 3}, 1060, /*pwm=*/1060);  // ts == pwm is on time
  h.ProcessLeft({"a", 4}, 1010, /*pwm=*/1010);
  EXPECT_THAT(h.output(), ElementsAre("a:o4+p3"));
  EXPECT_EQ(h.errors().late_records(), 2);
  std::vector<ErrorEvent> events = h.errors().events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, "late");
  EXPECT_EQ(events[0].operator_name, "orders-payments");
  EXPECT_EQ(events[0].ts, 1000);
  EXPECT_EQ(events[1].ts, 1050);
  EXPECT_EQ(TableSize(h, "ij/join-left"), 1);
  EXPECT_EQ(TableSize(h, "ij/join-right"), 1);
}

TEST(IntervalJoinTest, RecordBehindTheOperatorWatermarkIsLateEvenIfItsPartitionLagged) {
  // An idle partition's record can arrive after the task watermark cleaned its partners:
  // it must be reported late, not joined with whatever happens to be left.
  Harness h(IntervalJoin(/*lower=*/10, /*upper=*/20));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.Watermark(1021);
  h.ProcessRight({"a", 2}, 1015);  // pwm = kMinTimestamp
  EXPECT_THAT(h.output(), IsEmpty());
  EXPECT_EQ(h.errors().late_records(), 1);
  EXPECT_EQ(TableSize(h, "ij/join-right"), 0);
}

TEST(IntervalJoinTest, ThrowingJoinFunctionIsReportedAndOtherPairsAreEmitted) {
  Harness h(IntervalJoin(/*lower=*/0, /*upper=*/100));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"a", -1}, 1010);
  h.ProcessRight({"a", 2}, 1020);
  EXPECT_THAT(h.output(), ElementsAre("a:o1+p2"));
  EXPECT_EQ(h.errors().user_errors(), 1);
  ASSERT_EQ(h.errors().events().size(), 1u);
  EXPECT_EQ(h.errors().events()[0].error, "bad payment");
  EXPECT_EQ(h.errors().events()[0].ts, 1010);
}

// Generated input for order-independence checks: a few keys, timestamps close enough that
// many pairs fall inside [lower, upper].
struct Input {
  bool left;
  std::string key;
  int64_t id;
  Timestamp ts;
};

constexpr Timestamp kLower = -40;
constexpr Timestamp kUpper = 60;

std::vector<Input> GenerateInput(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<Timestamp> ts(0, 2000);
  std::uniform_int_distribution<int> key(0, 2);
  std::vector<Input> in;
  for (int64_t id = 0; id < 150; ++id) {
    in.push_back({/*left=*/id % 2 == 0, absl::StrCat("k", key(rng)), id, ts(rng)});
  }
  return in;
}

std::vector<std::string> ExpectedPairs(const std::vector<Input>& in) {
  std::vector<std::string> out;
  for (const Input& a : in) {
    if (!a.left) continue;
    for (const Input& b : in) {
      if (b.left || a.key != b.key || b.ts < a.ts + kLower || b.ts > a.ts + kUpper) continue;
      out.push_back(absl::StrCat(PairName({a.key, a.id}, {b.key, b.id}), "@", std::max(a.ts, b.ts)));
    }
  }
  return out;
}

void Feed(Harness& h, const Input& r, Timestamp pwm) {
  if (r.left) {
    h.ProcessLeft({r.key, r.id}, r.ts, pwm);
  } else {
    h.ProcessRight({r.key, r.id}, r.ts, pwm);
  }
}

TEST(IntervalJoinTest, OutputDoesNotDependOnArrivalOrder) {
  const std::vector<Input> input = GenerateInput(/*seed=*/7);
  const std::vector<std::string> expected = ExpectedPairs(input);
  ASSERT_GT(expected.size(), 100u);  // the generated input actually exercises the join
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE(absl::StrCat("shuffle seed ", seed));
    std::vector<Input> shuffled = input;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(seed));
    Harness h(IntervalJoin(kLower, kUpper));
    ASSERT_TRUE(h.Open().ok());
    for (const Input& r : shuffled) Feed(h, r, kMinTimestamp);
    h.Watermark(kMaxTimestamp);
    EXPECT_THAT(Stamped(h), UnorderedElementsAreArray(expected));
    EXPECT_EQ(h.errors().late_records(), 0);
    EXPECT_EQ(TableSize(h, "ij/join-left"), 0);
    EXPECT_EQ(TableSize(h, "ij/join-right"), 0);
    EXPECT_EQ(TableSize(h, "ij/timers/event"), 0);
  }
}

TEST(IntervalJoinTest, CleanupWhileTheWatermarkAdvancesLosesNoPair) {
  // In timestamp order with the watermark right behind each record, buffers are cleaned
  // as early as the bounds allow; every pair must still be found.
  std::vector<Input> input = GenerateInput(/*seed=*/11);
  const std::vector<std::string> expected = ExpectedPairs(input);
  std::stable_sort(input.begin(), input.end(), [](const Input& x, const Input& y) { return x.ts < y.ts; });
  Harness h(IntervalJoin(kLower, kUpper));
  ASSERT_TRUE(h.Open().ok());
  Timestamp wm = kMinTimestamp;
  for (const Input& r : input) {
    Feed(h, r, wm);
    wm = r.ts - 1;
    h.Watermark(wm);
  }
  EXPECT_LT(TableSize(h, "ij/join-left") + TableSize(h, "ij/join-right"), 30);  // cleaned as it went
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Stamped(h), UnorderedElementsAreArray(expected));
  EXPECT_EQ(h.errors().late_records(), 0);
  EXPECT_EQ(TableSize(h, "ij/join-left"), 0);
  EXPECT_EQ(TableSize(h, "ij/join-right"), 0);
}

std::unique_ptr<state::KeyedStateBackend> CachedRocksDb(size_t capacity_bytes) {
  static auto shared = state::RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  static int n = 0;
  std::string dir = ::testing::TempDir() + "/kappa_join_db_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  auto rocks = state::RocksDbBackend::Open(dir, shared);
  EXPECT_TRUE(rocks.ok()) << rocks.status();
  return state::CachingBackend::Create(std::move(*rocks), capacity_bytes);
}

TEST(IntervalJoinTest, BuffersOnCachedRocksDbSurviveACheckpoint) {
  // Map state behind a cache too small for it (scans merge cached and stored entries);
  // halfway, a checkpoint is taken and a fresh instance restores it and goes on.
  std::vector<Input> input = GenerateInput(/*seed=*/13);
  const std::vector<std::string> expected = ExpectedPairs(input);
  std::stable_sort(input.begin(), input.end(), [](const Input& x, const Input& y) { return x.ts < y.ts; });
  Harness first(IntervalJoin(kLower, kUpper), CachedRocksDb(300));
  ASSERT_TRUE(first.Open().ok());
  const size_t half = input.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    Feed(first, input[i], input[i].ts - 50);
    if (i % 10 == 9) first.Watermark(input[i].ts - 50);
  }
  ASSERT_TRUE(first.SnapshotState().ok());
  std::string dir = ::testing::TempDir() + "/kappa_join_checkpoint_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(first.context().backend()->Snapshot(dir).ok());
  std::vector<std::string> got = Stamped(first);

  auto backend = CachedRocksDb(300);
  ASSERT_TRUE(state::RestoreSnapshot(dir, "rocksdb", 0, 127, backend.get()).ok());
  Harness second(IntervalJoin(kLower, kUpper), std::move(backend));
  ASSERT_TRUE(second.Open().ok());
  for (size_t i = half; i < input.size(); ++i) {
    Feed(second, input[i], input[i].ts - 50);
    if (i % 10 == 9) second.Watermark(input[i].ts - 50);
  }
  second.Watermark(kMaxTimestamp);
  for (const std::string& s : Stamped(second)) got.push_back(s);
  EXPECT_EQ(first.errors().late_records() + second.errors().late_records(), 0);
  EXPECT_THAT(got, UnorderedElementsAreArray(expected));
}

}  // namespace
}  // namespace kappa::operators
