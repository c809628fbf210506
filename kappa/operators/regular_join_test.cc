#include "kappa/operators/regular_join.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/rocksdb_backend.h"
#include "kappa/testing/harness.h"

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

using Harness = kappa::testing::TwoInputHarness<Order, Payment, Change<std::string>>;

// "o<id>+p<id>", with "-" for a missing side.
struct PairFn {
  std::string operator()(const Order* o, const Payment* p) const {
    return absl::StrCat(o ? absl::StrCat("o", o->id) : "-", "+", p ? absl::StrCat("p", p->id) : "-");
  }
};

constexpr char kUid[] = "rj";

std::unique_ptr<runtime::OperatorBase> Join(JoinMode mode, Timestamp left_ttl = kNoJoinTtl,
                                            Timestamp right_ttl = kNoJoinTtl) {
  return std::make_unique<RegularJoinOperator<std::string, Order, Payment, std::string, PairFn>>(
      [](const Order& o) { return o.key; }, [](const Payment& p) { return p.key; }, mode, left_ttl, right_ttl,
      PairFn(), kUid);
}

// The changelog as "+I o1+p2" lines, in emission order.
std::vector<std::string> Changes(const Harness& h) {
  std::vector<std::string> out;
  for (const auto& r : h.records()) out.push_back(absl::StrCat(r.value.op, " ", r.value.row));
  return out;
}
std::vector<std::string> StampedChanges(const Harness& h) {
  std::vector<std::string> out;
  for (const auto& r : h.records()) out.push_back(absl::StrCat(r.value.op, " ", r.value.row, "@", r.ts));
  return out;
}

// What a reader of the changelog holds at the end: +I rows minus -D rows. A -D of a row
// that is not there fails the test.
std::vector<std::string> Fold(const std::vector<Record<Change<std::string>>>& records) {
  std::multiset<std::string> rows;
  for (const auto& r : records) {
    if (r.value.is_insert()) {
      rows.insert(r.value.row);
    } else {
      auto it = rows.find(r.value.row);
      EXPECT_NE(it, rows.end()) << "-D of a row never inserted: " << r.value.row;
      if (it != rows.end()) rows.erase(it);
    }
  }
  return {rows.begin(), rows.end()};
}

int64_t TableSize(Harness& h, const std::string& name) {
  EXPECT_TRUE(h.SnapshotState().ok());
  auto table = h.context().backend()->RegisterTable(name);
  EXPECT_TRUE(table.ok());
  return h.context().backend()->ApproximateKeys(*table);
}

TEST(RegularJoinTest, InnerJoinEmitsThePairWhenTheSecondRecordArrivesInEitherOrder) {
  Harness h(Join(JoinMode::kInner));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  EXPECT_THAT(Changes(h), IsEmpty());
  h.ProcessRight({"k", 2}, 3000);
  EXPECT_THAT(StampedChanges(h), ElementsAre("+I o1+p2@3000"));

  Harness g(Join(JoinMode::kInner));
  ASSERT_TRUE(g.Open().ok());
  g.ProcessRight({"k", 2}, 3000);
  EXPECT_THAT(Changes(g), IsEmpty());
  g.ProcessLeft({"k", 1}, 1000);
  EXPECT_THAT(StampedChanges(g), ElementsAre("+I o1+p2@3000"));
}

TEST(RegularJoinTest, RecordsOfDifferentKeysAreNotJoined) {
  Harness h(Join(JoinMode::kInner));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"a", 1}, 1000);
  h.ProcessRight({"b", 2}, 1000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Changes(h), IsEmpty());
}

TEST(RegularJoinTest, InnerJoinIgnoresEventTimeWithoutTtl) {
  // No time condition: a payment an hour before its order joins, and so does one a day late.
  Harness h(Join(JoinMode::kInner));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessRight({"k", 1}, 0);
  h.Watermark(50'000'000);
  h.ProcessLeft({"k", 2}, 3'600'000, /*pwm=*/50'000'000);
  h.ProcessRight({"k", 3}, 90'000'000);
  EXPECT_THAT(Changes(h), ElementsAre("+I o2+p1", "+I o2+p3"));
  EXPECT_EQ(h.errors().late_records(), 0);
}

