// The dashboard and `kappa status` against a real running job: `kappa run nexmark-q5`
// over a paced generator with --http, its page opened in headless Chromium (Debian's),
// and `kappa status URL` in the terminal.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/app/dashboard.h"
#include "kappa/app/job_json.h"
#include "kappa/app/json_tree.h"
#include "tests/kappa_process.h"

namespace kappa {
namespace {

using ::kappa::testing::ReadFile;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::kappa::testing::StartKappa;
using ::kappa::testing::WaitKappa;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kChromium = "/usr/bin/chromium";

std::string TempDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/dashboard_test_", getpid(), "_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs a shell command and returns its stdout.
std::string Capture(const std::string& command) {
  std::string out;
  if (FILE* f = popen(command.c_str(), "r")) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    pclose(f);
  }
  return out;
}

// A job running in the background with --http 127.0.0.1:0; stopped with Ctrl-C's signal
// when the test is done with it.
class RunningJob {
 public:
  // nexmark-q5 over 20000 events/s paced by wall-clock time: the job runs until stopped,
  // and every operator keeps receiving records.
  explicit RunningJob(const std::string& name)
      : RunningJob(name, {"run", "nexmark-q5", "--source",
                          "gen:nexmark?events=100000000&rate=20000&pace=true&partitions=2", "--checkpoint-interval",
                          "500", "-p", "2"}) {}
  // `args` and a sink, checkpoints and --http of its own.
  RunningJob(const std::string& name, std::vector<std::string> args) : dir_(TempDir(name)) {
    log_ = dir_ + "/log";
    for (const std::string& extra : std::vector<std::string>{"--sink", "file:" + dir_ + "/out/", "--checkpoint-dir",
                                                             dir_ + "/ckpt", "--http", "127.0.0.1:0"}) {
      args.push_back(extra);
    }
    pid_ = StartKappa(args, log_);
    std::regex printed("kappa: dashboard at (http://127\\.0\\.0\\.1:[0-9]+/)");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (url_.empty() && std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      std::string log = ReadFile(log_);
      if (std::regex_search(log, m, printed)) url_ = m[1];
      if (url_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~RunningJob() { Stop(); }

  // Ctrl-C: the job stops and the process exits with 130.
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGINT);
    exit_code_ = WaitKappa(pid_);
    pid_ = -1;
    return exit_code_;
  }

  const std::string& url() const { return url_; }
  std::string log() const { return ReadFile(log_); }
  std::string port() const { return url_.substr(url_.rfind(':') + 1, url_.size() - url_.rfind(':') - 2); }

  // GET `path` on the job's endpoint; "" when it failed.
  std::string Get(const std::string& path) const {
    httplib::Client client("127.0.0.1", std::stoi(port()));
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(10, 0);
    auto res = client.Get(path.c_str());
    return res && res->status == 200 ? res->body : "";
  }

  // Polls /api/job until every chain shows records moving (in or out per second), or 60 s.
  app::JsonNode WaitUntilEveryChainMoves() const {
    app::JsonNode last;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      absl::StatusOr<app::JsonNode> job = app::ParseJsonTree(Get("/api/job"));
      if (job.ok()) {
        last = *job;
        bool moving = !job->Items("chains").empty();
        for (const app::JsonNode& c : job->Items("chains")) {
          moving = moving && c.Number("records_in_per_s") + c.Number("records_out_per_s") > 0;
        }
        if (moving) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "not every chain moved within 60 s; last /api/job seen had "
                  << last.Items("chains").size() << " chains";
    return last;
  }

 private:
  std::string dir_;
  std::string log_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string url_;
};

// The chain boxes of the dumped DOM: name -> (records in/s, records out/s); `busy` gets
// the sum of their busy shares.
std::map<std::string, std::pair<double, double>> ChainBoxes(const std::string& dom, double* busy = nullptr) {
  std::map<std::string, std::pair<double, double>> boxes;
  std::regex box(
      "<div class=\"chain[^\"]*\" id=\"chain-[0-9]+\"[^>]*data-name=\"([^\"]*)\"[^>]*"
      "data-records-in-per-s=\"([0-9.e+-]+)\" data-records-out-per-s=\"([0-9.e+-]+)\" "
      "data-busy=\"([0-9.e+-]+)\"");
  if (busy != nullptr) *busy = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), box); it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[1];
    // The DOM serializer escapes '>' and '&' in attribute values.
    for (auto [from, to] : {std::pair<std::string, std::string>{"&gt;", ">"}, {"&lt;", "<"}, {"&amp;", "&"}}) {
      for (size_t at = name.find(from); at != std::string::npos; at = name.find(from, at + 1)) {
        name.replace(at, from.size(), to);
      }
    }
    boxes[name] = {std::stod((*it)[2]), std::stod((*it)[3])};
    if (busy != nullptr) *busy += std::stod((*it)[4]);
  }
  return boxes;
}

