#include "kappa/operators/process.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
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
#include "kappa/state/key_groups.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

struct Click {
  std::string user;
  int64_t value = 0;
};

using Function = KeyedProcessFunction<std::string, Click, std::string>;
using Harness = kappa::testing::OperatorHarness<Click, std::string>;

constexpr char kUid[] = "proc";

std::unique_ptr<runtime::OperatorBase> MakeOperator(std::unique_ptr<Function> fn) {
  return std::make_unique<KeyedProcessOperator<std::string, Click, std::string>>(
      [](const Click& c) { return c.user; }, std::move(fn), kUid);
}

// Keys of a state table as a checkpoint would hold them (timers are written on the barrier).
int64_t TableSize(Harness& h, const std::string& name) {
  EXPECT_TRUE(h.SnapshotState().ok());
  auto table = h.context().backend()->RegisterTable(name);
  EXPECT_TRUE(table.ok());
  return h.context().backend()->ApproximateKeys(*table);
}

// A process function assembled from lambdas, for timer tests. Lambdas capture the test's
// locals (state handles, flags); the harness lives in the same scope.
class LambdaFunction : public Function {
 public:
  using ProcessFn = std::function<void(const Click&, Context&, Collector<std::string>&)>;
  using TimerFn = std::function<void(Timestamp, Context&, Collector<std::string>&)>;

  explicit LambdaFunction(ProcessFn process, TimerFn timer = nullptr, std::function<void(RuntimeContext&)> open = nullptr)
      : process_(std::move(process)), timer_(std::move(timer)), open_(std::move(open)) {}

  void Open(RuntimeContext& ctx) override {
    if (open_) open_(ctx);
  }
  void ProcessElement(const Click& c, Context& ctx, Collector<std::string>& out) override { process_(c, ctx, out); }
  void OnTimer(Timestamp t, Context& ctx, Collector<std::string>& out) override {
    if (timer_) timer_(t, ctx, out);
  }

 private:
  ProcessFn process_;
  TimerFn timer_;
  std::function<void(RuntimeContext&)> open_;
};

// Emits "key@time" for every timer that fires, checking that the context agrees with the
// timer it is called for.
LambdaFunction::TimerFn EmitFiredTimers() {
  return [](Timestamp t, Function::Context& ctx, Collector<std::string>& out) {
    EXPECT_EQ(ctx.timestamp(), t);
    out.Collect(absl::StrCat(ctx.current_key(), "@", t));
  };
}

// Registers an event-time timer at click.value.
std::unique_ptr<Function> EventTimerAtValue() {
  return std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context& ctx, Collector<std::string>&) { ctx.RegisterEventTimeTimer(c.value); },
      EmitFiredTimers());
}

// --- Keyed state ------------------------------------------------------------------------

class CountPerUser : public Function {
 public:
  void Open(RuntimeContext& ctx) override { count_ = ctx.GetValueState<int64_t>("count"); }
  void ProcessElement(const Click& c, Context& ctx, Collector<std::string>& out) override {
    int64_t n = count_.ValueOr(0) + 1;
    count_.Update(n);
    out.Collect(absl::StrCat(ctx.current_key(), "=", n));
  }

 private:
  ValueState<int64_t> count_;
};

TEST(KeyedProcessStateTest, ValueStateIsScopedToTheCurrentKey) {
  Harness h(MakeOperator(std::make_unique<CountPerUser>()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"alice", 0}, 1);
  h.Process({"bob", 0}, 2);
  h.Process({"alice", 0}, 3);
  h.Process({"carol", 0}, 4);
  h.Process({"alice", 0}, 5);
  h.Process({"bob", 0}, 6);
  EXPECT_THAT(h.output(), ElementsAre("alice=1", "bob=1", "alice=2", "carol=1", "alice=3", "bob=2"));
  EXPECT_EQ(TableSize(h, "proc/count"), 3);
}

class HistoryPerUser : public Function {
 public:
  void Open(RuntimeContext& ctx) override { history_ = ctx.GetListState<int64_t>("history"); }
  void ProcessElement(const Click& c, Context&, Collector<std::string>& out) override {
    history_.Add(c.value);
    std::string s;
    for (int64_t v : history_.Get()) absl::StrAppend(&s, v, ",");
    out.Collect(s);
  }

