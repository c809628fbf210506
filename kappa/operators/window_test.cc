#include "kappa/operators/window.h"

#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kappa/testing/harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

struct Event {
  std::string key;
  int64_t value;
};

}  // namespace
}  // namespace kappa::operators

KAPPA_SERIALIZABLE(kappa::operators::Event, &kappa::operators::Event::key, &kappa::operators::Event::value);

namespace kappa::operators {
namespace {

using CountOut = Windowed<std::string, int64_t>;

struct Row {
  std::string key;
  Timestamp start, end;
  int64_t value;
  bool operator==(const Row&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << r.key << "[" << r.start << "," << r.end << ")=" << r.value;
}
std::vector<Row> Rows(const std::vector<CountOut>& out) {
  std::vector<Row> rows;
  for (const auto& o : out) rows.push_back({o.key, o.window.start, o.window.end, o.value});
  return rows;
}

auto KeyOf() {
  return std::function<std::string(const Event&)>([](const Event& e) { return e.key; });
}

struct SumAgg {
  int64_t Create() const { return 0; }
  void Add(int64_t& acc, const Event& e) const { acc += e.value; }
  int64_t Result(const int64_t& acc) const { return acc; }
  void Merge(int64_t& acc, const int64_t& o) const { acc += o; }
};

template <typename Agg>
auto MakeAggregate(WindowAssigner assigner, Timestamp lateness = 0, Agg agg = Agg()) {
  auto emit = [](const std::string& k, const TimeWindow& w, int64_t&& r, Collector<CountOut>& out) {
    out.Collect(CountOut{k, w, r});
  };
  using Contents = AggregateContents<std::string, Event, Agg, decltype(emit), CountOut>;
  return std::make_unique<WindowOperator<std::string, Event, CountOut, Contents>>(KeyOf(), assigner, lateness,
                                                                                 Contents(agg, emit), "w");
}

using Harness = kappa::testing::OperatorHarness<Event, CountOut>;

TEST(TumblingWindowTest, FiresWhenWatermarkPassesEnd) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 1}, 2000);
  h.Process({"a", 1}, 11000);
  h.Watermark(9998);
  EXPECT_TRUE(h.output().empty());
  h.Watermark(9999);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 10000, 2}));
  EXPECT_EQ(h.records()[0].ts, 9999);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 10000, 2}, Row{"a", 10000, 20000, 1}));
}

TEST(TumblingWindowTest, OutOfOrderRecordsWithinBoundCountOnce) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  for (Timestamp ts : {5000, 3000, 9000, 100, 7000}) h.Process({"k", 1}, ts);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"k", 0, 10000, 5}));
}

TEST(TumblingWindowTest, KeysAreCountedSeparately) {
  Harness h(MakeAggregate<SumAgg>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 5}, 1000);
  h.Process({"b", 7}, 1000);
  h.Process({"a", 6}, 2000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), UnorderedElementsAre(Row{"a", 0, 10000, 11}, Row{"b", 0, 10000, 7}));
}

TEST(TumblingWindowTest, NegativeTimestampsAlignToSize) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, -1);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", -10000, 0, 1}));
}

TEST(SlidingWindowTest, RecordBelongsToEveryWindowContainingIt) {
  Harness h(MakeAggregate<Count>(Sliding(absl::Seconds(10), absl::Seconds(2))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 5000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()),
              UnorderedElementsAre(Row{"a", -4000, 6000, 1}, Row{"a", -2000, 8000, 1}, Row{"a", 0, 10000, 1},
                                   Row{"a", 2000, 12000, 1}, Row{"a", 4000, 14000, 1}));
}

TEST(SlidingWindowTest, WindowsFireInEndOrder) {
  Harness h(MakeAggregate<Count>(Sliding(absl::Seconds(4), absl::Seconds(2))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 3000);
  h.Watermark(3999);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 4000, 1}));
  h.Watermark(5999);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 4000, 1}, Row{"a", 2000, 6000, 1}));
}

TEST(SessionWindowTest, RecordsLessThanGapApartMerge) {
  Harness h(MakeAggregate<Count>(Session(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 1}, 5000);
  h.Process({"a", 1}, 30000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 15000, 2}, Row{"a", 30000, 40000, 1}));
}

