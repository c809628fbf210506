#include "kappa/connectors/nexmark/json.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "kappa/base/strings.h"
#include "kappa/base/status.h"
#include "simdjson.h"

namespace kappa::nexmark {

static_assert(kJsonPadding == simdjson::SIMDJSON_PADDING,
              "kJsonPadding must match simdjson::SIMDJSON_PADDING");

namespace {

// ---------------------------------------------------------------------------------
// Encoding
//
// Each event is written in one pass into space reserved up front: the reservation is
// an upper bound (20 bytes per integer, 6 per string byte if the string needs
// escaping, else 1), and the string is trimmed to what was written.

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Non-zero iff some byte of v is < 0x20, '"' or '\\' (SWAR; exact as a yes/no test).
inline uint64_t EscapeBytes8(uint64_t v) {
  const uint64_t control = (v - kOnes * 0x20) & ~v & kHighs;
  const uint64_t q = v ^ (kOnes * '"');
  const uint64_t b = v ^ (kOnes * '\\');
  return control | ((q - kOnes) & ~q & kHighs) | ((b - kOnes) & ~b & kHighs);
}

inline bool NeedsEscape(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
#if defined(__SSE2__)
  // 16 bytes at a time (SSE2 is part of x86-64): byte <= 0x1f, '"' or '\\'.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i max_control = _mm_set1_epi8(0x1f);
  __m128i found16 = _mm_setzero_si128();
  for (; n >= 16; p += 16, n -= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, max_control), v);
    found16 =
        _mm_or_si128(found16, _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                                 _mm_cmpeq_epi8(v, backslash))));
  }
  if (_mm_movemask_epi8(found16) != 0) return true;
#endif
  uint64_t found = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    found |= EscapeBytes8(v);
  }
  for (; n > 0; ++p, --n) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == '"' || c == '\\') return true;
  }
  return found != 0;
}

// A string field about to be written: whether it needs the slow path, and the most
// bytes it can take including its quotes.
struct StringField {
  explicit StringField(std::string_view s) : text(s), escape(NeedsEscape(s)) {}
  size_t bound() const { return (escape ? 6 * text.size() : text.size()) + 2; }

  std::string_view text;
  bool escape;
};

constexpr size_t kIntBound = 20;  // "-9223372036854775808"

constexpr char kHexDigits[] = "0123456789abcdef";

char* WriteEscaped(char* p, std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"':
        *p++ = '"';
        break;
      case '\\':
        *p++ = '\\';
        break;
      case '\b':
        *p++ = 'b';
        break;
      case '\f':
        *p++ = 'f';
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\r':
        *p++ = 'r';
        break;
      case '\t':
        *p++ = 't';
        break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHexDigits[c >> 4];
        *p++ = kHexDigits[c & 0xf];
    }
  }
  return p;
}

template <size_t N>
inline char* Put(char* p, const char (&literal)[N]) {
  std::memcpy(p, literal, N - 1);
  return p + N - 1;
}

inline char* Put(char* p, const StringField& f) {
  *p++ = '"';
  if (f.escape) {
    p = WriteEscaped(p, f.text);
  } else {
    std::memcpy(p, f.text.data(), f.text.size());
    p += f.text.size();
  }
  *p++ = '"';
  return p;
}

inline char* Put(char* p, int64_t v) { return std::to_chars(p, p + kIntBound, v).ptr; }

// Grows *out by `bound` bytes, runs write(p) -> end, and trims to what was written.
template <typename Write>
inline void AppendBounded(std::string* out, size_t bound, Write write) {
  const size_t old_size = out->size();
  out->resize(old_size + bound);
  char* begin = out->data() + old_size;
  char* end = write(begin);
  out->resize(old_size + static_cast<size_t>(end - begin));
}

void AppendPerson(const Person& v, std::string* out) {
  const StringField name(v.name), email(v.email_address), card(v.credit_card), city(v.city),
      state(v.state), extra(v.extra);
  const size_t bound = 128 + 2 * kIntBound + name.bound() + email.bound() + card.bound() +
                       city.bound() + state.bound() + extra.bound();
  AppendBounded(out, bound, [&](char* p) {
    p = Put(p, "{\"type\":\"person\",\"id\":");
    p = Put(p, v.id);
    p = Put(p, ",\"name\":");
    p = Put(p, name);
    p = Put(p, ",\"emailAddress\":");
    p = Put(p, email);
    p = Put(p, ",\"creditCard\":");
    p = Put(p, card);
    p = Put(p, ",\"city\":");
    p = Put(p, city);
    p = Put(p, ",\"state\":");
    p = Put(p, state);
    p = Put(p, ",\"dateTime\":");
    p = Put(p, v.date_time);
    p = Put(p, ",\"extra\":");
    p = Put(p, extra);
    *p++ = '}';
    return p;
  });
}