 private:
  ListState<int64_t> history_;
};

TEST(KeyedProcessStateTest, ListStateIsScopedToTheCurrentKey) {
  Harness h(MakeOperator(std::make_unique<HistoryPerUser>()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1);
  h.Process({"b", 10}, 2);
  h.Process({"a", 2}, 3);
  h.Process({"b", 20}, 4);
  h.Process({"a", 3}, 5);
  EXPECT_THAT(h.output(), ElementsAre("1,", "10,", "1,2,", "10,20,", "1,2,3,"));
  EXPECT_EQ(TableSize(h, "proc/history"), 2);
}

// Counts how often each value was seen per user: MapState<value, count>.
class ValueCountsPerUser : public Function {
 public:
  void Open(RuntimeContext& ctx) override { counts_ = ctx.GetMapState<int64_t, int64_t>("value-counts"); }
  void ProcessElement(const Click& c, Context&, Collector<std::string>& out) override {
    counts_.Put(c.value, counts_.Get(c.value).value_or(0) + 1);
    std::map<int64_t, int64_t> sorted;
    for (auto& [k, v] : counts_.Entries()) sorted[k] = v;
    std::string s;
    for (auto& [k, v] : sorted) absl::StrAppend(&s, k, ":", v, " ");
    out.Collect(s);
  }

 private:
  MapState<int64_t, int64_t> counts_;
};

TEST(KeyedProcessStateTest, MapStateIsScopedToTheCurrentKey) {
  Harness h(MakeOperator(std::make_unique<ValueCountsPerUser>()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 7}, 1);
  h.Process({"b", 7}, 2);
  h.Process({"a", 7}, 3);
  h.Process({"a", 8}, 4);
  h.Process({"b", 9}, 5);
  EXPECT_THAT(h.output(), ElementsAre("7:1 ", "7:1 ", "7:2 ", "7:2 8:1 ", "7:1 9:1 "));
  EXPECT_EQ(TableSize(h, "proc/value-counts"), 4);  // a:7, a:8, b:7, b:9
}

// --- Event-time timers ------------------------------------------------------------------

TEST(KeyedProcessTimerTest, EventTimerFiresWhenWatermarkReachesIt) {
  Harness h(MakeOperator(EventTimerAtValue()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1100}, 1000);
  h.Watermark(1099);
  EXPECT_THAT(h.output(), IsEmpty());
  h.Watermark(1100);
  EXPECT_THAT(h.output(), ElementsAre("a@1100"));
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("a@1100"));  // fired once
}

TEST(KeyedProcessTimerTest, OnTimerOutputCarriesTheTimersTimestampAndIsNeverLate) {
  Harness h(MakeOperator(EventTimerAtValue()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 5000}, 1000, /*pwm=*/900);
  h.Watermark(kMaxTimestamp);
  ASSERT_EQ(h.records().size(), 1u);
  EXPECT_EQ(h.records()[0].ts, 5000);
  EXPECT_EQ(h.records()[0].pwm, kMinTimestamp);
}

TEST(KeyedProcessTimerTest, EventTimersFireInTimestampOrderAcrossKeys) {
  Harness h(MakeOperator(EventTimerAtValue()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"b", 3000}, 1);
  h.Process({"a", 4000}, 2);
  h.Process({"c", 1000}, 3);
  h.Process({"a", 2000}, 4);
  h.Process({"d", 2500}, 5);
  h.Watermark(2500);
  EXPECT_THAT(h.output(), ElementsAre("c@1000", "a@2000", "d@2500"));
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("c@1000", "a@2000", "d@2500", "b@3000", "a@4000"));
  for (size_t i = 1; i < h.records().size(); ++i) EXPECT_LT(h.records()[i - 1].ts, h.records()[i].ts);
}

TEST(KeyedProcessTimerTest, TimerRegisteredTwiceForTheSameKeyFiresOnce) {
  Harness h(MakeOperator(EventTimerAtValue()));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 5000}, 1);
  h.Process({"a", 5000}, 2);
  h.Process({"b", 5000}, 3);  // same time, other key: its own timer
  EXPECT_EQ(TableSize(h, "proc/timers/event"), 2);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), UnorderedElementsAre("a@5000", "b@5000"));
}

