// Binary serializers for state keys and values.
//
// Every type kept in keyed state, used as a key, or buffered by a window or join needs a
// Serializer<T>: Write appends T's bytes to a string, Read consumes them from the front of
// a string_view and returns false on truncated or malformed input. Built in: arithmetic
// types and enums, std::string, std::pair, std::tuple, std::vector and std::optional.
// User structs declare their fields once:
//
//   struct Click { std::string page; int64_t user; Timestamp ts; };
//   KAPPA_SERIALIZABLE(Click, &Click::page, &Click::user, &Click::ts);
//
// Encodings are deterministic and prefix-free (a serialized value never is a prefix of
// another value of the same type), so serialized keys can be concatenated with a
// namespace and scanned by prefix.
#ifndef KAPPA_STATE_SERIALIZER_H_
#define KAPPA_STATE_SERIALIZER_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kappa {

template <typename T, typename Enable = void>
struct Serializer;  // Specialise (or use KAPPA_SERIALIZABLE) for your types.

namespace internal {

inline void WriteVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline bool ReadVarint(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

template <typename T>
concept HasSerializer = requires(const T& v, std::string* out, std::string_view* in, T* t) {
  Serializer<T>::Write(v, out);
  { Serializer<T>::Read(in, t) } -> std::convertible_to<bool>;
};

}  // namespace internal

// Arithmetic types and enums: native byte order, fixed width.
template <typename T>
struct Serializer<T, std::enable_if_t<(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) || std::is_enum_v<T>>> {
  static void Write(const T& v, std::string* out) {
    out->append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  static bool Read(std::string_view* in, T* v) {
    if (in->size() < sizeof(T)) return false;
    std::memcpy(v, in->data(), sizeof(T));
    in->remove_prefix(sizeof(T));
    return true;
  }
};

template <>
struct Serializer<bool> {
  static void Write(const bool& v, std::string* out) { out->push_back(v ? 1 : 0); }
  static bool Read(std::string_view* in, bool* v) {
    if (in->empty() || static_cast<uint8_t>(in->front()) > 1) return false;
    *v = in->front() != 0;
    in->remove_prefix(1);
    return true;
  }
};

template <>
struct Serializer<std::string> {
  static void Write(const std::string& v, std::string* out) {
    internal::WriteVarint(v.size(), out);
    out->append(v);
  }
  static bool Read(std::string_view* in, std::string* v) {
    uint64_t n;
    if (!internal::ReadVarint(in, &n) || in->size() < n) return false;
    v->assign(in->data(), n);
    in->remove_prefix(n);
    return true;
  }
};

template <typename A, typename B>
struct Serializer<std::pair<A, B>> {
  static void Write(const std::pair<A, B>& v, std::string* out) {
    Serializer<A>::Write(v.first, out);
    Serializer<B>::Write(v.second, out);
  }
  static bool Read(std::string_view* in, std::pair<A, B>* v) {
    return Serializer<A>::Read(in, &v->first) && Serializer<B>::Read(in, &v->second);
  }
};

template <typename... Ts>
struct Serializer<std::tuple<Ts...>> {
  static void Write(const std::tuple<Ts...>& v, std::string* out) {
    std::apply([out](const auto&... e) { (Serializer<std::decay_t<decltype(e)>>::Write(e, out), ...); },
               v);
  }
  static bool Read(std::string_view* in, std::tuple<Ts...>* v) {
    return std::apply(
        [in](auto&... e) { return (Serializer<std::decay_t<decltype(e)>>::Read(in, &e) && ...); }, *v);
  }
};

template <typename T>
struct Serializer<std::vector<T>> {
  static void Write(const std::vector<T>& v, std::string* out) {
    internal::WriteVarint(v.size(), out);
    for (const T& e : v) Serializer<T>::Write(e, out);
  }
  static bool Read(std::string_view* in, std::vector<T>* v) {
    uint64_t n;
    if (!internal::ReadVarint(in, &n) || n > in->size()) return false;
    v->clear();
    v->resize(n);
    for (T& e : *v) {
      if (!Serializer<T>::Read(in, &e)) return false;
    }
    return true;
  }
};

template <typename T>
struct Serializer<std::optional<T>> {
  static void Write(const std::optional<T>& v, std::string* out) {
    out->push_back(v.has_value() ? 1 : 0);
    if (v) Serializer<T>::Write(*v, out);
  }
  static bool Read(std::string_view* in, std::optional<T>* v) {
    if (in->empty()) return false;
    bool present = in->front() != 0;
    in->remove_prefix(1);
    if (!present) {
      v->reset();
      return true;
    }
    v->emplace();
    return Serializer<T>::Read(in, &**v);
  }
};

// Serializer built from a list of member pointers; see KAPPA_SERIALIZABLE.
template <typename T, auto... Fields>
struct FieldSerializer {
  static void Write(const T& v, std::string* out) {
    (Serializer<std::remove_cvref_t<decltype(v.*Fields)>>::Write(v.*Fields, out), ...);
  }
  static bool Read(std::string_view* in, T* v) {
    return (Serializer<std::remove_cvref_t<decltype(v->*Fields)>>::Read(in, &(v->*Fields)) && ...);
  }
};

// Convenience: serialize to / parse from a whole string.
template <typename T>
std::string SerializeToString(const T& v) {
  std::string out;
  Serializer<T>::Write(v, &out);
  return out;
}
template <typename T>
bool ParseFromString(std::string_view in, T* v) {
  return Serializer<T>::Read(&in, v) && in.empty();
}

}  // namespace kappa

// Declares kappa::Serializer<Type> from the listed member pointers. Use at global scope.
#define KAPPA_SERIALIZABLE(Type, ...) \
  template <>                         \
  struct kappa::Serializer<Type> : ::kappa::FieldSerializer<Type, __VA_ARGS__> {}

#endif  // KAPPA_STATE_SERIALIZER_H_