void AppendAuction(const Auction& v, std::string* out) {
  const StringField item(v.item_name), description(v.description), extra(v.extra);
  const size_t bound = 160 + 7 * kIntBound + item.bound() + description.bound() + extra.bound();
  AppendBounded(out, bound, [&](char* p) {
    p = Put(p, "{\"type\":\"auction\",\"id\":");
    p = Put(p, v.id);
    p = Put(p, ",\"itemName\":");
    p = Put(p, item);
    p = Put(p, ",\"description\":");
    p = Put(p, description);
    p = Put(p, ",\"initialBid\":");
    p = Put(p, v.initial_bid);
    p = Put(p, ",\"reserve\":");
    p = Put(p, v.reserve);
    p = Put(p, ",\"dateTime\":");
    p = Put(p, v.date_time);
    p = Put(p, ",\"expires\":");
    p = Put(p, v.expires);
    p = Put(p, ",\"seller\":");
    p = Put(p, v.seller);
    p = Put(p, ",\"category\":");
    p = Put(p, v.category);
    p = Put(p, ",\"extra\":");
    p = Put(p, extra);
    *p++ = '}';
    return p;
  });
}

void AppendBid(const Bid& v, std::string* out) {
  const StringField channel(v.channel), url(v.url), extra(v.extra);
  const size_t bound = 96 + 4 * kIntBound + channel.bound() + url.bound() + extra.bound();
  AppendBounded(out, bound, [&](char* p) {
    p = Put(p, "{\"type\":\"bid\",\"auction\":");
    p = Put(p, v.auction);
    p = Put(p, ",\"bidder\":");
    p = Put(p, v.bidder);
    p = Put(p, ",\"price\":");
    p = Put(p, v.price);
    p = Put(p, ",\"channel\":");
    p = Put(p, channel);
    p = Put(p, ",\"url\":");
    p = Put(p, url);
    p = Put(p, ",\"dateTime\":");
    p = Put(p, v.date_time);
    p = Put(p, ",\"extra\":");
    p = Put(p, extra);
    *p++ = '}';
    return p;
  });
}

// ---------------------------------------------------------------------------------
// Decoding

namespace od = simdjson::ondemand;
using ::kappa::AbslView;

enum class Key : uint8_t {
  kUnknown,
  kType,
  kId,
  kName,
  kEmailAddress,
  kCreditCard,
  kCity,
  kState,
  kDateTime,
  kExtra,
  kItemName,
  kDescription,
  kInitialBid,
  kReserve,
  kExpires,
  kSeller,
  kCategory,
  kAuction,
  kBidder,
  kPrice,
  kChannel,
  kUrl,
};

Key Classify(std::string_view k) {
  switch (k.size()) {
    case 2:
      if (k == "id") return Key::kId;
      break;
    case 3:
      if (k == "url") return Key::kUrl;
      break;
    case 4:
      if (k == "type") return Key::kType;
      if (k == "name") return Key::kName;
      if (k == "city") return Key::kCity;
      break;
    case 5:
      if (k == "price") return Key::kPrice;
      if (k == "extra") return Key::kExtra;
      if (k == "state") return Key::kState;
      break;
    case 6:
      if (k == "bidder") return Key::kBidder;
      if (k == "seller") return Key::kSeller;
      break;
    case 7:
      if (k == "auction") return Key::kAuction;
      if (k == "channel") return Key::kChannel;
      if (k == "reserve") return Key::kReserve;
      if (k == "expires") return Key::kExpires;
      break;
    case 8:
      if (k == "dateTime") return Key::kDateTime;
      if (k == "itemName") return Key::kItemName;
      if (k == "category") return Key::kCategory;
      break;
    case 10:
      if (k == "initialBid") return Key::kInitialBid;
      if (k == "creditCard") return Key::kCreditCard;
      break;
    case 11:
      if (k == "description") return Key::kDescription;
      break;
    case 12:
      if (k == "emailAddress") return Key::kEmailAddress;
      break;
    default:
      break;
  }
  return Key::kUnknown;
}

