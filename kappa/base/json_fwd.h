// Forward declaration of JsonCodec<T> (engine/json_codec.h), for headers that only need
// to ask whether a type has one.
#ifndef KAPPA_BASE_JSON_FWD_H_
#define KAPPA_BASE_JSON_FWD_H_

namespace kappa {

template <typename T, typename Enable = void>
struct JsonCodec;

// The JSON fields of a struct: specialised by KAPPA_JSON, or by hand for templates:
//   template <typename V> struct kappa::JsonFields<Box<V>> {
//     static auto Get() { return std::make_tuple(kappa::json::MakeField("v", &Box<V>::v)); }
//   };
template <typename T>
struct JsonFields;

namespace json {
template <typename T, typename M>
struct Field {
  const char* name;
  M T::*member;
};
template <typename T, typename M>
constexpr Field<T, M> MakeField(const char* name, M T::*member) {
  return {name, member};
}
}  // namespace json

}  // namespace kappa

#endif  // KAPPA_BASE_JSON_FWD_H_
