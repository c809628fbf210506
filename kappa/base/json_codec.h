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
// goes through json::Parser (json_reader.h: simdjson's On-Demand parser behind an opaque
// interface, so this header does not pull simdjson into every job); a missing field or a
// wrong type is an error that names the field ("field 'count': expected an integer"), and
// the source sends that line to the errors output. Fields may appear in any order (one pass over
// the object; a field given twice: the last counts); unknown fields are ignored.
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
#include "kappa/base/json_reader.h"
#include "kappa/base/json_util.h"

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

// Reads one value into V; returns an error message (empty when fine).
template <typename V>
std::string ReadValue(Value& val, V* out);

template <typename T>
std::string ReadObject(Object& obj, T* out) {
  const auto fields = JsonFields<T>::Get();
  constexpr size_t kFields = std::tuple_size_v<std::remove_const_t<decltype(fields)>>;
  bool seen[kFields] = {};
  std::string err;
  // One forward pass over the object's fields, each read into the member of its name.
  // (Named lambdas rather than conditionals inside the folds: a fold's operand must be a
  // cast-expression, which clang enforces.)
  auto read_if_named = [&](const auto& f, size_t i, std::string_view name, Value& v) {
    if (name != f.name) return false;
    seen[i] = true;
    std::string e = ReadValue(v, &(out->*(f.member)));
    if (!e.empty()) err = absl::StrCat("field '", f.name, "': ", e);
    return true;
  };
  const bool well_formed = obj.ForEachField([&](std::string_view name, Value& v) {
    std::apply(
        [&](const auto&... f) {
          size_t i = 0;
          (void)(read_if_named(f, i++, name, v) || ...);
        },
        fields);
    return err.empty();
  });
  if (!err.empty()) return err;
  if (!well_formed) return absl::StrCat("malformed JSON: ", obj.error());
  // Fields the line does not have: empty optionals (also when *out is reused from an
  // earlier record); any other is an error.
  auto check_present = [&](const auto& f, size_t i) {
    using M = std::remove_cvref_t<decltype(out->*(f.member))>;
    if (!err.empty() || seen[i]) return;
    if constexpr (is_optional<M>::value) {
      (out->*(f.member)).reset();
    } else {
      err = absl::StrCat("missing field '", f.name, "'");
    }
  };
  std::apply(
      [&](const auto&... f) {
        size_t i = 0;
        (check_present(f, i++), ...);
      },
      fields);
  return err;
}

template <typename V>
std::string ReadValue(Value& val, V* out) {
  if constexpr (std::is_same_v<V, bool>) {
    if (!val.GetBool(out)) return "expected true or false";
  } else if constexpr (std::is_integral_v<V>) {
    int64_t x;
    if (!val.GetInt64(&x)) return "expected an integer";
    *out = static_cast<V>(x);
  } else if constexpr (std::is_floating_point_v<V>) {
    double x;
    if (!val.GetDouble(&x)) return "expected a number";
    *out = static_cast<V>(x);
  } else if constexpr (std::is_same_v<V, std::string>) {
    std::string_view s;
    if (!val.GetString(&s)) return "expected a string";
    out->assign(s);
  } else if constexpr (is_optional<V>::value) {
    if (val.IsNull()) {
      out->reset();
      return "";
    }
    out->emplace();
    return ReadValue(val, &**out);
  } else if constexpr (is_vector<V>::value) {
    Array arr;
    if (!val.GetArray(&arr)) return "expected an array";
    out->clear();
    Value ev;
    while (arr.Next(&ev)) {
      out->emplace_back();
      std::string e = ReadValue(ev, &out->back());
      if (!e.empty()) return e;
    }
    if (*arr.error() != '\0') return "malformed array";
  } else {
    Object obj;
    if (!val.GetObject(&obj)) return "expected an object";
    return ReadObject(obj, out);
  }
  return "";
}

}  // namespace json

template <typename T>
struct JsonCodec<T, std::enable_if_t<json::HasFields<T>>> {
  void Encode(const T& v, std::string* out) const { json::AppendObject(v, out); }

  absl::Status Decode(std::string_view line, size_t padded_capacity, T* out) {
    json::Object obj;
    if (absl::Status s = parser_.Iterate(line, padded_capacity, &obj); !s.ok()) return s;
    std::string err = json::ReadObject(obj, out);
    if (!err.empty()) return absl::InvalidArgumentError(err);
    return parser_.Finish(&obj);
  }

 private:
  json::Parser parser_;
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