absl::Status Malformed(simdjson::error_code error) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed JSON: ", simdjson::error_message(error)));
}

enum class NumberShape { kInvalid, kInteger, kReal };

// Checks a number token against the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
NumberShape ShapeOf(std::string_view t) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > from;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return NumberShape::kInvalid;
  }
  bool real = false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return NumberShape::kInvalid;
    real = true;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return NumberShape::kInvalid;
    real = true;
  }
  if (i != t.size()) return NumberShape::kInvalid;
  return real ? NumberShape::kReal : NumberShape::kInteger;
}

// What a value that failed to convert actually is, for the error message; empty if
// it is not valid JSON after all (a broken number).
std::string_view Describe(od::value& value) {
  od::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return {};
  switch (type) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
    case od::json_type::number: {
      std::string_view token = value.raw_json_token();
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t' ||
                                token.back() == '\n' || token.back() == '\r')) {
        token.remove_suffix(1);
      }
      switch (ShapeOf(token)) {
        case NumberShape::kInvalid:
          return {};
        case NumberShape::kReal:
          return "a number with a fraction or exponent";
        case NumberShape::kInteger: {
          int64_t unused;
          return value.get_int64().get(unused) == simdjson::SUCCESS
                     ? "an integer"
                     : "an integer outside the int64 range";
        }
      }
    }
  }
  return {};
}

// Conversion failures that may mean "valid JSON, wrong kind of value"; Describe()
// tells them apart from syntax errors found while reading the value.
bool IsTypeError(simdjson::error_code error) {
  return error == simdjson::INCORRECT_TYPE || error == simdjson::NUMBER_OUT_OF_RANGE ||
         error == simdjson::NUMBER_ERROR;
}

absl::Status WrongType(std::string_view type_name, std::string_view field,
                       std::string_view expected, od::value& value) {
  const std::string_view got = Describe(value);
  if (got.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed JSON: bad value in ", AbslView(type_name), " field \"", AbslView(field), "\""));
  }
  return absl::InvalidArgumentError(absl::StrCat(AbslView(type_name), ": field \"", AbslView(field),
                                                 "\" must be ", AbslView(expected), ", got ",
                                                 AbslView(got)));
}

inline absl::Status ReadInt(od::value& value, std::string_view type_name, std::string_view field,
                            int64_t* out) {
  const simdjson::error_code error = value.get_int64().get(*out);
  if (error == simdjson::SUCCESS) [[likely]]
    return absl::OkStatus();
  if (IsTypeError(error)) return WrongType(type_name, field, "an integer", value);
  return Malformed(error);
}

// The body of a string value without escapes (the common case), read straight from
// the input without consuming the value; false if the value is not such a string.
// Stage 1 has already validated the document's UTF-8 and rejected raw control bytes.
inline bool PlainString(od::value& value, std::string_view* body) {
  const std::string_view token = value.raw_json_token();  // the token and trailing spaces
  if (token.empty() || token.front() != '"') return false;
  size_t end = token.size();
  while (end > 1 && token[end - 1] != '"') --end;
  if (end < 2) return false;
  *body = token.substr(1, end - 2);
  return std::memchr(body->data(), '\\', body->size()) == nullptr;
}

inline absl::Status ReadString(od::value& value, std::string_view type_name, std::string_view field,
                               std::string* out) {
  std::string_view text;
  if (PlainString(value, &text)) [[likely]] {
    out->assign(text.data(), text.size());
    return absl::OkStatus();
  }
  const simdjson::error_code error = value.get_string().get(text);
  if (error == simdjson::SUCCESS) {
    out->assign(text.data(), text.size());
    return absl::OkStatus();
  }
  if (IsTypeError(error)) return WrongType(type_name, field, "a string", value);
  return Malformed(error);
}

// "extra" is optional and may be null.
inline absl::Status ReadExtra(od::value& value, std::string_view type_name, std::string* out) {
  const std::string_view token = value.raw_json_token();
  bool is_null = false;
  if (!token.empty() && token.front() == 'n' && value.is_null().get(is_null) == simdjson::SUCCESS &&
      is_null) {
    out->clear();
    return absl::OkStatus();
  }
  return ReadString(value, type_name, "extra", out);
}

