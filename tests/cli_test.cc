// Integration tests of the `kappa` command: each test runs the real binary as a
// subprocess in a fresh temporary directory and checks its exit code, its standard
// output and error, and the files it writes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <cstring>
#include <map>
#include <set>
#include <fstream>
#include <thread>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kappa/checkpoint/storage.h"
#include "tests/kappa_process.h"
#include "kappa/base/file_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::kappa::testing::ReadFileToString;
using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::WriteStringToFile;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace fs = std::filesystem;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string Describe(const RunResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\n--- stdout:\n", r.out.substr(0, 2000), "\n--- stderr:\n",
                      r.err.substr(0, 2000));
}

// The error contract: one line on stderr, starting with "kappa:", nothing on stdout.
void ExpectOneLineError(const RunResult& r, int exit_code, std::string_view mentions) {
  EXPECT_EQ(r.exit_code, exit_code) << Describe(r);
  EXPECT_THAT(r.err, StartsWith("kappa:")) << Describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << Describe(r);
  EXPECT_EQ(r.err.back(), '\n') << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(std::string(mentions))) << Describe(r);
  EXPECT_EQ(r.out, "") << Describe(r);
}

// The files of a directory, sorted by name.
std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// One output row of hot-auctions.
struct Hot {
  int64_t window_start, window_end, auction, bids;
  auto operator<=>(const Hot&) const = default;
};

std::vector<Hot> ParseHot(const std::string& text) {
  std::vector<Hot> out;
  simdjson::dom::parser parser;
  for (const std::string& line : Lines(text)) {
    simdjson::dom::element doc;
    auto error = parser.parse(line).get(doc);
    EXPECT_FALSE(error) << "not JSON: " << line;
    if (error) continue;
    Hot h{};
    EXPECT_FALSE(doc["window_start"].get(h.window_start)) << line;
    EXPECT_FALSE(doc["window_end"].get(h.window_end)) << line;
    EXPECT_FALSE(doc["auction"].get(h.auction)) << line;
    EXPECT_FALSE(doc["bids"].get(h.bids)) << line;
    simdjson::dom::object obj;
    EXPECT_FALSE(doc.get(obj)) << line;
    EXPECT_EQ(obj.size(), 4u) << line;
    out.push_back(h);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// hot-auctions computed independently of Kappa from the event files: per tumbling 10 s
// window of bid dateTime, every auction with the window's highest bid count.
std::vector<Hot> ExpectedHot(const std::vector<std::string>& files, int64_t* lines_seen) {
  std::map<int64_t, std::map<int64_t, int64_t>> counts;  // window start → auction → bids
  simdjson::dom::parser parser;
  *lines_seen = 0;
  for (const std::string& f : files) {
    for (const std::string& line : Lines(ReadFileToString(f))) {
      ++*lines_seen;
      simdjson::dom::element doc;
      if (parser.parse(line).get(doc)) continue;
      std::string_view type;
      int64_t auction, ts;
      if (doc["type"].get(type) || type != "bid") continue;
      if (doc["auction"].get(auction) || doc["dateTime"].get(ts)) continue;
      int64_t price;
      if (doc["price"].get(price)) continue;  // a bid Kappa rejects
      counts[ts - ts % 10000][auction]++;
    }
  }
  std::vector<Hot> out;
  for (const auto& [start, per_auction] : counts) {
    int64_t most = 0;
    for (const auto& [a, n] : per_auction) most = std::max(most, n);
    for (const auto& [a, n] : per_auction) {
      if (n == most) out.push_back(Hot{start, start + 10000, a, n});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The decode errors among `lines` (the errors output), as offset → raw record; each must
// name partition `expected_partition`.
std::map<int64_t, std::string> DecodeErrors(const std::vector<std::string>& lines, int64_t expected_partition) {
  std::map<int64_t, std::string> by_offset;
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    simdjson::dom::element doc;
    if (parser.parse(line).get(doc)) {
      ADD_FAILURE() << "not JSON: " << line;
      continue;
    }
    std::string_view kind, record, error;
    int64_t partition = -1, offset = -1;
    EXPECT_FALSE(doc["kind"].get(kind)) << line;
    EXPECT_EQ(kind, "decode") << line;
    EXPECT_FALSE(doc["partition"].get(partition)) << line;
    EXPECT_EQ(partition, expected_partition) << line;
    EXPECT_FALSE(doc["offset"].get(offset)) << line;
    EXPECT_FALSE(doc["error"].get(error)) << line;
    EXPECT_FALSE(error.empty()) << line;
    EXPECT_FALSE(doc["record"].get(record)) << line;
    if (record.find("\"cheap\"") != std::string_view::npos) {
      EXPECT_THAT(std::string(error), HasSubstr("price")) << line;
    }
    by_offset[offset] = std::string(record);
  }
  return by_offset;
}

// Inserts a garbage line in the middle of the part file and appends a bid whose price is a
// string; returns the two lines by byte offset, as the errors output should report them.
std::map<int64_t, std::string> Corrupt(const std::string& part) {
  const std::string original = ReadFileToString(part);
  const size_t middle = original.find('\n', original.size() / 2) + 1;
  const std::string garbage = "this is not json";
  const std::string wrong_type =
      R"({"type":"bid","auction":1000,"bidder":1001,"price":"cheap","channel":"c","url":"u",)"
      R"("dateTime":1700000001000,"extra":""})";
  WriteStringToFile(part, original.substr(0, middle) + garbage + "\n" + original.substr(middle) + wrong_type + "\n");
  return {{static_cast<int64_t>(middle), garbage},
          {static_cast<int64_t>(original.size() + garbage.size() + 1), wrong_type}};
}

class CliTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return tmp_.Path(name); }

  // Generates 20000 Nexmark events at 1000/s into DIR/ as 3 part files.
  void GenerateLog(const std::string& dir) {
    RunResult r = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=20000&rate=1000&partitions=3",
                            "--sink", "file:" + dir + "/", "-p", "3"});
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(r.out, "");
  }

  ScopedTempDir tmp_;
};

