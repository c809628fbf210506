// Event-time state TTL end to end, through a job binary of a user's own (ttl_job.cc) whose
// every output row shows what value, list and map state with Ttl::EventTime held when a
// bid arrived. An uninterrupted run is the reference; a run killed with SIGKILL after its
// first checkpoint and restored (heap, then RocksDB, at another parallelism), and a replay,
// must emit exactly the same rows: the same entries expired, however the watermark moved.
// A second input spreads bidders over four file partitions with late records in them, read
// at parallelism 1 and 3: the watermark at the keyed operator then moves differently in the
// two runs (TTL judged by it alone gives hundreds of different rows), the rows may not.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;

// One partition: the rows of a key then come in one order in every run, so any
// difference is TTL's. 10 000 events per second of event time, a TTL of 1 s.
constexpr char kSource[] = "gen:nexmark?events=300000&rate=10000";

bool HasCompleteCheckpoint(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (fs::exists(entry.path() / "MANIFEST", ec)) return true;
  }
  return false;
}

// Rewrites "dateTime":T in a JSON line to T - by.
std::string ShiftTime(std::string line, int64_t by) {
  const std::string field = "\"dateTime\":";
  size_t at = line.find(field) + field.size();
  size_t end = line.find_first_not_of("-0123456789", at);
  return line.substr(0, at) + std::to_string(std::stoll(line.substr(at, end - at)) - by) + line.substr(end);
}

int64_t Field(const std::string& line, const std::string& name) {
  size_t at = line.find("\"" + name + "\":") + name.size() + 3;
  return std::stoll(line.substr(at));
}

int RunJob(const std::vector<std::string>& args, const std::string& log) {
  return testing::WaitKappa(testing::StartProgram(KAPPA_TTL_JOB, args, log));
}

class EventTimeTtlJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_state_ttl_" + std::to_string(getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log_ = dir_ + "/log.txt";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The uninterrupted run, once per test binary run.
  const std::vector<std::string>& Reference() {
    if (reference_.empty()) {
      EXPECT_EQ(RunJob({"run", "bidder-activity", "--source", kSource, "--sink", "file:" + dir_ + "/ref/", "-q"}, log_),
                0)
          << ReadFile(log_);
      reference_ = OutputLines(dir_ + "/ref");
    }
    return reference_;
  }

  // Runs with checkpoints every 100 ms, kills the run with SIGKILL once one is complete,
  // then restores it and runs to the end.
  void KillAfterACheckpointAndRestore(const std::vector<std::string>& extra, const std::string& out) {
    std::vector<std::string> args = {"run", "bidder-activity", "--source", kSource, "--sink", "file:" + out + "/",
                                     "--checkpoint-dir", out + "-chk", "--checkpoint-interval", "100"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t pid = testing::StartProgram(KAPPA_TTL_JOB, args, log_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!HasCompleteCheckpoint(out + "-chk") && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid, SIGKILL);
    ASSERT_EQ(testing::WaitKappa(pid), 128 + SIGKILL)
        << "the run ended before it was killed; use more events\n" << ReadFile(log_);
    ASSERT_EQ(testing::WaitKappa(testing::StartProgram(KAPPA_TTL_JOB, args, log_)), 0) << ReadFile(log_);
    EXPECT_THAT(ReadFile(log_), ::testing::HasSubstr("restored checkpoint"));
  }

  std::string dir_;
  std::string log_;
  std::vector<std::string> reference_;
};

// Rows of the reference run that show TTL at work; fails if the job's output did not
// depend on expiry at all (then equal outputs would prove nothing).
void ExpectOutputDependsOnExpiry(const std::vector<std::string>& ref) {
  ASSERT_GT(ref.size(), 100000u);
  // A bidder whose count expired starts again at 1: more first bids than bidders.
  std::set<std::string> bidders;
  size_t firsts = 0, repeated_prices = 0;
  for (const std::string& line : ref) {
    bidders.insert(line.substr(0, line.find(',')));
    if (line.find("\"count\":1,") != std::string::npos) ++firsts;
    if (line.find("\"last_price\":-1") == std::string::npos) ++repeated_prices;
  }
  EXPECT_GT(firsts, bidders.size() + bidders.size() / 4) << "counts expire and restart";
  EXPECT_GT(repeated_prices, 0u) << "some map entries are read back before they expire";
}