// The field's key; keys written with escapes are unescaped (rare, slower).
inline simdjson::error_code KeyOf(od::field& field, std::string_view* key) {
  const char* begin = field.key().raw();
  const char* p = begin;
  while (*p != '"') {
    if (*p == '\\') return field.unescaped_key().get(*key);
    ++p;
  }
  *key = std::string_view(begin, static_cast<size_t>(p - begin));
  return simdjson::SUCCESS;
}

// Names of required fields by bit, in contract order, for "missing field" errors.
template <size_t N>
absl::Status CheckRequired(std::string_view type_name, uint32_t seen,
                           const std::string_view (&names)[N]) {
  constexpr uint32_t kAll = (1u << N) - 1;
  if (seen == kAll) [[likely]]
    return absl::OkStatus();
  for (size_t i = 0; i < N; ++i) {
    if ((seen & (1u << i)) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(type_name), ": missing field \"", AbslView(names[i]), "\""));
    }
  }
  return absl::OkStatus();
}

// Per-type field handlers: Set() stores one field and records which required ones
// were seen; Finish() names the first missing one.
class PersonFields {
 public:
  explicit PersonFields(Person* p) : p_(p) { p_->extra.clear(); }

  absl::Status Set(Key k, od::value& v) {
    switch (k) {
      case Key::kId:
        seen_ |= 1u << 0;
        return ReadInt(v, kName, "id", &p_->id);
      case Key::kName:
        seen_ |= 1u << 1;
        return ReadString(v, kName, "name", &p_->name);
      case Key::kEmailAddress:
        seen_ |= 1u << 2;
        return ReadString(v, kName, "emailAddress", &p_->email_address);
      case Key::kCreditCard:
        seen_ |= 1u << 3;
        return ReadString(v, kName, "creditCard", &p_->credit_card);
      case Key::kCity:
        seen_ |= 1u << 4;
        return ReadString(v, kName, "city", &p_->city);
      case Key::kState:
        seen_ |= 1u << 5;
        return ReadString(v, kName, "state", &p_->state);
      case Key::kDateTime:
        seen_ |= 1u << 6;
        return ReadInt(v, kName, "dateTime", &p_->date_time);
      case Key::kExtra:
        return ReadExtra(v, kName, &p_->extra);
      default:
        return absl::OkStatus();
    }
  }

  absl::Status Finish() const { return CheckRequired(kName, seen_, kRequired); }

 private:
  static constexpr std::string_view kName = "person";
  static constexpr std::string_view kRequired[] = {"id",   "name",  "emailAddress", "creditCard",
                                                   "city", "state", "dateTime"};
  Person* p_;
  uint32_t seen_ = 0;
};

class AuctionFields {
 public:
  explicit AuctionFields(Auction* a) : a_(a) { a_->extra.clear(); }

  absl::Status Set(Key k, od::value& v) {
    switch (k) {
      case Key::kId:
        seen_ |= 1u << 0;
        return ReadInt(v, kName, "id", &a_->id);
      case Key::kItemName:
        seen_ |= 1u << 1;
        return ReadString(v, kName, "itemName", &a_->item_name);
      case Key::kDescription:
        seen_ |= 1u << 2;
        return ReadString(v, kName, "description", &a_->description);
      case Key::kInitialBid:
        seen_ |= 1u << 3;
        return ReadInt(v, kName, "initialBid", &a_->initial_bid);
      case Key::kReserve:
        seen_ |= 1u << 4;
        return ReadInt(v, kName, "reserve", &a_->reserve);
      case Key::kDateTime:
        seen_ |= 1u << 5;
        return ReadInt(v, kName, "dateTime", &a_->date_time);
      case Key::kExpires:
        seen_ |= 1u << 6;
        return ReadInt(v, kName, "expires", &a_->expires);
      case Key::kSeller:
        seen_ |= 1u << 7;
        return ReadInt(v, kName, "seller", &a_->seller);
      case Key::kCategory:
        seen_ |= 1u << 8;
        return ReadInt(v, kName, "category", &a_->category);
      case Key::kExtra:
        return ReadExtra(v, kName, &a_->extra);
      default:
        return absl::OkStatus();
    }
  }

