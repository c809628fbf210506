// `kappa replay --then-follow` over a file log: the caught-up line
// (once, naming where each partition's history ended when the replay started, also when
// stderr is not a terminal), and records appended before and after it still processed,
// compared as a multiset with a bounded run over the final input.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "tests/kappa_process.h"
#include "tests/metrics_scrape.h"
#include "tests/replay_follow.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::kappa::testing::Count;
using ::kappa::testing::Describe;
using ::kappa::testing::ExpectCaughtUpLine;
using ::kappa::testing::ReplayFollowTest;
using ::kappa::testing::PollUntil;

using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::StartKappa;
using ::kappa::testing::WaitKappa;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// Appends the first `n` lines of `from` to `to` (the same events again: a q0 row each
// for the bids among them).
void AppendLines(const std::string& from, const std::string& to, int n) {
  std::ifstream in(from);
  std::ofstream out(to, std::ios::app);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) out << line << "\n";
}

TEST_F(ReplayFollowTest, FileLogCatchesUpOnceAtTheHistorysEndAndFollows) {
  const std::string log = Path("log/"), source = Path("source/");
  RunResult gen = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=20000&rate=1000&partitions=2",
                            "--sink", "file:" + source, "-p", "2"});
  ASSERT_EQ(gen.exit_code, 0) << Describe(gen);
  fs::create_directories(log);
  for (const char* part : {"part-00000.jsonl", "part-00001.jsonl"}) fs::copy_file(source + part, log + part);
  const int64_t end0 = fs::file_size(log + "part-00000.jsonl"), end1 = fs::file_size(log + "part-00001.jsonl");

  const std::string out = Path("out/"), replay_log = Path("replay.log");
  pid_t pid = StartKappa({"replay", "nexmark-q0", "--source", "file:" + log, "--from", "earliest", "--then-follow",
                          "--sink", "file:" + out, "--checkpoint-dir", Path("ck"), "--checkpoint-interval", "100",
                          "--log-level", "debug", "--http", "127.0.0.1:0"},
                         replay_log);
  // Once both partitions are open (their ends noted), the log grows: before the catch-up
  // most likely, and surely after it.
  ASSERT_TRUE(PollUntil([&] { return Count(ReadFile(replay_log), "opened at offset") == 2; })) << ReadFile(replay_log);
  EXPECT_THAT(ReadFile(replay_log), HasSubstr(absl::StrCat("partition 0: opened at offset 0, history ends at ", end0)));
  AppendLines(source + "part-00000.jsonl", log + "part-00000.jsonl", 3000);
  AppendLines(source + "part-00001.jsonl", log + "part-00001.jsonl", 2000);
  ASSERT_TRUE(PollUntil([&] { return Count(ReadFile(replay_log), "caught up") > 0; })) << ReadFile(replay_log);
  AppendLines(source + "part-00001.jsonl", log + "part-00001.jsonl", 4000);
  // The same state on /metrics: caught up, and each partition's end at the start.
  const int port = kappa::testing::WaitForHttpPort(replay_log);
  ASSERT_GT(port, 0) << ReadFile(replay_log);
  const std::string page = kappa::testing::HttpGet(port, "/metrics");
  EXPECT_EQ(kappa::testing::Samples(page, "kappa_replay_caught_up"),
            (std::map<std::string, double>{{"{job_name=\"nexmark-q0\"}", 1}}))
      << page;
  std::map<std::string, double> ends = kappa::testing::Samples(page, "kappa_source_partition_replay_end_offset");
  std::vector<double> end_values;
  for (const auto& [labels, value] : ends) end_values.push_back(value);
  std::sort(end_values.begin(), end_values.end());
  std::vector<double> want = {static_cast<double>(end0), static_cast<double>(end1)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(end_values, want) << page;

  // The reference: q0 over the final log, bounded, uninterrupted.
  RunResult ref = RunKappa({"run", "nexmark-q0", "--source", "file:" + log, "--sink", "file:" + Path("ref/")});
  ASSERT_EQ(ref.exit_code, 0) << Describe(ref);
  const std::vector<std::string> expected = OutputLines(Path("ref/"));
  ASSERT_GT(expected.size(), 0u);
  std::vector<std::string> rows;
  PollUntil([&] {
    rows = OutputLines(out);
    return rows.size() >= expected.size();
  });
  // A followed file's high-water mark is its size, its lag the bytes not read yet: zero
  // once every appended line is read.
  const std::vector<double> sizes = {static_cast<double>(fs::file_size(log + "part-00000.jsonl")),
                                     static_cast<double>(fs::file_size(log + "part-00001.jsonl"))};
  std::string lag_page;
  EXPECT_TRUE(PollUntil([&] {
    lag_page = kappa::testing::HttpGet(port, "/metrics");
    std::vector<double> high_water, lag;
    for (const auto& [labels, v] : kappa::testing::Samples(lag_page, "kappa_source_partition_high_water_offset")) {
      high_water.push_back(v);
    }
    for (const auto& [labels, v] : kappa::testing::Samples(lag_page, "kappa_source_partition_lag_offsets")) {
      lag.push_back(v);
    }
    std::sort(high_water.begin(), high_water.end());
    std::vector<double> want = sizes;
    std::sort(want.begin(), want.end());
    return high_water == want && lag == std::vector<double>{0, 0};
  })) << lag_page;
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130) << ReadFile(replay_log);
  EXPECT_EQ(rows, expected) << "the replay did not follow the appended records";

  const std::string text = ReadFile(replay_log);
  ExpectCaughtUpLine(text, absl::StrCat("log p0 @ ", end0, ", p1 @ ", end1), 20000);
  // The caught-up line comes before the run's end.
  EXPECT_LT(text.find("caught up"), text.find("nexmark-q0 stopped")) << text;
}

// A source that cannot say where its history ends (the generator) gets no line.
TEST_F(ReplayFollowTest, NoCaughtUpLineWithoutKnownEnds) {
  RunResult r = RunKappa({"replay", "nexmark-q0", "--source", "gen:nexmark?events=2000", "--from", "earliest",
                          "--then-follow", "--sink", "file:" + Path("out.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Count(r.err, "caught up"), 0) << Describe(r);
}


}  // namespace
}  // namespace kappa
