// Two jobs written from docs/api.md alone, with nothing but the public headers, and tested
// as the guide says: whole jobs through kappa::testing::JobTester. They keep the documented
// API honest: a snippet's name, include or call shape that changes breaks this file.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/kappa.h"
#include "kappa/testing.h"

struct Order {
  int64_t id = 0;
  std::string user;
  double amount = 0;
  std::optional<std::string> coupon;
  int64_t ts = 0;
};
KAPPA_JSON(Order, id, user, amount, coupon, ts);
KAPPA_SERIALIZABLE(Order, &Order::id, &Order::user, &Order::amount, &Order::coupon, &Order::ts);

struct Spend {
  std::string user;
  double total = 0;
  int64_t orders = 0;
};
KAPPA_JSON(Spend, user, total, orders);
KAPPA_SERIALIZABLE(Spend, &Spend::user, &Spend::total, &Spend::orders);

// Job 1, filter + map + keyed reduce: per user and minute, what paid orders add up to.
void BuildSpendPerMinute(kappa::JobContext& ctx) {
  auto strategy = kappa::WatermarkStrategy<Order>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(1000));
  kappa::Stream<Order> orders = ctx.Source<Order>("orders", strategy.WithTimestamp(&Order::ts));
  kappa::Stream<Spend> spend =
      orders.Filter([](const Order& o) { return o.amount > 0; }, "paid")
          .Map([](const Order& o) { return Spend{o.user, o.amount, 1}; }, "spend")
          .KeyBy(&Spend::user)
          .Window(kappa::Tumbling(absl::Minutes(1)))
          .Reduce([](const Spend& a, const Spend& b) { return Spend{a.user, a.total + b.total, a.orders + b.orders}; },
                  "sum");
  ctx.Sink(spend, "output");
}

struct Click {
  std::string user;
  std::string page;
  int64_t ts = 0;
};
KAPPA_JSON(Click, user, page, ts);
KAPPA_SERIALIZABLE(Click, &Click::user, &Click::page, &Click::ts);

struct Visit {
  std::string user;
  int64_t clicks = 0;
  int64_t first = 0;
  int64_t last = 0;
};
KAPPA_JSON(Visit, user, clicks, first, last);

// Job 2, a keyed process function with a timer: a user's visit ends 30 s of event time
// after their last click; then one row sums it up. Late clicks go to a second sink.
class Visits : public kappa::KeyedProcessFunction<std::string, Click, Visit> {
 public:
  static constexpr kappa::Timestamp kGap = 30'000;

  void Open(kappa::RuntimeContext& ctx) override {
    clicks_ = ctx.GetValueState<int64_t>("clicks");
    first_ = ctx.GetValueState<kappa::Timestamp>("first");
    last_ = ctx.GetValueState<kappa::Timestamp>("last");
  }

  void ProcessElement(const Click& c, Context& ctx, kappa::Collector<Visit>& out) override {
    if (ctx.IsLate()) return;  // its visit may have been summed up already
    std::optional<kappa::Timestamp> last = last_.Value();
    // The watermark follows the record that moves it, so the click that ends a visit
    // arrives before the visit's timer fires.
    if (last && c.ts >= *last + kGap) {
      ctx.DeleteEventTimeTimer(*last + kGap);
      EndVisit(ctx.current_key(), out);
      last.reset();
    }
    clicks_.Update(clicks_.ValueOr(0) + 1);
    if (!first_.Value() || c.ts < *first_.Value()) first_.Update(c.ts);
    if (!last || c.ts > *last) {
      if (last) ctx.DeleteEventTimeTimer(*last + kGap);
      last_.Update(c.ts);
      ctx.RegisterEventTimeTimer(c.ts + kGap);
    }
  }

  void OnTimer(kappa::Timestamp, Context& ctx, kappa::Collector<Visit>& out) override {
    EndVisit(ctx.current_key(), out);
  }

 private:
  void EndVisit(const std::string& user, kappa::Collector<Visit>& out) {
    out.Collect(Visit{user, clicks_.ValueOr(0), first_.ValueOr(0), last_.ValueOr(0)});
    clicks_.Clear();
    first_.Clear();
    last_.Clear();
  }

  kappa::ValueState<int64_t> clicks_;
  kappa::ValueState<kappa::Timestamp> first_;
  kappa::ValueState<kappa::Timestamp> last_;
};

void BuildVisits(kappa::JobContext& ctx) {
  auto clicks = ctx.Source<Click>(
      "clicks", kappa::WatermarkStrategy<Click>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(0))
                    .WithTimestamp([](const Click& c) { return c.ts; }));
  ctx.Sink(clicks.KeyBy(&Click::user).Process(std::make_unique<Visits>(), "visits"), "output");
}

namespace {

using ::kappa::testing::JobOutput;
using ::kappa::testing::JobTester;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(NewcomerJobsTest, SpendPerMinuteSumsPaidOrdersPerUserAndMinute) {
  JobTester tester(BuildSpendPerMinute);
  tester.Input("orders", {R"({"id":1,"user":"ann","amount":10.5,"coupon":null,"ts":1000})",
                          R"({"id":2,"user":"bob","amount":0,"ts":2000})",  // unpaid, no coupon field
                          R"({"id":3,"user":"ann","amount":4.5,"coupon":"X","ts":30000})"});
  tester.Input("orders", {R"({"id":4,"user":"bob","amount":7,"ts":5000})",
                          R"({"id":5,"user":"ann","amount":1,"ts":61000})"});
  absl::StatusOr<JobOutput> out = tester.Parallelism(2).Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->Rows("output"), UnorderedElementsAre(R"({"user":"ann","total":15,"orders":2})",
                                                        R"({"user":"bob","total":7,"orders":1})",
                                                        R"({"user":"ann","total":1,"orders":1})"));
  EXPECT_THAT(out->errors(), IsEmpty());
}

TEST(NewcomerJobsTest, SpendPerMinuteReportsAnUndecodableOrderAndGoesOn) {
  absl::StatusOr<JobOutput> out =
      JobTester(BuildSpendPerMinute)
          .Input("orders", {R"({"id":1,"user":"ann","amount":"ten","ts":1000})",
                            R"({"id":2,"user":"ann","amount":2,"ts":2000})"})
          .Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->decode_errors(), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<Spend> spend, out->Values<Spend>("output"));
  ASSERT_EQ(spend.size(), 1u);
  EXPECT_EQ(spend[0].user, "ann");
  EXPECT_EQ(spend[0].total, 2);
}

TEST(NewcomerJobsTest, VisitsEndThirtySecondsAfterTheLastClick) {
  JobTester tester(BuildVisits);
  tester.InputRecords<Click>("clicks", {{"ann", "/a", 1000}, {"ann", "/b", 20000}, {"ann", "/c", 60000}})
      .InputRecords<Click>("clicks", {{"bob", "/a", 2000}, {"bob", "/b", 31000}});  // a second partition
  absl::StatusOr<JobOutput> out = tester.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->Rows("output"),
              UnorderedElementsAre(R"({"user":"ann","clicks":2,"first":1000,"last":20000})",
                                   R"({"user":"ann","clicks":1,"first":60000,"last":60000})",
                                   R"({"user":"bob","clicks":2,"first":2000,"last":31000})"));
  EXPECT_THAT(out->sinks(), ElementsAre("output"));
}

}  // namespace
