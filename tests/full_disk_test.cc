// A state directory that runs out of space: the run stops with one clear line, and a
// restart with room restores the last checkpoint and completes the output exactly.
// Needs permission to mount a small tmpfs (root); skipped otherwise.
#include <sys/mount.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::StartKappa;
using ::kappa::testing::WaitKappa;

TEST(FullDiskTest, StateDirectoryOutOfSpaceFailsClearlyAndLosesNothing) {
  const std::string dir = ::testing::TempDir() + "/kappa_full_disk_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir + "/small");
  if (mount("tmpfs", (dir + "/small").c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (" << strerror(errno) << ")";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount(path.c_str()); }
  } unmount{dir + "/small"};

  const std::string source = "gen:nexmark?events=8000000&partitions=4&rate=1000";
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(WaitKappa(StartKappa({"run", "nexmark-q3", "--source", source, "--sink", "file:" + dir + "/ref/", "-q"},
                                 log)),
            0);
  const std::vector<std::string> expected = OutputLines(dir + "/ref");

  // q3 keeps every seller in state: on a 1 MiB file system a snapshot soon runs out of space.
  // (Without restarts: tests/restart_test.cc covers a disk that clears while the job restarts.)
  std::string before = ReadFile(log);
  int code = WaitKappa(StartKappa({"run", "nexmark-q3", "--source", source, "--sink", "file:" + dir + "/out/",
                                   "--state", "rocksdb", "--state-dir", dir + "/small/state", "--checkpoint-dir",
                                   dir + "/chk", "--checkpoint-interval", "100", "--restart", "none"},
                                  log));
  std::string run = ReadFile(log).substr(before.size());
  ASSERT_EQ(code, 1) << run;
  EXPECT_THAT(run, ::testing::HasSubstr("No space left on device")) << run;
  EXPECT_EQ(std::count(run.begin(), run.end(), '\n'), 1) << "one line: " << run;

  // With room again, the restart restores what was checkpointed and finishes exactly.
  ASSERT_EQ(WaitKappa(StartKappa({"run", "nexmark-q3", "--source", source, "--sink", "file:" + dir + "/out/",
                                  "--state", "rocksdb", "--state-dir", dir + "/state", "--checkpoint-dir",
                                  dir + "/chk", "--checkpoint-interval", "100"},
                                 log)),
            0)
      << ReadFile(log);
  EXPECT_TRUE(OutputLines(dir + "/out") == expected);
  if (!HasFailure()) fs::remove_all(dir + "/ref");
}

// A checkpoint directory that has become read-only (a remount after a disk error): the
// restart fails with one line naming it, and once it is writable again the run resumes
// from its last checkpoint and finishes exactly.
TEST(FullDiskTest, ReadOnlyCheckpointDirectoryFailsClearlyAndLosesNothing) {
  const std::string dir = ::testing::TempDir() + "/kappa_read_only_" + std::to_string(getpid());
  fs::remove_all(dir);
  const std::string chk = dir + "/chk";
  fs::create_directories(chk);
  if (mount("tmpfs", chk.c_str(), "tmpfs", 0, "size=64m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << strerror(errno) << ")";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount(path.c_str()); }
  } unmount{chk};

  const std::string source = "gen:nexmark?events=400000&partitions=4&rate=1000";
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(WaitKappa(StartKappa({"run", "nexmark-q5", "--source", source, "--sink", "file:" + dir + "/ref/", "-q"},
                                 log)),
            0);
  const std::vector<std::string> expected = OutputLines(dir + "/ref");
  ASSERT_FALSE(expected.empty());
  const std::vector<std::string> args = {"run", "nexmark-q5", "--source", source, "--sink", "file:" + dir + "/out/",
                                         "--checkpoint-dir", chk, "--checkpoint-interval", "50"};

  // A first run checkpoints, then dies.
  pid_t pid = StartKappa(args, log);
  for (int i = 0; i < 500; ++i) {
    bool done = false;
    for (const auto& e : fs::directory_iterator(chk)) done |= fs::exists(e.path() / "MANIFEST");
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  WaitKappa(pid);

  ASSERT_EQ(mount("tmpfs", chk.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=64m"), 0) << strerror(errno);
  std::string before = ReadFile(log);
  int code = WaitKappa(StartKappa(args, log));
  std::string run = ReadFile(log).substr(before.size());
  EXPECT_EQ(code, 1) << run;
  EXPECT_THAT(run, ::testing::HasSubstr("Read-only file system")) << run;
  EXPECT_THAT(run, ::testing::HasSubstr(chk)) << run;
  EXPECT_EQ(std::count(run.begin(), run.end(), '\n'), 1) << "one line: " << run;

  ASSERT_EQ(mount("tmpfs", chk.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0) << strerror(errno);
  ASSERT_EQ(WaitKappa(StartKappa(args, log)), 0) << ReadFile(log);
  EXPECT_TRUE(OutputLines(dir + "/out") == expected);
  if (!HasFailure()) fs::remove_all(dir + "/ref");
}

}  // namespace
}  // namespace kappa
