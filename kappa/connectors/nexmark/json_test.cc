#include "kappa/connectors/nexmark/json.h"

#include <string>
#include <vector>

#include "kappa/connectors/nexmark/generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::nexmark {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Event MakePerson() {
  return Event{Person{.id = 1001,
                      .name = "Paul Abrams",
                      .email_address = "abc@def.com",
                      .credit_card = "1234 5678 9012 3456",
                      .city = "Boise",
                      .state = "ID",
                      .date_time = 1'700'000'000'123,
                      .extra = "xyz"}};
}

Event MakeAuction() {
  return Event{Auction{.id = 1002,
                       .item_name = "chair",
                       .description = "an old chair",
                       .initial_bid = 500,
                       .reserve = 900,
                       .date_time = 1'700'000'000'000,
                       .expires = 1'700'000'010'000,
                       .seller = 1001,
                       .category = 10,
                       .extra = ""}};
}

Event MakeBid() {
  return Event{Bid{.auction = 1002,
                   .bidder = -7,
                   .price = 9'223'372'036'854'775'807,
                   .channel = "Google",
                   .url = "https://www.nexmark.com/a/b/c/item.htm?query=1",
                   .date_time = 1'700'000'000'001,
                   .extra = "e"}};
}

TEST(JsonEncodeTest, WritesTypeFirstThenContractFieldsInOrder) {
  EXPECT_EQ(ToJson(MakeBid()),
            R"({"type":"bid","auction":1002,"bidder":-7,"price":9223372036854775807,)"
            R"("channel":"Google","url":"https://www.nexmark.com/a/b/c/item.htm?query=1",)"
            R"("dateTime":1700000000001,"extra":"e"})");
  EXPECT_EQ(ToJson(MakePerson()),
            R"({"type":"person","id":1001,"name":"Paul Abrams","emailAddress":"abc@def.com",)"
            R"("creditCard":"1234 5678 9012 3456","city":"Boise","state":"ID",)"
            R"("dateTime":1700000000123,"extra":"xyz"})");
  EXPECT_EQ(ToJson(MakeAuction()),
            R"({"type":"auction","id":1002,"itemName":"chair","description":"an old chair",)"
            R"("initialBid":500,"reserve":900,"dateTime":1700000000000,)"
            R"("expires":1700000010000,"seller":1001,"category":10,"extra":""})");
}

TEST(JsonEncodeTest, AppendsWithoutClearing) {
  std::string out = "prefix\n";
  AppendJson(MakeBid(), &out);
  out.push_back('\n');
  AppendJson(MakeBid(), &out);
  EXPECT_EQ(out, "prefix\n" + ToJson(MakeBid()) + "\n" + ToJson(MakeBid()));
}

