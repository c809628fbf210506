#include "kappa/testing/status_matchers.h"

#include <memory>
#include <string>

#include "gtest/gtest-spi.h"

namespace kappa::testing {
namespace {

using ::testing::DescribeMatcher;
using ::testing::ExplainMatchResult;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StringMatchResultListener;

absl::StatusOr<int> Value(int v) { return v; }
absl::StatusOr<int> NotFound() { return absl::NotFoundError("no such thing"); }

TEST(IsOkTest, MatchesOkStatusAndStatusOrWithValue) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(Value(3), IsOk());
}

TEST(IsOkTest, RejectsErrorsAndExplainsWithTheStatus) {
  EXPECT_THAT(absl::InternalError("boom"), Not(IsOk()));
  EXPECT_THAT(NotFound(), Not(IsOk()));
  StringMatchResultListener listener;
  EXPECT_FALSE(ExplainMatchResult(IsOk(), absl::InternalError("boom"), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("boom"));
  EXPECT_THAT(listener.str(), HasSubstr("INTERNAL"));
}

TEST(IsOkTest, DescribesItselfAndItsNegation) {
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk(), /*negation=*/true), "is not OK");
}

TEST(StatusIsTest, MatchesTheCodeOfStatusAndStatusOr) {
  EXPECT_THAT(absl::InvalidArgumentError("bad"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NotFound(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Value(1), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusIsTest, RejectsAnotherCodeAndNamesTheStatusSeen) {
  EXPECT_THAT(NotFound(), Not(StatusIs(absl::StatusCode::kInternal)));
  EXPECT_THAT(absl::OkStatus(), Not(StatusIs(absl::StatusCode::kInternal)));
  StringMatchResultListener listener;
  EXPECT_FALSE(ExplainMatchResult(StatusIs(absl::StatusCode::kInternal), NotFound(), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("no such thing"));
}

TEST(StatusIsTest, WithAMessageMatcherNeedsBothCodeAndMessage) {
  EXPECT_THAT(NotFound(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("such")));
  EXPECT_THAT(NotFound(), StatusIs(absl::StatusCode::kNotFound, "no such thing"));
  EXPECT_THAT(NotFound(), Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("other"))));
  EXPECT_THAT(NotFound(), Not(StatusIs(absl::StatusCode::kInternal, HasSubstr("such"))));
  StringMatchResultListener listener;
  EXPECT_FALSE(
      ExplainMatchResult(StatusIs(absl::StatusCode::kNotFound, HasSubstr("other")), NotFound(), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("no such thing"));
  EXPECT_THAT(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kNotFound, HasSubstr("x"))),
              HasSubstr("NOT_FOUND"));
}

TEST(StatusMacrosTest, AssertOkPassesOnOkAndFailsFatallyOnError) {
  ASSERT_OK(absl::OkStatus());
  EXPECT_OK(Value(2));
  EXPECT_FATAL_FAILURE(ASSERT_OK(absl::DataLossError("torn page")), "torn page");
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(absl::StatusOr<int>(absl::AbortedError("gave up"))), "gave up");
}

TEST(StatusMacrosTest, AssertOkAndAssignMovesTheValueOut) {
  ASSERT_OK_AND_ASSIGN(int v, Value(42));
  EXPECT_EQ(v, 42);
  std::unique_ptr<int> p;
  ASSERT_OK_AND_ASSIGN(p, absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(7)));
  EXPECT_EQ(*p, 7);
}

void AssignFromError() {
  ASSERT_OK_AND_ASSIGN(int v, NotFound());
  (void)v;
}

TEST(StatusMacrosTest, AssertOkAndAssignFailsFatallyOnError) {
  EXPECT_FATAL_FAILURE(AssignFromError(), "no such thing");
}

}  // namespace
}  // namespace kappa::testing
