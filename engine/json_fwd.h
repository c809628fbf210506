// Forward declaration of JsonCodec<T> (engine/json_codec.h), for headers that only need
// to ask whether a type has one.
#ifndef KAPPA_ENGINE_JSON_FWD_H_
#define KAPPA_ENGINE_JSON_FWD_H_

namespace kappa {
template <typename T, typename Enable = void>
struct JsonCodec;
}  // namespace kappa

#endif  // KAPPA_ENGINE_JSON_FWD_H_