TEST_F(EventTimeTtlJobTest, ARunKilledAndRestoredOnTheHeapExpiresWhatTheUninterruptedRunDid) {
  const std::vector<std::string>& ref = Reference();
  ExpectOutputDependsOnExpiry(ref);
  KillAfterACheckpointAndRestore({"--state", "heap", "-p", "2"}, dir_ + "/heap");
  std::vector<std::string> got = OutputLines(dir_ + "/heap");
  EXPECT_EQ(got.size(), ref.size());
  EXPECT_TRUE(got == ref) << "the restored run's rows differ from the uninterrupted run's";
}

TEST_F(EventTimeTtlJobTest, ARestoredRunAndAReplayOnRocksDbExpireWhatTheUninterruptedRunDid) {
  const std::vector<std::string>& ref = Reference();
  ASSERT_FALSE(ref.empty());
  KillAfterACheckpointAndRestore({"--state", "rocksdb", "--state-dir", dir_ + "/rocks-state", "-p", "2"},
                                 dir_ + "/rocks");
  std::vector<std::string> got = OutputLines(dir_ + "/rocks");
  EXPECT_EQ(got.size(), ref.size());
  EXPECT_TRUE(got == ref) << "the restored run's rows differ from the uninterrupted run's";

  ASSERT_EQ(RunJob({"replay", "bidder-activity", "--source", kSource, "--from", "earliest", "--sink",
                 "file:" + dir_ + "/replay/", "--state", "rocksdb", "--state-dir", dir_ + "/replay-state", "-p", "3",
                 "-q"},
                log_),
            0)
      << ReadFile(log_);
  EXPECT_TRUE(OutputLines(dir_ + "/replay") == ref) << "the replay's rows differ from the live run's";
}

TEST_F(EventTimeTtlJobTest, OutOfOrderPartitionsExpireAlikeAtAnyParallelism) {
  // Nexmark bids as JSON lines, a bidder's bids all in one of four files (one order per key
  // in every run); every 13th bid 1.5 s and every 97th 6 s behind its neighbours, later
  // than the 4 s watermark bound allows.
  ASSERT_EQ(testing::WaitKappa(testing::StartKappa({"run", "nexmark-copy", "--source",
                                                    "gen:nexmark?events=200000&rate=10000", "--sink",
                                                    "file:" + dir_ + "/events/", "-q"},
                                                   log_)),
            0)
      << ReadFile(log_);
  fs::create_directories(dir_ + "/in");
  std::vector<std::ofstream> files;
  for (int i = 0; i < 4; ++i) files.emplace_back(dir_ + "/in/part-" + std::to_string(i) + ".jsonl");
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir_ + "/events")) {
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"type\":\"bid\"") == std::string::npos) continue;
      ++n;
      if (n % 97 == 0) line = ShiftTime(line, 6000);
      else if (n % 13 == 0) line = ShiftTime(line, 1500);
      files[Field(line, "bidder") % 4] << line << "\n";
    }
  }
  for (auto& f : files) f.close();
  ASSERT_GT(n, 150000);

  const std::string source = "file:" + dir_ + "/in/";
  ASSERT_EQ(RunJob({"run", "bidder-activity", "--source", source, "--sink", "file:" + dir_ + "/p1/", "--state", "heap",
                    "-p", "1", "-q"},
                   log_),
            0)
      << ReadFile(log_);
  ASSERT_EQ(RunJob({"run", "bidder-activity", "--source", source, "--sink", "file:" + dir_ + "/p3/", "--state",
                    "rocksdb", "--state-dir", dir_ + "/p3-state", "-p", "3", "-q"},
                   log_),
            0)
      << ReadFile(log_);
  std::vector<std::string> p1 = OutputLines(dir_ + "/p1");
  ExpectOutputDependsOnExpiry(p1);
  std::vector<std::string> p3 = OutputLines(dir_ + "/p3");
  EXPECT_EQ(p3.size(), p1.size());
  EXPECT_TRUE(p3 == p1) << "rows differ between parallelism 1 and 3";
}

}  // namespace
}  // namespace kappa