TEST_F(CliTest, HelpExitsZeroAndListsSubcommands) {
  RunResult r = RunKappa({"--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, AllOf(HasSubstr("jobs"), HasSubstr("run"), HasSubstr("demo"))) << Describe(r);
}

TEST_F(CliTest, RunHelpExitsZeroAndListsFlags) {
  RunResult r = RunKappa({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, AllOf(HasSubstr("--source"), HasSubstr("--sink"), HasSubstr("--parallelism"),
                           HasSubstr("--errors"), HasSubstr("--follow"), HasSubstr("--out-of-orderness")))
      << Describe(r);
}

TEST_F(CliTest, NoSubcommandIsAUsageError) {
  ExpectOneLineError(RunKappa({}), 2, "subcommand");
}

TEST_F(CliTest, UnknownFlagIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--bogus"}),
                     2, "--bogus");
}

TEST_F(CliTest, UnknownSubcommandIsAUsageError) {
  ExpectOneLineError(RunKappa({"frobnicate"}), 2, "frobnicate");
}

TEST_F(CliTest, UnknownJobIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "no-such-job", "--source", "gen:nexmark?events=10", "--sink", "stdout:"}), 2,
                     "no-such-job");
}

TEST_F(CliTest, MissingSourceIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--sink", "stdout:"}), 2, "--source");
}

TEST_F(CliTest, BadSourceUriIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "nonsense", "--sink", "stdout:"}), 2,
                     "'nonsense'");
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?speed=3", "--sink", "stdout:"}), 2,
                     "speed");
}

TEST_F(CliTest, BadSinkUriIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "gen:x"}), 2,
                     "not a sink");
}

TEST_F(CliTest, BadErrorsUriIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--errors", "gen:nexmark"}),
                     2, "--errors");
}

TEST_F(CliTest, MissingInputFileFailsNamingIt) {
  std::string missing = Path("missing.jsonl");
  RunResult r = RunKappa({"run", "hot-auctions", "--source", "file:" + missing, "--sink", "file:" + Path("out")});
  ExpectOneLineError(r, 2, missing);
  EXPECT_FALSE(fs::exists(Path("out"))) << "no output for a job that never started";
}

TEST_F(CliTest, ZeroParallelismIsAUsageError) {
  ExpectOneLineError(
      RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:", "-p", "0"}), 2,
      "--parallelism");
}

