// Restores keep event time: a record that an uninterrupted run drops as late is dropped
// after a restore too (from a checkpoint, at another parallelism, from a savepoint, and
// after kill -9 at random moments), because checkpoints keep every source partition's
// maximum event time and every task's watermark. Checkpoints written before they did
// still restore, with one warning; a source the checkpoint does not know is refused.
//
// Every comparison is with an uninterrupted run of the real `kappa` binary, as multisets
// of output rows.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/checkpoint/manifest.pb.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::kappa::testing::CompleteCheckpoints;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::RunKappa;
using ::kappa::testing::StartKappa;
using ::kappa::testing::WaitKappa;
using ::testing::HasSubstr;

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

checkpoint::Manifest ReadManifest(const std::string& checkpoint) {
  checkpoint::Manifest m;
  std::ifstream in(checkpoint + "/MANIFEST", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(m.ParseFromString(bytes)) << checkpoint;
  return m;
}

void WriteManifest(const std::string& checkpoint, const checkpoint::Manifest& m) {
  std::string bytes;
  ASSERT_TRUE(m.SerializeToString(&bytes));
  std::ofstream(checkpoint + "/MANIFEST", std::ios::binary | std::ios::trunc) << bytes;
}

std::string Bid(int64_t auction, int64_t bidder, int64_t price, int64_t date_time) {
  return absl::StrCat(R"({"type":"bid","auction":)", auction, R"(,"bidder":)", bidder, R"(,"price":)", price,
                      R"(,"channel":"web","url":"https://x","dateTime":)", date_time, R"(,"extra":""})", "\n");
}

// Two partitions of bids for nexmark-q7 (tumbling 10 s windows, out-of-orderness 4 s).
// `before`: bids up to 30 s, so both partitions' watermarks pass 20 s and the windows
// [0, 10 s) and [10 s, 20 s) fire and are purged. Then partition 0 has one late bid at
// 5 s with the highest price of all (`late`), then `after`: bids up to 50 s.
struct Input {
  std::string before[2];
  std::string late;
  std::string after[2];
};

Input MakeInput() {
  Input in;
  for (int p = 0; p < 2; ++p) {
    for (int64_t t = 1000 + p * 500; t <= 30000; t += 1000) {
      in.before[p] += Bid(1000 + t / 1000 % 7, 2000 + p, 100 + (t / 500 * 7919 + p * 13) % 100000, t);
    }
    for (int64_t t = 31000 + p * 500; t <= 50000; t += 1000) {
      in.after[p] += Bid(1000 + t / 1000 % 5, 2000 + p, 100 + (t / 500 * 6007 + p * 17) % 100000, t);
    }
  }
  in.late = Bid(1003, 2999, 999999, 5000);
  return in;
}

class EventTimeRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_event_time_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    input_ = MakeInput();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void WriteLog(const std::string& log, bool complete) {
    fs::create_directories(log);
    std::ofstream(log + "/p0.jsonl", std::ios::trunc)
        << input_.before[0] << (complete ? input_.late + input_.after[0] : "");
    std::ofstream(log + "/p1.jsonl", std::ios::trunc) << input_.before[1] << (complete ? input_.after[1] : "");
  }
  void CompleteLog(const std::string& log) {
    std::ofstream(log + "/p0.jsonl", std::ios::app) << input_.late << input_.after[0];
    std::ofstream(log + "/p1.jsonl", std::ios::app) << input_.after[1];
  }

  // The uninterrupted run over the whole input: its rows, and it counts one late record.
  std::vector<std::string> Reference() {
    WriteLog(dir_ + "/ref-log", true);
    testing::RunResult r = RunKappa({"run", "nexmark-q7", "--source", "file:" + dir_ + "/ref-log", "--sink",
                                     "file:" + dir_ + "/ref/", "--errors", "file:" + dir_ + "/ref-errors", "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(CountLines(ReadFile(dir_ + "/ref-errors"), R"("kind":"late")"), 1);
    std::vector<std::string> rows = OutputLines(dir_ + "/ref");
    EXPECT_GE(rows.size(), 5u);  // windows from 0 to 40 s, ties in price give more
    for (const std::string& row : rows) EXPECT_THAT(row, ::testing::Not(HasSubstr("999999")));
    return rows;
  }

  // Runs nexmark-q7 over the input before the late bid, following the files, until a
  // checkpoint holds the offsets of all of it (taken right before the late record); then
  // kill -9. Returns that checkpoint's directory.
  std::string RunUntilCheckpointBeforeLateRecord(const std::string& name) {
    const std::string log = dir_ + "/" + name + "-log";
    WriteLog(log, false);
    const int64_t bytes = static_cast<int64_t>(input_.before[0].size() + input_.before[1].size());
    pid_t pid = StartKappa({"run", "nexmark-q7", "--source", "file:" + log, "--follow", "--sink",
                            "file:" + dir_ + "/" + name + "/", "--checkpoint-dir", dir_ + "/" + name + "-chk",
                            "--checkpoint-interval", "50", "--errors", "file:" + dir_ + "/" + name + "-errors1"},
                           dir_ + "/" + name + "-stderr1");
    std::string at;
    for (int i = 0; i < 3000 && at.empty(); ++i) {
      for (const std::string& c : CompleteCheckpoints(dir_ + "/" + name + "-chk")) {
        int64_t offsets = 0;
        const checkpoint::Manifest m = ReadManifest(c);
        for (const auto& s : m.sources()) {
          for (const auto& p : s.partitions()) offsets += p.offset();
        }
        if (offsets == bytes) at = c;
      }
      if (at.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    EXPECT_EQ(WaitKappa(pid), 128 + SIGKILL) << ReadFile(dir_ + "/" + name + "-stderr1");
    EXPECT_FALSE(at.empty()) << "no checkpoint covered the input before the late record";
    CompleteLog(log);
    return at;
  }

  // Restores with `extra` arguments and runs to the end of the input.
  testing::RunResult Restore(const std::string& name, const std::vector<std::string>& extra,
                             const std::string& checkpoint_dir = "") {
    std::vector<std::string> args = {"run", "nexmark-q7", "--source", "file:" + dir_ + "/" + name + "-log",
                                     "--sink", "file:" + dir_ + "/" + name + "/", "--checkpoint-dir",
                                     checkpoint_dir.empty() ? dir_ + "/" + name + "-chk" : checkpoint_dir,
                                     "--checkpoint-interval", "50", "--errors",
                                     "file:" + dir_ + "/" + name + "-errors2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunKappa(args);
  }

  std::string dir_;
  Input input_;
};

TEST_F(EventTimeRestoreTest, LateRecordAfterARestoreIsDroppedAsInTheUninterruptedRun) {
  const std::vector<std::string> expected = Reference();
  const std::string at = RunUntilCheckpointBeforeLateRecord("same");
  const checkpoint::Manifest m = ReadManifest(at);
  EXPECT_TRUE(m.keeps_event_time());
  EXPECT_GT(m.watermarks_size(), 0);
  for (const auto& s : m.sources()) {
    for (const auto& p : s.partitions()) {
      ASSERT_TRUE(p.has_max_event_time()) << "partition " << p.partition();
      EXPECT_EQ(p.max_event_time(), p.partition() == 0 ? 30000 : 29500);
    }
  }
  testing::RunResult r = Restore("same", {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("restored checkpoint"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("warning")));
  EXPECT_EQ(CountLines(ReadFile(dir_ + "/same-errors2"), R"("kind":"late")"), 1);
  EXPECT_EQ(OutputLines(dir_ + "/same"), expected);
}

TEST_F(EventTimeRestoreTest, LateRecordIsDroppedAfterARestoreAtAnotherParallelism) {
  const std::vector<std::string> expected = Reference();
  RunUntilCheckpointBeforeLateRecord("rescaled");
  // One source instance read both partitions; now each has its own, with its max event time.
  testing::RunResult r = Restore("rescaled", {"-p", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(ReadFile(dir_ + "/rescaled-errors2"), R"("kind":"late")"), 1);
  EXPECT_EQ(OutputLines(dir_ + "/rescaled"), expected);
}

TEST_F(EventTimeRestoreTest, LateRecordIsDroppedAfterRestoringASavepoint) {
  const std::vector<std::string> expected = Reference();
  RunUntilCheckpointBeforeLateRecord("saved");
  testing::RunResult sp = RunKappa({"savepoint", "--checkpoint-dir", dir_ + "/saved-chk", "--name", "before-late"});
  ASSERT_EQ(sp.exit_code, 0) << sp.err;
  testing::RunResult r = Restore("saved", {"--from-savepoint", dir_ + "/saved-chk/savepoints/before-late"},
                                 dir_ + "/saved-chk2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(ReadFile(dir_ + "/saved-errors2"), R"("kind":"late")"), 1);
  EXPECT_EQ(OutputLines(dir_ + "/saved"), expected);
}

// A manifest written before checkpoints kept event time: it restores, with one warning
// line, and then shows why the warning is needed (the late bid reopens its window).
TEST_F(EventTimeRestoreTest, ManifestWithoutEventTimeRestoresWithOneWarning) {
  const std::vector<std::string> expected = Reference();
  RunUntilCheckpointBeforeLateRecord("old");
  for (const std::string& c : CompleteCheckpoints(dir_ + "/old-chk")) {
    checkpoint::Manifest m = ReadManifest(c);
    m.clear_keeps_event_time();
    m.clear_watermarks();
    for (auto& s : *m.mutable_sources()) {
      for (auto& p : *s.mutable_partitions()) {
        p.clear_max_event_time();
        p.clear_idle();
      }
    }
    WriteManifest(c, m);
  }
  testing::RunResult r = Restore("old", {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CountLines(r.err, "lateness may differ"), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("restored checkpoint"));
  std::vector<std::string> got = OutputLines(dir_ + "/old");
  ASSERT_EQ(got.size(), expected.size() + 1);
  EXPECT_EQ(CountLines(absl::StrJoin(got, "\n"), "999999"), 1);
}

// A source the checkpoint has no offsets for is refused by name, in run and replay, unless
// --allow-new-sources: then it reads from its beginning.
TEST_F(EventTimeRestoreTest, SourceNewToTheCheckpointIsRefusedUnlessAllowed) {
  const std::string at = RunUntilCheckpointBeforeLateRecord("new");
  std::string uid;
  for (const std::string& c : CompleteCheckpoints(dir_ + "/new-chk")) {
    checkpoint::Manifest m = ReadManifest(c);
    ASSERT_GT(m.sources_size(), 0);
    uid = m.sources(0).operator_uid();
    for (auto& s : *m.mutable_sources()) s.set_operator_uid("gone");
    WriteManifest(c, m);
  }
  const std::vector<std::string> before = OutputLines(dir_ + "/new");
  testing::RunResult r = Restore("new", {});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(CountLines(r.err, "kappa:"), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no offsets for source '" + uid + "'"));
  EXPECT_THAT(r.err, HasSubstr("--allow-new-sources"));
  EXPECT_EQ(OutputLines(dir_ + "/new"), before) << "a refused start must not touch the output";

  testing::RunResult replay = RunKappa({"replay", "nexmark-q7", "--source", "file:" + dir_ + "/new-log", "--from",
                                        "ts:0", "--sink", "file:" + dir_ + "/new-replay/", "--checkpoint-dir",
                                        dir_ + "/new-replay-chk", "--from-savepoint", at});
  EXPECT_EQ(replay.exit_code, 1);
  EXPECT_THAT(replay.err, HasSubstr("no offsets for source '" + uid + "'"));

  r = Restore("new", {"--allow-new-sources"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("restored checkpoint"));
  // The source read everything again from its beginning: the restored watermarks make the
  // bids of the windows that fired before the kill (about 40, up to 20 s) late.
  EXPECT_GT(CountLines(ReadFile(dir_ + "/new-errors2"), R"("kind":"late")"), 30);
}

// kill -9 at random moments after checkpoints, over Nexmark input with 20% of events 5-20 s
// late; each restart restores the newest checkpoint (at parallelism 1, 2 or 3). The
// committed output equals the uninterrupted run's.
class LateEventsCrashTest : public EventTimeRestoreTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(LateEventsCrashTest, KillNineLoopOutputEqualsUninterruptedRun) {
  const std::string job = GetParam();
  const std::string source = "gen:nexmark?events=2000000&partitions=4&rate=2000&seed=11&late=0.2&late_ms=5000:20000";
  testing::RunResult ref = RunKappa({"run", job, "--source", source, "--sink", "file:" + dir_ + "/ref/", "-p", "2",
                                     "--errors", "file:" + dir_ + "/ref-errors", "-q"},
                                    "", std::chrono::seconds(120));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::vector<std::string> expected = OutputLines(dir_ + "/ref");
  ASSERT_GT(expected.size(), 10u);  // q7: one row per 10 s window (of 200 s), q5 and q11 more
  // The input has late records that the windows drop.
  ASSERT_GT(CountLines(ReadFile(dir_ + "/ref-errors"), R"("kind":"late")"), 1000);

  std::mt19937 rng(20261205);
  const std::string stderr_log = dir_ + "/stderr.txt";
  int kills = 0;
  std::string logs;  // every run's stderr: the log file holds only the latest
  for (int run = 0; run < 4; ++run) {
    const size_t had = CompleteCheckpoints(dir_ + "/chk").size();
    pid_t pid = StartKappa({"run", job, "--source", source, "--sink", "file:" + dir_ + "/out/", "--checkpoint-dir",
                            dir_ + "/chk", "--checkpoint-interval", "100", "--checkpoints-retained", "100",
                            "--errors", "file:/dev/null", "-p", std::to_string(1 + run % 3), "--state",
                            run % 2 == 0 ? "heap" : "rocksdb", "--state-dir", dir_ + "/state"},
                           stderr_log);
    // Kill a little after the run completed a checkpoint of its own (or finished).
    bool exited = false;
    for (int i = 0; i < 3000 && CompleteCheckpoints(dir_ + "/chk").size() <= had; ++i) {
      if (kill(pid, 0) != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    kill(pid, SIGKILL);
    int code = WaitKappa(pid);
    logs += ReadFile(stderr_log);
    if (code == 128 + SIGKILL) {
      ++kills;
    } else {
      ASSERT_EQ(code, 0) << ReadFile(stderr_log);
      exited = true;
    }
    if (exited) break;
  }
  ASSERT_GE(kills, 2) << "the job finished before it was killed twice; use more events\n" << logs;
  testing::RunResult last = RunKappa({"run", job, "--source", source, "--sink", "file:" + dir_ + "/out/",
                                      "--checkpoint-dir", dir_ + "/chk", "--checkpoint-interval", "100", "-p", "2",
                                      "--errors", "file:/dev/null"},
                                     "", std::chrono::seconds(120));
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_THAT(logs + last.err, HasSubstr("restored checkpoint"));
  std::vector<std::string> got = OutputLines(dir_ + "/out");
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "committed output differs from the uninterrupted run";
}

INSTANTIATE_TEST_SUITE_P(Nexmark, LateEventsCrashTest, ::testing::Values("nexmark-q5", "nexmark-q7", "nexmark-q11"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           return name.substr(name.find('-') + 1);
                         });

}  // namespace
}  // namespace kappa