TEST(KeyedProcessTimerTest, DeletedTimerDoesNotFire) {
  // value > 0 registers a timer at value, value < 0 deletes the timer at -value.
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context& ctx, Collector<std::string>&) {
        if (c.value > 0) {
          ctx.RegisterEventTimeTimer(c.value);
        } else {
          ctx.DeleteEventTimeTimer(-c.value);
        }
      },
      EmitFiredTimers())));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1000}, 1);
  h.Process({"a", 2000}, 2);
  h.Process({"b", 1000}, 3);
  h.Process({"a", -1000}, 4);  // the earliest timer: the cached minimum is now stale
  h.Watermark(1500);
  EXPECT_THAT(h.output(), ElementsAre("b@1000"));
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("b@1000", "a@2000"));
}

TEST(KeyedProcessTimerTest, TimerForATimeTheWatermarkPassedFiresAtTheNextAdvance) {
  Harness h(MakeOperator(EventTimerAtValue()));
  ASSERT_TRUE(h.Open().ok());
  h.Watermark(5000);
  h.Process({"a", 1000}, 6000);
  EXPECT_THAT(h.output(), IsEmpty());  // timers fire on watermark advances only
  h.Watermark(5001);
  EXPECT_THAT(h.output(), ElementsAre("a@1000"));
  EXPECT_EQ(h.records()[0].ts, 1000);
}

TEST(KeyedProcessTimerTest, TimerRegisteredWhileFiringAndAlreadyDueFiresInTheSameAdvance) {
  // Each timer re-arms itself one second later, three times.
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context& ctx, Collector<std::string>&) { ctx.RegisterEventTimeTimer(c.value); },
      [](Timestamp t, Function::Context& ctx, Collector<std::string>& out) {
        out.Collect(absl::StrCat(ctx.current_key(), "@", t));
        if (t < 3000) ctx.RegisterEventTimeTimer(t + 1000);
      })));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1000}, 1);
  h.Process({"b", 1500}, 1);
  h.Watermark(2499);
  EXPECT_THAT(h.output(), ElementsAre("a@1000", "b@1500", "a@2000"));
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("a@1000", "b@1500", "a@2000", "b@2500", "a@3000", "b@3500"));
}

TEST(KeyedProcessTimerTest, TimerStateClearedInOnTimerBelongsToTheTimersKey) {
  // Counts per key; a timer at 10000 emits the count of its key and clears it.
  ValueState<int64_t> count;
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [&](const Click& c, Function::Context& ctx, Collector<std::string>&) {
        count.Update(count.ValueOr(0) + 1);
        ctx.RegisterEventTimeTimer(10000);
      },
      [&](Timestamp t, Function::Context& ctx, Collector<std::string>& out) {
        out.Collect(absl::StrCat(ctx.current_key(), "=", count.ValueOr(0)));
        count.Clear();
      },
      [&](RuntimeContext& ctx) { count = ctx.GetValueState<int64_t>("count"); })));
  ASSERT_TRUE(h.Open().ok());
  for (const char* user : {"a", "b", "a", "c", "a", "b"}) h.Process({user, 0}, 1000);
  EXPECT_EQ(TableSize(h, "proc/count"), 3);
  EXPECT_EQ(TableSize(h, "proc/timers/event"), 3);
  h.Watermark(10000);
  EXPECT_THAT(h.output(), UnorderedElementsAre("a=3", "b=2", "c=1"));
  EXPECT_EQ(TableSize(h, "proc/count"), 0);
  EXPECT_EQ(TableSize(h, "proc/timers/event"), 0);
}

// --- Processing-time timers -------------------------------------------------------------

