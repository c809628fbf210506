#include "kappa/operators/basic.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kappa/testing/harness.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using kappa::testing::CollectingOutput;
using kappa::testing::OperatorHarness;

constexpr char kOperatorName[] = "parse-price";

template <typename In, typename Out, typename Fn>
std::unique_ptr<runtime::OperatorBase> Map(Fn fn) {
  return std::make_unique<MapOperator<In, Out, Fn>>(std::move(fn));
}
template <typename T, typename Fn>
std::unique_ptr<runtime::OperatorBase> Filter(Fn fn) {
  return std::make_unique<FilterOperator<T, Fn>>(std::move(fn));
}
template <typename In, typename Out, typename Fn>
std::unique_ptr<runtime::OperatorBase> FlatMap(Fn fn) {
  return std::make_unique<FlatMapOperator<In, Out, Fn>>(std::move(fn));
}
template <typename T, typename Fn>
std::unique_ptr<runtime::OperatorBase> Split(Fn fn, size_t outputs) {
  return std::make_unique<SplitOperator<T, Fn>>(std::move(fn), outputs);
}

// Opens the harness under a recognisable operator name, so error events can be checked.
template <typename H>
void OpenNamed(H& h) {
  h.context().name_ = kOperatorName;
  ASSERT_TRUE(h.Open().ok());
}

// The one error event in `errors` is a user error of kOperatorName for the record at ts.
void ExpectOneUserError(const ErrorSink& errors, const std::string& what, Timestamp ts) {
  EXPECT_EQ(errors.user_errors(), 1);
  EXPECT_EQ(errors.late_records(), 0);
  std::vector<ErrorEvent> events = errors.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "user");
  EXPECT_EQ(events[0].operator_name, kOperatorName);
  EXPECT_EQ(events[0].error, what);
  EXPECT_TRUE(events[0].has_ts);
  EXPECT_EQ(events[0].ts, ts);
  EXPECT_FALSE(events[0].record.empty());
}

TEST(MapTest, TransformsValueAndKeepsTimestampAndPartitionWatermark) {
  OperatorHarness<int64_t, std::string> h(Map<int64_t, std::string>([](int64_t v) { return std::to_string(v * 2); }));
  ASSERT_TRUE(h.Open().ok());
  h.Process(21, /*ts=*/1000, /*pwm=*/900);
  h.Process(-5, /*ts=*/-7);
  ASSERT_EQ(h.records().size(), 2u);
  EXPECT_EQ(h.records()[0].value, "42");
  EXPECT_EQ(h.records()[0].ts, 1000);
  EXPECT_EQ(h.records()[0].pwm, 900);
  EXPECT_EQ(h.records()[1].value, "-10");
  EXPECT_EQ(h.records()[1].ts, -7);
  EXPECT_EQ(h.records()[1].pwm, kMinTimestamp);
  EXPECT_EQ(h.errors().user_errors(), 0);
}

TEST(MapTest, ThrowingFunctionSkipsRecordReportsUserErrorAndContinues) {
  OperatorHarness<std::string, int64_t> h(
      Map<std::string, int64_t>([](const std::string& s) -> int64_t { return std::stoll(s); }));
  OpenNamed(h);
  h.Process("1", 1000);
  h.Process("not a number", 2000);
  h.Process("3", 3000);
  EXPECT_THAT(h.output(), ElementsAre(1, 3));
  EXPECT_EQ(h.records()[1].ts, 3000);
  ExpectOneUserError(h.errors(), "stoll", 2000);
}

TEST(FilterTest, KeepsExactlyTheRecordsThePredicateAccepts) {
  OperatorHarness<int64_t, int64_t> h(Filter<int64_t>([](int64_t v) { return v % 2 == 0; }));
  ASSERT_TRUE(h.Open().ok());
  for (int64_t v = 1; v <= 6; ++v) h.Process(v, v * 100, /*pwm=*/v * 100 - 50);
  EXPECT_THAT(h.output(), ElementsAre(2, 4, 6));
  ASSERT_EQ(h.records().size(), 3u);
  EXPECT_EQ(h.records()[0].ts, 200);
  EXPECT_EQ(h.records()[0].pwm, 150);
  EXPECT_EQ(h.records()[2].ts, 600);
  EXPECT_EQ(h.records()[2].pwm, 550);
}

