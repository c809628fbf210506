#include "kappa/state/serializer.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa_test {

struct Click {
  std::string page;
  int64_t user = 0;
  int32_t count = 0;
  bool operator==(const Click&) const = default;
};

}  // namespace kappa_test

KAPPA_SERIALIZABLE(kappa_test::Click, &kappa_test::Click::page, &kappa_test::Click::user,
                   &kappa_test::Click::count);

namespace kappa {
namespace {

using ::kappa_test::Click;
using ::testing::ElementsAre;
using ::testing::Optional;

enum class Color : uint8_t { kRed = 1, kBlue = 200 };
enum class Wide : int64_t { kMin = std::numeric_limits<int64_t>::min(), kOne = 1 };

// Serializes v, parses it back as a whole string and returns the result; nullopt if the
// parse failed.
template <typename T>
std::optional<T> RoundTrip(const T& v) {
  std::string bytes = SerializeToString(v);
  T out{};
  if (!ParseFromString(bytes, &out)) return std::nullopt;
  return out;
}

TEST(SerializerTest, IntegersRoundTripIncludingLimits) {
  EXPECT_THAT(RoundTrip<int8_t>(std::numeric_limits<int8_t>::min()), Optional(int8_t{-128}));
  EXPECT_THAT(RoundTrip<int32_t>(-123456), Optional(-123456));
  EXPECT_THAT(RoundTrip<int64_t>(std::numeric_limits<int64_t>::min()),
              Optional(std::numeric_limits<int64_t>::min()));
  EXPECT_THAT(RoundTrip<int64_t>(std::numeric_limits<int64_t>::max()),
              Optional(std::numeric_limits<int64_t>::max()));
  EXPECT_THAT(RoundTrip<uint64_t>(std::numeric_limits<uint64_t>::max()),
              Optional(std::numeric_limits<uint64_t>::max()));
  EXPECT_THAT(RoundTrip<bool>(true), Optional(true));
  EXPECT_THAT(RoundTrip<char>('\0'), Optional('\0'));
}

TEST(SerializerTest, ArithmeticTypesUseFixedWidth) {
  EXPECT_EQ(SerializeToString<int32_t>(0).size(), 4u);
  EXPECT_EQ(SerializeToString<int64_t>(-1).size(), 8u);
  EXPECT_EQ(SerializeToString<double>(1.5).size(), 8u);
}

TEST(SerializerTest, DoublesRoundTripBitExactly) {
  EXPECT_THAT(RoundTrip(3.141592653589793), Optional(3.141592653589793));
  EXPECT_THAT(RoundTrip(std::numeric_limits<double>::denorm_min()),
              Optional(std::numeric_limits<double>::denorm_min()));
  EXPECT_THAT(RoundTrip(std::numeric_limits<double>::infinity()),
              Optional(std::numeric_limits<double>::infinity()));

  std::optional<double> negative_zero = RoundTrip(-0.0);
  ASSERT_TRUE(negative_zero.has_value());
  EXPECT_TRUE(std::signbit(*negative_zero));

  std::optional<double> nan = RoundTrip(std::numeric_limits<double>::quiet_NaN());
  ASSERT_TRUE(nan.has_value());
  EXPECT_TRUE(std::isnan(*nan));
}

TEST(SerializerTest, EnumsRoundTripWithTheirUnderlyingWidth) {
  EXPECT_THAT(RoundTrip(Color::kBlue), Optional(Color::kBlue));
  EXPECT_EQ(SerializeToString(Color::kRed).size(), 1u);
  EXPECT_THAT(RoundTrip(Wide::kMin), Optional(Wide::kMin));
  EXPECT_EQ(SerializeToString(Wide::kOne).size(), 8u);
}

TEST(SerializerTest, EmptyStringIsOneLengthByte) {
  EXPECT_EQ(SerializeToString(std::string()), std::string(1, '\0'));
  EXPECT_THAT(RoundTrip(std::string()), Optional(std::string()));
}

TEST(SerializerTest, BinaryStringWithNulsRoundTrips) {
  const std::string binary("\0a\0\xff\0", 5);
  EXPECT_THAT(RoundTrip(binary), Optional(binary));
}

TEST(SerializerTest, LengthPrefixIsAVarint) {
  // 127 fits one varint byte, 128 needs two, 16384 needs three.
  EXPECT_EQ(SerializeToString(std::string(127, 'x')).size(), 1u + 127);
  EXPECT_EQ(SerializeToString(std::string(128, 'x')).substr(0, 2), std::string("\x80\x01", 2));
  EXPECT_EQ(SerializeToString(std::string(200, 'x')).size(), 2u + 200);
  EXPECT_EQ(SerializeToString(std::string(16384, 'x')).size(), 3u + 16384);
}

TEST(SerializerTest, LongStringsRoundTrip) {
  std::string long_string;
  for (int i = 0; i < 300; ++i) long_string.push_back(static_cast<char>(i));
  EXPECT_THAT(RoundTrip(long_string), Optional(long_string));
  const std::string huge(100000, '\x80');
  EXPECT_THAT(RoundTrip(huge), Optional(huge));
}

TEST(SerializerTest, NestedContainersRoundTrip) {
  using Nested = std::pair<std::string, std::vector<std::optional<std::tuple<int64_t, std::string, double>>>>;
  Nested v{"key",
           {std::nullopt, std::make_tuple(int64_t{-7}, std::string(), 0.25),
            std::make_tuple(int64_t{1} << 40, std::string(200, 'z'), -1.0)}};
  EXPECT_THAT(RoundTrip(v), Optional(v));

  std::vector<std::vector<std::string>> grid{{}, {"", "a"}, {std::string("\0", 1)}};
  EXPECT_THAT(RoundTrip(grid), Optional(grid));

  std::optional<std::vector<int32_t>> absent;
  EXPECT_THAT(RoundTrip(absent), Optional(absent));
  std::optional<std::string> present_empty = std::string();
  EXPECT_THAT(RoundTrip(present_empty), Optional(present_empty));

  std::tuple<> empty_tuple;
  EXPECT_EQ(SerializeToString(empty_tuple), "");
}

TEST(SerializerTest, ReadReplacesPreviousContents) {
  std::vector<std::string> vec{"old", "values", "here"};
  ASSERT_TRUE(ParseFromString(SerializeToString(std::vector<std::string>{"new"}), &vec));
  EXPECT_THAT(vec, ElementsAre("new"));

  std::optional<int32_t> opt = 5;
  ASSERT_TRUE(ParseFromString(SerializeToString(std::optional<int32_t>()), &opt));
  EXPECT_FALSE(opt.has_value());
}

TEST(SerializerTest, SerializableStructRoundTripsFieldByField) {
  Click click{"/home", 42, -3};
  EXPECT_THAT(RoundTrip(click), Optional(click));
  // Fields are written in declaration order with their own serializers.
  std::string expected = SerializeToString(std::string("/home")) + SerializeToString(int64_t{42}) +
                         SerializeToString(int32_t{-3});
  EXPECT_EQ(SerializeToString(click), expected);

  std::vector<Click> clicks{click, Click{"", 0, 0}, Click{std::string(150, 'p'), -1, 7}};
  EXPECT_THAT(RoundTrip(clicks), Optional(clicks));
}

TEST(SerializerTest, SerializationIsDeterministic) {
  std::tuple<std::string, int64_t, std::vector<std::string>> v{"abc", 9, {"x", "y"}};
  EXPECT_EQ(SerializeToString(v), SerializeToString(v));
}

TEST(SerializerTest, ReadOfEveryTruncationReturnsFalse) {
  using T = std::tuple<std::string, int64_t, std::vector<std::string>>;
  // The long strings give two-byte varints, so some cuts fall inside a length prefix.
  const T value{std::string(130, 's'), -5, {"", "b", std::string(140, 'v')}};
  const std::string full = SerializeToString(value);
  ASSERT_GT(full.size(), 0u);
  for (size_t len = 0; len < full.size(); ++len) {
    std::string_view in(full.data(), len);
    T out;
    EXPECT_FALSE(Serializer<T>::Read(&in, &out)) << "truncated to " << len << " of " << full.size();
  }
  T out;
  std::string_view whole(full);
  EXPECT_TRUE(Serializer<T>::Read(&whole, &out));
  EXPECT_TRUE(whole.empty());
  EXPECT_EQ(out, value);
}

TEST(SerializerTest, ParseFromStringRejectsTrailingBytes) {
  std::string bytes = SerializeToString(std::string("abc"));
  std::string parsed;
  ASSERT_TRUE(ParseFromString(bytes, &parsed));
  EXPECT_FALSE(ParseFromString(bytes + "x", &parsed));
  int32_t narrow = 0;
  EXPECT_FALSE(ParseFromString(SerializeToString(int64_t{1}), &narrow));
}

TEST(SerializerTest, ReadConsumesExactlyOneValue) {
  std::string bytes = SerializeToString(std::string("ab")) + SerializeToString(int32_t{7});
  std::string_view in(bytes);
  std::string s;
  ASSERT_TRUE(Serializer<std::string>::Read(&in, &s));
  EXPECT_EQ(s, "ab");
  EXPECT_EQ(in.size(), sizeof(int32_t));
}

TEST(SerializerTest, StringEncodingIsPrefixFree) {
  const std::string a = SerializeToString(std::string("a"));
  const std::string ab = SerializeToString(std::string("ab"));
  EXPECT_FALSE(ab.starts_with(a));
  EXPECT_FALSE(a.starts_with(ab));

  std::vector<std::string> samples{"", "a", "ab", "abc", std::string(1, '\0'), std::string(127, 'a'),
                                   std::string(128, 'a')};
  for (const std::string& x : samples) {
    for (const std::string& y : samples) {
      if (x == y) continue;
      EXPECT_FALSE(SerializeToString(y).starts_with(SerializeToString(x)))
          << "serialized '" << x << "' is a prefix of serialized '" << y << "'";
    }
  }
}

TEST(SerializerTest, VectorEncodingIsPrefixFree) {
  const std::string one = SerializeToString(std::vector<std::string>{"a"});
  const std::string two = SerializeToString(std::vector<std::string>{"a", "b"});
  EXPECT_FALSE(two.starts_with(one));
}

TEST(SerializerTest, MalformedLengthsAreRejected) {
  std::string s;
  // A vector claiming far more elements than there are bytes fails before allocating.
  std::string huge_count;
  internal::WriteVarint(uint64_t{1} << 60, &huge_count);
  std::vector<int64_t> vec;
  EXPECT_FALSE(ParseFromString(huge_count, &vec));
  // A string whose length exceeds the input.
  EXPECT_FALSE(ParseFromString(std::string("\x05" "abc"), &s));
  // A varint that never terminates.
  EXPECT_FALSE(ParseFromString(std::string(11, '\x80'), &s));
  // An optional with no presence byte.
  std::optional<int32_t> opt;
  EXPECT_FALSE(ParseFromString(std::string(), &opt));
}

}  // namespace
}  // namespace kappa
