#include "kappa/app/params.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/testing/status_matchers.h"

namespace kappa {
namespace {

using ::kappa::testing::IsOk;
using ::kappa::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

Params Given(std::map<std::string, std::string> values) { return Params(std::move(values)); }

TEST(ParamsTest, TypedGettersReturnGivenValues) {
  Params p = Given({{"name", "clicks"}, {"n", "-42"}, {"ratio", "0.25"}, {"on", "yes"}, {"window", "1m30s"}});
  EXPECT_EQ(p.GetString("name", "x"), "clicks");
  EXPECT_EQ(p.GetInt64("n", 0), -42);
  EXPECT_DOUBLE_EQ(p.GetDouble("ratio", 1), 0.25);
  EXPECT_TRUE(p.GetBool("on", false));
  EXPECT_EQ(p.GetDuration("window", absl::ZeroDuration()), absl::Seconds(90));
  EXPECT_THAT(p.status(), IsOk());
}

TEST(ParamsTest, MissingParametersGiveTheirDefaults) {
  Params p;
  EXPECT_EQ(p.GetString("name", "x"), "x");
  EXPECT_EQ(p.GetInt64("n", 7), 7);
  EXPECT_DOUBLE_EQ(p.GetDouble("ratio", 1.5), 1.5);
  EXPECT_FALSE(p.GetBool("on", false));
  EXPECT_EQ(p.GetDuration("window", absl::Seconds(10)), absl::Seconds(10));
  EXPECT_FALSE(p.Has("name"));
  EXPECT_THAT(p.status(), IsOk());
}

TEST(ParamsTest, BooleansAcceptTheUsualSpellings) {
  Params p = Given({{"a", "TRUE"}, {"b", "off"}, {"c", "1"}, {"d", "no"}});
  EXPECT_TRUE(p.GetBool("a", false));
  EXPECT_FALSE(p.GetBool("b", true));
  EXPECT_TRUE(p.GetBool("c", false));
  EXPECT_FALSE(p.GetBool("d", true));
  EXPECT_THAT(p.status(), IsOk());
}

TEST(ParamsTest, MalformedValueIsOneLineNamingTheParameterAndWhatWasExpected) {
  Params p = Given({{"window-ms", "abc"}});
  EXPECT_EQ(p.GetInt64("window-ms", 10000), 10000);
  EXPECT_THAT(p.status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "--param window-ms=abc: expected an integer"));
}

TEST(ParamsTest, EachTypeNamesWhatItExpects) {
  Params p = Given({{"d", "x"}, {"b", "maybe"}, {"t", "ten"}, {"i", "1.5"}});
  p.GetDouble("d", 0);
  EXPECT_THAT(p.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("d=x: expected a number")));
  Params q = Given({{"b", "maybe"}});
  q.GetBool("b", false);
  EXPECT_THAT(q.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("b=maybe: expected true or false")));
  Params r = Given({{"t", "ten"}});
  r.GetDuration("t", absl::Seconds(1));
  EXPECT_THAT(r.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t=ten: expected a duration")));
  Params s = Given({{"i", "1.5"}});
  s.GetInt64("i", 0);
  EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("i=1.5: expected an integer")));
}

TEST(ParamsTest, FirstErrorWinsAndEveryErrorReachesTheCallback) {
  Params p = Given({{"a", "x"}, {"b", "y"}});
  std::vector<std::string> seen;
  p.OnError([&](const absl::Status& s) { seen.emplace_back(s.message()); });
  p.GetInt64("a", 0);
  p.GetBool("b", false);
  EXPECT_THAT(p.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--param a=x")));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_THAT(seen[1], HasSubstr("--param b=y"));
}

TEST(ParamsTest, RequireReturnsTheValueOrRecordsThatItIsMissing) {
  Params p = Given({{"region", "eu"}, {"top", "5"}});
  EXPECT_EQ(p.RequireString("region"), "eu");
  EXPECT_EQ(p.RequireInt64("top"), 5);
  EXPECT_THAT(p.status(), IsOk());
  EXPECT_EQ(p.RequireDuration("window"), absl::ZeroDuration());
  EXPECT_THAT(p.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "--param window is missing: expected a duration such as 10s, 500ms or 1m"));
}

TEST(ParamsTest, RequireOfAMalformedValueIsAnError) {
  Params p = Given({{"ratio", "half"}});
  EXPECT_DOUBLE_EQ(p.RequireDouble("ratio"), 0);
  EXPECT_THAT(p.status(), StatusIs(absl::StatusCode::kInvalidArgument, "--param ratio=half: expected a number"));
}

TEST(ParamsTest, ParseSplitsKeyValueArguments) {
  absl::StatusOr<Params> p = Params::Parse({"a=1", "b=x=y", "c="});
  ASSERT_OK(p);
  EXPECT_EQ(p->values(), (std::map<std::string, std::string>{{"a", "1"}, {"b", "x=y"}, {"c", ""}}));
}

TEST(ParamsTest, ParseRefusesAnArgumentWithoutKeyOrEquals) {
  EXPECT_THAT(Params::Parse({"window"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "--param 'window': use key=value"));
  EXPECT_THAT(Params::Parse({"=5"}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use key=value")));
}

TEST(ParamsTest, ParseRefusesAKeyGivenTwice) {
  EXPECT_THAT(Params::Parse({"a=1", "a=2"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--param a is given twice (1 and 2)")));
}

TEST(ParamsTest, UnreadParameterIsAnErrorNamingTheOnesTheJobReads) {
  Params p = Given({{"windw", "10s"}, {"top", "3"}});
  p.GetDuration("window", absl::Seconds(10));
  p.GetInt64("top", 10);
  EXPECT_THAT(p.CheckAllRead("clicks"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--param windw=10s: job 'clicks' has no parameter 'windw'; its parameters: top, window"));
}

TEST(ParamsTest, ParameterForAJobThatReadsNoneSaysSo) {
  Params p = Given({{"x", "1"}});
  EXPECT_THAT(p.CheckAllRead("copy"),
              StatusIs(absl::StatusCode::kInvalidArgument, "--param x=1: job 'copy' takes no parameters"));
}

TEST(ParamsTest, HasCountsAsReading) {
  Params p = Given({{"debug", ""}});
  EXPECT_TRUE(p.Has("debug"));
  EXPECT_THAT(p.CheckAllRead("job"), IsOk());
  EXPECT_THAT(Params().CheckAllRead("job"), IsOk());
}

}  // namespace
}  // namespace kappa
