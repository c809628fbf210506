// Protobuf messages as state values and keys: include this header and any message type
// has a Serializer (length-prefixed wire format).
//
//   #include "kappa/state/protobuf_serializer.h"
//   ValueState<myproto::Session> session = ctx.GetValueState<myproto::Session>("session");
//
// Evolve the message the protobuf way (new fields with new numbers) and old checkpoints
// keep restoring. The wire format is deterministic for one build (map fields are not
// sorted), so prefer other types for keys that must compare byte-equal across versions.
#ifndef KAPPA_STATE_PROTOBUF_SERIALIZER_H_
#define KAPPA_STATE_PROTOBUF_SERIALIZER_H_

#include <string>
#include <string_view>
#include <type_traits>

#include "google/protobuf/message_lite.h"
#include "kappa/state/serializer.h"

namespace kappa {

template <typename T>
struct Serializer<T, std::enable_if_t<std::is_base_of_v<google::protobuf::MessageLite, T>>> {
  static void Write(const T& v, std::string* out) {
    std::string bytes;
    v.SerializeToString(&bytes);
    internal::WriteVarint(bytes.size(), out);
    out->append(bytes);
  }
  static bool Read(std::string_view* in, T* v) {
    uint64_t n;
    if (!internal::ReadVarint(in, &n) || in->size() < n) return false;
    bool ok = v->ParseFromArray(in->data(), static_cast<int>(n));
    in->remove_prefix(n);
    return ok;
  }
};

}  // namespace kappa

#endif  // KAPPA_STATE_PROTOBUF_SERIALIZER_H_