TEST(RegularJoinTest, LeftJoinEmitsAnUnmatchedOrderAndRetractsItWhenItsPaymentArrives) {
  Harness h(Join(JoinMode::kLeft));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  EXPECT_THAT(StampedChanges(h), ElementsAre("+I o1+-@1000"));
  h.ProcessRight({"k", 2}, 2000);
  h.ProcessRight({"k", 3}, 2500);
  EXPECT_THAT(StampedChanges(h), ElementsAre("+I o1+-@1000", "-D o1+-@2000", "+I o1+p2@2000", "+I o1+p3@2500"));
  EXPECT_THAT(Fold(h.records()), ElementsAre("o1+p2", "o1+p3"));
}

TEST(RegularJoinTest, LeftJoinWithThePaymentFirstEmitsOnlyThePair) {
  Harness h(Join(JoinMode::kLeft));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessRight({"k", 2}, 2000);  // right is not preserved: nothing yet
  EXPECT_THAT(Changes(h), IsEmpty());
  h.ProcessLeft({"k", 1}, 1000);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+p2"));
  h.ProcessRight({"k", 5}, 2000);  // an unmatched payment stays silent in a left join
  h.ProcessRight({"x", 6}, 2000);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+p2", "+I o1+p5"));
}

TEST(RegularJoinTest, RightJoinMirrorsTheLeftJoin) {
  Harness h(Join(JoinMode::kRight));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  EXPECT_THAT(Changes(h), IsEmpty());
  h.ProcessRight({"k", 2}, 2000);
  h.ProcessRight({"z", 3}, 2000);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+p2", "+I -+p3"));
  h.ProcessLeft({"z", 4}, 2100);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+p2", "+I -+p3", "-D -+p3", "+I o4+p3"));
  EXPECT_THAT(Fold(h.records()), ElementsAre("o1+p2", "o4+p3"));
}

TEST(RegularJoinTest, FullJoinPadsBothSidesAndRetractsEachPaddedRowOnce) {
  Harness h(Join(JoinMode::kFull));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  h.ProcessLeft({"k", 2}, 1000);
  h.ProcessRight({"m", 9}, 1000);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+-", "+I o2+-", "+I -+p9"));
  h.ProcessRight({"k", 3}, 1100);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+-", "+I o2+-", "+I -+p9", "-D o1+-", "+I o1+p3", "-D o2+-",
                                      "+I o2+p3"));
  h.ProcessRight({"k", 4}, 1200);  // both orders are matched already: no retraction
  EXPECT_THAT(Fold(h.records()), UnorderedElementsAre("o1+p3", "o2+p3", "o1+p4", "o2+p4", "-+p9"));
  EXPECT_EQ(h.records().size(), 9u);
}

// The example of docs/api.md ("Regular join"): payment 7, order 7, order 8, payment 9.
TEST(RegularJoinTest, TheGuidesExampleInEveryMode) {
  auto run = [](JoinMode mode) {
    Harness h(Join(mode, /*left_ttl=*/86'400'000));
    EXPECT_TRUE(h.Open().ok());
    h.ProcessRight({"7", 1}, 4000);
    h.ProcessLeft({"7", 7}, 1000);
    h.ProcessLeft({"8", 8}, 5000);
    h.ProcessRight({"9", 3}, 6000);
    return Changes(h);
  };
  EXPECT_THAT(run(JoinMode::kInner), ElementsAre("+I o7+p1"));
  EXPECT_THAT(run(JoinMode::kLeft), ElementsAre("+I o7+p1", "+I o8+-"));
  EXPECT_THAT(run(JoinMode::kRight), ElementsAre("+I -+p1", "-D -+p1", "+I o7+p1", "+I -+p3"));
  EXPECT_THAT(run(JoinMode::kFull), ElementsAre("+I -+p1", "-D -+p1", "+I o7+p1", "+I o8+-", "+I -+p3"));
}

TEST(RegularJoinTest, AKeyWithManyRecordsOnBothSidesJoinsEveryPairOnce) {
  for (JoinMode mode : {JoinMode::kInner, JoinMode::kLeft, JoinMode::kRight, JoinMode::kFull}) {
    SCOPED_TRACE(static_cast<int>(mode));
    Harness h(Join(mode));
    ASSERT_TRUE(h.Open().ok());
    std::vector<std::string> want;
    // 20 orders and 30 payments of one key, interleaved, several sharing a timestamp.
    int o = 0, p = 0;
    for (int i = 0; i < 50; ++i) {
      if (i % 5 < 2 && o < 20) {
        h.ProcessLeft({"k", ++o}, 1000 + i / 3);
      } else {
        h.ProcessRight({"k", ++p}, 1000 + i / 3);
      }
    }
    ASSERT_EQ(o, 20);
    ASSERT_EQ(p, 30);
    for (int a = 1; a <= 20; ++a) {
      for (int b = 1; b <= 30; ++b) want.push_back(absl::StrCat("o", a, "+p", b));
    }
    EXPECT_THAT(Fold(h.records()), UnorderedElementsAreArray(want));
    int inserts = 0;
    for (const auto& r : h.records()) inserts += r.value.is_insert();
    EXPECT_GE(inserts, 600);
  }
}