// The banner under the header: empty when hidden. (The page's script, which holds the
// banner's texts too, is part of the dump: look at the element, not the whole page.)
std::string Banner(const std::string& dom) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<div id=\"banner\"([^>]*)>([^<]*)</div>"))) return "(no banner element)";
  if (std::string(m[1]).find("hidden") != std::string::npos) return "";
  return m[2];
}

TEST(DashboardTest, HeadlessChromiumShowsTheRunningJobsChainsWithTheirRates) {
  if (access(kChromium, X_OK) != 0) GTEST_SKIP() << "chromium is not installed (scripts/setup installs it)";
  RunningJob job("chromium");
  ASSERT_FALSE(job.url().empty()) << "no dashboard URL printed:\n" << job.log();
  app::JsonNode api = job.WaitUntilEveryChainMoves();
  ASSERT_GE(api.Items("chains").size(), 2u);

  // The page as served is self-contained: nothing is loaded from elsewhere.
  std::string page = job.Get("/");
  ASSERT_THAT(page, HasSubstr("<title>Kappa</title>"));
  EXPECT_EQ(page.find("<script src="), std::string::npos);
  EXPECT_EQ(page.find("<link rel=\"stylesheet\""), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);

  std::string profile = TempDir("chromium-profile");
  std::string dom = Capture(absl::StrCat(kChromium, " --headless --no-sandbox --disable-gpu --user-data-dir=", profile,
                                         " --virtual-time-budget=4000 --dump-dom ", job.url(), " 2>/dev/null"));
  ASSERT_THAT(dom, HasSubstr("id=\"graph\"")) << dom.substr(0, 2000);
  double busy = 0;
  std::map<std::string, std::pair<double, double>> boxes = ChainBoxes(dom, &busy);
  ASSERT_EQ(boxes.size(), api.Items("chains").size()) << dom.substr(0, 4000);
  EXPECT_GT(busy, 0) << "no chain shows any busy time";
  for (const app::JsonNode& c : api.Items("chains")) {
    auto it = boxes.find(c.String("name"));
    ASSERT_NE(it, boxes.end()) << "no box for chain " << c.String("name");
    EXPECT_GT(it->second.first + it->second.second, 0) << c.String("name") << " shows no records/s";
  }
  // The header names the job and its state; the source partitions are listed.
  EXPECT_THAT(dom, HasSubstr("<h1 id=\"job-name\">nexmark-q5</h1>"));
  EXPECT_THAT(dom, HasSubstr("class=\"state running\""));
  EXPECT_THAT(dom, HasSubstr("gen:nexmark"));
  EXPECT_EQ(Banner(dom), "");
  EXPECT_EQ(job.Stop(), 130) << job.log();
}

