// /metrics of a real running `kappa run --http`: scraped repeatedly while the job follows a
// file log and checkpoints, every page accepted by `promtool check metrics`; and Debian's
// real Prometheus server scraping a running job, asked for a rate through its HTTP API.
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "tests/kappa_process.h"
#include "tests/promtool.h"

namespace kappa {
namespace {

using ::testing::HasSubstr;
using testing::ScopedTempDir;

// Polls `cond` every 100 ms until it holds or `seconds` pass.
bool WaitFor(const std::function<bool()>& cond, int seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

// The port of the endpoint a `kappa ... --http 127.0.0.1:0` process printed on stderr
// ("kappa: dashboard at http://127.0.0.1:PORT/ ..."), or 0 if it did not within a minute.
int WaitForHttpPort(const std::string& log) {
  const std::string marker = "dashboard at http://127.0.0.1:";
  int port = 0;
  WaitFor([&] {
    std::string text = testing::ReadFile(log);
    size_t at = text.find(marker);
    if (at == std::string::npos) return false;
    size_t begin = at + marker.size(), end = text.find('/', begin);
    return end != std::string::npos && absl::SimpleAtoi(text.substr(begin, end - begin), &port);
  });
  return port;
}

std::string HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get(path);
  if (!res || res->status != 200) return "";
  return res->body;
}

// The samples of metric `name` on a page: their label text ("{...}") to value.
std::map<std::string, double> Samples(const std::string& page, const std::string& name) {
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

double Sum(const std::string& page, const std::string& name) {
  double sum = 0;
  for (const auto& [labels, v] : Samples(page, name)) sum += v;
  return sum;
}

size_t CountLines(const std::string& path) {
  std::string text = testing::ReadFile(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A free TCP port on the loopback interface (bound, read, released).
int FreePort() {
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

// Stops a background process with `signal` and waits for it; SIGKILL if it is still there
// after 20 s. Returns its exit code (128 + signal when killed).
int Stop(pid_t pid, int signal) {
  kill(pid, signal);
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  return testing::WaitKappa(pid);
}

// Each scraped page must pass promtool; the test remembers how many did.
class Scraper {
 public:
  explicit Scraper(int port) : port_(port) {}
  std::string Scrape() {
    std::string page = HttpGet(port_, "/metrics");
    if (page.empty()) return page;
    kappa::testing::PromtoolResult r = kappa::testing::CheckMetrics(page);
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

TEST(MetricsTest, ScrapedFiguresMoveWhileAJobFollowsALogAndPromtoolAcceptsEveryPage) {
  ASSERT_NE(testing::FindOnPath("promtool"), "")
      << "promtool not found on PATH: install Debian's prometheus package (apt-get install prometheus)";
  ScopedTempDir dir;
  const std::string log = dir.path() + "/log/";
  auto gen = testing::RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=20000&partitions=2&rate=1000",
                                "--sink", "file:" + log, "-p", "2"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  size_t total = CountLines(log + "part-00000.jsonl") + CountLines(log + "part-00001.jsonl");
  ASSERT_EQ(total, 20000u);

  const std::string err = dir.path() + "/kappa.log";
  pid_t pid = testing::StartKappa({"run", "hot-auctions", "--follow", "--source", "file:" + log, "--sink",
                                   "file:" + dir.path() + "/out/", "--checkpoint-dir", dir.path() + "/ck",
                                   "--checkpoint-interval", "200", "-p", "2", "--http", "127.0.0.1:0"},
                                  err);
  ASSERT_GT(pid, 0);
  int port = WaitForHttpPort(err);
  ASSERT_GT(port, 0) << testing::ReadFile(err);
  Scraper scraper(port);

  // The whole log is read (every record counted, no lag left) and a checkpoint completes.
  std::string page;
  auto read_up_to = [&](double records) {
    return WaitFor([&] {
      page = scraper.Scrape();
      std::map<std::string, double> lag = Samples(page, "kappa_source_partition_lag_offsets");
      bool no_lag = lag.size() == 2 && lag.begin()->second == 0 && lag.rbegin()->second == 0;
      return Sum(page, "kappa_source_partition_records_total") == records && no_lag &&
             Sum(page, "kappa_checkpoints_completed_total") >= 1;
    });
  };
  ASSERT_TRUE(read_up_to(20000)) << "last page:\n" << page << "\n" << testing::ReadFile(err);
  const double out_before = Sum(page, "kappa_operator_records_out_total");
  const double checkpoints_before = Sum(page, "kappa_checkpoints_completed_total");
  EXPECT_GT(out_before, 0);
  EXPECT_THAT(page, HasSubstr("kappa_job_state{job=\"hot-auctions\",state=\"running\"} 1\n"));
  // A file log's offsets are bytes: its high-water mark is the file's size.
  std::map<std::string, double> high_water = Samples(page, "kappa_source_partition_high_water_offset");
  ASSERT_EQ(high_water.size(), 2u) << page;
  EXPECT_EQ(high_water.begin()->second, std::filesystem::file_size(log + "part-00000.jsonl"));
  EXPECT_EQ(high_water.rbegin()->second, std::filesystem::file_size(log + "part-00001.jsonl"));

  // More events appended to the log: the figures grow again and the lag returns to zero.
  auto more = testing::RunKappa({"run", "nexmark-copy", "--source",
                                 "gen:nexmark?events=5000&partitions=1&rate=1000&seed=9&base_time=1700000100000",
                                 "--sink", "file:" + dir.path() + "/more.jsonl"});
  ASSERT_EQ(more.exit_code, 0) << more.err;
  {
    std::ifstream in(dir.path() + "/more.jsonl");
    std::ofstream app(log + "part-00001.jsonl", std::ios::app);
    app << in.rdbuf();
  }
  ASSERT_TRUE(read_up_to(25000)) << "last page:\n" << page << "\n" << testing::ReadFile(err);
  EXPECT_GT(Sum(page, "kappa_operator_records_in_total"), 0);
  EXPECT_GE(Sum(page, "kappa_checkpoints_completed_total"), checkpoints_before);
  EXPECT_TRUE(WaitFor([&] {
    page = scraper.Scrape();
    return Sum(page, "kappa_checkpoints_completed_total") > checkpoints_before;
  })) << page;
  EXPECT_GE(Sum(page, "kappa_operator_records_out_total"), out_before);
  EXPECT_GE(scraper.checked(), 3);

  EXPECT_EQ(Stop(pid, SIGINT), 130) << testing::ReadFile(err);
}

// The scrape config docs/operations.md shows, pointed at a running job: Prometheus scrapes
// it every second and answers a rate query over its records.
TEST(MetricsTest, PrometheusServerScrapesARunningJobAndAnswersARateQuery) {
  const std::string prometheus = testing::FindOnPath("prometheus");
  ASSERT_NE(prometheus, "") << "prometheus not found on PATH: install Debian's prometheus package";
  ScopedTempDir dir;
  const std::string err = dir.path() + "/kappa.log";
  // Paced: 2000 events per second of wall-clock time, for longer than the test needs.
  pid_t pid = testing::StartKappa({"run", "nexmark-q0", "--source", "gen:nexmark?events=2000000&rate=2000&pace=true",
                                   "--sink", "discard:", "--http", "127.0.0.1:0"},
                                  err);
  ASSERT_GT(pid, 0);
  int port = WaitForHttpPort(err);
  ASSERT_GT(port, 0) << testing::ReadFile(err);

  int prom_port = FreePort();
  ASSERT_GT(prom_port, 0);
  const std::string config = dir.path() + "/prometheus.yml";
  testing::WriteStringToFile(config, absl::StrCat("global:\n"
                                                  "  scrape_interval: 1s\n"
                                                  "  evaluation_interval: 1s\n"
                                                  "scrape_configs:\n"
                                                  "  - job_name: kappa\n"
                                                  "    honor_labels: true\n"
                                                  "    static_configs:\n"
                                                  "      - targets: ['127.0.0.1:",
                                                  port, "']\n"));
  const std::string prom_log = dir.path() + "/prometheus.log";
  pid_t prom = testing::StartProgram(prometheus,
                                     {"--config.file=" + config, "--storage.tsdb.path=" + dir.path() + "/tsdb",
                                      absl::StrCat("--web.listen-address=127.0.0.1:", prom_port)},
                                     prom_log);
  ASSERT_GT(prom, 0);

  // records/s of the job's source, through PromQL: positive once two scrapes are stored.
  const std::string query = "/api/v1/query?query=" +
                            httplib::detail::encode_query_param(
                                "sum(rate(kappa_task_records_out_total{job=\"nexmark-q0\"}[5s]))");
  std::string answer;
  double rate = 0;
  bool positive = WaitFor(
      [&] {
        answer = HttpGet(prom_port, query);
        // {"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[T,"V"]}]}}
        size_t at = answer.find("\"value\":[");
        if (at == std::string::npos) return false;
        size_t open = answer.find('"', answer.find(',', at));
        size_t close = answer.find('"', open + 1);
        return absl::SimpleAtod(answer.substr(open + 1, close - open - 1), &rate) && rate > 0;
      },
      90);
  int prom_exit = Stop(prom, SIGTERM);
  EXPECT_TRUE(positive) << "last answer: " << answer << "\n" << testing::ReadFile(prom_log);
  EXPECT_THAT(answer, HasSubstr("\"status\":\"success\""));
  // Paced at 2000 events/s: the rate is of that order, not a stray sample.
  EXPECT_GT(rate, 100) << answer;
  EXPECT_EQ(prom_exit, 0) << testing::ReadFile(prom_log);
  EXPECT_EQ(Stop(pid, SIGINT), 130) << testing::ReadFile(err);
}

}  // namespace
}  // namespace kappa
