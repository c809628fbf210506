// Restart strategies (`--restart`) through a real `kappa` process whose file sink runs out
// of space: the output directory is a small tmpfs that a ballast file fills up. While the
// disk is full the job fails and restarts in-process from its latest complete checkpoint;
// once the test removes the ballast it finishes, and its output equals an uninterrupted
// run's (exactly once). A strategy that gives up, and `none`, end the run with one line.
// Needs permission to mount a tmpfs (root); skipped otherwise.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::kappa::testing::StartKappa;
using ::kappa::testing::WaitKappa;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) out.emplace_back(line);
  return out;
}

int CountLinesWith(const std::string& text, const std::string& part) {
  int n = 0;
  for (const std::string& line : Lines(text)) n += line.find(part) != std::string::npos;
  return n;
}

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_restart_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    small_ = dir_ + "/small";
    fs::create_directories(small_);
    if (mount("tmpfs", small_.c_str(), "tmpfs", 0, "size=8m") != 0) {
      GTEST_SKIP() << "cannot mount a small tmpfs here (" << strerror(errno) << ")";
    }
    mounted_ = true;
    log_ = dir_ + "/log.txt";
  }
  void TearDown() override {
    if (mounted_) umount(small_.c_str());
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Fills the small file system with a ballast file, leaving `free_bytes` free.
  void FillLeaving(size_t free_bytes) {
    const std::string path = small_ + "/ballast";
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << strerror(errno);
    std::string block(1 << 16, 'x');
    off_t size = 0;
    for (;;) {
      ssize_t n = write(fd, block.data(), block.size());
      if (n <= 0) break;
      size += n;
    }
    ASSERT_GT(size, static_cast<off_t>(free_bytes));
    ASSERT_EQ(ftruncate(fd, size - static_cast<off_t>(free_bytes)), 0) << strerror(errno);
    close(fd);
  }
  void RemoveBallast() { fs::remove(small_ + "/ballast"); }

  // Waits (up to a minute) until the run's log has a line containing `text`.
  bool WaitForLog(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ReadFile(log_).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // The output of an uninterrupted run over `source`, sorted.
  std::vector<std::string> Reference(const std::string& source) {
    RunResult r = RunKappa({"run", "nexmark-q0", "--source", source, "--sink", "file:" + dir_ + "/ref/", "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines = OutputLines(dir_ + "/ref");
    EXPECT_GT(lines.size(), 10000u);
    return lines;
  }

  std::string dir_, small_, log_;
  bool mounted_ = false;
};

// 20000 Nexmark events over 5 s of wall time (paced from `base_time`, which the test takes
// right before the run), about 3 MB of q0 output: with 512 KiB free, a few checkpoints
// complete before the disk is full. The uninterrupted run reads the same events unpaced.
std::string PacedSource(int64_t base_time) {
  return absl::StrCat("gen:nexmark?events=20000&partitions=2&rate=4000&base_time=", base_time);
}

TEST_F(RestartTest, DiskFullClearsAndTheRestartedJobWritesExactlyOnce) {
  FillLeaving(512 << 10);
  const std::string out = small_ + "/out";
  // Paced from now on: the first checkpoints complete before the disk is full.
  const int64_t base = absl::ToUnixMillis(absl::Now());
  pid_t pid = StartKappa({"run", "nexmark-q0", "--source", PacedSource(base) + "&pace=true", "--sink",
                          "file:" + out + "/", "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "100",
                          "--restart", "exponential:100ms:1s"},
                         log_);
  // The disk stays full through two restarts, then clears.
  const bool restarted_twice = WaitForLog("restart 2 of nexmark-q0");
  RemoveBallast();
  const int code = WaitKappa(pid);
  const std::string log = ReadFile(log_);
  ASSERT_TRUE(restarted_twice) << log;
  ASSERT_EQ(code, 0) << log;
  EXPECT_THAT(log, HasSubstr("(exponential:100ms:1s:1h) in 100ms from the latest complete checkpoint; cause: "));
  EXPECT_THAT(log, HasSubstr("No space left on device"));
  // The first failure came after checkpoints had completed: the restart restored one.
  EXPECT_THAT(log, HasSubstr("restart 1: restored checkpoint ")) << log;
  EXPECT_THAT(log, HasSubstr("; restarted ")) << log;
  EXPECT_EQ(CountLinesWith(log, " failed: "), 0) << log;
  const std::vector<std::string> expected = Reference(PacedSource(base));
  const std::vector<std::string> got = OutputLines(out);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the output differs from the uninterrupted run's";
}

// Without checkpoints a restart starts from the beginning: a directory sink's part files
// are rewritten from scratch, so the output is still complete and has nothing twice.
TEST_F(RestartTest, WithoutCheckpointsARestartStartsOverAndRewritesADirectorySink) {
  FillLeaving(512 << 10);
  const std::string out = small_ + "/out";
  const int64_t base = absl::ToUnixMillis(absl::Now());
  pid_t pid = StartKappa({"run", "nexmark-q0", "--source", PacedSource(base) + "&pace=true", "--sink",
                          "file:" + out + "/", "--restart", "fixed:100:100ms"},
                         log_);
  const bool restarted = WaitForLog("restart 1 of nexmark-q0");
  RemoveBallast();
  const int code = WaitKappa(pid);
  const std::string log = ReadFile(log_);
  ASSERT_TRUE(restarted) << log;
  ASSERT_EQ(code, 0) << log;
  EXPECT_THAT(log, HasSubstr("in 100ms from the beginning (no checkpoints); cause: "));
  EXPECT_THAT(log, HasSubstr("restart 1: started from the beginning"));
  EXPECT_TRUE(OutputLines(out) == Reference(PacedSource(base))) << "the output differs from the uninterrupted run's";
}

TEST_F(RestartTest, AStrategyThatGivesUpEndsWithOneLineAndExitOne) {
  FillLeaving(64 << 10);
  const std::string out = small_ + "/out";
  int code = WaitKappa(StartKappa({"run", "nexmark-q0", "--source", "gen:nexmark?events=20000&partitions=2",
                                   "--sink", "file:" + out + "/", "--checkpoint-dir", dir_ + "/chk",
                                   "--checkpoint-interval", "100", "--restart", "fixed:2:100ms"},
                                  log_));
  const std::string log = ReadFile(log_);
  EXPECT_EQ(code, 1) << log;
  EXPECT_EQ(CountLinesWith(log, "restart 1 of nexmark-q0 (fixed:2:100ms) in 100ms"), 1) << log;
  EXPECT_EQ(CountLinesWith(log, "restart 2 of nexmark-q0 (fixed:2:100ms) in 100ms"), 1) << log;
  EXPECT_EQ(CountLinesWith(log, "restart 3 of"), 0) << log;
  // One line says that the run failed, why, and that the strategy gave up; it is the last.
  std::vector<std::string> lines = Lines(log);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(CountLinesWith(log, " failed: "), 1) << log;
  EXPECT_THAT(lines.back(), HasSubstr("kappa: nexmark-q0 failed: "));
  EXPECT_THAT(lines.back(), HasSubstr("No space left on device"));
  EXPECT_THAT(lines.back(), HasSubstr("(no more restarts: fixed:2:100ms allows 2 restarts and all were used)"));
}

TEST_F(RestartTest, NoneEndsTheRunAtTheFirstFailure) {
  FillLeaving(64 << 10);
  const std::string out = small_ + "/out";
  int code = WaitKappa(StartKappa({"run", "nexmark-q0", "--source", "gen:nexmark?events=20000&partitions=2",
                                   "--sink", "file:" + out + "/", "--checkpoint-dir", dir_ + "/chk",
                                   "--checkpoint-interval", "100", "--restart", "none"},
                                  log_));
  const std::string log = ReadFile(log_);
  EXPECT_EQ(code, 1) << log;
  EXPECT_THAT(log, Not(HasSubstr("restart 1")));
  ASSERT_EQ(Lines(log).size(), 1u) << "one line: " << log;
  EXPECT_THAT(log, HasSubstr("kappa: nexmark-q0 failed: "));
  EXPECT_THAT(log, HasSubstr("No space left on device"));
  EXPECT_THAT(log, Not(HasSubstr("no more restarts")));
}

// Parsing needs no full disk.
TEST(RestartFlagTest, BadValuesAreOneLineErrors) {
  for (const char* bad : {"sometimes", "fixed:3", "fixed:0:1s", "fixed:3:soon", "exponential:5s:1s",
                          "failure-rate:3:0s:1s", "none:1"}) {
    RunResult r = RunKappa({"run", "nexmark-q0", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                            "--restart", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << bad << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr(absl::StrCat("kappa: --restart '", bad, "': "))) << r.err;
    EXPECT_EQ(r.out, "") << bad;
  }
}

TEST(RestartFlagTest, DefaultRestartsWithCheckpointsOnlyAndReplayTakesTheFlag) {
  const std::string dir = ::testing::TempDir() + "/kappa_restart_default_" + std::to_string(getpid());
  fs::remove_all(dir);
  RunResult with = RunKappa({"--log-level", "debug", "run", "nexmark-q0", "--source", "gen:nexmark?events=10",
                             "--sink", "file:" + dir + "/out/", "--checkpoint-dir", dir + "/chk"});
  EXPECT_EQ(with.exit_code, 0) << with.err;
  EXPECT_THAT(with.err, HasSubstr("restart failure-rate:3:10m:5s")) << with.err;
  RunResult without = RunKappa(
      {"--log-level", "debug", "run", "nexmark-q0", "--source", "gen:nexmark?events=10", "--sink", "stdout:"});
  EXPECT_EQ(without.exit_code, 0) << without.err;
  EXPECT_THAT(without.err, HasSubstr("restart none")) << without.err;
  RunResult replay = RunKappa({"--log-level", "debug", "replay", "nexmark-q0", "--source", "gen:nexmark?events=10",
                               "--from", "ts:0", "--sink", "stdout:", "--restart", "fixed:2:1s"});
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_THAT(replay.err, HasSubstr("restart fixed:2:1s")) << replay.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kappa
