// JSON lines encoding and decoding of record types.
//
// Sources and sinks of JSON lines (the file log, stdout, Kafka values) need a
// JsonCodec<T>. Declare a struct's fields once and get both directions:
//
//   struct PageCount { std::string page; int64_t count; double share; };
//   KAPPA_JSON(PageCount, page, count, share);
//   // encodes as {"page":"/a","count":3,"share":0.5}
//
// Supported field types: integers, bool, floating point, std::string, std::optional<T>
// (null when empty), std::vector<T> (arrays) and nested KAPPA_JSON structs. Decoding
// uses simdjson's on-demand parser; a missing field or a wrong type is an error that names
// the field ("field 'count': expected an integer"), and the source sends that line to the
// errors output. Fields may appear in any order; unknown fields are ignored.
//
// A JsonCodec object holds a parser: make one per thread (each source task does).
// Types with special needs specialise JsonCodec<T> directly with
// `void Encode(const T&, std::string*)` and
// `absl::Status Decode(std::string_view line, size_t padded_capacity, T* out)`.
#ifndef KAPPA_BASE_JSON_CODEC_H_
#define KAPPA_BASE_JSON_CODEC_H_

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kappa/base/json_fwd.h"
#include "kappa/base/json_util.h"
#include "simdjson.h"

namespace kappa {


namespace json {

template <typename T>
concept HasFields = requires { JsonFields<T>::Get(); };

template <typename V>
struct is_optional : std::false_type {};
template <typename V>
struct is_optional<std::optional<V>> : std::true_type {};
template <typename V>
struct is_vector : std::false_type {};
template <typename V>
struct is_vector<std::vector<V>> : std::true_type {};

template <typename V>
void AppendValue(const V& v, std::string* out);

template <typename T>
void AppendObject(const T& v, std::string* out) {
  out->push_back('{');
  bool first = true;
  std::apply(
      [&](const auto&... f) {
        ((out->append(first ? "\"" : ",\""), first = false, out->append(f.name), out->append("\":"),
          AppendValue(v.*(f.member), out)),
         ...);
      },
      JsonFields<T>::Get());
  out->push_back('}');
}

template <typename V>
void AppendValue(const V& v, std::string* out) {
  if constexpr (std::is_same_v<V, bool>) {
    out->append(v ? "true" : "false");
  } else if constexpr (std::is_integral_v<V>) {
    AppendInt(static_cast<int64_t>(v), out);
  } else if constexpr (std::is_floating_point_v<V>) {
    AppendDouble(static_cast<double>(v), out);
  } else if constexpr (std::is_same_v<V, std::string>) {
    AppendString(v, out);
  } else if constexpr (is_optional<V>::value) {
    if (v) {
      AppendValue(*v, out);
    } else {
      out->append("null");
    }
  } else if constexpr (is_vector<V>::value) {
    out->push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out->push_back(',');
      AppendValue(v[i], out);
    }
    out->push_back(']');
  } else {
    static_assert(HasFields<V>, "declare the type's fields with KAPPA_JSON");
    AppendObject(v, out);
  }
}

// Reads one on-demand value into V; returns an error message (empty when fine).
template <typename V>
std::string ReadValue(simdjson::ondemand::value val, V* out);

template <typename T>
std::string ReadObject(simdjson::ondemand::object obj, T* out) {
  std::string err;
  std::apply(
      [&](const auto&... f) {
        (void)((err.empty() ? (void)([&] {
          simdjson::ondemand::value v;
          auto code = obj.find_field_unordered(f.name).get(v);
          using M = std::remove_cvref_t<decltype(out->*(f.member))>;
          if (code == simdjson::NO_SUCH_FIELD) {
            // A missing optional is empty, also when *out is reused from an earlier record.
            if constexpr (is_optional<M>::value) {
              (out->*(f.member)).reset();
            } else {
              err = absl::StrCat("missing field '", f.name, "'");
            }
            return;
          }
          if (code) {
            err = absl::StrCat("field '", f.name, "': ", simdjson::error_message(code));
            return;
          }
          std::string e = ReadValue(v, &(out->*(f.member)));
          if (!e.empty()) err = absl::StrCat("field '", f.name, "': ", e);
        }())
                          : (void)0),
               ...);
      },
      JsonFields<T>::Get());
  return err;
}

template <typename V>
std::string ReadValue(simdjson::ondemand::value val, V* out) {
  if constexpr (std::is_same_v<V, bool>) {
    if (val.get_bool().get(*out)) return "expected true or false";
  } else if constexpr (std::is_integral_v<V>) {
    int64_t x;
    if (val.get_int64().get(x)) return "expected an integer";
    *out = static_cast<V>(x);
  } else if constexpr (std::is_floating_point_v<V>) {
    double x;
    if (val.get_double().get(x)) return "expected a number";
    *out = static_cast<V>(x);
  } else if constexpr (std::is_same_v<V, std::string>) {
    std::string_view s;
    if (val.get_string().get(s)) return "expected a string";
    out->assign(s);
  } else if constexpr (is_optional<V>::value) {
    bool is_null = false;
    if (!val.is_null().get(is_null) && is_null) {
      out->reset();
      return "";
    }
    out->emplace();
    return ReadValue(val, &**out);
  } else if constexpr (is_vector<V>::value) {
    simdjson::ondemand::array arr;
    if (val.get_array().get(arr)) return "expected an array";
    out->clear();
    for (auto elem : arr) {
      simdjson::ondemand::value ev;
      if (elem.get(ev)) return "malformed array";
      out->emplace_back();
      std::string e = ReadValue(ev, &out->back());
      if (!e.empty()) return e;
    }
  } else {
    simdjson::ondemand::object obj;
    if (val.get_object().get(obj)) return "expected an object";
    return ReadObject(obj, out);
  }
  return "";
}

}  // namespace json