TEST(KeyedProcessTimerTest, ProcessingTimersFireWhenTheClockReachesThem) {
  std::vector<std::string> fired;
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context& ctx, Collector<std::string>&) {
        ctx.RegisterProcessingTimeTimer(ctx.current_processing_time() + c.value);
      },
      [&](Timestamp t, Function::Context& ctx, Collector<std::string>& out) {
        EXPECT_TRUE(ctx.processing_time_timer());
        EXPECT_EQ(ctx.timestamp(), t);
        out.Collect(absl::StrCat(ctx.current_key(), "@", t));
      })));
  ASSERT_TRUE(h.Open().ok());
  EXPECT_EQ(h.op()->NextProcessingTimer(), kMaxTimestamp);
  h.AdvanceProcessingTime(1000);
  h.Process({"a", 6000}, 1);  // fires at 7000
  h.Process({"b", 4000}, 2);  // fires at 5000
  EXPECT_EQ(h.op()->NextProcessingTimer(), 5000);
  h.Watermark(kMaxTimestamp);  // event time does not fire processing-time timers
  EXPECT_THAT(h.output(), IsEmpty());
  h.AdvanceProcessingTime(4999);
  EXPECT_THAT(h.output(), IsEmpty());
  h.AdvanceProcessingTime(5000);
  EXPECT_THAT(h.output(), ElementsAre("b@5000"));
  EXPECT_EQ(h.op()->NextProcessingTimer(), 7000);
  h.AdvanceProcessingTime(60000);
  EXPECT_THAT(h.output(), ElementsAre("b@5000", "a@7000"));
  EXPECT_EQ(h.op()->NextProcessingTimer(), kMaxTimestamp);
  EXPECT_EQ(TableSize(h, "proc/timers/processing"), 0);
}

TEST(KeyedProcessTimerTest, EventTimersReportThemselvesAsEventTime) {
  bool saw_processing = true;
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click&, Function::Context& ctx, Collector<std::string>&) { ctx.RegisterEventTimeTimer(100); },
      [&](Timestamp, Function::Context& ctx, Collector<std::string>& out) {
        saw_processing = ctx.processing_time_timer();
        out.Collect("fired");
      })));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 0}, 1);
  h.Watermark(100);
  ASSERT_THAT(h.output(), ElementsAre("fired"));
  EXPECT_FALSE(saw_processing);
}

TEST(KeyedProcessTimerTest, DeletedProcessingTimerDoesNotFire) {
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context& ctx, Collector<std::string>&) {
        if (c.value > 0) {
          ctx.RegisterProcessingTimeTimer(c.value);
        } else {
          ctx.DeleteProcessingTimeTimer(-c.value);
        }
      },
      EmitFiredTimers())));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1000}, 1);
  h.Process({"a", 2000}, 2);
  h.Process({"a", -1000}, 3);
  h.AdvanceProcessingTime(10000);
  EXPECT_THAT(h.output(), ElementsAre("a@2000"));
}

// --- Lateness, context and errors -------------------------------------------------------

TEST(KeyedProcessContextTest, RecordIsLateIffItsTimestampIsBelowItsPartitionWatermark) {
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click&, Function::Context& ctx, Collector<std::string>& out) {
        out.Collect(ctx.IsLate() ? "late" : "on-time");
      })));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 0}, 1000, /*pwm=*/999);
  h.Process({"a", 0}, 1000, /*pwm=*/1000);
  h.Process({"a", 0}, 1000, /*pwm=*/1001);
  h.Process({"a", 0}, 1000);  // pwm = kMinTimestamp
  // The operator's own watermark does not make a record late: only its partition's does.
  h.Watermark(5000);
  h.Process({"a", 0}, 1000, /*pwm=*/900);
  EXPECT_THAT(h.output(), ElementsAre("on-time", "on-time", "late", "on-time", "on-time"));
}

TEST(KeyedProcessContextTest, ContextExposesRecordTimestampKeyWatermarkAndClock) {
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click&, Function::Context& ctx, Collector<std::string>& out) {
        out.Collect(absl::StrCat(ctx.current_key(), " ts=", ctx.timestamp(), " wm=", ctx.current_watermark(),
                                 " now=", ctx.current_processing_time()));
      })));
  ASSERT_TRUE(h.Open().ok());
  h.Watermark(500);
  h.AdvanceProcessingTime(77);
  h.Process({"u1", 0}, 1234, /*pwm=*/600);
  EXPECT_THAT(h.output(), ElementsAre("u1 ts=1234 wm=500 now=77"));
  ASSERT_EQ(h.records().size(), 1u);
  EXPECT_EQ(h.records()[0].ts, 1234);
  EXPECT_EQ(h.records()[0].pwm, 600);
}