  absl::Status Finish() const { return CheckRequired(kName, seen_, kRequired); }

 private:
  static constexpr std::string_view kName = "auction";
  static constexpr std::string_view kRequired[] = {"id",         "itemName", "description",
                                                   "initialBid", "reserve",  "dateTime",
                                                   "expires",    "seller",   "category"};
  Auction* a_;
  uint32_t seen_ = 0;
};

class BidFields {
 public:
  explicit BidFields(Bid* b) : b_(b) { b_->extra.clear(); }

  absl::Status Set(Key k, od::value& v) {
    switch (k) {
      case Key::kAuction:
        seen_ |= 1u << 0;
        return ReadInt(v, kName, "auction", &b_->auction);
      case Key::kBidder:
        seen_ |= 1u << 1;
        return ReadInt(v, kName, "bidder", &b_->bidder);
      case Key::kPrice:
        seen_ |= 1u << 2;
        return ReadInt(v, kName, "price", &b_->price);
      case Key::kChannel:
        seen_ |= 1u << 3;
        return ReadString(v, kName, "channel", &b_->channel);
      case Key::kUrl:
        seen_ |= 1u << 4;
        return ReadString(v, kName, "url", &b_->url);
      case Key::kDateTime:
        seen_ |= 1u << 5;
        return ReadInt(v, kName, "dateTime", &b_->date_time);
      case Key::kExtra:
        return ReadExtra(v, kName, &b_->extra);
      default:
        return absl::OkStatus();
    }
  }

  absl::Status Finish() const { return CheckRequired(kName, seen_, kRequired); }

 private:
  static constexpr std::string_view kName = "bid";
  static constexpr std::string_view kRequired[] = {"auction", "bidder", "price",
                                                   "channel", "url",    "dateTime"};
  Bid* b_;
  uint32_t seen_ = 0;
};

// Feeds the fields from `it` to the end of the object to `fields`, skipping "type"
// and fields the type does not have.
template <typename Fields>
absl::Status DecodeFields(od::object_iterator& it, const od::object_iterator& end, Fields fields) {
  for (; it != end; ++it) {
    // Used in place: copying the field out of its result costs a store-forwarding stall.
    simdjson::simdjson_result<od::field> result = *it;
    if (simdjson::error_code error = result.error()) return Malformed(error);
    od::field& field = result.value_unsafe();
    std::string_view key;
    if (simdjson::error_code error = KeyOf(field, &key)) return Malformed(error);
    const Key k = Classify(key);
    if (k == Key::kType || k == Key::kUnknown) continue;
    KAPPA_RETURN_IF_ERROR(fields.Set(k, field.value()));
  }
  return fields.Finish();
}

// Reads the "type" value.
absl::Status ReadType(od::value& type_value, EventType* type) {
  std::string_view name;
  if (simdjson::error_code error = type_value.get_string().get(name)) {
    if (IsTypeError(error)) return WrongType("event", "type", "a string", type_value);
    return Malformed(error);
  }
  if (name == "bid") {
    *type = EventType::kBid;
  } else if (name == "auction") {
    *type = EventType::kAuction;
  } else if (name == "person") {
    *type = EventType::kPerson;
  } else {
    constexpr size_t kMaxShown = 32;
    return absl::InvalidArgumentError(
        absl::StrCat("unknown event type \"", AbslView(name.substr(0, kMaxShown)),
                     name.size() > kMaxShown ? "..." : "", "\" (expected person, auction or bid)"));
  }
  return absl::OkStatus();
}

absl::Status DecodeFieldsAs(EventType type, od::object_iterator& it, const od::object_iterator& end,
                            EventRecycler* recycler, Event* out) {
  switch (type) {
    case EventType::kBid:
      return DecodeFields(it, end, BidFields(&recycler->Switch<Bid>(out)));
    case EventType::kAuction:
      return DecodeFields(it, end, AuctionFields(&recycler->Switch<Auction>(out)));
    case EventType::kPerson:
      return DecodeFields(it, end, PersonFields(&recycler->Switch<Person>(out)));
  }
  return absl::InternalError("unreachable");
}

