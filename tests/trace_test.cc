// `kappa run --trace`: one Nexmark bid followed through nexmark-q5 (source → count per
// auction and window → max per window → sink), across a channel at parallelism 2, by key,
// a filter that matches nothing, and bad filters. Runs the real binary.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::RunKappa;
using testing::RunResult;

std::string Describe(const RunResult& r) { return absl::StrCat("exit ", r.exit_code, "\nstderr:\n", r.err); }

// One trace line, the fields the tests look at.
struct Event {
  std::string trace, kind, op, record;
  int instance = -1;
  int64_t ts = -1;
  bool has_window = false;
  int64_t window_start = 0, window_end = 0;
  std::string line;
};

std::string StringField(const std::string& line, const std::string& name) {
  std::smatch m;
  if (std::regex_search(line, m, std::regex("\"" + name + "\":\"([^\"]*)\""))) return m[1];
  return "";
}
int64_t IntField(const std::string& line, const std::string& name, int64_t missing = -1) {
  std::smatch m;
  if (std::regex_search(line, m, std::regex("\"" + name + "\":(-?[0-9]+)"))) return std::stoll(m[1]);
  return missing;
}

std::vector<Event> ReadTrace(const std::string& path) {
  std::vector<Event> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    Event e;
    e.line = line;
    e.trace = StringField(line, "trace");
    e.kind = StringField(line, "kind");
    e.op = StringField(line, "op");
    e.instance = static_cast<int>(IntField(line, "instance"));
    e.ts = IntField(line, "ts");
    size_t r = line.find("\"record\":");
    if (r != std::string::npos) e.record = line.substr(r + 9, line.size() - r - 10);
    std::smatch m;
    if (std::regex_search(line, m, std::regex("\"window\":\\{\"start\":(-?[0-9]+),\"end\":(-?[0-9]+)\\}"))) {
      e.has_window = true;
      e.window_start = std::stoll(m[1]);
      e.window_end = std::stoll(m[2]);
    }
    out.push_back(e);
  }
  return out;
}

// Rows of every file of a file sink's directory, sorted (a multiset).
std::vector<std::string> OutputRows(const std::string& dir) {
  std::vector<std::string> rows;
  for (const auto& f : fs::directory_iterator(dir)) {
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line)) rows.push_back(line);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Index of the first event at or after `from` with this kind and operator, or -1.
int Find(const std::vector<Event>& events, size_t from, const std::string& kind, const std::string& op) {
  for (size_t i = from; i < events.size(); ++i) {
    if (events[i].kind == kind && events[i].op == op) return static_cast<int>(i);
  }
  return -1;
}

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("kappa-trace-test-", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                        getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunResult RunQ5(const std::string& source, const std::string& out, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", "nexmark-q5", "--source", source, "--sink", "file:" + out + "/"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunKappa(args);
  }

  fs::path dir_;
};

// Event 1010 of the generator is a bid (events e with e % 50 >= 4 are bids); with one
// partition it is at offset 1010.
constexpr char kSource[] = "gen:nexmark?events=20000";
constexpr int64_t kBidOffset = 1010;