TEST(KeyedProcessErrorTest, ThrowingProcessElementIsReportedAndLaterRecordsAreProcessed) {
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context&, Collector<std::string>& out) {
        if (c.value < 0) throw std::runtime_error("negative value");
        out.Collect(absl::StrCat(c.user, c.value));
      })));
  h.context().name_ = "dedup";
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 100);
  h.Process({"a", -1}, 200);
  h.Process({"b", 2}, 300);
  EXPECT_THAT(h.output(), ElementsAre("a1", "b2"));
  EXPECT_EQ(h.errors().user_errors(), 1);
  std::vector<ErrorEvent> events = h.errors().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "user");
  EXPECT_EQ(events[0].operator_name, "dedup");
  EXPECT_EQ(events[0].error, "negative value");
  EXPECT_EQ(events[0].ts, 200);
}

TEST(KeyedProcessErrorTest, ThrowingKeyFunctionIsReportedAndTheRecordSkipped) {
  int calls = 0;
  auto op = std::make_unique<KeyedProcessOperator<std::string, Click, std::string>>(
      [](const Click& c) {
        if (c.user.empty()) throw std::invalid_argument("no user");
        return c.user;
      },
      std::make_unique<LambdaFunction>(
          [&](const Click& c, Function::Context&, Collector<std::string>& out) {
            ++calls;
            out.Collect(c.user);
          }),
      kUid);
  Harness h(std::move(op));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"", 0}, 100);
  h.Process({"a", 0}, 200);
  EXPECT_THAT(h.output(), ElementsAre("a"));
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(h.errors().events().size(), 1u);
  EXPECT_EQ(h.errors().events()[0].error, "no user");
  EXPECT_EQ(h.errors().events()[0].ts, 100);
}

TEST(KeyedProcessErrorTest, ThrowingOnTimerIsReportedAndOtherTimersStillFire) {
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click& c, Function::Context& ctx, Collector<std::string>&) { ctx.RegisterEventTimeTimer(c.value); },
      [](Timestamp t, Function::Context& ctx, Collector<std::string>& out) {
        if (ctx.current_key() == "bad") throw std::runtime_error("timer failed");
        out.Collect(absl::StrCat(ctx.current_key(), "@", t));
      })));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"bad", 1000}, 1);
  h.Process({"good", 2000}, 1);
  h.Watermark(kMaxTimestamp);
  EXPECT_THAT(h.output(), ElementsAre("good@2000"));
  ASSERT_EQ(h.errors().events().size(), 1u);
  EXPECT_EQ(h.errors().events()[0].kind, "user");
  EXPECT_EQ(h.errors().events()[0].error, "timer failed");
  EXPECT_EQ(h.errors().events()[0].ts, 1000);
  EXPECT_EQ(TableSize(h, "proc/timers/event"), 0);  // a failed timer is not retried forever
}

TEST(KeyedProcessErrorTest, ThrowingOpenFailsOpenWithItsMessage) {
  Harness h(MakeOperator(std::make_unique<LambdaFunction>(
      [](const Click&, Function::Context&, Collector<std::string>&) {}, nullptr,
      [](RuntimeContext&) { throw std::runtime_error("cannot load model"); })));
  absl::Status status = h.Open();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("cannot load model"));
}

}  // namespace
}  // namespace kappa::operators