TEST(SessionWindowTest, RecordsExactlyGapApartDoNotMerge) {
  Harness h(MakeAggregate<Count>(Session(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 1}, 11000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 11000, 1}, Row{"a", 11000, 21000, 1}));
}

TEST(SessionWindowTest, LateArrivalBridgesTwoSessionsIntoOne) {
  Harness h(MakeAggregate<SumAgg>(Session(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 10}, 20000);
  h.Process({"a", 100}, 10500);  // [10500, 20500) overlaps both
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 30000, 111}));
}

TEST(SessionWindowTest, SessionsOfDifferentKeysAreIndependent) {
  Harness h(MakeAggregate<Count>(Session(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"b", 1}, 5000);
  h.Process({"a", 1}, 8000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), UnorderedElementsAre(Row{"a", 1000, 18000, 2}, Row{"b", 5000, 15000, 1}));
}

TEST(SessionWindowTest, OneFiringPerSessionAndStateIsPurged) {
  Harness h(MakeAggregate<Count>(Session(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Watermark(10999);
  EXPECT_EQ(h.output().size(), 1u);
  h.Process({"a", 1}, 12000);  // a new session, not a continuation of the fired one
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 11000, 1}, Row{"a", 12000, 22000, 1}));
}

TEST(WindowLatenessTest, RecordLateForItsPartitionGoesToLateSideOutput) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10))));
  h.CollectSideOutput(1);
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  // The record's own partition had already reached watermark 9999: its window is closed
  // for it, even though this operator's watermark is still low.
  h.Process({"a", 2}, 2000, /*pwm=*/9999);
  h.Process({"a", 3}, 3000, /*pwm=*/9998);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 10000, 2}));
  ASSERT_EQ(h.side_output().size(), 1u);
  EXPECT_EQ(h.side_output()[0].value, 2);
}

TEST(WindowLatenessTest, LateRecordsWithoutSideOutputAreReportedAsLate) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Watermark(20000);
  h.Process({"a", 1}, 5000, /*pwm=*/20000);
  EXPECT_TRUE(h.output().empty());
  EXPECT_EQ(h.errors().late_records(), 1);
  ASSERT_EQ(h.errors().events().size(), 1u);
  EXPECT_EQ(h.errors().events()[0].kind, "late");
  EXPECT_EQ(h.errors().events()[0].ts, 5000);
}

TEST(WindowLatenessTest, AllowedLatenessRefiresWithUpdateThenDrops) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10)), /*lateness=*/5000));
  h.CollectSideOutput(1);
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Watermark(9999);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 10000, 1}));
  // Within lateness: the window fires again with the updated count.
  h.Process({"a", 1}, 2000, /*pwm=*/12000);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 10000, 1}, Row{"a", 0, 10000, 2}));
  // end - 1 + lateness = 14999: past it the window's state is gone and records are late.
  h.Watermark(14999);
  h.Process({"a", 1}, 3000, /*pwm=*/14999);
  EXPECT_EQ(h.output().size(), 2u);
  EXPECT_EQ(h.side_output().size(), 1u);
}

TEST(WindowLatenessTest, RecordIsKeptInWindowsThatAreNotLateYet) {
  // Sliding: the record is late for the earliest window only; it still counts in the rest.
  Harness h(MakeAggregate<Count>(Sliding(absl::Seconds(4), absl::Seconds(2))));
  h.CollectSideOutput(1);
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 3000, /*pwm=*/4500);  // [0,4000) is late, [2000,6000) is not
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 2000, 6000, 1}));
  EXPECT_TRUE(h.side_output().empty());
}

TEST(WindowLatenessTest, SessionRecordBehindItsPartitionIsLateWhetherOrNotItsSessionFired) {
  // The record at 9000 would extend the session [1000, 11000), and its own partition is at
  // watermark 11000. Whether the session has fired yet depends on the other partitions;
  // the record must be late either way, not merged in one run and a new session in
  // another.
  for (bool fired_first : {true, false}) {
    SCOPED_TRACE(fired_first ? "session fired first" : "session still open");
    Harness h(MakeAggregate<Count>(Session(absl::Seconds(10))));
    h.CollectSideOutput(1);
    ASSERT_TRUE(h.Open().ok());
    h.Process({"a", 1}, 1000);
    if (fired_first) h.Watermark(10999);
    h.Process({"a", 1}, 9000, /*pwm=*/11000);
    h.Watermark(kMaxTimestamp);
    EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 11000, 1}));
    EXPECT_EQ(h.side_output().size(), 1u);
  }
}

