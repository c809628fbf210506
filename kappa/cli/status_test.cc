#include "kappa/cli/status.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/app/job_json.h"

namespace kappa::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A snapshot as /api/job would serve it, with rates against one 2 s older.
app::JsonNode Serve(const runtime::JobSnapshot& now, const runtime::JobSnapshot* before) {
  absl::StatusOr<app::JsonNode> j = app::ParseJsonTree(app::JobJson(now, before));
  EXPECT_TRUE(j.ok()) << j.status();
  return j.ok() ? *j : app::JsonNode();
}

runtime::JobSnapshot Job(int partitions) {
  runtime::JobSnapshot s;
  s.job = "nexmark-q5";
  s.state = "running";
  s.started_ms = 1'796'000'000'000;
  s.now_ms = s.started_ms + 75'000;
  s.chains = {{"events -> bids -> auction", 2, {}}, {"count-bids", 2, {}}};
  for (int node = 0; node < 2; ++node) {
    runtime::TaskView t;
    t.node = node;
    t.records_in = 1'000'000;
    t.records_out = 900'000;
    t.busy_ns = 10'000'000'000;
    s.tasks.push_back(t);
  }
  for (int p = 0; p < partitions; ++p) {
    runtime::SourcePartitionView v;
    v.progress = {"kafka://127.0.0.1:9092/bids", p, 0, 1'000'000 + p, -1, 1'000'000, false};
    v.high_water = 1'000'000 + p + p * 100;  // partition p is 100 * p behind
    v.watermark = s.now_ms - 4000;
    s.sources.push_back(v);
  }
  s.checkpoints.completed = 3;
  s.checkpoints.history = {{3, true, s.now_ms - 1500, 0.25, 0.002, 2'500'000, ""}};
  return s;
}

runtime::JobSnapshot TwoSecondsLater(runtime::JobSnapshot s) {
  s.now_ms += 2000;
  for (runtime::TaskView& t : s.tasks) {
    t.records_in += 50'000;   // 25 k/s
    t.records_out += 40'000;  // 20 k/s
    t.busy_ns += 1'000'000'000;  // 50%
    t.backpressured_ns += 200'000'000;  // 10%
  }
  return s;
}

TEST(StatusTextTest, ShowsChainsPartitionsAndTheLastCheckpoint) {
  runtime::JobSnapshot before = Job(2), now = TwoSecondsLater(before);
  std::string text = StatusText(Serve(now, &before), "http://127.0.0.1:8081/");
  EXPECT_THAT(text, HasSubstr("nexmark-q5 | running | up 1 min 17 s | http://127.0.0.1:8081/ |"));
  EXPECT_THAT(text, HasSubstr("events -> bids -> auction"));
  // Chain row: parallelism, in/s, out/s, records in, busy, backpressured.
  EXPECT_THAT(text, HasSubstr("count-bids                   2  25 k/s  20 k/s      1.05 M   50%     10%"));
  EXPECT_THAT(text, HasSubstr("kafka://127.0.0.1:9092/bids     1  1,000,001  1,000,101  100"));
  EXPECT_THAT(text, HasSubstr("checkpoints: 3 completed, 0 failed; last #3 ok at "));
  EXPECT_THAT(text, HasSubstr(", 250 ms, 2.50 MB, alignment 2.0 ms"));
  EXPECT_THAT(text, Not(HasSubstr("catch-up")));
  EXPECT_THAT(text, Not(HasSubstr("last errors")));
  EXPECT_THAT(text, Not(HasSubstr("restarts")));
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) EXPECT_LE(line.size(), 100u) << line;
}

