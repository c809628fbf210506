// Opt-in: test your operators, functions and whole jobs the way Flink users do.
//
// Operators, with the harness (kappa/testing/harness.h): feed records and watermarks,
// advance processing time, snapshot and restore, and read what came out:
//
//   kappa::testing::OperatorHarness<Click, PageCount> h(std::move(op));
//   ASSERT_OK(h.Open());
//   h.Process(Click{"/a", 1000}, /*ts=*/1000);
//   h.Watermark(60000);
//   EXPECT_THAT(h.output(), ElementsAre(PageCount{"/a", 1, 60000}));
//
// Whole jobs, with the JobTester (kappa/app/job_tester.h): run a registered job's build
// function in-process over in-memory JSON lines and read every sink's rows:
//
//   kappa::testing::JobTester tester(BuildClicksPerPage);
//   tester.Input("clicks", {R"({"page":"/a","ts":1000})"});
//   ASSERT_OK_AND_ASSIGN(kappa::testing::JobOutput out, tester.Run());
//   EXPECT_THAT(out.Rows("output"), ElementsAre(R"({"page":"/a","count":1,"window_end":60000})"));
//
// Statuses, with gmock matchers (kappa/testing/status_matchers.h): IsOk(),
// StatusIs(code[, message]), ASSERT_OK, EXPECT_OK and ASSERT_OK_AND_ASSIGN.
//
// Whole jobs built by hand, with kappa::connectors::CollectSink<T>
// (kappa/connectors/collect_sink.h): a sink that keeps every record in memory.
#ifndef KAPPA_TESTING_H_
#define KAPPA_TESTING_H_

#include "kappa/app/job_tester.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/testing/harness.h"
#include "kappa/testing/status_matchers.h"

#endif  // KAPPA_TESTING_H_
