// What the `kappa bench` harnesses share: CPU time of the process, human-readable rates,
// the machine line every report carries, and JSON string escaping.
#ifndef KAPPA_BENCH_BENCH_UTIL_H_
#define KAPPA_BENCH_BENCH_UTIL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace kappa::bench {

// User + system CPU seconds of this process so far (every thread).
double ProcessCpuSeconds();
// 1234567 → "1.23M".
std::string Human(double v);
// "machine: N cores (nproc), CPU model; build TYPE".
std::string MachineLine();
// Escapes quotes and backslashes and drops control characters, for a JSON string value.
std::string JsonEscape(const std::string& s);

// A progress line on stderr ("label: done / total events, rate, ETA"; total 0: not known,
// "label: done events, rate"), redrawn four times a second while a phase runs, then erased. Does nothing unless enabled and stderr is a
// terminal.
class Progress {
 public:
  Progress(bool enabled, std::string label, int64_t total, std::function<int64_t()> done);
  ~Progress();

 private:
  void Loop();

  std::string label_;
  int64_t total_;
  std::function<int64_t()> done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;  // by the thread, read after join
  std::thread thread_;
};

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_BENCH_UTIL_H_
