#include "kappa/bench/bench_util.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kappa::bench {
namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
      }
    }
  }
  return "unknown CPU";
}

}  // namespace

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

std::string Human(double v) {
  if (v >= 1e9) return absl::StrFormat("%.2fG", v / 1e9);
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e3) return absl::StrFormat("%.1fK", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

std::string MachineLine() {
  return absl::StrFormat("machine: %d cores (nproc), %s; build %s", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)),
                         CpuModel(), KAPPA_BUILD_TYPE);
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}

Progress::Progress(bool enabled, std::string label, int64_t total, std::function<int64_t()> done)
    : label_(std::move(label)), total_(total), done_(std::move(done)) {
  if (!enabled || isatty(2) == 0) return;
  thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (drawn_) std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void Progress::Loop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; })) {
    const int64_t done = done_();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = s > 0 ? static_cast<double>(done) / s : 0;
    std::string eta = rate > 0 && done < total_ ? absl::StrFormat(", ETA %.0f s", (total_ - done) / rate) : "";
    // A total of 0 is not known yet (a source read for the first time): no ETA.
    const std::string of = total_ > 0 ? absl::StrCat(" / ", Human(static_cast<double>(total_))) : "";
    std::fprintf(stderr, "\r  %s: %s%s events, %s events/s%s\033[K", label_.c_str(),
                 Human(static_cast<double>(done)).c_str(), of.c_str(), Human(rate).c_str(), eta.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
}

}  // namespace kappa::bench
