// A restart strategy under a real broker outage: a `kappa` process writes a topic exactly
// once (checkpoints, Kafka transactions) while the test stops its single-node Apache Kafka
// cluster (scripts/kafka-broker, one per test, not the suite's shared one) for longer than
// the sink's transactional calls wait (kafka.transaction.timeout.ms=5000 on the sink URI).
// The sink gives up, the run fails and restarts from its latest checkpoint, fails again
// while the broker is down, and once the broker is back it finishes. The topic's committed
// output (read_committed) equals an uninterrupted run's, as a multiset: nothing lost,
// nothing twice.
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "tests/kafka_cluster.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

using ::kappa::testing::CreateTopic;
using ::kappa::testing::KafkaBrokerScript;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::ReadFileToString;
using ::kappa::testing::ReadTopicValues;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::kappa::testing::StartKappa;
using ::testing::HasSubstr;

struct ScriptResult {
  int exit_code = -1;
  std::string output;
};

ScriptResult Script(const std::string& args) {
  ScriptResult r;
  FILE* f = popen(absl::StrCat(KafkaBrokerScript(), " ", args, " 2>&1").c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  int status = pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Waits up to `seconds` for `pid` to exit: its exit code, or -1 (then it is killed).
int WaitAtMost(pid_t pid, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

template <typename Pred>
bool PollFor(int seconds, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

class RestartKafkaTest : public ::testing::Test {
 protected:
  // A cluster of its own in a fixed directory: a run killed before TearDown leaves one
  // there that the next run's `start` stops.
  void SetUp() override {
    dir_ = absl::StrCat(KAPPA_KAFKA_RESTART_DIR, "/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_ + "/run");
    std::filesystem::create_directories(dir_ + "/run");
    ScriptResult r = Script(absl::StrCat("start ", dir_, "/cluster"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    bootstrap_ = std::string(absl::StripAsciiWhitespace(ReadFileToString(dir_ + "/cluster/bootstrap")));
    ASSERT_FALSE(bootstrap_.empty());
  }
  void TearDown() override {
    ScriptResult r = Script(absl::StrCat("stop ", dir_, "/cluster --wait 10"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (!HasFailure()) std::filesystem::remove_all(dir_ + "/run");
  }

  std::string dir_, bootstrap_;
};

// Disabled until the exactly-once Kafka sink fails its task when commits keep failing: today
// a broker outage can stall the whole job (its input slows to the broker's pace) instead of
// failing it, so no restart happens before the broker is back. It passed when a commit
// timed out in the task and failed in about half of the runs on a loaded machine, where the
// job read its 12 000 paced events in 128 s instead of 12 s and never restarted. Run it by
// hand with --gtest_also_run_disabled_tests.
TEST_F(RestartKafkaTest, DISABLED_BrokerDownBeyondTheClientsTimeoutRestartsAndStaysExactlyOnce) {
  // 12000 events paced over 12 s of wall time, so that the run is still going when the
  // broker has stopped; event times from now on, so that the broker's time-based retention
  // keeps them.
  const std::string source = absl::StrCat("gen:nexmark?events=12000&partitions=2&rate=1000&base_time=",
                                          absl::ToUnixMillis(absl::Now()));
  RunResult ref = RunKappa({"run", "nexmark-q0", "--source", source, "--sink", "file:" + dir_ + "/run/ref/", "-q"});
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::vector<std::string> expected = OutputLines(dir_ + "/run/ref");
  ASSERT_EQ(expected.size(), 11040u);  // the bids among 12000 events

  const std::string topic = "restart-out";
  ASSERT_TRUE(CreateTopic(bootstrap_, topic, 2, 1, {{"retention.ms", "-1"}}).ok());
  const std::string chk = dir_ + "/run/chk", log = dir_ + "/run/log.txt";
  pid_t pid = StartKappa({"run", "nexmark-q0", "--source", source + "&pace=true", "--sink",
                          absl::StrCat("kafka://", bootstrap_, "/", topic, "?kafka.transaction.timeout.ms=5000"),
                          "--checkpoint-dir", chk, "--checkpoint-interval", "200", "--restart", "exponential:500ms:2s"},
                         log);
  // The outage starts once the sink has committed output (a checkpoint's transaction).
  const std::string stage = chk + "/kafka-sink/" + topic;
  ASSERT_TRUE(PollFor(60, [&] {
    return std::filesystem::exists(stage + "/committed-000") || std::filesystem::exists(stage + "/committed-001");
  })) << ReadFile(log);
  ScriptResult stopped = Script(absl::StrCat("stop ", dir_, "/cluster"));
  ASSERT_EQ(stopped.exit_code, 0) << stopped.output;

  // The broker stays down until the run failed and restarted twice: the client gave up.
  int code = -1;
  bool exited = false;
  const bool restarted = PollFor(120, [&] {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      return true;
    }
    return ReadFile(log).find("restart 2 of nexmark-q0") != std::string::npos;
  }) && !exited;
  ScriptResult back = Script(absl::StrCat("restart ", dir_, "/cluster"));
  ASSERT_EQ(back.exit_code, 0) << back.output;
  if (!exited) code = WaitAtMost(pid, 120);
  const std::string text = ReadFile(log);
  ASSERT_TRUE(restarted) << text;
  ASSERT_EQ(code, 0) << text;
  EXPECT_THAT(text, HasSubstr("restart 1 of nexmark-q0 (exponential:500ms:2s:1h) in 500ms from the latest complete "
                              "checkpoint; cause: "));
  EXPECT_THAT(text, HasSubstr("Timed out")) << text;

  auto values = ReadTopicValues(bootstrap_, topic);
  ASSERT_TRUE(values.ok()) << values.status();
  std::vector<std::string> got = *values;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the committed output differs from the uninterrupted run's";
}

}  // namespace
}  // namespace kappa
