// Test helpers for /metrics: Prometheus's own linter, `promtool check metrics`, run over a
// page of the text format, and programs looked up on PATH (promtool and the prometheus
// server come from Debian's `prometheus` package).
#ifndef KAPPA_TESTS_PROMTOOL_H_
#define KAPPA_TESTS_PROMTOOL_H_

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace kappa::testing {

// The path of the program `name` on PATH, or "" when there is none.
inline std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    std::string candidate = std::string(dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr: the problems it found
};

// `promtool check metrics` over `page`: exit code 0 and no output mean it accepts the page
// and finds no problem. exit_code -1 with a message when promtool cannot be run.
inline PromtoolResult CheckMetrics(const std::string& page) {
  PromtoolResult result;
  std::string promtool = FindOnPath("promtool");
  if (promtool.empty()) {
    result.output = "promtool not found on PATH: install Debian's prometheus package (apt-get install prometheus)";
    return result;
  }
  static std::atomic<int> counter{0};
  std::string file = (std::filesystem::temp_directory_path() /
                      ("kappa-metrics-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".txt"))
                         .string();
  {
    std::ofstream out(file, std::ios::binary);
    out << page;
  }
  std::string command = promtool + " check metrics < " + file + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) {
    result.output = "cannot run " + promtool;
    std::filesystem::remove(file);
    return result;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) result.output.append(buf, n);
  int status = pclose(p);
  std::filesystem::remove(file);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_PROMTOOL_H_