TEST(WindowLatenessTest, SessionRecordAheadOfItsPartitionWatermarkMerges) {
  Harness h(MakeAggregate<Count>(Session(absl::Seconds(10))));
  h.CollectSideOutput(1);
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 1}, 9000, /*pwm=*/8999);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 19000, 2}));
  EXPECT_TRUE(h.side_output().empty());
}

TEST(CountWindowTest, FiresEveryNRecordsPerKey) {
  Harness h(MakeAggregate<SumAgg>(CountWindow(3)));
  ASSERT_TRUE(h.Open().ok());
  for (int i = 1; i <= 7; ++i) h.Process({"a", i}, i * 1000);
  h.Process({"b", 100}, 1000);
  h.Watermark(kMaxTimestamp);  // incomplete counts do not fire
  std::vector<int64_t> sums;
  for (const auto& o : h.output()) sums.push_back(o.value);
  EXPECT_THAT(sums, ElementsAre(1 + 2 + 3, 4 + 5 + 6));
}

TEST(WindowReduceTest, EmitsReducedValue) {
  auto fn = [](const Event& a, const Event& b) { return Event{a.key, std::max(a.value, b.value)}; };
  using Contents = ReduceContents<std::string, Event, decltype(fn)>;
  kappa::testing::OperatorHarness<Event, Event> h(std::make_unique<WindowOperator<std::string, Event, Event, Contents>>(
      KeyOf(), Tumbling(absl::Seconds(10)), 0, Contents(fn), "w"));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 3}, 1000);
  h.Process({"a", 9}, 2000);
  h.Process({"a", 4}, 3000);
  h.Watermark(kMaxTimestamp);
  ASSERT_EQ(h.output().size(), 1u);
  EXPECT_EQ(h.output()[0].value, 9);
}

TEST(WindowProcessTest, SeesAllContentsAndWindowMetadata) {
  auto fn = [](const std::string& key, const TimeWindow& w, std::vector<Event>& all, Collector<std::string>& out) {
    std::string s = key + "@" + std::to_string(w.start) + ":";
    for (const auto& e : all) s += std::to_string(e.value) + ",";
    out.Collect(s);
  };
  using Contents = ProcessContents<std::string, Event, decltype(fn), std::string>;
  kappa::testing::OperatorHarness<Event, std::string> h(
      std::make_unique<WindowOperator<std::string, Event, std::string, Contents>>(KeyOf(), Session(absl::Seconds(5)),
                                                                                  0, Contents(fn), "w"));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 2}, 12000);
  h.Process({"a", 3}, 4000);  // joins the first session
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("a@1000:1,3,", "a@12000:2,"));
}

TEST(WindowProcessTest, ThrowingWindowFunctionIsReportedAndOtherWindowsStillFire) {
  auto fn = [](const std::string& key, const TimeWindow& w, std::vector<Event>& all, Collector<std::string>& out) {
    if (key == "bad") throw std::runtime_error("boom");
    out.Collect(key);
  };
  using Contents = ProcessContents<std::string, Event, decltype(fn), std::string>;
  kappa::testing::OperatorHarness<Event, std::string> h(
      std::make_unique<WindowOperator<std::string, Event, std::string, Contents>>(KeyOf(), Tumbling(absl::Seconds(5)),
                                                                                  0, Contents(fn), "w"));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"bad", 1}, 1000);
  h.Process({"good", 1}, 1000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("good"));
  EXPECT_EQ(h.errors().user_errors(), 1);
  EXPECT_EQ(h.errors().events()[0].error, "boom");
}

TEST(WindowTimerTest, FiringStopsWhenDownstreamIsFullAndResumes) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(1))));
  ASSERT_TRUE(h.Open().ok());
  for (int i = 0; i < 5; ++i) h.Process({"a", 1}, i * 1000);
  h.context().yield_ = true;
  EXPECT_FALSE(h.op()->AdvanceWatermark(kMaxTimestamp));
  EXPECT_EQ(h.output().size(), 1u);  // one window, then it yielded
  h.context().yield_ = false;
  EXPECT_TRUE(h.op()->AdvanceWatermark(kMaxTimestamp));
  EXPECT_EQ(h.output().size(), 5u);
}

