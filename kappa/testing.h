// Opt-in: test your operators and functions the way Flink's operator test harnesses do:
// feed records and watermarks, advance processing time, snapshot and restore, and read
// what came out (see kappa/testing/harness.h), and check statuses with IsOk(),
// StatusIs(code[, message]), ASSERT_OK, EXPECT_OK and ASSERT_OK_AND_ASSIGN
// (kappa/testing/status_matchers.h).
//
//   kappa::testing::OperatorHarness<Click, PageCount> h(std::move(op));
//   ASSERT_OK(h.Open());
//   h.ProcessElement(Click{"/a", 1000}, 1000);
//   h.ProcessWatermark(60000);
//   EXPECT_THAT(h.Output(), ElementsAre(PageCount{"/a", 1, 60000}));
#ifndef KAPPA_TESTING_H_
#define KAPPA_TESTING_H_

#include "kappa/testing/harness.h"
#include "kappa/testing/status_matchers.h"

#endif  // KAPPA_TESTING_H_
