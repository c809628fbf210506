#include "kappa/operators/state_errors.h"

#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/testing/status_matchers.h"

namespace kappa::operators {
namespace {

using ::kappa::testing::IsOk;
using ::kappa::testing::StatusIs;

TEST(CatchStateErrorTest, IsOkWhenNothingThrows) {
  int calls = 0;
  EXPECT_THAT(CatchStateError([&] { ++calls; }), IsOk());
  EXPECT_EQ(calls, 1);
}

TEST(CatchStateErrorTest, ReturnsTheStatusOfAStateError) {
  EXPECT_THAT(CatchStateError([] { throw StateError(absl::DataLossError("corrupt block")); }),
              StatusIs(absl::StatusCode::kDataLoss, "corrupt block"));
}

TEST(CatchStateErrorTest, LetsOtherExceptionsThrough) {
  EXPECT_THROW((void)CatchStateError([] { throw std::logic_error("bug"); }), std::logic_error);
}

TEST(RunUserOpenTest, UserExceptionBecomesAFailedPreconditionStateError) {
  absl::Status s = CatchStateError([] { RunUserOpen([] { throw std::runtime_error("no config"); }); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, "Open() threw: no config"));
}

TEST(RunUserOpenTest, StateErrorPassesThroughUnchanged) {
  absl::Status s = CatchStateError([] { RunUserOpen([] { throw StateError(absl::UnavailableError("disk")); }); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, "disk"));
}

}  // namespace
}  // namespace kappa::operators