TEST(FilterTest, ThrowingPredicateSkipsRecordReportsUserErrorAndContinues) {
  OperatorHarness<int64_t, int64_t> h(Filter<int64_t>([](int64_t v) {
    if (v == 2) throw std::invalid_argument("two is not allowed");
    return true;
  }));
  OpenNamed(h);
  h.Process(1, 10);
  h.Process(2, 20);
  h.Process(3, 30);
  EXPECT_THAT(h.output(), ElementsAre(1, 3));
  ExpectOneUserError(h.errors(), "two is not allowed", 20);
}

TEST(FlatMapTest, EmitsZeroOrMoreOutputsPerInputStampedWithTheInput) {
  // Emits v copies of v.
  OperatorHarness<int64_t, int64_t> h(FlatMap<int64_t, int64_t>([](int64_t v, Collector<int64_t>& out) {
    for (int64_t i = 0; i < v; ++i) out.Collect(v);
  }));
  ASSERT_TRUE(h.Open().ok());
  h.Process(0, 100);
  h.Process(1, 200, /*pwm=*/150);
  h.Process(3, 300, /*pwm=*/250);
  EXPECT_THAT(h.output(), ElementsAre(1, 3, 3, 3));
  EXPECT_EQ(h.records()[0].ts, 200);
  EXPECT_EQ(h.records()[0].pwm, 150);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(h.records()[i].ts, 300);
    EXPECT_EQ(h.records()[i].pwm, 250);
  }
}

TEST(FlatMapTest, CollectWithTimestampOverridesTimestampAndKeepsPartitionWatermark) {
  OperatorHarness<int64_t, int64_t> h(FlatMap<int64_t, int64_t>([](int64_t v, Collector<int64_t>& out) {
    out.Collect(v);
    out.CollectWithTimestamp(v + 1, out.timestamp() + 5000);
  }));
  ASSERT_TRUE(h.Open().ok());
  h.Process(10, 1000, /*pwm=*/800);
  ASSERT_EQ(h.records().size(), 2u);
  EXPECT_EQ(h.records()[0].value, 10);
  EXPECT_EQ(h.records()[0].ts, 1000);
  EXPECT_EQ(h.records()[1].value, 11);
  EXPECT_EQ(h.records()[1].ts, 6000);
  EXPECT_EQ(h.records()[1].pwm, 800);
}

TEST(FlatMapTest, ThrowingFunctionSkipsRecordReportsUserErrorAndContinues) {
  OperatorHarness<int64_t, int64_t> h(FlatMap<int64_t, int64_t>([](int64_t v, Collector<int64_t>& out) {
    if (v < 0) throw std::runtime_error("negative");
    out.Collect(v);
    out.Collect(v);
  }));
  OpenNamed(h);
  h.Process(1, 100);
  h.Process(-1, 200);
  h.Process(2, 300);
  EXPECT_THAT(h.output(), ElementsAre(1, 1, 2, 2));
  EXPECT_EQ(h.records()[2].ts, 300);
  ExpectOneUserError(h.errors(), "negative", 200);
}

// Split with three outputs: port 0 is the harness's main output, ports 1 and 2 are
// connected here.
class SplitTest : public ::testing::Test {
 protected:
  template <typename Fn>
  std::unique_ptr<OperatorHarness<int64_t, int64_t>> Make(Fn fn, bool connect_port_1 = true) {
    auto h = std::make_unique<OperatorHarness<int64_t, int64_t>>(Split<int64_t>(std::move(fn), 3));
    if (connect_port_1) h->op()->ConnectOutput(1, runtime::OutputPtr::Of<int64_t>(&port1_));
    h->op()->ConnectOutput(2, runtime::OutputPtr::Of<int64_t>(&port2_));
    h->context().name_ = kOperatorName;
    EXPECT_TRUE(h->Open().ok());
    return h;
  }
  CollectingOutput<int64_t> port1_;
  CollectingOutput<int64_t> port2_;
};

