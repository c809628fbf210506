// GoogleTest matchers and macros for absl::Status and absl::StatusOr<T>, for tests of
// jobs, functions and operators:
//
//   #include "kappa/testing.h"
//   using ::kappa::testing::IsOk;
//   using ::kappa::testing::StatusIs;
//
//   EXPECT_THAT(job->status(), IsOk());
//   EXPECT_THAT(ParsePort("x"), StatusIs(absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(Open("/nope"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nope")));
//   ASSERT_OK(harness.Open());
//   ASSERT_OK_AND_ASSIGN(int port, ParsePort("8080"));
//
// Each matcher takes either an absl::Status or an absl::StatusOr<T>; a failing match
// prints the status it saw. Header-only; the test links GTest::gmock.
#ifndef KAPPA_TESTING_STATUS_MATCHERS_H_
#define KAPPA_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/status.h"

namespace kappa::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// A copy, so that the macros may take temporaries.
template <typename S>
absl::Status ToStatus(const S& status) {
  return GetStatus(status);
}

}  // namespace internal

// Matches an OK absl::Status, or an absl::StatusOr<T> that holds a value.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = ::kappa::testing::internal::GetStatus(arg);
  if (!status.ok()) *result_listener << "whose status is " << status;
  return status.ok();
}

// Matches a status (or a StatusOr's status) with this code.
MATCHER_P(StatusIs, code,
          std::string(negation ? "has a status code other than " : "has status code ") +
              absl::StatusCodeToString(code)) {
  const absl::Status& status = ::kappa::testing::internal::GetStatus(arg);
  if (status.code() != code) {
    *result_listener << "whose status is " << status;
    return false;
  }
  return true;
}

// Matches a status with this code whose message matches `message` (a matcher such as
// HasSubstr("..."), or a string to equal).
MATCHER_P2(StatusIs, code, message,
           std::string(negation ? "does not have status code " : "has status code ") +
               absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<const std::string&>(message)) {
  const absl::Status& status = ::kappa::testing::internal::GetStatus(arg);
  if (status.code() != code) {
    *result_listener << "whose status is " << status;
    return false;
  }
  *result_listener << "whose message is \"" << status.message() << "\" ";
  return ::testing::ExplainMatchResult(message, std::string(status.message()), result_listener);
}

}  // namespace kappa::testing

// Fails the test (ASSERT: and returns) unless `expr`, an absl::Status or absl::StatusOr<T>,
// is OK; prints the status otherwise.
#define KAPPA_ASSERT_OK(expr) ASSERT_THAT(::kappa::testing::internal::ToStatus(expr), ::kappa::testing::IsOk())
#define KAPPA_EXPECT_OK(expr) EXPECT_THAT(::kappa::testing::internal::ToStatus(expr), ::kappa::testing::IsOk())

// Evaluates `rexpr`, an absl::StatusOr<T>: fails the test unless it holds a value, else
// moves the value into `lhs` (a declaration such as `auto x` or an existing variable).
#define KAPPA_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  KAPPA_ASSERT_OK_AND_ASSIGN_IMPL_(KAPPA_STATUS_CONCAT_(kappa_test_statusor_, __LINE__), lhs, rexpr)

// The short names, unless the project already has macros of these names (many test
// libraries do): then the KAPPA_ ones above remain.
#ifndef ASSERT_OK
#define ASSERT_OK(expr) KAPPA_ASSERT_OK(expr)
#endif
#ifndef EXPECT_OK
#define EXPECT_OK(expr) KAPPA_EXPECT_OK(expr)
#endif
#ifndef ASSERT_OK_AND_ASSIGN
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) KAPPA_ASSERT_OK_AND_ASSIGN(lhs, rexpr)
#endif

#define KAPPA_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  ASSERT_TRUE(statusor.ok()) << statusor.status();             \
  lhs = std::move(statusor).value()

#endif  // KAPPA_TESTING_STATUS_MATCHERS_H_
