// What the `kappa bench` harnesses share: CPU time of the process, human-readable rates,
// the machine line every report carries, and JSON string escaping.
#ifndef KAPPA_BENCH_BENCH_UTIL_H_
#define KAPPA_BENCH_BENCH_UTIL_H_

#include <string>

namespace kappa::bench {

// User + system CPU seconds of this process so far (every thread).
double ProcessCpuSeconds();
// 1234567 → "1.23M".
std::string Human(double v);
// "machine: N cores (nproc), CPU model; build TYPE".
std::string MachineLine();
// Escapes quotes and backslashes and drops control characters, for a JSON string value.
std::string JsonEscape(const std::string& s);

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_BENCH_UTIL_H_
