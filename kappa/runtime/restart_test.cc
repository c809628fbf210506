#include "kappa/runtime/restart.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(RestartStrategyTest, ParsesEveryForm) {
  auto none = RestartStrategy::Parse("none");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->restarts());

  auto fixed = RestartStrategy::Parse("fixed:3:500ms");
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->kind, RestartStrategy::Kind::kFixedDelay);
  EXPECT_EQ(fixed->max_attempts, 3);
  EXPECT_EQ(fixed->delay, absl::Milliseconds(500));

  auto exp = RestartStrategy::Parse("exponential:1s:1m");
  ASSERT_TRUE(exp.ok()) << exp.status();
  EXPECT_EQ(exp->initial, absl::Seconds(1));
  EXPECT_EQ(exp->max, absl::Minutes(1));
  EXPECT_EQ(exp->reset_after, absl::Hours(1));
  auto exp_reset = RestartStrategy::Parse("exponential:100ms:10s:2m");
  ASSERT_TRUE(exp_reset.ok()) << exp_reset.status();
  EXPECT_EQ(exp_reset->reset_after, absl::Minutes(2));

  auto rate = RestartStrategy::Parse("failure-rate:3:10m:5s");
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ(rate->kind, RestartStrategy::Kind::kFailureRate);
  EXPECT_EQ(rate->max_failures, 3);
  EXPECT_EQ(rate->interval, absl::Minutes(10));
  EXPECT_EQ(rate->delay, absl::Seconds(5));
  auto zero_delay = RestartStrategy::Parse("fixed:1:0");
  ASSERT_TRUE(zero_delay.ok()) << zero_delay.status();
  EXPECT_EQ(zero_delay->delay, absl::ZeroDuration());
}

TEST(RestartStrategyTest, ToStringParsesBackToTheSameStrategy) {
  for (const char* text : {"none", "fixed:3:500ms", "exponential:1s:1m:30m", "failure-rate:3:10m:5s"}) {
    auto parsed = RestartStrategy::Parse(text);
    ASSERT_TRUE(parsed.ok()) << text;
    auto again = RestartStrategy::Parse(parsed->ToString());
    ASSERT_TRUE(again.ok()) << parsed->ToString();
    EXPECT_EQ(again->ToString(), parsed->ToString());
  }
  EXPECT_EQ(RestartStrategy::Parse("fixed:3:1s")->ToString(), "fixed:3:1s");
}

TEST(RestartStrategyTest, BadValuesGiveOneLineNamingTheProblem) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {Case{"", "unknown strategy ''"}, Case{"always", "unknown strategy 'always'"},
                        Case{"fixed:3", "fixed takes ATTEMPTS and DELAY"},
                        Case{"fixed:0:1s", "ATTEMPTS '0' is not a whole number of at least 1"},
                        Case{"fixed:x:1s", "ATTEMPTS 'x'"}, Case{"fixed:3:1", "DELAY '1' is not a duration"},
                        Case{"fixed:3:-1s", "DELAY '-1s' is not a duration"},
                        Case{"exponential:1s", "exponential takes INITIAL, MAX"},
                        Case{"exponential:0s:1s", "INITIAL must be more than 0"},
                        Case{"exponential:10s:1s", "MAX must be at least INITIAL"},
                        Case{"exponential:1s:10s:0s", "RESET_AFTER must be more than 0"},
                        Case{"failure-rate:3:1m", "failure-rate takes N, PER and DELAY"},
                        Case{"failure-rate:3:0s:1s", "PER must be more than 0"},
                        Case{"none:1", "none takes no values"}}) {
    auto parsed = RestartStrategy::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    const std::string message(parsed.status().message());
    EXPECT_THAT(message, HasSubstr(c.says)) << c.text;
    EXPECT_THAT(message, HasSubstr(std::string("--restart '") + c.text + "'"));
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(RestartTrackerTest, NoneNeverRestarts) {
  RestartTracker t(RestartStrategy::None());
  EXPECT_EQ(t.OnFailure(kT0, kT0 + absl::Seconds(1)), std::nullopt);
  EXPECT_EQ(t.restarts(), 0);
}

TEST(RestartTrackerTest, FixedDelayRestartsAttemptsTimesOverTheWholeRun) {
  RestartTracker t(RestartStrategy::FixedDelay(2, absl::Seconds(3)));
  // However long the attempts ran, the count never resets.
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Seconds(1)), Optional(absl::Seconds(3)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Hours(5)), Optional(absl::Seconds(3)));
  EXPECT_EQ(t.OnFailure(kT0, kT0 + absl::Hours(50)), std::nullopt);
  EXPECT_EQ(t.restarts(), 2);
  EXPECT_THAT(t.gave_up(), HasSubstr("fixed:2:3s allows 2 restarts"));
}