TEST(RegularJoinTest, TtlKeepsALeftRecordForItsSpanOfEventTime) {
  Harness h(Join(JoinMode::kInner, /*left_ttl=*/100));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  h.ProcessRight({"k", 2}, 1100);  // a.ts + ttl: joins
  h.ProcessRight({"k", 3}, 1101);  // past it: does not, although the order is still in state
  h.ProcessRight({"k", 4}, 900);   // right records have no TTL: an earlier one joins
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+p2", "+I o1+p4"));
  EXPECT_EQ(TableSize(h, "rj/regular-join-left"), 1);
  h.Watermark(1100);
  EXPECT_EQ(TableSize(h, "rj/regular-join-left"), 1);
  h.Watermark(1101);  // the watermark passed 1000 + 100: the order leaves
  EXPECT_EQ(TableSize(h, "rj/regular-join-left"), 0);
  EXPECT_EQ(TableSize(h, "rj/regular-join-right"), 3);  // kept for good
}

TEST(RegularJoinTest, WithATtlOnTheOtherSideARecordBehindTheWatermarkIsLate) {
  Harness h(Join(JoinMode::kFull, /*left_ttl=*/100, kNoJoinTtl));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  h.Watermark(1050);
  // Right record behind its partition's watermark: late, since left records expire.
  h.ProcessRight({"k", 2}, 1040, /*pwm=*/1060);
  EXPECT_EQ(h.errors().late_records(), 1);
  // A left record behind the watermark is not late: right records never expire.
  h.ProcessLeft({"k", 3}, 1010, /*pwm=*/1060);
  EXPECT_EQ(h.errors().late_records(), 1);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+-", "+I o3+-"));
}

TEST(RegularJoinTest, ExpiryIsSilentAndLaterPartnersSeeOnlyLiveRecords) {
  Harness h(Join(JoinMode::kFull, /*left_ttl=*/100, /*right_ttl=*/100));
  ASSERT_TRUE(h.Open().ok());
  h.ProcessLeft({"k", 1}, 1000);
  h.ProcessRight({"k", 2}, 1050);
  h.Watermark(1200);
  h.ProcessRight({"k", 3}, 1300, 1200);  // the order expired: unmatched
  h.ProcessLeft({"k", 4}, 1350, 1200);
  EXPECT_THAT(Changes(h), ElementsAre("+I o1+-", "-D o1+-", "+I o1+p2", "+I -+p3", "-D -+p3", "+I o4+p3"));
}

// --- Checkpoint and restore ---------------------------------------------------------------

struct Input {
  bool left;
  Order value;  // a payment has the same fields
  Timestamp ts;
};

// Shuffled records of 12 keys, with timestamps a few hundred ms out of order.
std::vector<Input> GenerateInput(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Input> in;
  for (int i = 0; i < 600; ++i) {
    in.push_back({rng() % 2 == 0, {absl::StrCat("k", rng() % 12), i}, 1000 + i * 10 + static_cast<int>(rng() % 300)});
  }
  return in;
}

void Feed(Harness& h, const Input& in) {
  const Timestamp pwm = in.ts - 500;  // every record is within 500 ms of the watermark
  if (in.left) {
    h.ProcessLeft(in.value, in.ts, pwm);
  } else {
    h.ProcessRight({in.value.key, in.value.id}, in.ts, pwm);
  }
}

std::unique_ptr<state::KeyedStateBackend> Backend(const std::string& kind, const std::string& dir) {
  if (kind == "heap") return state::HeapBackend::Create();
  static auto shared = state::RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  std::filesystem::remove_all(dir);
  auto rocks = state::RocksDbBackend::Open(dir, shared);
  EXPECT_TRUE(rocks.ok()) << rocks.status();
  return std::move(*rocks);
}

class RegularJoinRestoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Dir(const std::string& what) {
    return ::testing::TempDir() + "/kappa_regular_join_" + what + "_" + GetParam() + "_" + std::to_string(getpid());
  }
};