TEST_F(SplitTest, RoutesEachRecordToExactlyTheOutputItsIndexNames) {
  auto h = Make([](int64_t v) { return static_cast<int>(v % 3); });
  for (int64_t v = 0; v < 9; ++v) h->Process(v, v * 10, /*pwm=*/v * 10 - 1);
  EXPECT_THAT(h->output(), ElementsAre(0, 3, 6));
  EXPECT_THAT(port1_.values(), ElementsAre(1, 4, 7));
  EXPECT_THAT(port2_.values(), ElementsAre(2, 5, 8));
  EXPECT_EQ(port2_.records[1].ts, 50);
  EXPECT_EQ(port2_.records[1].pwm, 49);
  EXPECT_EQ(h->errors().user_errors(), 0);
}

TEST_F(SplitTest, IndexOutOfRangeIsUserErrorAndRecordGoesNowhere) {
  auto h = Make([](int64_t v) { return static_cast<int>(v); });
  h->Process(3, 300);  // one past the last output
  h->Process(1, 100);
  EXPECT_THAT(h->output(), IsEmpty());
  EXPECT_THAT(port1_.values(), ElementsAre(1));
  EXPECT_THAT(port2_.values(), IsEmpty());
  ExpectOneUserError(h->errors(), "split function returned output 3 of 3", 300);
}

TEST_F(SplitTest, NegativeIndexIsUserError) {
  auto h = Make([](int64_t v) { return static_cast<int>(v); });
  h->Process(-1, 100);
  h->Process(2, 200);
  EXPECT_THAT(h->output(), IsEmpty());
  EXPECT_THAT(port1_.values(), IsEmpty());
  EXPECT_THAT(port2_.values(), ElementsAre(2));
  EXPECT_EQ(h->errors().user_errors(), 1);
  ASSERT_EQ(h->errors().events().size(), 1u);
  EXPECT_EQ(h->errors().events()[0].ts, 100);
}

TEST_F(SplitTest, ThrowingFunctionSkipsRecordReportsUserErrorAndContinues) {
  auto h = Make([](int64_t v) -> int {
    if (v == 7) throw std::runtime_error("unroutable");
    return 2;
  });
  h->Process(7, 700);
  h->Process(8, 800);
  EXPECT_THAT(port2_.values(), ElementsAre(8));
  ExpectOneUserError(h->errors(), "unroutable", 700);
}

TEST_F(SplitTest, RecordsForUnconnectedOutputAreDroppedWithoutError) {
  auto h = Make([](int64_t v) { return static_cast<int>(v); }, /*connect_port_1=*/false);
  h->Process(1, 100);
  h->Process(2, 200);
  h->Process(0, 300);
  EXPECT_THAT(h->output(), ElementsAre(0));
  EXPECT_THAT(port1_.values(), IsEmpty());
  EXPECT_THAT(port2_.values(), ElementsAre(2));
  EXPECT_EQ(h->errors().user_errors(), 0);
  EXPECT_THAT(h->errors().events(), IsEmpty());
}

TEST(IdentityTest, PassesRecordsThroughUnchangedAndInOrder) {
  OperatorHarness<std::string, std::string> h(std::make_unique<IdentityOperator<std::string>>());
  ASSERT_TRUE(h.Open().ok());
  h.Process("b", 2000, /*pwm=*/1500);
  h.Process("a", 1000, /*pwm=*/1500);  // late for its partition: still passed through
  ASSERT_EQ(h.records().size(), 2u);
  EXPECT_EQ(h.records()[0].value, "b");
  EXPECT_EQ(h.records()[0].ts, 2000);
  EXPECT_EQ(h.records()[0].pwm, 1500);
  EXPECT_EQ(h.records()[1].value, "a");
  EXPECT_EQ(h.records()[1].ts, 1000);
  EXPECT_EQ(h.records()[1].pwm, 1500);
}

}  // namespace
}  // namespace kappa::operators