TEST_F(TraceTest, OneBidThroughQ5HasEveryHopInOrder) {
  const std::string trace = (dir_ / "trace.jsonl").string();
  RunResult r = RunQ5(kSource, (dir_ / "out").string(),
                      {"--trace", absl::StrCat("partition=0,offset=", kBidOffset), "--trace-output", "file:" + trace});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<Event> events = ReadTrace(trace);
  ASSERT_FALSE(events.empty()) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(events.size(), " events written to file:", trace)));

  // One trace, named by the originating record's source, partition and offset.
  const std::string id = absl::StrCat("events/0/", kBidOffset);
  for (const Event& e : events) EXPECT_EQ(e.trace, id) << e.line;

  // The source record is a bid; it goes through the stateless chain in order.
  ASSERT_EQ(events[0].kind, "source") << events[0].line;
  EXPECT_THAT(events[0].record, HasSubstr("\"bid\"")) << events[0].line;
  const int64_t bid_ts = events[0].ts;
  const std::string auction = std::to_string(IntField(events[0].record, "auction"));
  int at = 0;
  for (auto [kind, op] : std::vector<std::pair<std::string, std::string>>{
           {"in", "bids"}, {"out", "bids"}, {"in", "auction"}, {"out", "auction"}, {"in", "count-bids"}}) {
    int next = Find(events, at + 1, kind, op);
    ASSERT_GT(next, at) << kind << " " << op << " missing or out of order";
    at = next;
  }
  EXPECT_EQ(events[at].record, auction);

  // The bid enters the 5 sliding windows (10 s, slide 2 s) that contain it, each with its
  // timer at end - 1.
  std::set<std::pair<int64_t, int64_t>> windows;
  for (const Event& e : events) {
    if (e.kind != "window" || e.op != "count-bids") continue;
    ASSERT_TRUE(e.has_window) << e.line;
    EXPECT_LE(e.window_start, bid_ts);
    EXPECT_GT(e.window_end, bid_ts);
    EXPECT_EQ(e.window_end - e.window_start, 10000);
    EXPECT_EQ(e.window_start % 2000, 0);
    EXPECT_EQ(IntField(e.line, "timer"), e.window_end - 1);
    windows.insert({e.window_start, e.window_end});
  }
  EXPECT_EQ(windows.size(), 5u);

  // Each of them fires inside the trace: its count goes out to max-per-window, which fires
  // its own window, and the result reaches the sink through unnest.
  std::set<std::pair<int64_t, int64_t>> fired, counted, max_windows_in;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.kind == "fire" && e.op == "count-bids") {
      fired.insert({e.window_start, e.window_end});
      EXPECT_EQ(e.record, auction) << e.line;
    }
    if (e.kind == "out" && e.op == "count-bids") {
      EXPECT_EQ(IntField(e.record, "auction"), std::stoll(auction)) << e.line;
      counted.insert({IntField(e.record, "window_start"), IntField(e.record, "window_end")});
      ASSERT_GT(Find(events, i + 1, "in", "max-per-window"), static_cast<int>(i)) << e.line;
    }
    if (e.kind == "window" && e.op == "max-per-window") {
      // The count of window w carries timestamp w.end - 1: one 2 s tumbling window.
      EXPECT_EQ(e.window_end - e.window_start, 2000) << e.line;
      max_windows_in.insert({e.window_start, e.window_end});
    }
  }
  EXPECT_EQ(fired, windows);
  EXPECT_EQ(counted, windows);
  EXPECT_EQ(max_windows_in.size(), 5u);
  int fire = Find(events, 0, "fire", "max-per-window");
  ASSERT_GE(fire, 0);
  int out = Find(events, fire + 1, "out", "max-per-window");
  int unnest = Find(events, out + 1, "in", "unnest");
  int sink = Find(events, unnest + 1, "sink", "output");
  EXPECT_GT(out, fire);
  EXPECT_GT(unnest, out);
  EXPECT_GT(sink, unnest);
  // Every record the trace says reached the sink is in the output.
  std::vector<std::string> rows = OutputRows((dir_ / "out").string());
  for (const Event& e : events) {
    if (e.kind != "sink") continue;
    EXPECT_NE(std::find(rows.begin(), rows.end(), e.record), rows.end()) << e.line;
  }
}

TEST_F(TraceTest, FilterThatMatchesNothingWritesNothing) {
  const std::string trace = (dir_ / "trace.jsonl").string();
  RunResult r = RunQ5(kSource, (dir_ / "out").string(),
                      {"--trace", "partition=0,offset=999999999", "--trace-output", trace});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ASSERT_TRUE(fs::exists(trace));
  EXPECT_EQ(fs::file_size(trace), 0u);
  EXPECT_THAT(r.err, HasSubstr("0 events"));
  // A partition the source does not have matches nothing either.
  r = RunQ5(kSource, (dir_ / "out2").string(), {"--trace", "partition=7,offset=1", "--trace-output", trace});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(fs::file_size(trace), 0u);
}