TEST(WindowStateTest, WindowContentsAndTimersLiveInTheBackend) {
  Harness h(MakeAggregate<Count>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"b", 1}, 1000);
  auto* backend = h.context().backend();
  auto contents = backend->RegisterTable("w/window-contents");
  auto timers = backend->RegisterTable("w/timers/event");
  ASSERT_TRUE(contents.ok() && timers.ok());
  ASSERT_TRUE(h.SnapshotState().ok());  // timers reach the backend on the barrier
  EXPECT_EQ(backend->ApproximateKeys(*contents), 2);
  EXPECT_EQ(backend->ApproximateKeys(*timers), 2);
  h.Watermark(kMaxTimestamp);
  ASSERT_TRUE(h.SnapshotState().ok());
  EXPECT_EQ(backend->ApproximateKeys(*contents), 0);
  EXPECT_EQ(backend->ApproximateKeys(*timers), 0);
}

}  // namespace
}  // namespace kappa::operators

namespace kappa::operators {
namespace {

struct ThrowingAdd {
  int64_t Create() const { return 0; }
  void Add(int64_t& acc, const Event& e) const {
    if (e.value < 0) throw std::domain_error("negative value");
    acc += e.value;
  }
  int64_t Result(const int64_t& acc) const { return acc; }
};

TEST(WindowErrorsTest, ThrowingAggregateSkipsTheRecordAndIsReported) {
  Harness h(MakeAggregate<ThrowingAdd>(Tumbling(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 5}, 1000);
  h.Process({"a", -1}, 2000);
  h.Process({"a", 7}, 3000);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 0, 10000, 12}));
  ASSERT_EQ(h.errors().user_errors(), 1);
  EXPECT_EQ(h.errors().events()[0].error, "negative value");
  EXPECT_EQ(h.errors().late_records(), 0) << "a record that failed is not also late";
}

// Merge is deliberately not const: session merging must still use it.
struct MutableMergeSum {
  int64_t Create() { return 0; }
  void Add(int64_t& acc, const Event& e) { acc += e.value; }
  int64_t Result(const int64_t& acc) { return acc; }
  void Merge(int64_t& acc, const int64_t& o) { acc += o; }
};

TEST(SessionWindowTest, NonConstMergeIsUsedWhenSessionsMerge) {
  Harness h(MakeAggregate<MutableMergeSum>(Session(absl::Seconds(10))));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 10}, 20000);
  h.Process({"a", 100}, 10500);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(Rows(h.output()), ElementsAre(Row{"a", 1000, 30000, 111}));
}

// --- Checkpoints on RocksDB behind the write-back cache -------------------------------------

std::unique_ptr<state::KeyedStateBackend> CachedRocksDb(size_t capacity_bytes) {
  static auto shared = state::RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  static int n = 0;
  std::string dir = ::testing::TempDir() + "/kappa_window_db_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  auto rocks = state::RocksDbBackend::Open(dir, shared);
  EXPECT_TRUE(rocks.ok()) << rocks.status();
  return state::CachingBackend::Create(std::move(*rocks), capacity_bytes);
}