TEST(StatusTextTest, RestartsShowTheirCountAndTheLastCause) {
  runtime::JobSnapshot s = Job(1);
  s.restarts = 2;
  s.last_restart_ms = s.now_ms - 30'000;
  s.last_restart_cause = "cannot write to '/mnt/out/.part-000.inprogress': No space left on device\n" + std::string(200, 'x');
  std::string text = StatusText(Serve(s, nullptr), "u");
  EXPECT_THAT(text, HasSubstr("restarts: 2, last at "));
  // One line, cut to the width.
  EXPECT_THAT(text, HasSubstr(": cannot write to '/mnt/out/.part-000.inprogress': No space left...\n"));
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) EXPECT_LE(line.size(), 100u) << line;
}

TEST(StatusTextTest, PartitionsInOrderAndLongLagsInDays) {
  runtime::JobSnapshot s = Job(3);
  std::swap(s.sources[0], s.sources[2]);
  s.sources[1].watermark = s.now_ms - (3 * 86400 + 5 * 3600) * 1000LL;  // replaying old history
  std::string text = StatusText(Serve(s, nullptr), "u");
  size_t p0 = text.find("bids     0"), p1 = text.find("bids     1"), p2 = text.find("bids     2");
  ASSERT_NE(p0, std::string::npos) << text;
  EXPECT_LT(p0, p1);
  EXPECT_LT(p1, p2);
  EXPECT_THAT(text, HasSubstr("  3 d 5 h\n"));
}

TEST(StatusTextTest, WithoutRatesShowsDashes) {
  std::string text = StatusText(Serve(Job(1), nullptr), "u");
  EXPECT_THAT(text, HasSubstr("count-bids                   2     -      -         1 M     -       -"));
}

TEST(StatusTextTest, ManyPartitionsShowThoseFurthestBehind) {
  runtime::JobSnapshot before = Job(20), now = TwoSecondsLater(before);
  std::string text = StatusText(Serve(now, &before), "u");
  EXPECT_THAT(text, HasSubstr("... and 8 more partitions with less lag"));
  EXPECT_THAT(text, HasSubstr("  1.9 k  "));  // partition 19, 1900 behind
  EXPECT_THAT(text, Not(HasSubstr("1,000,007")));  // partition 7 is among the hidden
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_LE(lines.size(), 40u) << text;
}

TEST(StatusTextTest, CatchUpAndErrors) {
  runtime::JobSnapshot s = Job(2);
  for (auto& p : s.sources) p.replay_end = 2'000'000;
  s.catch_up.tracking = true;
  std::string text = StatusText(Serve(s, nullptr), "u");
  EXPECT_THAT(text, HasSubstr("catch-up: replaying history, 50% (2 M of 4 M offsets)"));

  s.catch_up.caught_up = true;
  s.catch_up.at_ms = s.now_ms - 60'000;
  for (int i = 0; i < 7; ++i) {
    s.last_errors.push_back({s.now_ms - 1000 + i, i % 2 ? "late" : "decode", "events",
                             absl::StrCat("error ", i, "\nsecond line ", std::string(200, 'x'))});
  }
  text = StatusText(Serve(s, nullptr), "u");
  EXPECT_THAT(text, HasSubstr("catch-up: caught up at "));
  EXPECT_THAT(text, HasSubstr("UTC; every partition reached its end at the start"));
  EXPECT_THAT(text, HasSubstr("last errors:\n  "));
  EXPECT_THAT(text, HasSubstr("decode events: error 6 second line xxx"));  // newest first, one line
  EXPECT_THAT(text, Not(HasSubstr("error 1 ")));  // only the newest five
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) EXPECT_LE(line.size(), 100u) << line;
}

TEST(StatusTextTest, AFinishedJobShowsAverages) {
  runtime::JobSnapshot s = Job(1);
  s.state = "finished";
  std::string text = StatusText(Serve(s, nullptr), "u");
  EXPECT_THAT(text, HasSubstr("nexmark-q5 | finished | ran 1 min 15 s"));
  EXPECT_THAT(text, HasSubstr("input 13.3 k/s (average), 1 M records read"));
}

}  // namespace
}  // namespace kappa::cli