template <typename T>
struct JsonCodec<T, std::enable_if_t<json::HasFields<T>>> {
  void Encode(const T& v, std::string* out) const { json::AppendObject(v, out); }

  absl::Status Decode(std::string_view line, size_t padded_capacity, T* out) {
    simdjson::padded_string_view input;
    if (padded_capacity >= line.size() + simdjson::SIMDJSON_PADDING) {
      input = simdjson::padded_string_view(line.data(), line.size(), padded_capacity);
    } else {
      buf_.assign(line);
      buf_.resize(line.size() + simdjson::SIMDJSON_PADDING);
      input = simdjson::padded_string_view(buf_.data(), line.size(), buf_.size());
    }
    simdjson::ondemand::document doc;
    if (auto e = parser_.iterate(input).get(doc)) return absl::InvalidArgumentError(simdjson::error_message(e));
    simdjson::ondemand::object obj;
    if (auto e = doc.get_object().get(obj)) return absl::InvalidArgumentError("expected a JSON object");
    std::string err = json::ReadObject(obj, out);
    if (!err.empty()) return absl::InvalidArgumentError(err);
    // Fields are looked up out of order, which leaves the iterator inside the object: skip
    // to its end and require the end of the input, so that `{...}{...}` or `{...}}` is an
    // error rather than a silently half-read line.
    if (auto e = obj.raw_json().error()) return absl::InvalidArgumentError(simdjson::error_message(e));
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
      return absl::InvalidArgumentError("malformed JSON: trailing content after the object");
    }
    return absl::OkStatus();
  }

 private:
  simdjson::ondemand::parser parser_;
  std::string buf_;
};

}  // namespace kappa

// KAPPA_JSON(Type, field, ...): up to 16 fields. Use at global scope.
#define KAPPA_JSON_F_(T, f) ::kappa::json::MakeField(#f, &T::f)
#define KAPPA_JSON_N_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, ...) N
#define KAPPA_JSON_1_(T, a) KAPPA_JSON_F_(T, a)
#define KAPPA_JSON_2_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_1_(T, __VA_ARGS__)
#define KAPPA_JSON_3_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_2_(T, __VA_ARGS__)
#define KAPPA_JSON_4_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_3_(T, __VA_ARGS__)
#define KAPPA_JSON_5_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_4_(T, __VA_ARGS__)
#define KAPPA_JSON_6_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_5_(T, __VA_ARGS__)
#define KAPPA_JSON_7_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_6_(T, __VA_ARGS__)
#define KAPPA_JSON_8_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_7_(T, __VA_ARGS__)
#define KAPPA_JSON_9_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_8_(T, __VA_ARGS__)
#define KAPPA_JSON_10_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_9_(T, __VA_ARGS__)
#define KAPPA_JSON_11_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_10_(T, __VA_ARGS__)
#define KAPPA_JSON_12_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_11_(T, __VA_ARGS__)
#define KAPPA_JSON_13_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_12_(T, __VA_ARGS__)
#define KAPPA_JSON_14_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_13_(T, __VA_ARGS__)
#define KAPPA_JSON_15_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_14_(T, __VA_ARGS__)
#define KAPPA_JSON_16_(T, a, ...) KAPPA_JSON_F_(T, a), KAPPA_JSON_15_(T, __VA_ARGS__)
#define KAPPA_JSON_LIST_(T, ...)                                                                                \
  KAPPA_JSON_N_(__VA_ARGS__, KAPPA_JSON_16_, KAPPA_JSON_15_, KAPPA_JSON_14_, KAPPA_JSON_13_, KAPPA_JSON_12_,     \
                KAPPA_JSON_11_, KAPPA_JSON_10_, KAPPA_JSON_9_, KAPPA_JSON_8_, KAPPA_JSON_7_, KAPPA_JSON_6_,      \
                KAPPA_JSON_5_, KAPPA_JSON_4_, KAPPA_JSON_3_, KAPPA_JSON_2_, KAPPA_JSON_1_)(T, __VA_ARGS__)
#define KAPPA_JSON(Type, ...)                                                         \
  template <>                                                                         \
  struct kappa::JsonFields<Type> {                                                    \
    static auto Get() { return std::make_tuple(KAPPA_JSON_LIST_(Type, __VA_ARGS__)); } \
  }

#endif  // KAPPA_BASE_JSON_CODEC_H_