TEST_F(TraceTest, TraceCrossesChannelsAtParallelismTwoAndLeavesOutputUnchanged) {
  const std::string source = "gen:nexmark?events=20000&partitions=2";
  const std::string trace = (dir_ / "trace.jsonl").string();
  // Partition 1, offset 505 is event 1 + 505 * 2 = 1011: a bid.
  RunResult traced = RunQ5(source, (dir_ / "traced").string(),
                           {"-p", "2", "--trace", "source=events,partition=1,offset=505", "--trace-output", trace});
  ASSERT_EQ(traced.exit_code, 0) << Describe(traced);
  RunResult plain = RunQ5(source, (dir_ / "plain").string(), {"-p", "2"});
  ASSERT_EQ(plain.exit_code, 0) << Describe(plain);
  EXPECT_EQ(OutputRows((dir_ / "traced").string()), OutputRows((dir_ / "plain").string()));

  std::vector<Event> events = ReadTrace(trace);
  ASSERT_FALSE(events.empty());
  for (const Event& e : events) EXPECT_EQ(e.trace, "events/1/505") << e.line;
  ASSERT_EQ(events[0].kind, "source");
  EXPECT_EQ(events[0].instance, 1);  // partition p is read by instance p % 2
  // The auction's key decides which count-bids instance gets the bid: through a channel.
  int in = Find(events, 0, "in", "count-bids");
  ASSERT_GE(in, 0);
  const int count_instance = events[in].instance;
  for (const Event& e : events) {
    if (e.op == "count-bids") {
      EXPECT_EQ(e.instance, count_instance) << e.line;
    }
    EXPECT_TRUE(e.instance == 0 || e.instance == 1) << e.line;
  }
  EXPECT_GE(Find(events, in, "fire", "max-per-window"), 0);
  EXPECT_GE(Find(events, in, "sink", "output"), 0);
}

TEST_F(TraceTest, KeyFilterTracesEveryRecordWithThatKeyAtTheOperator) {
  const std::string trace = (dir_ / "trace.jsonl").string();
  // Find an auction with bids: the one the bid at kBidOffset is for.
  RunResult first = RunQ5(kSource, (dir_ / "out1").string(),
                          {"--trace", absl::StrCat("offset=", kBidOffset), "--trace-output", trace});
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  std::vector<Event> events = ReadTrace(trace);
  ASSERT_FALSE(events.empty());
  const int64_t auction = IntField(events[0].record, "auction");

  RunResult r = RunQ5(kSource, (dir_ / "out2").string(),
                      {"--trace", absl::StrCat("key=", auction, "@count-bids"), "--trace-output", trace});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  events = ReadTrace(trace);
  std::set<std::string> traces;
  int ins = 0;
  for (const Event& e : events) {
    traces.insert(e.trace);
    if (e.kind == "in" && e.op == "count-bids") {
      ++ins;
      EXPECT_EQ(e.record, std::to_string(auction)) << e.line;
    }
    // Traces start at the keyed edge: nothing before it is written.
    EXPECT_NE(e.op, "bids") << e.line;
  }
  EXPECT_GT(ins, 1);
  // Each marked record is named by its own source position.
  EXPECT_EQ(traces.size(), static_cast<size_t>(ins));
  EXPECT_TRUE(traces.count(absl::StrCat("events/0/", kBidOffset))) << "the bid found above is one of them";
}

TEST_F(TraceTest, BadFiltersGetOneLineErrors) {
  const std::string out = "file:" + (dir_ / "out").string() + "/";
  auto run = [&](const std::string& filter) {
    return RunKappa({"run", "nexmark-q5", "--source", kSource, "--sink", out, "--trace", filter});
  };
  struct Case {
    std::string filter;
    std::string mentions;
  };
  for (const Case& c : std::vector<Case>{{"offset=abc", "offset 'abc'"},
                                         {"offset=9..3", "FIRST <= LAST"},
                                         {"partition=-1,offset=3", "partition '-1'"},
                                         {"color=red", "unknown field 'color'"},
                                         {"partition=2", "no offset"},
                                         {"key=1007", "VALUE@OPERATOR"},
                                         {"key=1007@count-bids,offset=3", "cannot be combined"},
                                         {"key=1007@nope", "no keyed operator named 'nope'"},
                                         {"source=nope,offset=3", "no source named 'nope'"}}) {
    RunResult r = run(c.filter);
    EXPECT_NE(r.exit_code, 0) << c.filter << "\n" << Describe(r);
    EXPECT_THAT(r.err, StartsWith("kappa:")) << Describe(r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.filter << "\n" << Describe(r);
    EXPECT_THAT(r.err, HasSubstr(c.mentions)) << c.filter << "\n" << Describe(r);
  }
  RunResult r = RunKappa({"run", "nexmark-q5", "--source", kSource, "--sink", out, "--trace", "offset=3",
                          "--trace-output", "kafka://x/y"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--trace-output 'kafka://x/y'")) << Describe(r);
}

}  // namespace
}  // namespace kappa