namespace kappa::operators {
namespace {

// Enrichment: names (input 1) joined to orders (input 2) by customer id, either first.
class Enrich final : public KeyedCoProcessFunction<int64_t, std::pair<int64_t, std::string>,
                                                   std::pair<int64_t, int64_t>, std::string> {
 public:
  void Open(RuntimeContext& ctx) override {
    name_ = ctx.GetValueState<std::string>("name");
    pending_ = ctx.GetListState<int64_t>("pending");
  }
  void ProcessElement1(const std::pair<int64_t, std::string>& customer, Context& ctx,
                       Collector<std::string>& out) override {
    name_.Update(customer.second);
    pending_.ForEach([&](int64_t order) { out.Collect(customer.second + ":" + std::to_string(order)); });
    pending_.Clear();
  }
  void ProcessElement2(const std::pair<int64_t, int64_t>& order, Context& ctx, Collector<std::string>& out) override {
    if (auto name = name_.Value()) {
      out.Collect(*name + ":" + std::to_string(order.second));
    } else {
      pending_.Add(order.second);
      ctx.RegisterEventTimeTimer(ctx.timestamp() + 1000);
    }
  }
  void OnTimer(Timestamp t, Context& ctx, Collector<std::string>& out) override {
    pending_.ForEach([&](int64_t order) { out.Collect("unknown-" + std::to_string(ctx.current_key()) + ":" + std::to_string(order)); });
    pending_.Clear();
  }

 private:
  ValueState<std::string> name_;
  ListState<int64_t> pending_;
};

using Customer = std::pair<int64_t, std::string>;
using Order = std::pair<int64_t, int64_t>;

std::unique_ptr<runtime::OperatorBase> MakeEnrich() {
  return std::make_unique<KeyedCoProcessOperator<int64_t, Customer, Order, std::string>>(
      [](const Customer& c) { return c.first; }, [](const Order& o) { return o.first; }, std::make_unique<Enrich>(),
      "enrich");
}

TEST(KeyedCoProcessTest, JoinsInEitherArrivalOrderWithSharedKeyedState) {
  kappa::testing::TwoInputHarness<Customer, Order, std::string> h(MakeEnrich());
  ASSERT_TRUE(h.Open().ok());
  h.ProcessRight({1, 100}, 1000);  // order before its customer
  h.ProcessLeft({1, "ada"}, 1100);
  h.ProcessRight({1, 101}, 1200);  // order after its customer
  h.ProcessLeft({2, "bob"}, 1300);
  h.ProcessRight({3, 300}, 1400);  // a customer that never arrives
  h.Watermark(2400);
  EXPECT_THAT(h.output(), ::testing::ElementsAre("ada:100", "ada:101", "unknown-3:300"));
  EXPECT_EQ(h.records().back().ts, 2400);
}

}  // namespace
}  // namespace kappa::operators

namespace kappa::operators {
namespace {

// Keeps a running total per key that forgets itself 1 s (processing time) after its
// last write, and the number of records per key, through RuntimeContext's factories.
class Totals final : public KeyedProcessFunction<std::string, std::pair<std::string, int64_t>, std::string> {
 public:
  void Open(RuntimeContext& ctx) override {
    last_ = ctx.GetValueState<int64_t>("last", absl::Seconds(1));
    sum_ = ctx.GetReducingState<int64_t>("sum", std::plus<>());
    count_ = ctx.GetAggregatingState<std::pair<std::string, int64_t>>("count", Count());
  }
  void ProcessElement(const std::pair<std::string, int64_t>& v, Context& ctx, Collector<std::string>& out) override {
    std::optional<int64_t> last = last_.Value();
    last_.Update(v.second);
    sum_.Add(v.second);
    count_.Add(v);
    out.Collect(v.first + " last=" + (last ? std::to_string(*last) : "none") + " sum=" +
                std::to_string(*sum_.Get()) + " n=" + std::to_string(*count_.Get()));
  }

 private:
  ValueState<int64_t> last_;
  ReducingState<int64_t, std::plus<>> sum_;
  AggregatingState<std::pair<std::string, int64_t>, Count> count_;
};

TEST(KeyedProcessStateTest, TtlReducingAndAggregatingStateFromTheRuntimeContext) {
  using In = std::pair<std::string, int64_t>;
  kappa::testing::OperatorHarness<In, std::string> h(std::make_unique<KeyedProcessOperator<std::string, In, std::string>>(
      [](const In& v) { return v.first; }, std::make_unique<Totals>(), "totals"));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 5}, 1);
  h.Process({"a", 7}, 2);
  h.context().clock_.Advance(1000);  // "last" expires; the others do not
  h.Process({"a", 1}, 3);
  EXPECT_THAT(h.output(), ::testing::ElementsAre("a last=none sum=5 n=1", "a last=5 sum=12 n=2",
                                                 "a last=none sum=13 n=3"));
}

// The previous value per key, forgotten 1 s of event time after it was written; a timer
// 1 s after each record reads it too.
class EventTimeLast final : public KeyedProcessFunction<std::string, std::pair<std::string, int64_t>, std::string> {
 public:
  void Open(RuntimeContext& ctx) override { last_ = ctx.GetValueState<int64_t>("last", Ttl::EventTime(absl::Seconds(1))); }
  void ProcessElement(const std::pair<std::string, int64_t>& v, Context& ctx, Collector<std::string>& out) override {
    std::optional<int64_t> last = last_.Value();
    last_.Update(v.second);
    ctx.RegisterEventTimeTimer(ctx.timestamp() + 999);
    out.Collect(absl::StrCat(v.first, "@", ctx.timestamp(), " last=", last ? std::to_string(*last) : "none"));
  }
  void OnTimer(Timestamp t, Context& ctx, Collector<std::string>& out) override {
    std::optional<int64_t> last = last_.Value();
    out.Collect(absl::StrCat(ctx.current_key(), " timer@", t, " last=", last ? std::to_string(*last) : "none"));
  }