absl::Status DecodeObject(od::object& obj, EventRecycler* recycler, Event* out) {
  od::object_iterator it, end;
  if (simdjson::error_code error = obj.begin().get(it)) return Malformed(error);
  if (simdjson::error_code error = obj.end().get(end)) return Malformed(error);
  EventType type;
  if (it != end) {
    // Fast path: "type" comes first, as AppendJson writes it.
    simdjson::simdjson_result<od::field> result = *it;
    if (simdjson::error_code error = result.error()) return Malformed(error);
    od::field& first = result.value_unsafe();
    std::string_view key;
    if (simdjson::error_code error = KeyOf(first, &key)) return Malformed(error);
    if (key == "type") {
      KAPPA_RETURN_IF_ERROR(ReadType(first.value(), &type));
      ++it;
      return DecodeFieldsAs(type, it, end, recycler, out);
    }
  }
  // "type" elsewhere: look it up, then start over and decode every field.
  if (simdjson::error_code error = obj.reset().error()) return Malformed(error);
  od::value type_value;
  if (simdjson::error_code error = obj.find_field_unordered("type").get(type_value)) {
    if (error == simdjson::NO_SUCH_FIELD) {
      return absl::InvalidArgumentError("missing field \"type\"");
    }
    return Malformed(error);
  }
  KAPPA_RETURN_IF_ERROR(ReadType(type_value, &type));
  if (simdjson::error_code error = obj.reset().error()) return Malformed(error);
  if (simdjson::error_code error = obj.begin().get(it)) return Malformed(error);
  return DecodeFieldsAs(type, it, end, recycler, out);
}

}  // namespace

void AppendJson(const Event& e, std::string* out) {
  switch (e.type()) {
    case EventType::kPerson:
      AppendPerson(e.person(), out);
      break;
    case EventType::kAuction:
      AppendAuction(e.auction(), out);
      break;
    case EventType::kBid:
      AppendBid(e.bid(), out);
      break;
  }
}

std::string ToJson(const Event& e) {
  std::string out;
  AppendJson(e, &out);
  return out;
}

struct EventDecoder::Impl {
  od::parser parser;
  // Padded copy of lines that arrive without padding.
  std::unique_ptr<char[]> scratch;
  size_t scratch_capacity = 0;
  EventRecycler recycler;

  absl::Status Decode(std::string_view line, size_t padded_capacity, EventRecycler* recycler,
                      Event* out) {
    const char* data = line.data();
    size_t capacity = padded_capacity;
    if (padded_capacity < line.size() + kJsonPadding) {
      if (scratch_capacity < line.size() + kJsonPadding) {
        scratch_capacity = std::max(2 * scratch_capacity, line.size() + kJsonPadding);
        scratch = std::make_unique<char[]>(scratch_capacity);
      }
      std::memcpy(scratch.get(), line.data(), line.size());
      std::memset(scratch.get() + line.size(), 0, kJsonPadding);
      data = scratch.get();
      capacity = line.size() + kJsonPadding;
    }

    od::document doc;
    if (simdjson::error_code error = parser.iterate(data, line.size(), capacity).get(doc)) {
      return Malformed(error);
    }
    od::object obj;
    if (simdjson::error_code error = doc.get_object().get(obj)) {
      if (error == simdjson::INCORRECT_TYPE) {
        return absl::InvalidArgumentError("expected a JSON object");
      }
      return Malformed(error);
    }
    KAPPA_RETURN_IF_ERROR(DecodeObject(obj, recycler, out));
    // Past the object the iterator must be at the end of the input.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return absl::InvalidArgumentError("malformed JSON: trailing content after the object");
    }
    return absl::OkStatus();
  }
};

EventDecoder::EventDecoder() : impl_(std::make_unique<Impl>()) {}
EventDecoder::~EventDecoder() = default;

absl::StatusOr<Event> EventDecoder::Decode(std::string_view line, size_t padded_capacity) {
  Event event;
  EventRecycler fresh;  // The decoder's parked buffers serve DecodeInto's slot.
  absl::Status status = impl_->Decode(line, padded_capacity, &fresh, &event);
  if (!status.ok()) return status;
  return event;
}

absl::Status EventDecoder::DecodeInto(std::string_view line, size_t padded_capacity, Event* out) {
  return impl_->Decode(line, padded_capacity, &impl_->recycler, out);
}

}  // namespace kappa::nexmark
