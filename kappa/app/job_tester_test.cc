#include "kappa/app/job_tester.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

struct View {
  std::string user;
  std::string page;
  int64_t ts = 0;
};

struct PageViews {
  std::string page;
  int64_t window_start = 0;
  int64_t views = 0;
};

}  // namespace
}  // namespace kappa::testing

KAPPA_JSON(kappa::testing::View, user, page, ts);
KAPPA_JSON(kappa::testing::PageViews, page, window_start, views);

namespace kappa::testing {
namespace {

// Views per page per 10 s window (out-of-orderness 5 s unless overridden) to "output";
// views without a user to a second sink, "anonymous".
void BuildPageViews(JobContext& ctx) {
  auto strategy = WatermarkStrategy<View>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(5000))
                      .WithTimestamp([](const View& v) { return v.ts; });
  Stream<View> views = ctx.Source<View>("views", std::move(strategy));
  ctx.Sink(views.KeyBy([](const View& v) { return v.page; })
               .Window(Tumbling(absl::Seconds(10)))
               .Aggregate(
                   Count(),
                   [](const std::string& page, const TimeWindow& w, int64_t n) { return PageViews{page, w.start, n}; },
                   "count"),
           "output");
  ctx.Sink(views.Filter([](const View& v) { return v.user.empty(); }, "anonymous"), "anonymous");
}

std::vector<std::string> Views() {
  return {R"({"user":"ann","page":"/a","ts":1000})", R"({"user":"bob","page":"/a","ts":2000})",
          R"({"user":"","page":"/b","ts":3000})", R"({"user":"ann","page":"/a","ts":12000})"};
}

// Views per page in windows whose length is the job parameter "window" (default 10 s).
void BuildPageViewsWithWindowParam(JobContext& ctx) {
  absl::Duration window = ctx.params().GetDuration("window", absl::Seconds(10));
  auto strategy = WatermarkStrategy<View>::BoundedOutOfOrderness(5000).WithTimestamp([](const View& v) { return v.ts; });
  ctx.Sink(ctx.Source<View>("views", std::move(strategy))
               .KeyBy([](const View& v) { return v.page; })
               .Window(Tumbling(window))
               .Aggregate(Count(), [](const std::string& page, const TimeWindow& w, int64_t n) {
                 return PageViews{page, w.start, n};
               }));
}

TEST(JobTesterTest, ParamReachesTheJobAsOnTheCommandLine) {
  JobTester tester(BuildPageViewsWithWindowParam);
  tester.Input("views", Views()).Param("window", "1m");
  absl::StatusOr<JobOutput> out = tester.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  // One minute: the view at 12 s joins the first window instead of opening a second.
  EXPECT_THAT(out->Rows("output"), UnorderedElementsAre(R"({"page":"/a","window_start":0,"views":3})",
                                                        R"({"page":"/b","window_start":0,"views":1})"));
}

TEST(JobTesterTest, ParamTheJobDoesNotReadFailsTheRun) {
  JobTester tester(BuildPageViews);
  tester.Input("views", Views()).Param("windw", "1m");
  absl::StatusOr<JobOutput> out = tester.Run();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("windw"));
}

TEST(JobTesterTest, CountsPerKeyAndWindowFromInMemoryLines) {
  JobTester tester(BuildPageViews);
  tester.Input("views", Views());
  absl::StatusOr<JobOutput> out = tester.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->Rows("output"), UnorderedElementsAre(R"({"page":"/a","window_start":0,"views":2})",
                                                        R"({"page":"/b","window_start":0,"views":1})",
                                                        R"({"page":"/a","window_start":10000,"views":1})"));
  EXPECT_EQ(out->late_records(), 0);
  EXPECT_THAT(out->errors(), IsEmpty());
}

TEST(JobTesterTest, CapturesEverySinkByItsName) {
  absl::StatusOr<JobOutput> out = JobTester(BuildPageViews).Input("views", Views()).Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->sinks(), ElementsAre("output", "anonymous"));
  EXPECT_THAT(out->Rows("anonymous"), ElementsAre(R"({"user":"","page":"/b","ts":3000})"));
  EXPECT_THAT(out->Rows("no-such-sink"), IsEmpty());
}