 private:
  ValueState<int64_t> last_;
};

TEST(KeyedProcessStateTest, EventTimeTtlCountsFromTheRecordAndJudgesByItsTimeOrPartitionWatermark) {
  using In = std::pair<std::string, int64_t>;
  kappa::testing::OperatorHarness<In, std::string> h(std::make_unique<KeyedProcessOperator<std::string, In, std::string>>(
      [](const In& v) { return v.first; }, std::make_unique<EventTimeLast>(), "last"));
  ASSERT_TRUE(h.Open().ok());
  h.Process({"a", 1}, 1000);
  h.Process({"a", 2}, 1500);          // written at 1000: alive until 2000
  h.Watermark(2499);                  // timers at 1999 (expired) and 2499 (2 expires at 2500)
  h.Process({"a", 3}, 2500);          // 2 expired at 2500
  h.Process({"a", 4}, 1000, 3500);    // late: judged by its partition's watermark, 3 expired at 3500
  h.Process({"a", 5}, 3400);          // 4 was born expired (1000 + 1 s <= 3500)
  h.context().clock_.Advance(1'000'000);  // processing time plays no part
  EXPECT_THAT(h.output(), ::testing::ElementsAre("a@1000 last=none", "a@1500 last=1", "a timer@1999 last=2",
                                                 "a timer@2499 last=2", "a@2500 last=none", "a@1000 last=none",
                                                 "a@3400 last=none"));
}

TEST(KeyedProcessStateTest, EventTimeTtlReclaimsKeysNeverReadAgainAsTheWatermarkPasses) {
  using In = std::pair<std::string, int64_t>;
  kappa::testing::OperatorHarness<In, std::string> h(std::make_unique<KeyedProcessOperator<std::string, In, std::string>>(
      [](const In& v) { return v.first; }, std::make_unique<EventTimeLast>(), "last"));
  ASSERT_TRUE(h.Open().ok());
  for (int i = 0; i < 100; ++i) h.Process({"key" + std::to_string(i), i}, 1000 + i);
  state::TableId table = *h.context().backend()->RegisterTable("last/last", state::TableKind::kPoint);
  EXPECT_EQ(h.context().backend()->ApproximateKeys(table), 100);
  h.Watermark(2049);  // expiries 2000..2049 passed
  EXPECT_EQ(h.context().backend()->ApproximateKeys(table), 50);
  h.Watermark(5000);
  EXPECT_EQ(h.context().backend()->ApproximateKeys(table), 0);
}

// --- Checkpoints on RocksDB behind the write-back cache -------------------------------------

// Keeps value, list and map state per user, with a timer 100 ms after each click (an
// earlier one is deleted on even values) that reports and clears everything.
class Tally : public Function {
 public:
  void Open(RuntimeContext& ctx) override {
    count_ = ctx.GetValueState<int64_t>("count");
    last_ = ctx.GetValueState<int64_t>("last");
    seen_ = ctx.GetListState<int64_t>("seen");
    by_rest_ = ctx.GetMapState<int64_t, int64_t>("by-rest");
  }
  void ProcessElement(const Click& c, Context& ctx, Collector<std::string>&) override {
    count_.Update(count_.ValueOr(0) + 1);
    seen_.Add(c.value);
    by_rest_.Put(c.value % 3, by_rest_.Get(c.value % 3).value_or(0) + 1);
    std::optional<int64_t> last = last_.Value();
    if (last && c.value % 2 == 0) ctx.DeleteEventTimeTimer(*last + 100);
    last_.Update(ctx.timestamp());
    ctx.RegisterEventTimeTimer(ctx.timestamp() + 100);
  }
  void OnTimer(Timestamp t, Context& ctx, Collector<std::string>& out) override {
    std::string report = absl::StrCat(ctx.current_key(), "@", t, " n=", count_.ValueOr(0), " seen=");
    for (int64_t v : seen_.Get()) absl::StrAppend(&report, v, ",");
    for (const auto& [rest, n] : by_rest_.Entries()) absl::StrAppend(&report, " ", rest, ":", n);
    out.Collect(report);
    count_.Clear();
    seen_.Clear();
    by_rest_.Clear();
  }