TEST_F(CliTest, ParamWithoutEqualsIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--param", "window"}),
                     2, "--param 'window': use key=value");
}

TEST_F(CliTest, MalformedParamValueIsAUsageErrorNamingWhatWasExpected) {
  ExpectOneLineError(RunKappa({"replay", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--from", "earliest", "--param", "window=abc"}),
                     2, "--param window=abc: expected a duration");
}

TEST_F(CliTest, ParamTheJobDoesNotReadIsAUsageErrorListingItsParameters) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--param", "windw=5s"}),
                     2, "job 'hot-auctions' has no parameter 'windw'; its parameters: window");
  ExpectOneLineError(RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--param", "window=5s"}),
                     2, "job 'nexmark-copy' takes no parameters");
}

TEST_F(CliTest, ParamGivenTwiceIsAUsageError) {
  ExpectOneLineError(RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--param", "window=5s", "--param", "window=6s"}),
                     2, "--param window is given twice");
}

TEST_F(CliTest, ParamSetsTheJobsWindowLength) {
  const std::string out = Path("hot.jsonl");
  RunResult r = RunKappa({"run", "hot-auctions", "--source", "gen:nexmark?events=6000&rate=1000", "--sink",
                          "file:" + out, "--param", "window=2s"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<Hot> got = ParseHot(ReadFileToString(out));
  std::set<int64_t> windows;
  for (const Hot& h : got) {
    EXPECT_EQ(h.window_end - h.window_start, 2000) << h.window_start;
    EXPECT_EQ(h.window_start % 2000, 0) << h.window_start;
    windows.insert(h.window_start);
  }
  EXPECT_GE(windows.size(), 3u) << "6 s of events in 2 s windows";
}

TEST_F(CliTest, RunHelpDocumentsParam) {
  RunResult r = RunKappa({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("--param")) << Describe(r);
}

TEST_F(CliTest, JobsListsTheBuiltInJobs) {
  RunResult r = RunKappa({"jobs"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<std::string> names;
  for (const std::string& line : Lines(r.out)) names.push_back(line.substr(0, line.find(' ')));
  EXPECT_THAT(names, ::testing::IsSupersetOf({"hot-auctions", "nexmark-copy"})) << Describe(r);
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, GeneratedLogFeedsHotAuctionsWhoseResultMatchesAnIndependentCount) {
  const std::string log = Path("log");
  ASSERT_NO_FATAL_FAILURE(GenerateLog(log));
  std::vector<std::string> parts = Files(log);
  ASSERT_EQ(parts.size(), 3u);
  int64_t lines = 0;
  std::vector<Hot> expected = ExpectedHot(parts, &lines);
  EXPECT_EQ(lines, 20000);
  // 20000 events at 1000/s starting at a multiple of 10 s: 20 s, two windows.
  std::set<int64_t> windows;
  for (const Hot& h : expected) windows.insert(h.window_start);
  EXPECT_EQ(windows.size(), 2u);

  const std::string out = Path("hot.jsonl");
  RunResult r = RunKappa({"run", "hot-auctions", "--source", "file:" + log + "/", "--sink", "file:" + out, "-p", "2"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Lines(r.err).size(), 1u) << "one summary line: " << Describe(r);
  std::vector<Hot> got = ParseHot(ReadFileToString(out));
  for (const Hot& h : got) {
    EXPECT_EQ(h.window_start % 10000, 0) << h.window_start;
    EXPECT_EQ(h.window_end, h.window_start + 10000);
  }
  EXPECT_EQ(got, expected);
}

TEST_F(CliTest, MalformedLinesGoToErrorsAndLeaveTheResultUnchanged) {
  const std::string log = Path("log");
  ASSERT_NO_FATAL_FAILURE(GenerateLog(log));
  const std::string clean_out = Path("clean.jsonl");
  RunResult clean =
      RunKappa({"run", "hot-auctions", "--source", "file:" + log + "/", "--sink", "file:" + clean_out});
  ASSERT_EQ(clean.exit_code, 0) << Describe(clean);

  const std::map<int64_t, std::string> bad_lines = Corrupt(Files(log)[1]);

  const std::string out = Path("hot.jsonl");
  const std::string errors = Path("errors.jsonl");
  RunResult r = RunKappa({"run", "hot-auctions", "--source", "file:" + log + "/", "--sink", "file:" + out,
                          "--errors", "file:" + errors, "-p", "3"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("2 bad input")) << Describe(r);
  EXPECT_EQ(ParseHot(ReadFileToString(out)), ParseHot(ReadFileToString(clean_out)));

  std::vector<std::string> error_lines = Lines(ReadFileToString(errors));
  ASSERT_EQ(error_lines.size(), 2u) << ReadFileToString(errors);
  EXPECT_EQ(DecodeErrors(error_lines, 1), bad_lines);
}

TEST_F(CliTest, ErrorsOnRedirectedStderrAreNotOverwrittenByTheSummary) {
  const std::string log = Path("log");
  ASSERT_NO_FATAL_FAILURE(GenerateLog(log));
  const std::map<int64_t, std::string> bad_lines = Corrupt(Files(log)[2]);
  const std::string err = Path("stderr.txt");
  RunResult r = RunKappa({"run", "hot-auctions", "--source", "file:" + log + "/", "--sink", "file:" + Path("out")}, err);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<std::string> lines = Lines(ReadFileToString(err));
  ASSERT_EQ(lines.size(), 3u) << ReadFileToString(err);
  EXPECT_THAT(lines[2], AllOf(StartsWith("kappa: hot-auctions done"), HasSubstr("2 bad input")));
  lines.pop_back();
  EXPECT_EQ(DecodeErrors(lines, 2), bad_lines);
}


// The demo's story, step by step: the live job (a real process, killed with SIGKILL and
// restarted from its checkpoint) and the replay write the same rows, and those are the
// hot auctions computed from the log without Kappa.
TEST_F(CliTest, DemoKillsRestoresAndReplaysToTheSameOutput) {
  const std::string dir = Path("demo");
  RunResult r = RunKappa({"demo", "--events", "20000", "--dir", dir});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "") << Describe(r);
  std::vector<std::string> lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 6u) << Describe(r);
  for (int i = 0; i < 6; ++i) EXPECT_THAT(lines[i], StartsWith(absl::StrCat("kappa demo: ", i + 1, "/6 "))) << r.err;
  EXPECT_THAT(lines[1], HasSubstr("dashboard at http://127.0.0.1:")) << r.err;
  EXPECT_THAT(lines[2], HasSubstr("kill -9 of the live job")) << r.err;
  EXPECT_THAT(lines[2], Not(HasSubstr("(none yet)"))) << r.err;
  EXPECT_THAT(lines[3], HasSubstr("4/6 restart: restored checkpoint ")) << r.err;
  EXPECT_THAT(lines[5], HasSubstr("outputs are equal")) << r.err;

  int64_t events = 0;
  std::vector<Hot> expected = ExpectedHot(Files(dir + "/log"), &events);
  EXPECT_EQ(events, 20000);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(ParseHot(absl::StrJoin(kappa::testing::OutputLines(dir + "/live"), "\n")), expected);
  EXPECT_EQ(ParseHot(absl::StrJoin(kappa::testing::OutputLines(dir + "/replayed"), "\n")), expected);
}

// --log-level: what Kappa logs about itself (here the embedded cluster's info line, the
// sources' debug lines) comes and goes; the run's summary line is a result and stays.
TEST_F(CliTest, LogLevelChoosesWhatIsLogged) {
  auto run = [&](const std::string& level) {
    std::vector<std::string> args = {"run", "nexmark-q0", "--source", "gen:nexmark?events=1000&partitions=2",
                                     "--sink", "file:" + Path("q0-" + level + ".jsonl"), "--kafka", "embedded"};
    if (!level.empty()) {
      args.push_back("--log-level");
      args.push_back(level);
    }
    return RunKappa(args);
  };
  RunResult info = run("");
  ASSERT_EQ(info.exit_code, 0) << Describe(info);
  EXPECT_THAT(info.err, HasSubstr("kappa: embedded Kafka cluster (librdkafka mock) at ")) << Describe(info);
  EXPECT_THAT(info.err, Not(HasSubstr("debug:"))) << Describe(info);
  EXPECT_THAT(info.err, HasSubstr("kappa: nexmark-q0 done: 1000 records read")) << Describe(info);

  RunResult off = run("off");
  ASSERT_EQ(off.exit_code, 0) << Describe(off);
  EXPECT_EQ(Lines(off.err).size(), 1u) << Describe(off);
  EXPECT_THAT(off.err, StartsWith("kappa: nexmark-q0 done: 1000 records read")) << Describe(off);

  RunResult debug = run("debug");
  ASSERT_EQ(debug.exit_code, 0) << Describe(debug);
  EXPECT_THAT(debug.err, HasSubstr("kappa: embedded Kafka cluster (librdkafka mock) at ")) << Describe(debug);
  EXPECT_THAT(debug.err, HasSubstr("kappa: debug: running nexmark-q0: parallelism 1")) << Describe(debug);
  EXPECT_THAT(debug.err, HasSubstr("partition 1: opened at offset 0")) << Describe(debug);
}

// librdkafka's own messages go through the logger: no raw "%3|" lines; connection
// failures are warnings (gone at --log-level error), the run's error line stays. Both runs
// wait out the 10 s a source gives an unreachable cluster, side by side.
TEST_F(CliTest, KafkaClientMessagesAreLoggedNotPrintedRaw) {
  auto start = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "nexmark-q0", "--source", "kafka://127.0.0.1:1/events", "--sink",
                                     "file:" + Path(name + ".jsonl")};
    args.insert(args.end(), extra.begin(), extra.end());
    return kappa::testing::StartKappa(args, Path(name + ".log"));
  };
  pid_t info = start("info", {});
  pid_t error = start("error", {"--log-level", "error"});
  EXPECT_EQ(kappa::testing::WaitKappa(info), 2);
  EXPECT_EQ(kappa::testing::WaitKappa(error), 2);
  const std::string info_log = ReadFileToString(Path("info.log")), error_log = ReadFileToString(Path("error.log"));
  EXPECT_THAT(info_log, HasSubstr("kappa: warning: librdkafka rdkafka#consumer-")) << info_log;
  EXPECT_THAT(info_log, HasSubstr("Connection refused")) << info_log;
  EXPECT_THAT(info_log, Not(HasSubstr("%3|"))) << info_log;
  EXPECT_THAT(info_log, HasSubstr("kappa: cannot reach Kafka at 127.0.0.1:1")) << info_log;
  ASSERT_EQ(Lines(error_log).size(), 1u) << error_log;
  EXPECT_THAT(error_log, StartsWith("kappa: cannot reach Kafka at 127.0.0.1:1")) << error_log;
}

TEST_F(CliTest, UnknownLogLevelIsOneLineError) {
  ExpectOneLineError(RunKappa({"--log-level", "loud", "jobs"}), 2,
                     "--log-level 'loud': use trace, debug, info, warn, error or off");
  ExpectOneLineError(RunKappa({"run", "nexmark-q0", "--source", "gen:nexmark?events=10", "--sink", "stdout:",
                               "--log-level", "verbose"}),
                     2, "--log-level 'verbose'");
}

TEST_F(CliTest, DiffOfEqualOutputsExitsZero) {
  const std::string a = Path("a.jsonl"), b = Path("b.jsonl");
  WriteStringToFile(a, "{\"auction\":1,\"price\":2.5}\n{\"auction\":2,\"price\":7}\n");
  WriteStringToFile(b, "{\"price\": 7, \"auction\": 2}\n{\"price\": 2.5001, \"auction\": 1}\n");
  RunResult r = RunKappa({"diff", "file:" + a, b});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "outputs are equal: 2 rows\n") << Describe(r);
  EXPECT_EQ(r.err, "") << Describe(r);
}

TEST_F(CliTest, DiffOfDifferentOutputsExitsOneAndMarksEachSide) {
  const std::string a = Path("a.jsonl"), b = Path("b.jsonl");
  WriteStringToFile(a, "{\"auction\":1,\"price\":2.5}\n{\"auction\":2,\"price\":7}\n{\"auction\":3,\"price\":1}\n");
  WriteStringToFile(b, "{\"auction\":2,\"price\":8}\n{\"auction\":1,\"price\":2.5}\n{\"auction\":3,\"price\":1}\n");
  RunResult r = RunKappa({"diff", a, b});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_EQ(r.err, "") << Describe(r);
  std::vector<std::string> lines = Lines(r.out);
  EXPECT_THAT(lines, ::testing::Contains("rows only in A: 1")) << Describe(r);
  EXPECT_THAT(lines, ::testing::Contains("rows only in B: 1")) << Describe(r);
  std::vector<std::string> marked;
  for (const std::string& line : lines) {
    if (line.rfind("< ", 0) == 0 || line.rfind("> ", 0) == 0) marked.push_back(line);
  }
  EXPECT_THAT(marked, ::testing::ElementsAre("< {\"auction\":2,\"price\":7}", "> {\"auction\":2,\"price\":8}"))
      << Describe(r);

  RunResult keyed = RunKappa({"diff", a, b, "--key", "auction", "--upsert"});
  EXPECT_EQ(keyed.exit_code, 1) << Describe(keyed);
  EXPECT_THAT(keyed.out, HasSubstr("key {\"auction\":2}: A has 1 row, B has 1 row\n")) << Describe(keyed);
}

TEST_F(CliTest, DiffOfAMalformedFileIsAnErrorNamingTheLine) {
  const std::string a = Path("a.jsonl"), bad = Path("bad.jsonl");
  WriteStringToFile(a, "{\"auction\":1}\n");
  WriteStringToFile(bad, "{\"auction\":1}\n{\"auction\":\n");
  ExpectOneLineError(RunKappa({"diff", a, bad}), 2, bad + ":2: malformed JSON");
  ExpectOneLineError(RunKappa({"diff", a, a, "--upsert"}), 2, "--key");
  ExpectOneLineError(RunKappa({"diff", a, "s3://bucket/bids"}), 2, "file:PATH");
}

// Replay over the file log: --from byte offsets and event time, --to event time.
TEST_F(CliTest, ReplayOfTheFileLogHonoursOffsetAndEventTimeBounds) {
  const std::string log = Path("log");
  ASSERT_NO_FATAL_FAILURE(GenerateLog(log));
  std::vector<std::string> files = Files(log);
  ASSERT_EQ(files.size(), 3u);
  // Every bid of the log, with its partition, byte offset and dateTime.
  struct Bid {
    int partition;
    int64_t offset;
    int64_t ts;
  };
  std::vector<Bid> bids;
  for (int p = 0; p < 3; ++p) {
    std::string text = ReadFileToString(files[p]);
    int64_t offset = 0;
    for (const std::string& line : Lines(text)) {
      if (line.find("\"type\":\"bid\"") != std::string::npos) {
        size_t at = line.find("\"dateTime\":");
        bids.push_back(Bid{p, offset, std::stoll(line.substr(at + 11))});
      }
      offset += static_cast<int64_t>(line.size()) + 1;
    }
  }
  ASSERT_GT(bids.size(), 1000u);
  auto count_rows = [&](const std::vector<std::string>& args) {
    RunResult r = RunKappa(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_THAT(r.err, HasSubstr("kappa: replayed partitions")) << Describe(r);
    return Lines(ReadFileToString(Path("out.jsonl"))).size();
  };
  // From a byte offset in partition 0 (the start of its 1000th line); others from 0.
  std::string p0 = ReadFileToString(files[0]);
  int64_t cut = 0;
  for (int i = 0; i < 1000; ++i) cut = static_cast<int64_t>(p0.find('\n', cut)) + 1;
  size_t want = 0;
  for (const Bid& b : bids) want += (b.partition != 0 || b.offset >= cut) ? 1 : 0;
  EXPECT_EQ(count_rows({"replay", "nexmark-q0", "--source", "file:" + log + "/", "--from",
                        absl::StrCat("offsets:0=", cut), "--sink", "file:" + Path("out.jsonl")}),
            want);
  // By event time: [from, to).
  std::vector<int64_t> times;
  for (const Bid& b : bids) times.push_back(b.ts);
  std::sort(times.begin(), times.end());
  int64_t from = times[times.size() / 4], to = times[times.size() / 2];
  want = 0;
  for (const Bid& b : bids) want += (b.ts >= from && b.ts < to) ? 1 : 0;
  ASSERT_GT(want, 100u);
  EXPECT_EQ(count_rows({"replay", "nexmark-q0", "--source", "file:" + log + "/", "--from", absl::StrCat("ts:", from),
                        "--to", absl::StrCat("ts:", to), "--sink", "file:" + Path("out.jsonl"), "-p", "2"}),
            want);
  // Bad positions are one clear line.
  ExpectOneLineError(RunKappa({"replay", "nexmark-q0", "--source", "file:" + log + "/", "--from", "yesterday",
                               "--sink", "file:" + Path("x.jsonl")}),
                     2, "--from 'yesterday'");
  ExpectOneLineError(RunKappa({"replay", "nexmark-q0", "--source", "file:" + log + "/", "--from", "earliest",
                               "--to", "end", "--then-follow", "--sink", "file:" + Path("x.jsonl")}),
                     2, "--then-follow");
}

TEST_F(CliTest, EmbeddedKafkaRunsAJobWithoutABroker) {
  RunResult r = RunKappa({"run", "nexmark-copy", "--kafka", "embedded", "--source", "gen:nexmark?events=500",
                          "--sink", "kafka:events"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("embedded Kafka cluster")) << Describe(r);
  ExpectOneLineError(RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=5", "--sink", "kafka:events"}),
                     2, "--kafka");
}

TEST_F(CliTest, DiffFindsOneJobRunAtDifferentParallelismsEqual) {
  const std::string log = Path("log");
  ASSERT_NO_FATAL_FAILURE(GenerateLog(log));
  const std::string one = Path("one.jsonl"), three = Path("three");
  ASSERT_EQ(RunKappa({"run", "hot-auctions", "--source", "file:" + log + "/", "--sink", "file:" + one}).exit_code, 0);
  ASSERT_EQ(RunKappa({"run", "hot-auctions", "--source", "file:" + log + "/", "--sink", "file:" + three + "/", "-p",
                      "3"})
                .exit_code,
            0);
  const size_t rows = Lines(ReadFileToString(one)).size();
  ASSERT_GT(rows, 0u);
  RunResult r = RunKappa({"diff", "file:" + one, "file:" + three + "/"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, absl::StrCat("outputs are equal: ", rows, " rows\n")) << Describe(r);
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

TEST(CliBindingsTest, UnknownSourceNameIsAUsageError) {
  auto r = RunKappa({"run", "hot-auctions", "--source", "file:/tmp", "--source", "bogus=file:/tmp", "--sink", "stdout:"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("has no source named 'bogus'; its sources: events"), std::string::npos) << r.err;
}

TEST(CliBindingsTest, SinkOntoItsOwnInputIsRefused) {
  ScopedTempDir dir;
  std::string log = dir.path() + "/log/";
  auto gen = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=100", "--sink", "file:" + log});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto r = RunKappa({"run", "nexmark-copy", "--source", "file:" + log, "--sink", "file:" + log});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("would overwrite the input"), std::string::npos) << r.err;
  // The input is untouched.
  auto again = RunKappa({"run", "nexmark-copy", "--source", "file:" + log, "--sink", "file:" + dir.path() + "/copy"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("100 records read"), std::string::npos) << again.err;
}

// Starts kappa in the background with stdout and stderr going to files.
pid_t StartKappa(const std::vector<std::string>& args, const std::string& out_file, const std::string& err_file) {
  std::vector<std::string> copy = args;
  std::string binary = KAPPA_BINARY;
  std::vector<char*> argv{binary.data()};
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  return static_cast<size_t>(std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n'));
}

bool WaitFor(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(CliFollowTest, FollowTailsGrowingFilesAndCtrlCStopsCleanly) {
  ScopedTempDir dir;
  const std::string log = dir.path() + "/log/";
  auto gen = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=300&partitions=2", "--sink",
                       "file:" + log, "-p", "2"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string out = dir.path() + "/copy.jsonl";
  pid_t pid = StartKappa({"run", "nexmark-copy", "--follow", "--source", "file:" + log, "--sink", "file:" + out},
                         dir.path() + "/stdout", dir.path() + "/stderr");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return CountLines(out) == 300; })) << "got " << CountLines(out);

  // Events appended while the job runs show up too.
  auto more = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=50&seed=9", "--sink",
                        "file:" + dir.path() + "/more.jsonl"});
  ASSERT_EQ(more.exit_code, 0) << more.err;
  {
    std::ifstream in(dir.path() + "/more.jsonl");
    std::ofstream app(log + "part-00001.jsonl", std::ios::app);
    app << in.rdbuf();
  }
  ASSERT_TRUE(WaitFor([&] { return CountLines(out) == 350; })) << "got " << CountLines(out);

  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(CountLines(out), 350u);
  std::ifstream err(dir.path() + "/stderr");
  std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("stopped: 350 records read"));
}

// A replay that starts from a savepoint of a running job: its state and offsets, then the
// rest of the log. The running job's output up to the savepoint plus the replay's output
// is exactly the output of one uninterrupted run.
TEST(CliReplayTest, ReplayFromASavepointContinuesWhereTheSavepointWas) {
  ScopedTempDir dir;
  const std::string log = dir.path() + "/log/";
  auto gen = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=40000&rate=1000&partitions=2", "--sink",
                       "file:" + log, "-p", "2"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const std::string reference = dir.path() + "/reference.jsonl";
  ASSERT_EQ(RunKappa({"run", "hot-auctions", "--source", "file:" + log, "--sink", "file:" + reference}).exit_code, 0);

  // A live job over the log (following it), checkpointing; a savepoint of it; then stop.
  const std::string ck = dir.path() + "/ck", live_out = dir.path() + "/live/";
  pid_t pid = StartKappa({"run", "hot-auctions", "--follow", "--source", "file:" + log, "--sink", "file:" + live_out,
                          "--checkpoint-dir", ck, "--checkpoint-interval", "50"},
                         dir.path() + "/stdout", dir.path() + "/stderr");
  ASSERT_TRUE(WaitFor([&] {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(ck, ec)) {
      if (std::filesystem::exists(e.path() / "MANIFEST")) return true;
    }
    return false;
  }));
  RunResult sp = RunKappa({"savepoint", "--checkpoint-dir", ck, "--name", "mid", "--running"});
  ASSERT_EQ(sp.exit_code, 0) << Describe(sp);
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string savepoint = ck + "/savepoints/mid";
  auto loaded = checkpoint::CheckpointStorage(ck).Load(savepoint);
  ASSERT_TRUE(loaded.ok()) << loaded.status();

  // The live output the savepoint covers: part files of checkpoints up to its id.
  std::multiset<std::string> rows;
  for (const auto& e : std::filesystem::directory_iterator(live_out)) {
    std::string name = e.path().filename().string();
    int64_t id = 0;
    if (name.rfind("part-", 0) != 0 || name.rfind("part-final", 0) == 0) continue;
    id = std::stoll(name.substr(5, 8));
    if (id > loaded->id) continue;
    for (const std::string& line : Lines(ReadFileToString(e.path().string()))) rows.insert(line);
  }
  // Replay from the savepoint to the end of the log.
  const std::string replay_out = dir.path() + "/replay.jsonl";
  RunResult replay = RunKappa({"replay", "hot-auctions", "--source", "file:" + log, "--from", "earliest",
                               "--from-savepoint", savepoint, "--checkpoint-dir", dir.path() + "/ck2", "--sink",
                               "file:" + dir.path() + "/replay/"});
  ASSERT_EQ(replay.exit_code, 0) << Describe(replay);
  EXPECT_THAT(replay.err, HasSubstr(absl::StrCat("restored checkpoint ", loaded->id))) << Describe(replay);
  size_t replayed = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/replay")) {
    for (const std::string& line : Lines(ReadFileToString(e.path().string()))) {
      rows.insert(line);
      ++replayed;
    }
  }
  EXPECT_GT(replayed, 0u);
  std::vector<std::string> ref = Lines(ReadFileToString(reference));
  EXPECT_EQ(rows, std::multiset<std::string>(ref.begin(), ref.end()));
}

}  // namespace
}  // namespace kappa