TEST(JobTesterTest, TypedRecordsInAndOut) {
  JobTester tester(JobDefinition{"page-views", "views per page", BuildPageViews});
  tester.InputRecords<View>("views", {{"ann", "/a", 1000}, {"bob", "/a", 9999}, {"cid", "/c", 10000}});
  absl::StatusOr<JobOutput> out = tester.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  absl::StatusOr<std::vector<PageViews>> counts = out->Values<PageViews>("output");
  ASSERT_TRUE(counts.ok()) << counts.status();
  std::vector<std::string> rows;
  for (const PageViews& c : *counts) rows.push_back(absl::StrCat(c.page, "@", c.window_start, "=", c.views));
  EXPECT_THAT(rows, UnorderedElementsAre("/a@0=2", "/c@10000=1"));

  absl::StatusOr<std::vector<PageViews>> missing = out->Values<PageViews>("counts");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("its sinks: output, anonymous"));
}

TEST(JobTesterTest, PartitionsAndParallelismGiveTheSameCounts) {
  JobTester tester(BuildPageViews);
  tester.Input("views", {R"({"user":"ann","page":"/a","ts":1000})", R"({"user":"bob","page":"/b","ts":2000})"})
      .Input("views", {R"({"user":"cid","page":"/a","ts":4000})", R"({"user":"dan","page":"/b","ts":21000})"})
      .Parallelism(3);
  absl::StatusOr<JobOutput> out = tester.Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->Rows("output"), UnorderedElementsAre(R"({"page":"/a","window_start":0,"views":2})",
                                                        R"({"page":"/b","window_start":0,"views":1})",
                                                        R"({"page":"/b","window_start":20000,"views":1})"));
}

TEST(JobTesterTest, OutOfOrdernessOverrideMakesALateRecordLate) {
  // The view at 14000 moves the partition's watermark to 9000 (bound 5 s) or 14000
  // (bound 0); the view at 9000 then still counts in window [0, 10000), or is behind
  // its end and late.
  std::vector<std::string> input = {R"({"user":"ann","page":"/a","ts":1000})",
                                    R"({"user":"bob","page":"/a","ts":14000})",
                                    R"({"user":"cid","page":"/a","ts":9000})"};
  absl::StatusOr<JobOutput> bounded = JobTester(BuildPageViews).Input("views", input).Run();
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  EXPECT_EQ(bounded->late_records(), 0);
  EXPECT_THAT(bounded->Rows("output"), UnorderedElementsAre(R"({"page":"/a","window_start":0,"views":2})",
                                                            R"({"page":"/a","window_start":10000,"views":1})"));

  absl::StatusOr<JobOutput> strict = JobTester(BuildPageViews).Input("views", input).OutOfOrderness(0).Run();
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(strict->late_records(), 1);
  EXPECT_THAT(strict->Rows("output"), UnorderedElementsAre(R"({"page":"/a","window_start":0,"views":1})",
                                                           R"({"page":"/a","window_start":10000,"views":1})"));
}

TEST(JobTesterTest, UndecodableLineGoesToErrorsAndTheRunGoesOn) {
  absl::StatusOr<JobOutput> out =
      JobTester(BuildPageViews).Input("views", {R"({"user":"ann","page":"/a","ts":1000})", "not json"}).Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->decode_errors(), 1);
  ASSERT_EQ(out->errors().size(), 1u);
  EXPECT_EQ(out->errors()[0].kind, "decode");
  EXPECT_THAT(out->Rows("output"), ElementsAre(R"({"page":"/a","window_start":0,"views":1})"));
}

TEST(JobTesterTest, SourceWithoutInputReadsNothing) {
  absl::StatusOr<JobOutput> out = JobTester(BuildPageViews).Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->Rows("output"), IsEmpty());
  EXPECT_THAT(out->sinks(), ElementsAre("output", "anonymous"));
}

TEST(JobTesterTest, InputForAnUnknownSourceFailsNamingTheSources) {
  absl::StatusOr<JobOutput> out = JobTester(BuildPageViews, "page-views").Input("clicks", Views()).Run();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("job 'page-views' has no source named 'clicks'; its sources: views"));
}

TEST(JobTesterTest, RocksDbStateGivesTheSameCounts) {
  absl::StatusOr<JobOutput> out =
      JobTester(BuildPageViews).Input("views", Views()).State(StateBackendKind::kRocksDb).Run();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(out->Rows("output"), UnorderedElementsAre(R"({"page":"/a","window_start":0,"views":2})",
                                                        R"({"page":"/b","window_start":0,"views":1})",
                                                        R"({"page":"/a","window_start":10000,"views":1})"));
}

TEST(JobTesterTest, AJobThatDoesNotBuildFailsWithItsError) {
  auto build = [](JobContext& ctx) {
    ctx.RecordError(absl::InvalidArgumentError("window size must be positive"));
  };
  absl::StatusOr<JobOutput> out = JobTester(build).Run();
  EXPECT_EQ(out.status(), absl::InvalidArgumentError("window size must be positive"));
}

}  // namespace
}  // namespace kappa::testing
