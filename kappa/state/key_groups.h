// Key groups: the unit in which keyed state is partitioned, checkpointed and rescaled.
//
// A key's serialized bytes hash (stably, across processes and versions) to one of
// max_parallelism key groups; key group g belongs to operator instance
// g * parallelism / max_parallelism. State keys start with the key group, so a task can
// hand over or restore whole key groups when the parallelism changes.
#ifndef KAPPA_STATE_KEY_GROUPS_H_
#define KAPPA_STATE_KEY_GROUPS_H_

#include <cstdint>
#include <string_view>

namespace kappa::state {

inline constexpr int kDefaultMaxParallelism = 128;

// A stable 64-bit hash of bytes (not absl::Hash, which is seeded per process).
uint64_t StableHash(std::string_view bytes);

inline int KeyGroupForHash(uint64_t hash, int max_parallelism) {
  return static_cast<int>(hash % static_cast<uint64_t>(max_parallelism));
}

inline int KeyGroupFor(std::string_view key_bytes, int max_parallelism) {
  return KeyGroupForHash(StableHash(key_bytes), max_parallelism);
}

inline int OperatorIndexForKeyGroup(int key_group, int max_parallelism, int parallelism) {
  return key_group * parallelism / max_parallelism;
}

// The contiguous key groups [first, last] owned by operator instance `index`.
struct KeyGroupRange {
  int first = 0;
  int last = -1;
  bool Contains(int key_group) const { return key_group >= first && key_group <= last; }
  int size() const { return last - first + 1; }
  static KeyGroupRange ForOperator(int max_parallelism, int parallelism, int index) {
    int first = (index * max_parallelism + parallelism - 1) / parallelism;
    int last = ((index + 1) * max_parallelism + parallelism - 1) / parallelism - 1;
    return {first, last};
  }
};

}  // namespace kappa::state

#endif  // KAPPA_STATE_KEY_GROUPS_H_