// The page served by a stand-in for a job's endpoint, answering /api/job with `api` (or
// 503 when empty), as headless Chromium renders it.
std::string RenderPage(const std::string& api, const std::string& name) {
  httplib::Server server;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(app::DashboardHtml()), "text/html; charset=utf-8");
  });
  server.Get("/api/job", [&api](const httplib::Request&, httplib::Response& res) {
    if (api.empty()) {
      res.status = 503;
      return;
    }
    res.set_content(api, "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  EXPECT_GT(port, 0);
  std::thread serving([&] { server.listen_after_bind(); });
  std::string dom = Capture(absl::StrCat(kChromium, " --headless --no-sandbox --disable-gpu --user-data-dir=",
                                         TempDir(name), " --virtual-time-budget=3000 --dump-dom http://127.0.0.1:",
                                         port, "/ 2>/dev/null"));
  server.stop();
  serving.join();
  return dom;
}

TEST(DashboardTest, AFinishedJobShowsItsFinalFiguresAndTheCatchUp) {
  if (access(kChromium, X_OK) != 0) GTEST_SKIP() << "chromium is not installed (scripts/setup installs it)";
  runtime::JobSnapshot s;
  s.job = "my-job-v2";
  s.state = "finished";
  s.started_ms = 1'796'000'000'000;
  s.now_ms = s.started_ms + 10'000;
  s.chains = {{"source -> parse", 1, {}}, {"count", 1, {}}};
  s.tasks.resize(2);
  s.tasks[0].records_in = s.tasks[0].records_out = s.tasks[1].records_in = 50'000;
  s.tasks[1].node = 1;
  runtime::SourcePartitionView p;
  p.progress = {"kafka://b:9092/bids", 0, 0, 50'000, -1, 50'000, true};
  p.high_water = 50'000;
  p.replay_end = 40'000;
  s.sources.push_back(p);
  s.catch_up = {true, true, s.started_ms + 8000};
  s.checkpoints.completed = 1;
  s.checkpoints.failed = 1;
  s.checkpoints.history = {{1, true, s.started_ms + 2000, 0.034, 0.001, 12'000'000, ""},
                           {2, false, s.started_ms + 4000, 1.5, 0, 0, "sink refused the commit"}};
  s.last_errors.push_back({s.started_ms + 5000, "decode", "source", "line 7: expected a JSON object"});
  s.errors_decode = 1;
  std::string dom = RenderPage(app::JobJson(s, nullptr), "finished");
  EXPECT_THAT(dom, HasSubstr("class=\"state finished\""));
  EXPECT_EQ(Banner(dom), "The job finished after 10 s; showing its final figures.");
  // Rates of an ended job: its averages over the run (50 000 records in 10 s).
  std::map<std::string, std::pair<double, double>> boxes = ChainBoxes(dom);
  ASSERT_EQ(boxes.size(), 2u) << dom.substr(0, 4000);
  EXPECT_DOUBLE_EQ(boxes["source -> parse"].second, 5000);
  EXPECT_THAT(dom, HasSubstr("Caught up</span> at 00:53:28.000 UTC"));
  EXPECT_THAT(dom, HasSubstr("bids[0]@40000"));
  EXPECT_THAT(dom, HasSubstr("12 MB"));
  EXPECT_THAT(dom, HasSubstr("34 ms"));
  EXPECT_THAT(dom, HasSubstr("sink refused the commit"));
  EXPECT_THAT(dom, HasSubstr("line 7: expected a JSON object"));
}

TEST(DashboardTest, SaysSoWhenTheJobCannotBeReached) {
  if (access(kChromium, X_OK) != 0) GTEST_SKIP() << "chromium is not installed (scripts/setup installs it)";
  std::string dom = RenderPage("", "unreachable");
  EXPECT_THAT(Banner(dom), HasSubstr("Cannot reach the job since"));
  EXPECT_THAT(Banner(dom), HasSubstr("(HTTP 503); retrying"));
  EXPECT_THAT(dom, HasSubstr("<div class=\"conn lost\" id=\"conn\">"));
}

TEST(StatusTest, ShowsTheRunningJobOnOneScreen) {
  RunningJob job("status");
  ASSERT_FALSE(job.url().empty()) << "no dashboard URL printed:\n" << job.log();
  app::JsonNode api = job.WaitUntilEveryChainMoves();

  RunResult r = RunKappa({"status", job.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("nexmark-q5 | running | up "));
  for (const app::JsonNode& c : api.Items("chains")) {
    std::string name = c.String("name");
    EXPECT_THAT(r.out, HasSubstr(name.size() > 38 ? name.substr(0, 35) : name));
  }
  EXPECT_THAT(r.out, HasSubstr("CHAIN"));
  EXPECT_THAT(r.out, HasSubstr("gen:nexmark"));
  EXPECT_THAT(r.out, HasSubstr("checkpoints: "));
  EXPECT_THAT(r.out, HasSubstr(" ok at "));  // the last checkpoint (every 500 ms)
  // Every chain's row shows a rate: the sampler gives the first request one already.
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  int chain_rows = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("CHAIN", 0) != 0) continue;
    for (size_t j = i + 1; j < lines.size() && !lines[j].empty() && lines[j][0] != ' '; ++j) {
      EXPECT_THAT(lines[j], HasSubstr("/s")) << lines[j];
      ++chain_rows;
    }
  }
  EXPECT_EQ(chain_rows, static_cast<int>(api.Items("chains").size())) << r.out;
  EXPECT_LE(lines.size(), 40u) << "more than one screen:\n" << r.out;

  // HOST:PORT without the scheme works too.
  RunResult bare = RunKappa({"status", "127.0.0.1:" + job.port()});
  EXPECT_EQ(bare.exit_code, 0) << bare.err;
  EXPECT_EQ(job.Stop(), 130) << job.log();
}

TEST(DashboardTest, AReplayThatCaughtUpSaysSoOnThePageAndInStatus) {
  std::string dir = TempDir("catch-up");
  RunResult gen = RunKappa({"run", "nexmark-copy", "--source", "gen:nexmark?events=20000&rate=1000&partitions=2",
                            "--sink", "file:" + dir + "/log/", "-p", "2"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  RunningJob job("catch-up-job", {"replay", "nexmark-q0", "--source", "file:" + dir + "/log/", "--from", "earliest",
                                  "--then-follow", "--no-progress"});
  ASSERT_FALSE(job.url().empty()) << "no dashboard URL printed:\n" << job.log();
  app::JsonNode api;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<app::JsonNode> j = app::ParseJsonTree(job.Get("/api/job"));
    if (j.ok() && j->Get("catch_up") != nullptr && j->Get("catch_up")->Bool("caught_up")) {
      api = *j;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(api.Get("catch_up"), nullptr) << "never caught up:\n" << job.log();
  EXPECT_TRUE(api.Get("catch_up")->Bool("tracking"));
  EXPECT_GT(api.Get("catch_up")->Number("at_ms"), 0);
  ASSERT_EQ(api.Items("sources").size(), 2u);
  for (const app::JsonNode& p : api.Items("sources")) {
    EXPECT_GT(p.Number("replay_end"), 0);  // the history's end, noted at the start
    EXPECT_GE(p.Number("offset"), p.Number("replay_end"));
  }

  RunResult status = RunKappa({"status", job.url()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("catch-up: caught up at "));

  if (access(kChromium, X_OK) == 0) {
    std::string dom = Capture(absl::StrCat(kChromium, " --headless --no-sandbox --disable-gpu --user-data-dir=",
                                           TempDir("catch-up-chromium"), " --virtual-time-budget=3000 --dump-dom ",
                                           job.url(), " 2>/dev/null"));
    EXPECT_THAT(dom, HasSubstr("<section class=\"card wide\" id=\"catchup-card\">"));  // no longer hidden
    EXPECT_THAT(dom, HasSubstr("<span class=\"ok-t\">Caught up</span> at "));
    EXPECT_THAT(dom, HasSubstr("<div class=\"progress done\">"));
  }
  EXPECT_EQ(job.Stop(), 130) << job.log();
}

// A port nothing listens on: bound and closed again.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

void ExpectOneLineError(const RunResult& r, int code, const std::string& text) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr(text));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(StatusTest, UnreachableJobIsAOneLineError) {
  std::string url = absl::StrCat("http://127.0.0.1:", ClosedPort(), "/");
  RunResult r = RunKappa({"status", url});
  ExpectOneLineError(r, 1, "kappa status: cannot reach " + url + ": connection refused; is the job running with --http?");
}

TEST(StatusTest, BadUrlsAreOneLineErrors) {
  ExpectOneLineError(RunKappa({"status", "https://127.0.0.1:8081/"}), 2, "only http:// URLs");
  ExpectOneLineError(RunKappa({"status", "localhost"}), 2, "expected http://HOST:PORT/");
  ExpectOneLineError(RunKappa({"status"}), 2, "URL is required");
}

TEST(StatusTest, AnotherServerIsNotTakenForAJob) {
  // An HTTP server that is not a Kappa job: it answers 404, or something that is not the JSON.
  httplib::Server server;
  server.Get("/other/api/job", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html>hello</html>", "text/html");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { server.listen_after_bind(); });
  ExpectOneLineError(RunKappa({"status", absl::StrCat("http://127.0.0.1:", port, "/")}), 1, "answered HTTP 404");
  ExpectOneLineError(RunKappa({"status", absl::StrCat("http://127.0.0.1:", port, "/other/")}), 1,
                     "did not answer with a Kappa job's JSON");
  server.stop();
  serving.join();
}

}  // namespace
}  // namespace kappa
