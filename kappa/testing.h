// Opt-in: test your operators and functions the way Flink's operator test harnesses do:
// feed records and watermarks, advance processing time, snapshot and restore, and read
// what came out (see kappa/testing/harness.h).
//
//   kappa::testing::OperatorHarness<Click, PageCount> h(std::move(op));
//   ASSERT_TRUE(h.Open().ok());
//   h.ProcessElement(Click{"/a", 1000}, 1000);
//   h.ProcessWatermark(60000);
//   EXPECT_THAT(h.Output(), ElementsAre(PageCount{"/a", 1, 60000}));
#ifndef KAPPA_TESTING_H_
#define KAPPA_TESTING_H_

#include "kappa/testing/harness.h"

#endif  // KAPPA_TESTING_H_
