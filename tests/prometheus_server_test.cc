// Debian's real Prometheus server scraping a running `kappa run --http` with the scrape
// config docs/operations.md shows, asked for a rate of the job's records through its HTTP
// query API.
#include <signal.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "tests/kappa_process.h"
#include "tests/metrics_scrape.h"

namespace kappa::testing {
namespace {

using ::testing::HasSubstr;

// The value of a one-sample instant vector: {"status":"success","data":{"resultType":
// "vector","result":[{"metric":{},"value":[T,"V"]}]}}; false when there is none yet.
bool InstantValue(const std::string& answer, double* value) {
  size_t at = answer.find("\"value\":[");
  if (at == std::string::npos) return false;
  size_t comma = answer.find(',', at);
  if (comma == std::string::npos) return false;
  size_t open = answer.find('"', comma);
  size_t close = open == std::string::npos ? open : answer.find('"', open + 1);
  if (close == std::string::npos) return false;
  return absl::SimpleAtod(answer.substr(open + 1, close - open - 1), value);
}

TEST(PrometheusServerTest, ScrapesARunningJobAndAnswersARateQuery) {
  const std::string prometheus = FindOnPath("prometheus");
  ASSERT_NE(prometheus, "") << "prometheus not found on PATH: install Debian's prometheus package";
  ScopedTempDir dir;
  const std::string err = dir.path() + "/kappa.log";
  // Paced: 2000 events per second of wall-clock time, for longer than the test needs.
  pid_t pid = StartKappa({"run", "nexmark-q0", "--source", "gen:nexmark?events=2000000&rate=2000&pace=true", "--sink",
                          "discard:", "--http", "127.0.0.1:0"},
                         err);
  ASSERT_GT(pid, 0);
  int port = WaitForHttpPort(err);
  ASSERT_GT(port, 0) << ReadFile(err);

  int prom_port = FreePort();
  ASSERT_GT(prom_port, 0);
  const std::string config = dir.path() + "/prometheus.yml";
  WriteStringToFile(config, absl::StrCat("global:\n"
                                         "  scrape_interval: 1s\n"
                                         "  evaluation_interval: 1s\n"
                                         "scrape_configs:\n"
                                         "  - job_name: kappa\n"
                                         "    honor_labels: true\n"
                                         "    static_configs:\n"
                                         "      - targets: ['127.0.0.1:",
                                         port, "']\n"));
  const std::string prom_log = dir.path() + "/prometheus.log";
  pid_t prom = StartProgram(prometheus,
                            {"--config.file=" + config, "--storage.tsdb.path=" + dir.path() + "/tsdb",
                             absl::StrCat("--web.listen-address=127.0.0.1:", prom_port)},
                            prom_log);
  ASSERT_GT(prom, 0);

  // Records per second out of the job's tasks, through PromQL: positive once two scrapes
  // are stored. Kappa's own `job` label is kept (honor_labels).
  const std::string query =
      "/api/v1/query?query=" +
      httplib::detail::encode_query_param("sum(rate(kappa_task_records_out_total{job=\"nexmark-q0\"}[5s]))");
  std::string answer;
  double rate = 0;
  bool positive = WaitFor(
      [&] {
        answer = HttpGet(prom_port, query);
        return InstantValue(answer, &rate) && rate > 0;
      },
      90);
  // The target is up: Prometheus parsed every scrape it made.
  std::string up = HttpGet(prom_port, "/api/v1/query?query=" + httplib::detail::encode_query_param("up"));
  double up_value = 0;
  int prom_exit = Stop(prom, SIGTERM);
  EXPECT_TRUE(positive) << "last answer: " << answer << "\n" << ReadFile(prom_log);
  EXPECT_THAT(answer, HasSubstr("\"status\":\"success\""));
  // Paced at 2000 events/s: the rate is of that order, not a stray sample.
  EXPECT_GT(rate, 100) << answer;
  EXPECT_TRUE(InstantValue(up, &up_value)) << up;
  EXPECT_EQ(up_value, 1) << up;
  EXPECT_EQ(prom_exit, 0) << ReadFile(prom_log);
  EXPECT_EQ(Stop(pid, SIGINT), 130) << ReadFile(err);
}

}  // namespace
}  // namespace kappa::testing