 private:
  ValueState<int64_t> count_;
  ValueState<int64_t> last_;
  ListState<int64_t> seen_;
  MapState<int64_t, int64_t> by_rest_;
};

std::unique_ptr<state::KeyedStateBackend> CachedRocksDb(const std::string& name, size_t capacity_bytes) {
  static auto shared = state::RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  static int n = 0;
  std::string dir = ::testing::TempDir() + "/kappa_proc_" + name + "_" + std::to_string(getpid()) + "_" +
                    std::to_string(n++);
  std::filesystem::remove_all(dir);
  auto rocks = state::RocksDbBackend::Open(dir, shared);
  EXPECT_TRUE(rocks.ok()) << rocks.status();
  return state::CachingBackend::Create(std::move(*rocks), capacity_bytes);
}

TEST(KeyedProcessCheckpointTest, CachedStateAndTimersSurviveACheckpointAndARescale) {
  std::mt19937 rng(3);
  std::vector<std::pair<Click, Timestamp>> input;
  Timestamp ts = 1000;
  for (int i = 0; i < 400; ++i) {
    ts += static_cast<Timestamp>(rng() % 7);
    input.push_back({Click{"user" + std::to_string(rng() % 20), static_cast<int64_t>(rng() % 50)},
                     ts - static_cast<Timestamp>(rng() % 20)});
  }
  auto feed = [&](size_t from, size_t to, const std::function<void(const Click&, Timestamp)>& process,
                  const std::function<void(Timestamp)>& watermark) {
    for (size_t i = from; i < to; ++i) {
      process(input[i].first, input[i].second);
      if (i % 20 == 19) watermark(input[i].second - 30);
    }
  };

  // Reference: one uninterrupted run on the heap backend.
  Harness ref(MakeOperator(std::make_unique<Tally>()));
  ASSERT_TRUE(ref.Open().ok());
  feed(0, input.size(), [&](const Click& c, Timestamp t) { ref.Process(c, t); },
       [&](Timestamp wm) { ref.Watermark(wm); });
  ref.Watermark(kMaxTimestamp);

  // On RocksDB with a cache too small for the state: checkpoint halfway (barrier, then the
  // backend snapshot), then restore into two instances, each with half of the key groups.
  Harness first(MakeOperator(std::make_unique<Tally>()), CachedRocksDb("first", 300));
  ASSERT_TRUE(first.Open().ok());
  feed(0, 200, [&](const Click& c, Timestamp t) { first.Process(c, t); }, [&](Timestamp wm) { first.Watermark(wm); });
  ASSERT_TRUE(first.SnapshotState().ok());
  std::string dir = ::testing::TempDir() + "/kappa_proc_checkpoint_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(first.context().backend()->Snapshot(dir).ok());
  std::vector<std::string> output = first.output();

  std::vector<std::unique_ptr<Harness>> halves;
  for (auto [lo, hi] : {std::pair{0, 63}, std::pair{64, 127}}) {
    auto backend = CachedRocksDb("half", 300);
    ASSERT_TRUE(state::RestoreSnapshot(dir, "rocksdb", lo, hi, backend.get()).ok());
    halves.push_back(std::make_unique<Harness>(MakeOperator(std::make_unique<Tally>()), std::move(backend)));
    ASSERT_TRUE(halves.back()->Open().ok());
  }
  auto owner = [&](const Click& c) -> Harness& {
    std::string key;
    Serializer<std::string>::Write(c.user, &key);
    return *halves[state::KeyGroupFor(key, 128) <= 63 ? 0 : 1];
  };
  feed(200, input.size(), [&](const Click& c, Timestamp t) { owner(c).Process(c, t); },
       [&](Timestamp wm) {
         for (auto& h : halves) h->Watermark(wm);
       });
  for (auto& h : halves) {
    h->Watermark(kMaxTimestamp);
    for (const std::string& row : h->output()) output.push_back(row);
  }
  EXPECT_GT(ref.output().size(), 100u);
  EXPECT_THAT(output, UnorderedElementsAreArray(ref.output()));
}

}  // namespace
}  // namespace kappa::operators