// Runs seeded out-of-order input through the operator twice: uninterrupted on the heap, and
// on RocksDB behind a cache too small for the state, checkpointed halfway (barrier, backend
// snapshot) and restored into two instances that split the key groups. Both must emit the
// same rows.
template <typename Out>
void ExpectCheckpointAndRescaleChangeNothing(const std::function<std::unique_ptr<runtime::OperatorBase>()>& make,
                                             const std::function<std::string(const Out&)>& row) {
  using H = kappa::testing::OperatorHarness<Event, Out>;
  std::mt19937 rng(11);
  std::vector<std::pair<Event, Timestamp>> input;
  Timestamp ts = 0;
  for (int i = 0; i < 600; ++i) {
    ts += static_cast<Timestamp>(rng() % 40);
    input.push_back({Event{"k" + std::to_string(rng() % 25), static_cast<int64_t>(rng() % 100)},
                     ts - static_cast<Timestamp>(rng() % 300)});
  }
  auto feed = [&](size_t from, size_t to, const std::function<void(const Event&, Timestamp)>& process,
                  const std::function<void(Timestamp)>& watermark) {
    for (size_t i = from; i < to; ++i) {
      process(input[i].first, input[i].second);
      if (i % 25 == 24) watermark(input[i].second - 500);
    }
  };
  auto rows = [&](const H& h, std::vector<std::string>* out) {
    for (const Out& o : h.output()) out->push_back(row(o));
  };

  H ref(make());
  ASSERT_TRUE(ref.Open().ok());
  feed(0, input.size(), [&](const Event& e, Timestamp t) { ref.Process(e, t); },
       [&](Timestamp wm) { ref.Watermark(wm); });
  ref.Watermark(kMaxTimestamp);
  std::vector<std::string> want;
  rows(ref, &want);

  H first(make(), CachedRocksDb(400));
  ASSERT_TRUE(first.Open().ok());
  feed(0, 300, [&](const Event& e, Timestamp t) { first.Process(e, t); }, [&](Timestamp wm) { first.Watermark(wm); });
  ASSERT_TRUE(first.SnapshotState().ok());
  std::string dir = ::testing::TempDir() + "/kappa_window_checkpoint_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(first.context().backend()->Snapshot(dir).ok());
  std::vector<std::string> got;
  rows(first, &got);

  std::vector<std::unique_ptr<H>> halves;
  for (auto [lo, hi] : {std::pair{0, 63}, std::pair{64, 127}}) {
    auto backend = CachedRocksDb(400);
    ASSERT_TRUE(state::RestoreSnapshot(dir, "rocksdb", lo, hi, backend.get()).ok());
    halves.push_back(std::make_unique<H>(make(), std::move(backend)));
    ASSERT_TRUE(halves.back()->Open().ok());
  }
  auto owner = [&](const Event& e) -> H& {
    std::string key;
    Serializer<std::string>::Write(e.key, &key);
    return *halves[state::KeyGroupFor(key, 128) <= 63 ? 0 : 1];
  };
  feed(300, input.size(), [&](const Event& e, Timestamp t) { owner(e).Process(e, t); },
       [&](Timestamp wm) {
         for (auto& h : halves) h->Watermark(wm);
       });
  for (auto& h : halves) {
    h->Watermark(kMaxTimestamp);
    rows(*h, &got);
  }
  EXPECT_GT(want.size(), 50u);
  EXPECT_THAT(got, UnorderedElementsAreArray(want));
}

std::string CountRow(const CountOut& o) {
  return o.key + "[" + std::to_string(o.window.start) + "," + std::to_string(o.window.end) + ")=" +
         std::to_string(o.value);
}

TEST(WindowCheckpointTest, SlidingAggregateWithLatenessSurvivesACheckpointAndARescale) {
  ExpectCheckpointAndRescaleChangeNothing<CountOut>(
      [] { return MakeAggregate<SumAgg>(Sliding(absl::Seconds(1), absl::Milliseconds(250)), 200); }, CountRow);
}

TEST(WindowCheckpointTest, SessionAggregateSurvivesACheckpointAndARescale) {
  ExpectCheckpointAndRescaleChangeNothing<CountOut>(
      [] { return MakeAggregate<SumAgg>(Session(absl::Milliseconds(150))); }, CountRow);
}

TEST(WindowCheckpointTest, WindowContentsListSurvivesACheckpointAndARescale) {
  auto fn = [](const std::string& key, const TimeWindow& w, std::vector<Event>& all, Collector<std::string>& out) {
    std::string s = key + "@" + std::to_string(w.start) + ":";
    for (const auto& e : all) s += std::to_string(e.value) + ",";
    out.Collect(s);
  };
  using Contents = ProcessContents<std::string, Event, decltype(fn), std::string>;
  ExpectCheckpointAndRescaleChangeNothing<std::string>(
      [fn] {
        return std::make_unique<WindowOperator<std::string, Event, std::string, Contents>>(
            KeyOf(), Sliding(absl::Seconds(1), absl::Milliseconds(500)), 100, Contents(fn), "w");
      },
      [](const std::string& s) { return s; });
}

}  // namespace
}  // namespace kappa::operators