TEST(RestartTrackerTest, ExponentialDoublesUpToMaxAndNeverGivesUp) {
  RestartTracker t(RestartStrategy::ExponentialDelay(absl::Seconds(1), absl::Seconds(10), absl::Minutes(5)));
  absl::Time now = kT0;
  std::vector<absl::Duration> waits;
  for (int i = 0; i < 7; ++i) {
    const absl::Time started = now;
    now += absl::Seconds(2);  // each attempt fails 2 s after it started: never long enough to reset
    auto wait = t.OnFailure(started, now);
    ASSERT_TRUE(wait.has_value());
    waits.push_back(*wait);
    now += *wait;
  }
  EXPECT_THAT(waits, ::testing::ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4), absl::Seconds(8),
                                            absl::Seconds(10), absl::Seconds(10), absl::Seconds(10)));
  EXPECT_EQ(t.restarts(), 7);
}

TEST(RestartTrackerTest, ExponentialStartsOverAfterARunLongerThanResetAfter) {
  RestartTracker t(RestartStrategy::ExponentialDelay(absl::Seconds(1), absl::Minutes(1), absl::Minutes(5)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Seconds(1)), Optional(absl::Seconds(1)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Seconds(1)), Optional(absl::Seconds(2)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Seconds(1)), Optional(absl::Seconds(4)));
  // Just short of RESET_AFTER: still growing.
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Minutes(5) - absl::Milliseconds(1)), Optional(absl::Seconds(8)));
  // Ran RESET_AFTER without a failure: back to INITIAL, and growing again from there.
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Minutes(5)), Optional(absl::Seconds(1)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Seconds(1)), Optional(absl::Seconds(2)));
}

TEST(RestartTrackerTest, FailureRateGivesUpOnTheFailureThatExceedsNWithinPer) {
  RestartTracker t(RestartStrategy::FailureRate(3, absl::Minutes(10), absl::Seconds(5)));
  EXPECT_THAT(t.OnFailure(kT0, kT0), Optional(absl::Seconds(5)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Minutes(1)), Optional(absl::Seconds(5)));
  EXPECT_THAT(t.OnFailure(kT0, kT0 + absl::Minutes(2)), Optional(absl::Seconds(5)));
  // A fourth failure within 10 minutes of the first.
  EXPECT_EQ(t.OnFailure(kT0, kT0 + absl::Minutes(9)), std::nullopt);
  EXPECT_EQ(t.restarts(), 3);
  EXPECT_THAT(t.gave_up(), HasSubstr("4 failures within 10m"));
}

TEST(RestartTrackerTest, FailureRateForgetsFailuresOlderThanPer) {
  RestartTracker t(RestartStrategy::FailureRate(2, absl::Minutes(10), absl::Seconds(1)));
  EXPECT_TRUE(t.OnFailure(kT0, kT0).has_value());
  EXPECT_TRUE(t.OnFailure(kT0, kT0 + absl::Minutes(6)).has_value());
  // The first failure is exactly 10 minutes old: out of the window, so two within it.
  EXPECT_TRUE(t.OnFailure(kT0, kT0 + absl::Minutes(10)).has_value());
  // Failures at 6, 10 and 11 minutes: three within 10 minutes.
  EXPECT_FALSE(t.OnFailure(kT0, kT0 + absl::Minutes(11)).has_value());
  EXPECT_EQ(t.restarts(), 3);
}

}  // namespace
}  // namespace kappa