TEST_P(RegularJoinRestoreTest, RestoreInTheMiddleGivesTheSameChangelogAsAnUninterruptedRun) {
  const std::vector<Input> input = GenerateInput(/*seed=*/5);
  for (JoinMode mode : {JoinMode::kInner, JoinMode::kLeft, JoinMode::kRight, JoinMode::kFull}) {
    for (Timestamp ttl : {kNoJoinTtl, Timestamp{400}}) {
      SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(mode), " ttl ", ttl));
      auto run = [&](Harness& h, size_t from, size_t to) {
        for (size_t i = from; i < to; ++i) {
          Feed(h, input[i]);
          if (i % 10 == 9) h.Watermark(input[i].ts - 500);
        }
      };
      Harness whole(Join(mode, ttl, ttl), Backend(GetParam(), Dir("whole")));
      ASSERT_TRUE(whole.Open().ok());
      run(whole, 0, input.size());
      whole.Watermark(kMaxTimestamp);

      const size_t half = input.size() / 2;
      Harness first(Join(mode, ttl, ttl), Backend(GetParam(), Dir("first")));
      ASSERT_TRUE(first.Open().ok());
      run(first, 0, half);
      ASSERT_TRUE(first.SnapshotState().ok());
      const std::string snapshot = Dir("snapshot");
      std::filesystem::remove_all(snapshot);
      ASSERT_TRUE(first.context().backend()->Snapshot(snapshot).ok());
      auto backend = Backend(GetParam(), Dir("second"));
      ASSERT_TRUE(state::RestoreSnapshot(snapshot, GetParam(), 0, 127, backend.get()).ok());
      Harness second(Join(mode, ttl, ttl), std::move(backend));
      ASSERT_TRUE(second.Open().ok());
      second.Watermark(input[half - 1].ts - 500);  // the watermark a restored task resumes with
      run(second, half, input.size());
      second.Watermark(kMaxTimestamp);

      std::vector<std::string> got = StampedChanges(first);
      for (const std::string& s : StampedChanges(second)) got.push_back(s);
      std::vector<std::string> want = StampedChanges(whole);
      EXPECT_GT(want.size(), 500u);
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
      EXPECT_EQ(got, want);
      EXPECT_EQ(first.errors().late_records() + second.errors().late_records(), whole.errors().late_records());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, RegularJoinRestoreTest, ::testing::Values("heap", "rocksdb"));

// With TTLs, the folded result is the SQL outer join under the event-time condition
// b.ts ≤ a.ts + ttl and a.ts ≤ b.ts + ttl, whatever the arrival order within the bound.
TEST(RegularJoinTest, FoldedResultDoesNotDependOnArrivalOrder) {
  std::vector<Input> input = GenerateInput(/*seed=*/9);
  constexpr Timestamp kTtl = 300;
  std::vector<std::string> want;
  std::map<int64_t, bool> matched;
  for (const Input& a : input) {
    if (!a.left) continue;
    for (const Input& b : input) {
      if (b.left || b.value.key != a.value.key || b.ts > a.ts + kTtl || a.ts > b.ts + kTtl) continue;
      want.push_back(absl::StrCat("o", a.value.id, "+p", b.value.id));
      matched[a.value.id] = matched[b.value.id] = true;
    }
  }
  for (const Input& x : input) {
    if (matched[x.value.id]) continue;
    want.push_back(x.left ? absl::StrCat("o", x.value.id, "+-") : absl::StrCat("-+p", x.value.id));
  }
  ASSERT_GT(want.size(), 300u);
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::shuffle(input.begin(), input.end(), std::mt19937(seed));
    std::stable_sort(input.begin(), input.end(),
                     [](const Input& x, const Input& y) { return x.ts / 500 < y.ts / 500; });  // within 500 ms
    Harness h(Join(JoinMode::kFull, kTtl, kTtl));
    ASSERT_TRUE(h.Open().ok());
    Timestamp wm = kMinTimestamp;
    for (const Input& in : input) {
      const Timestamp block_wm = in.ts / 500 * 500 - 500;  // behind every record of the block
      if (block_wm > wm) h.Watermark(wm = block_wm);
      if (in.left) {
        h.ProcessLeft(in.value, in.ts, wm);
      } else {
        h.ProcessRight({in.value.key, in.value.id}, in.ts, wm);
      }
    }
    h.Watermark(kMaxTimestamp);
    EXPECT_EQ(h.errors().late_records(), 0);
    std::vector<std::string> got = Fold(h.records());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "seed " << seed;  // Fold returns sorted rows
    EXPECT_EQ(TableSize(h, "rj/regular-join-left") + TableSize(h, "rj/regular-join-right"), 0);
  }
}

}  // namespace
}  // namespace kappa::operators
