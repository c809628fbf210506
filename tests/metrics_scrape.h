// Helpers for tests that scrape a running `kappa ... --http 127.0.0.1:0`: its port from
// its stderr, HTTP GETs, the samples of a /metrics page, and stopping background processes.
#ifndef KAPPA_TESTS_METRICS_SCRAPE_H_
#define KAPPA_TESTS_METRICS_SCRAPE_H_

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"
#include "tests/promtool.h"

namespace kappa::testing {

// Polls `cond` every 100 ms until it holds or `seconds` pass.
inline bool WaitFor(const std::function<bool()>& cond, int seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

// The port of the endpoint a `kappa ... --http 127.0.0.1:0` process printed on stderr
// ("kappa: dashboard at http://127.0.0.1:PORT/ ..."), or 0 if it did not within a minute.
inline int WaitForHttpPort(const std::string& log) {
  const std::string marker = "dashboard at http://127.0.0.1:";
  int port = 0;
  WaitFor([&] {
    std::string text = ReadFile(log);
    size_t at = text.find(marker);
    if (at == std::string::npos) return false;
    size_t begin = at + marker.size(), end = text.find('/', begin);
    return end != std::string::npos && absl::SimpleAtoi(text.substr(begin, end - begin), &port);
  });
  return port;
}

inline std::string HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get(path);
  if (!res || res->status != 200) return "";
  return res->body;
}

// The samples of metric `name` on a page: their label text ("{...}") to value.
inline std::map<std::string, double> Samples(const std::string& page, const std::string& name) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (line.empty() || line[0] == '#' || !absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;
    size_t space = rest.rfind(' ');
    double v = 0;
    if (!absl::SimpleAtod(rest.substr(space + 1), &v)) continue;
    out[std::string(rest.substr(0, space))] = v;
  }
  return out;
}

inline double Sum(const std::string& page, const std::string& name) {
  double sum = 0;
  for (const auto& [labels, v] : Samples(page, name)) sum += v;
  return sum;
}

// A free TCP port on the loopback interface (bound, read, released).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Stops a background process with signal `sig` and waits for it; SIGKILL if it is still there
// after 20 s. Returns its exit code (128 + signal when killed).
inline int Stop(pid_t pid, int sig) {
  kill(pid, sig);
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  return WaitKappa(pid);
}

// Scrapes /metrics; every page must pass `promtool check metrics` (a test failure if not).
class Scraper {
 public:
  explicit Scraper(int port) : port_(port) {}
  std::string Scrape() {
    std::string page = HttpGet(port_, "/metrics");
    if (page.empty()) return page;
    PromtoolResult r = CheckMetrics(page);
    EXPECT_EQ(r.exit_code, 0) << "promtool check metrics: " << r.output << "\n--- page ---\n" << page;
    EXPECT_EQ(r.output, "") << "\n--- page ---\n" << page;
    ++checked_;
    return page;
  }
  int checked() const { return checked_; }

 private:
  int port_;
  int checked_ = 0;
};

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_METRICS_SCRAPE_H_
