// Crash tests: a real `kappa` process is killed with SIGKILL at random moments while it
// runs a windowed Nexmark query with checkpoints every 200 ms, restarted each time (with
// another parallelism, and switching between the heap and RocksDB backends), and run to
// the end. The committed output must equal an uninterrupted run's as a multiset: nothing
// lost, nothing duplicated.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::kappa::testing::CompleteCheckpoints;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;

pid_t Start(const std::vector<std::string>& args, const std::string& log) {
  return ::kappa::testing::StartKappa(args, log);
}
int Wait(pid_t pid) { return ::kappa::testing::WaitKappa(pid); }

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_crash_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(CrashTest, KillNineAtRandomMomentsLosesAndDuplicatesNothing) {
  const std::string source = "gen:nexmark?events=30000000&partitions=4&rate=1000";
  const std::string log = dir_ + "/log.txt";

  pid_t ref = Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/ref/", "-p", "2", "-q"},
                    log);
  ASSERT_EQ(Wait(ref), 0) << ReadFile(log);
  std::vector<std::string> expected = OutputLines(dir_ + "/ref");
  ASSERT_GT(expected.size(), 2000u);

  std::mt19937 rng(20261121);
  int kills = 0;
  bool finished = false;
  for (int run = 0; run < 12 && kills < 5 && !finished; ++run) {
    std::vector<std::string> args = {"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/out/",
                                     "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "200",
                                     "-p", std::to_string(1 + run % 3)};
    if (run % 2 == 1) {
      args.insert(args.end(), {"--state", "rocksdb", "--state-dir", dir_ + "/state"});
    } else {
      args.insert(args.end(), {"--state", "heap"});
    }
    pid_t pid = Start(args, log);
    auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(400, 1000)(rng));
    std::this_thread::sleep_for(delay);
    kill(pid, SIGKILL);
    int code = Wait(pid);
    if (code == 128 + SIGKILL) {
      ++kills;
    } else {
      ASSERT_EQ(code, 0) << ReadFile(log);
      finished = true;
    }
  }
  ASSERT_GE(kills, 5) << "the job finished before it could be killed five times; use more events\n"
                      << ReadFile(log);
  // Finish the run: restore the last checkpoint and run to the end.
  pid_t last = Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/out/",
                      "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "200", "-p", "2"},
                     log);
  ASSERT_EQ(Wait(last), 0) << ReadFile(log);
  std::string text = ReadFile(log);
  EXPECT_THAT(text, ::testing::HasSubstr("restored checkpoint")) << "no restart ever restored a checkpoint";

  std::vector<std::string> got = OutputLines(dir_ + "/out");
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "committed output differs from the uninterrupted run";
  for (const auto& entry : fs::directory_iterator(dir_ + "/out")) {
    EXPECT_EQ(entry.path().filename().string().rfind(".part-", 0), std::string::npos)
        << "uncommitted file left behind: " << entry.path();
  }
  // Restoring a finished job only says so.
  pid_t again = Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/out/",
                       "--checkpoint-dir", dir_ + "/chk"},
                      log);
  ASSERT_EQ(Wait(again), 0);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("already finished"));
  EXPECT_EQ(OutputLines(dir_ + "/out").size(), expected.size());
}

