// Integration tests of `kappa bench nexmark`: run the real binary and check that its JSON
// result lines hold what the issue promises — the engine's and the baseline's figures
// side by side, on the same events, with the same rows. No timing thresholds: numbers
// only have to exist and be positive.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::testing::HasSubstr;

struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Runs KAPPA_BINARY with `args`, capturing stdout and stderr; killed after `timeout`.
RunResult RunKappa(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  RunResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << strerror(errno);
    return result;
  }
  std::vector<char*> argv;
  std::string binary = KAPPA_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return result;
  }
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[1 << 16];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      ADD_FAILURE() << "kappa did not finish within " << timeout.count() << " s";
      break;
    }
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One result line, parsed; fields are read with Int/Double/Bool/Str.
class Result {
 public:
  explicit Result(const std::string& line) : json_(line) {
    auto doc = parser_.parse(json_);
    ok_ = doc.error() == simdjson::SUCCESS && doc.value().is_object();
    if (ok_) object_ = doc.value().get_object().value();
  }
  bool ok() const { return ok_; }
  bool Has(const char* key) const { return ok_ && object_[key].error() == simdjson::SUCCESS; }
  int64_t Int(const char* key) const {
    int64_t v = -1;
    EXPECT_EQ(object_[key].get_int64().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  double Double(const char* key) const {
    double v = -1;
    EXPECT_EQ(object_[key].get_double().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  bool Bool(const char* key) const {
    bool v = false;
    EXPECT_EQ(object_[key].get_bool().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return v;
  }
  std::string Str(const char* key) const {
    std::string_view v;
    EXPECT_EQ(object_[key].get_string().get(v), simdjson::SUCCESS) << key << " in " << json_;
    return std::string(v);
  }
  const std::string& text() const { return json_; }

 private:
  std::string json_;
  simdjson::dom::parser parser_;
  simdjson::dom::object object_;
  bool ok_ = false;
};

void ExpectThroughputLine(const Result& r, const std::string& query, int64_t events) {
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_EQ(r.Str("mode"), "throughput");
  EXPECT_EQ(r.Str("query"), query);
  EXPECT_EQ(r.Int("events"), events);
  for (const char* key : {"engine_wall_s", "engine_cpu_s", "engine_events_per_s", "engine_events_per_s_per_core",
                          "baseline_cpu_s", "baseline_events_per_s_per_core", "generator_cpu_s",
                          "generator_events_per_s_per_core", "ratio"}) {
    EXPECT_GT(r.Double(key), 0) << key << " in " << r.text();
  }
  EXPECT_GT(r.Int("engine_rows"), 0);
  EXPECT_EQ(r.Int("engine_rows"), r.Int("baseline_rows")) << r.text();
  EXPECT_TRUE(r.Bool("rows_checked"));
  EXPECT_TRUE(r.Bool("rows_match"));
  EXPECT_EQ(r.Int("engine_late"), 0);
  EXPECT_THAT(r.Str("machine"), HasSubstr("cores"));
}

TEST(BenchNexmarkTest, Q1ThroughputReportsEngineAndBaselineOnTheSameEvents) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q1", "--events", "20000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  ExpectThroughputLine(Result(lines[0]), "q1", 20000);
  // Every bid is a row: 46 of every 50 events.
  EXPECT_EQ(Result(lines[0]).Int("engine_rows"), 20000 / 50 * 46);
}

TEST(BenchNexmarkTest, Q5ThroughputRowsAgreeWithTheBaselineAtParallelism2) {
  // An event rate of 20K/s spreads the events over a second of event time: several
  // sliding windows, fired one by one.
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q5", "--events", "20000", "--parallelism", "2",
                            "--event-rate", "20000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ExpectThroughputLine(r, "q5", 20000);
  EXPECT_EQ(r.Int("parallelism"), 2);
}

TEST(BenchNexmarkTest, TableModePrintsEveryColumnAndTheMachine) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q2", "--events", "5000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("engine ev/s/core"));
  EXPECT_THAT(run.out, HasSubstr("baseline ev/s/core"));
  EXPECT_THAT(run.out, HasSubstr("ratio"));
  EXPECT_THAT(run.out, HasSubstr("\nq2 "));
  EXPECT_THAT(run.out, HasSubstr("machine: "));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("MISMATCH")));
  // stderr is not a terminal here: no progress line.
  EXPECT_EQ(run.err, "");
}

TEST(BenchNexmarkTest, LatencyModeReportsOrderedPercentiles) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q1", "--rate", "20000", "--events", "20000", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> lines = Lines(run.out);
  ASSERT_EQ(lines.size(), 1u) << run.out;
  Result r(lines[0]);
  ASSERT_TRUE(r.ok()) << r.text();
  EXPECT_EQ(r.Str("mode"), "latency");
  EXPECT_EQ(r.Int("events"), 20000);
  EXPECT_EQ(r.Int("engine_rows"), 20000 / 50 * 46);
  EXPECT_EQ(r.Int("engine_rows"), r.Int("baseline_rows"));
  EXPECT_GT(r.Int("count"), 0);
  EXPECT_LE(r.Double("p50_ms"), r.Double("p99_ms"));
  EXPECT_LE(r.Double("p99_ms"), r.Double("p999_ms"));
  EXPECT_LE(r.Double("p999_ms"), r.Double("max_ms"));
  EXPECT_GE(r.Double("p50_ms"), 0);
  EXPECT_GT(r.Int("baseline_count"), 0);
  EXPECT_LE(r.Double("baseline_p50_ms"), r.Double("baseline_p99_ms"));
  EXPECT_LE(r.Double("baseline_p99_ms"), r.Double("baseline_p999_ms"));
  EXPECT_LE(r.Double("baseline_p999_ms"), r.Double("baseline_max_ms"));
}

TEST(BenchNexmarkTest, BadQueryIsOneLineAndExitCode2) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q6", "--events", "100"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("unknown query 'q6'"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(BenchNexmarkTest, MissingEventsIsAUsageError) {
  RunResult run = RunKappa({"bench", "nexmark", "--query", "q0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("--events"));
  EXPECT_EQ(Lines(run.err).size(), 1u) << run.err;
}

}  // namespace
}  // namespace kappa