TEST(JsonEncodeTest, EscapesQuotesBackslashesAndControlCharacters) {
  Event e = MakePerson();
  // 22 bytes: the literal's 21 plus its terminating NUL, which must be escaped too.
  e.person().name = std::string("a\"b\\c\nd\te\rf\bg\fh\x01i\x1fj\x7fk", 22);
  e.person().city = "Zoë 東京 🙂";  // non-ASCII UTF-8 passes through unescaped
  const std::string json = ToJson(e);
  EXPECT_THAT(json, HasSubstr(R"("name":"a\"b\\c\nd\te\rf\bg\fh\u0001i\u001fj)"
                              "\x7f"
                              R"(k\u0000")"));
  EXPECT_THAT(json, HasSubstr("\"city\":\"Zoë 東京 🙂\""));
}

TEST(JsonEncodeTest, EscapesInLongStringsAreFoundPastTheFirstWord) {
  // The escape check works 8 bytes at a time; put the quote at every position.
  for (size_t pos = 0; pos < 20; ++pos) {
    Event e = MakeBid();
    e.bid().extra = std::string(20, 'x');
    e.bid().extra[pos] = '"';
    std::string expected = std::string(pos, 'x') + "\\\"" + std::string(19 - pos, 'x');
    EXPECT_THAT(ToJson(e), HasSubstr("\"extra\":\"" + expected + "\"}")) << pos;
  }
}

class JsonRoundTripTest : public ::testing::Test {
 protected:
  Event RoundTrip(const Event& e) {
    const std::string line = ToJson(e);
    absl::StatusOr<Event> decoded = decoder_.Decode(line);
    EXPECT_TRUE(decoded.ok()) << decoded.status() << "\n" << line;
    return decoded.ok() ? *decoded : Event{};
  }

  EventDecoder decoder_;
};

TEST_F(JsonRoundTripTest, HandMadeEventsOfEveryType) {
  for (const Event& e : {MakePerson(), MakeAuction(), MakeBid()}) EXPECT_EQ(RoundTrip(e), e);
}

TEST_F(JsonRoundTripTest, StringsNeedingEscapes) {
  Event e = MakeAuction();
  e.auction().item_name = std::string("q\"uote \\ back\x00nul\x01\x1f\n\t", 22);
  e.auction().description = "Zoë 東京 🙂 \u00e9\u2028";
  e.auction().extra = std::string(300, '\\');
  const Event back = RoundTrip(e);
  EXPECT_EQ(back, e);
  EXPECT_EQ(back.auction().item_name.size(), 22u);
}

TEST_F(JsonRoundTripTest, GeneratedEventsThroughOneReusedSlot) {
  GeneratorConfig config;
  config.seed = 99;
  config.events = 5000;
  Generator gen(config);
  Event generated, decoded;
  std::string line;
  while (gen.HasNext()) {
    gen.NextInto(&generated);
    line.clear();
    AppendJson(generated, &line);
    ASSERT_TRUE(decoder_.DecodeInto(line, 0, &decoded).ok()) << line;
    ASSERT_EQ(decoded, generated) << line;
  }
}

TEST(JsonDecodeTest, ParsesInPlaceWhenPaddedAndIgnoresBytesAfterTheLine) {
  const std::string line = ToJson(MakeBid());
  // The line sits in a larger buffer followed by another (unrelated) line.
  std::string buffer = line + "\n{\"type\":\"person\"" + std::string(kJsonPadding, 'z');
  EventDecoder decoder;
  absl::StatusOr<Event> e =
      decoder.Decode(std::string_view(buffer.data(), line.size()), buffer.size());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(*e, MakeBid());
}

TEST(JsonDecodeTest, AcceptsAnyFieldOrderWhitespaceUnknownFieldsAndMissingExtra) {
  EventDecoder decoder;
  absl::StatusOr<Event> bid = decoder.Decode(
      R"(  { "price" : 250, "auction":1000, "bidder":1001, "channel":"Apple",)"
      R"( "url":"u", "dateTime":1700000000000, "type":"bid", "note":[1,{"a":2}] }  )");
  ASSERT_TRUE(bid.ok()) << bid.status();
  const Event expected_bid{Bid{.auction = 1000,
                               .bidder = 1001,
                               .price = 250,
                               .channel = "Apple",
                               .url = "u",
                               .date_time = 1'700'000'000'000,
                               .extra = ""}};
  EXPECT_EQ(*bid, expected_bid);

  absl::StatusOr<Event> person =
      decoder.Decode(R"({"type":"person","id":1000,"name":"Peter Smith","emailAddress":"p@s.com",)"
                     R"("creditCard":"0000 1111 2222 3333","city":"Kent","state":"WA",)"
                     R"("dateTime":1700000000000,"extra":null})");
  ASSERT_TRUE(person.ok()) << person.status();
  EXPECT_EQ(person->person().name, "Peter Smith");
  EXPECT_EQ(person->person().state, "WA");
  EXPECT_EQ(person->person().extra, "");

  absl::StatusOr<Event> auction = decoder.Decode(
      R"({"type":"auction","id":1000,"itemName":"x","description":"y","initialBid":1,)"
      R"("reserve":2,"dateTime":3,"expires":4,"seller":1000,"category":10,"extra":"z"})");
  ASSERT_TRUE(auction.ok()) << auction.status();
  const Event expected_auction{Auction{.id = 1000,
                                       .item_name = "x",
                                       .description = "y",
                                       .initial_bid = 1,
                                       .reserve = 2,
                                       .date_time = 3,
                                       .expires = 4,
                                       .seller = 1000,
                                       .category = 10,
                                       .extra = "z"}};
  EXPECT_EQ(*auction, expected_auction);
}

TEST(JsonDecodeTest, UnescapesEscapedKeys) {
  EventDecoder decoder;
  absl::StatusOr<Event> bid = decoder.Decode(
      R"({"type":"bid","auct\u0069on":5,"bidder":6,"price":7,"channel":"c","url":"u",)"
      R"("dateTime":8})");
  ASSERT_TRUE(bid.ok()) << bid.status();
  EXPECT_EQ(bid->bid().auction, 5);
}

TEST(JsonDecodeTest, DecodeIntoClearsExtraLeftFromThePreviousEvent) {
  EventDecoder decoder;
  Event slot;
  ASSERT_TRUE(decoder.DecodeInto(ToJson(MakeBid()), 0, &slot).ok());
  EXPECT_EQ(slot.bid().extra, "e");
  ASSERT_TRUE(decoder
                  .DecodeInto(R"({"type":"bid","auction":1,"bidder":2,"price":3,)"
                              R"("channel":"c","url":"u","dateTime":4})",
                              0, &slot)
                  .ok());
  EXPECT_EQ(slot.bid().extra, "");
  EXPECT_EQ(slot.bid().auction, 1);
}

TEST(JsonDecodeTest, ErrorMessagesSayWhatTheValueWas) {
  EventDecoder decoder;
  EXPECT_EQ(std::string(decoder.Decode(R"({"type":3})").status().message()),
            "event: field \"type\" must be a string, got an integer");
  EXPECT_EQ(std::string(decoder
                            .Decode(R"({"type":"bid","auction":1,"bidder":true,"price":3,)"
                                    R"("channel":"c","url":"u","dateTime":4})")
                            .status()
                            .message()),
            "bid: field \"bidder\" must be an integer, got a boolean");
}

struct ErrorCase {
  const char* line;
  const char* message;  // a substring the error must contain
};

class JsonDecodeErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(JsonDecodeErrorTest, GivesOneLineNamingTheProblem) {
  EventDecoder decoder;
  absl::StatusOr<Event> e = decoder.Decode(GetParam().line);
  ASSERT_FALSE(e.ok()) << GetParam().line;
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr(GetParam().message));
  EXPECT_THAT(e.status().message(), Not(HasSubstr("\n")));
  // The decoder stays usable after an error.
  EXPECT_TRUE(decoder.Decode(ToJson(MakeBid())).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Errors, JsonDecodeErrorTest,
    ::testing::Values(
        ErrorCase{R"({"type":"bid","auction":1,)", "malformed JSON"},
        ErrorCase{R"({"type":"bid" "auction":1})", "malformed JSON"},
        ErrorCase{"", "malformed JSON"},
        ErrorCase{"{\"type\":\"bid\",\"channel\":\"\xff\"}", "malformed JSON"},  // bad UTF-8
        ErrorCase{"{\"type\":\"bid\",\"auction\":1,\"bidder\":2,\"price\":3,"
                  "\"channel\":\"raw\nnewline\",\"url\":\"u\",\"dateTime\":4}",
                  "malformed JSON"},  // control characters must be escaped
        ErrorCase{R"({})", "missing field \"type\""},
        ErrorCase{R"([1,2])", "expected a JSON object"},
        ErrorCase{R"({"auction":1})", "missing field \"type\""},
        ErrorCase{R"({"type":"ask","auction":1})", "unknown event type \"ask\""},
        ErrorCase{R"({"type":3})", "field \"type\" must be a string, got an integer"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":3,"channel":"c",)"
                  R"("dateTime":4})",
                  "bid: missing field \"url\""},
        ErrorCase{R"({"type":"person","id":1,"name":"n","creditCard":"c","city":"c",)"
                  R"("state":"s","dateTime":4})",
                  "person: missing field \"emailAddress\""},
        ErrorCase{R"({"type":"auction","id":1,"itemName":"i","description":"d",)"
                  R"("initialBid":1,"reserve":2,"dateTime":3,"expires":4,"seller":5})",
                  "auction: missing field \"category\""},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":"12","channel":"c",)"
                  R"("url":"u","dateTime":4})",
                  "bid: field \"price\" must be an integer, got a string"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":12.5,"channel":"c",)"
                  R"("url":"u","dateTime":4})",
                  "bid: field \"price\" must be an integer, got a number with a fraction"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":1e3,"channel":"c",)"
                  R"("url":"u","dateTime":4})",
                  "bid: field \"price\" must be an integer"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":9223372036854775808,)"
                  R"("channel":"c","url":"u","dateTime":4})",
                  "bid: field \"price\" must be an integer, got an integer outside the int64"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":-,"channel":"c",)"
                  R"("url":"u","dateTime":4})",
                  "malformed JSON: bad value in bid field \"price\""},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":3,"channel":7,)"
                  R"("url":"u","dateTime":4})",
                  "bid: field \"channel\" must be a string, got an integer"},
        ErrorCase{R"({"type":"person","id":1,"name":null,"emailAddress":"e",)"
                  R"("creditCard":"c","city":"c","state":"s","dateTime":4})",
                  "person: field \"name\" must be a string, got null"},
        ErrorCase{R"({"type":"auction","id":1,"itemName":"i","description":"d",)"
                  R"("initialBid":1,"reserve":2,"dateTime":3,"expires":[4],"seller":5,)"
                  R"("category":1})",
                  "auction: field \"expires\" must be an integer, got an array"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":3,"channel":"c",)"
                  R"("url":"u","dateTime":4,"extra":5})",
                  "bid: field \"extra\" must be a string"},
        ErrorCase{R"({"type":"bid","auction":1,"bidder":2,"price":3,"channel":"c",)"
                  R"("url":"u","dateTime":4} {})",
                  "trailing content"}));

}  // namespace
}  // namespace kappa::nexmark
