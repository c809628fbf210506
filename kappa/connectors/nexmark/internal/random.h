// A small, fast, well-mixed PRNG for the Nexmark generator.
//
// Each event gets its own stream, keyed by (seed, event number), so that an event's
// content is a pure function of those two numbers: any partition, any offset, any
// thread regenerates it bit for bit. The stream is SplitMix64 (Steele, Lea, Flood:
// "Fast splittable pseudorandom number generators", OOPSLA 2014): one add and one
// 64-bit finaliser per draw, passes BigCrush, and seeding costs one more mix.
#ifndef KAPPA_CONNECTORS_NEXMARK_INTERNAL_RANDOM_H_
#define KAPPA_CONNECTORS_NEXMARK_INTERNAL_RANDOM_H_

#include <cstdint>

namespace kappa::nexmark::internal {

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// The SplitMix64 output function (a bijection on 64-bit words).
constexpr uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Per-seed key, computed once per generator: different seeds give unrelated streams
// even for neighbouring event numbers.
constexpr uint64_t SeedKey(uint64_t seed) { return Mix64(seed ^ 0x6a09e667f3bcc909ULL); }

class EventRandom {
 public:
  constexpr EventRandom(uint64_t seed_key, uint64_t event_number)
      : state_(Mix64(seed_key ^ (event_number * kGoldenGamma))) {}

  constexpr uint64_t Next() {
    state_ += kGoldenGamma;
    return Mix64(state_);
  }

  // Uniform in [0, n) for n >= 1 (Lemire's multiply-shift; bias < n / 2^64).
  constexpr uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

  // Uniform in [0, 1) with 53 random bits.
  constexpr double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace kappa::nexmark::internal

#endif  // KAPPA_CONNECTORS_NEXMARK_INTERNAL_RANDOM_H_