// The regular join of nexmark-q3 keeps both sides in keyed state with no time bound:
// killed three times and restored at other parallelisms and backends (key groups move
// between instances), the committed rows equal an uninterrupted run's.
TEST_F(CrashTest, RegularJoinOfQ3KilledAndRestoredGivesTheUninterruptedRows) {
  const std::string source = "gen:nexmark?events=10000000&partitions=4&rate=1000";
  const std::string log = dir_ + "/log.txt";
  ASSERT_EQ(Wait(Start({"run", "nexmark-q3", "--source", source, "--sink", "file:" + dir_ + "/ref/", "-p", "2", "-q"},
                       log)),
            0)
      << ReadFile(log);
  std::vector<std::string> expected = OutputLines(dir_ + "/ref");
  ASSERT_GT(expected.size(), 5000u);

  std::mt19937 rng(20261205);
  int kills = 0;
  for (int run = 0; run < 8 && kills < 3; ++run) {
    std::vector<std::string> args = {"run", "nexmark-q3", "--source", source, "--sink", "file:" + dir_ + "/out/",
                                     "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "200",
                                     "-p", std::to_string(1 + run % 3)};
    if (run % 2 == 1) {
      args.insert(args.end(), {"--state", "rocksdb", "--state-dir", dir_ + "/state"});
    } else {
      args.insert(args.end(), {"--state", "heap"});
    }
    // Kill a little after the run completed a checkpoint of its own: a fast machine then
    // cannot finish the job before it was killed three times.
    const size_t had = CompleteCheckpoints(dir_ + "/chk").size();
    pid_t pid = Start(args, log);
    for (int i = 0; i < 6000 && CompleteCheckpoints(dir_ + "/chk").size() <= had && kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    kill(pid, SIGKILL);
    int code = Wait(pid);
    if (code != 128 + SIGKILL) {
      ASSERT_EQ(code, 0) << ReadFile(log);
      break;
    }
    ++kills;
  }
  ASSERT_GE(kills, 3) << "the job finished before it could be killed three times; use more events\n" << ReadFile(log);
  ASSERT_EQ(Wait(Start({"run", "nexmark-q3", "--source", source, "--sink", "file:" + dir_ + "/out/",
                        "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "200", "-p", "2"},
                       log)),
            0)
      << ReadFile(log);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("restored checkpoint"))
      << "no restart ever restored a checkpoint";
  std::vector<std::string> got = OutputLines(dir_ + "/out");
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "committed output differs from the uninterrupted run";
}

TEST_F(CrashTest, BrokenCheckpointsAreSkippedNamedOrRefusedAndSavepointsRestore) {
  const std::string source = "gen:nexmark?events=12000000&partitions=4&rate=1000";
  const std::string log = dir_ + "/log.txt";
  ASSERT_EQ(Wait(Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/ref/", "-q"}, log)), 0);
  const std::vector<std::string> expected = OutputLines(dir_ + "/ref");

  auto run = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/out/",
                                     "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "150"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  // Crash once with a few checkpoints of RocksDB state on disk (restarts below use the
  // heap: restoring works across backends).
  pid_t pid = Start(run({"--state", "rocksdb", "--state-dir", dir_ + "/state"}), log);
  for (int i = 0; i < 200 && (!fs::exists(dir_ + "/chk") || CompleteCheckpoints(dir_ + "/chk").size() < 3); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  ASSERT_EQ(Wait(pid), 128 + SIGKILL) << "the run ended before it was killed; use more events";
  std::vector<std::string> complete = CompleteCheckpoints(dir_ + "/chk");
  ASSERT_GE(complete.size(), 2u);

  // A savepoint of the newest checkpoint; it cannot restore another job.
  std::string before = ReadFile(log);
  ASSERT_EQ(Wait(Start({"savepoint", "--checkpoint-dir", dir_ + "/chk", "--name", "v1"}, log)), 0);
  const std::string savepoint = dir_ + "/chk/savepoints/v1";
  ASSERT_TRUE(fs::exists(savepoint + "/MANIFEST"));
  EXPECT_EQ(Wait(Start({"run", "nexmark-copy", "--source", source, "--sink", "file:" + dir_ + "/other/",
                        "--checkpoint-dir", dir_ + "/chk-other", "--from-savepoint", savepoint},
                       log)),
            1);
  EXPECT_THAT(ReadFile(log).substr(before.size()), ::testing::HasSubstr("belongs to job 'hot-auctions'"));

  // Truncate a state file of the newest checkpoint: it is skipped with the reason, the one
  // before it restores, and the output is still exactly the uninterrupted run's.
  // The run kept RocksDB state. Truncate a file of the newest checkpoint that no older one
  // shares: an SST first written for it if there is one, else its RocksDB MANIFEST (always
  // copied per checkpoint). A shared SST is one inode in several checkpoints — truncating it
  // breaks them all, and the start is then refused (the "every checkpoint broken" case below).
  std::string newest = complete.back();
  std::set<std::pair<dev_t, ino_t>> older;
  for (size_t i = 0; i + 1 < complete.size(); ++i) {
    for (const auto& entry : fs::recursive_directory_iterator(complete[i])) {
      struct stat st;
      if (entry.is_regular_file() && stat(entry.path().c_str(), &st) == 0) older.insert({st.st_dev, st.st_ino});
    }
  }
  std::string victim;
  for (const auto& entry : fs::recursive_directory_iterator(newest + "/tasks")) {
    struct stat st;
    if (!entry.is_regular_file() || stat(entry.path().c_str(), &st) != 0 || older.count({st.st_dev, st.st_ino})) {
      continue;
    }
    std::string name = entry.path().filename().string();
    if (name.ends_with(".sst") || (victim.empty() && name.rfind("MANIFEST-", 0) == 0)) victim = entry.path().string();
    if (name.ends_with(".sst")) break;
  }
  ASSERT_FALSE(victim.empty()) << "no file unique to " << newest;
  fs::resize_file(victim, fs::file_size(victim) / 2);
  before = ReadFile(log);
  ASSERT_EQ(Wait(Start(run({"-p", "3"}), log)), 0) << ReadFile(log);
  std::string after = ReadFile(log).substr(before.size());
  EXPECT_THAT(after, ::testing::HasSubstr("skipping " + fs::path(newest).filename().string()));
  EXPECT_THAT(after, ::testing::HasSubstr("truncated"));
  EXPECT_THAT(after, ::testing::HasSubstr("restored checkpoint"));
  EXPECT_TRUE(OutputLines(dir_ + "/out") == expected) << "output after restoring an older checkpoint differs";

  // Every checkpoint broken: refuse to start (starting over would duplicate published
  // output) until told --fresh.
  for (const auto& chk : CompleteCheckpoints(dir_ + "/chk")) {
    std::ofstream(chk + "/MANIFEST", std::ios::trunc) << "garbage";
  }
  before = ReadFile(log);
  EXPECT_EQ(Wait(Start(run({}), log)), 1);
  EXPECT_THAT(ReadFile(log).substr(before.size()), ::testing::HasSubstr("no usable checkpoint"));
  EXPECT_TRUE(OutputLines(dir_ + "/out") == expected) << "a refused start must not touch the output";
}

TEST_F(CrashTest, SavepointOfARunningJobIsTakenAtOnceAndRestores) {
  const std::string source = "gen:nexmark?events=12000000&partitions=4&rate=1000";
  const std::string log = dir_ + "/log.txt";
  ASSERT_EQ(Wait(Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/ref/", "-q"}, log)), 0);
  const std::vector<std::string> expected = OutputLines(dir_ + "/ref");

  // Periodic checkpoints are far apart: the savepoint must come from the request.
  pid_t job = Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/out/",
                     "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "60000"},
                    log);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto asked = std::chrono::steady_clock::now();
  ASSERT_EQ(Wait(Start({"savepoint", "--running", "--checkpoint-dir", dir_ + "/chk", "--name", "live",
                        "--timeout", "30"},
                       log)),
            0)
      << ReadFile(log);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(20));
  kill(job, SIGKILL);
  int code = Wait(job);
  ASSERT_EQ(code, 128 + SIGKILL) << "the job ended before the savepoint was taken; use more events";
  ASSERT_TRUE(fs::exists(dir_ + "/chk/savepoints/live/MANIFEST"));

  // A fresh checkpoint directory, restored from the savepoint: the output is complete.
  ASSERT_EQ(Wait(Start({"run", "hot-auctions", "--source", source, "--sink", "file:" + dir_ + "/out/",
                        "--checkpoint-dir", dir_ + "/chk2", "--from-savepoint", dir_ + "/chk/savepoints/live"},
                       log)),
            0)
      << ReadFile(log);
  EXPECT_TRUE(OutputLines(dir_ + "/out") == expected);

  // With no job running, the request times out with a clear line and is withdrawn.
  std::string before = ReadFile(log);
  EXPECT_EQ(Wait(Start({"savepoint", "--running", "--checkpoint-dir", dir_ + "/chk", "--name", "nobody",
                        "--timeout", "1"},
                       log)),
            1);
  EXPECT_THAT(ReadFile(log).substr(before.size()), ::testing::HasSubstr("no running job took the savepoint"));
  EXPECT_FALSE(fs::exists(dir_ + "/chk/requests/savepoint-nobody"));
}

}  // namespace
}  // namespace kappa
