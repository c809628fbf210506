// Kafka end to end, against librdkafka's mock cluster hosted by this test process (real
// Kafka wire protocol; the `kappa` binary and kcat connect to it as to any cluster):
//
//  - Live, then replay: Nexmark q5, q7 and q11 run live on a 4-partition topic while it is
//    being produced (each partition at its own random pace, events out of order within
//    the bound), writing to Kafka exactly-once with checkpoints. Then each job is replayed
//    from earliest to end at another parallelism into another topic. `kappa diff` of the
//    live output and the replay's rows for every window the live run closed: equal. Both
//    also equal the independent reference.
//  - Replay by event time (--from ts:) equals the reference over the events of that range.
//  - Interop: kcat produces the input and reads the output.
//  - A broker failure during a live run: the job stalls, recovers, and loses nothing.
//  - SIGKILL during a replay with checkpoints: restarts finish it with the same output.
//
// The mock cannot prove exactly-once end to end over Kafka (it shows aborted transactions
// to every reader, ENVIRONMENT.md), so the crash and broker-failure tests check a file
// sink; the Kafka sink's transaction lifecycle is tested in connectors/kafka.
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kappa/base/file_test_util.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark/json.h"
#include "gtest/gtest.h"
#include "tests/kappa_process.h"
#include "tests/nexmark_reference.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using connectors::kafka::EmbeddedCluster;
using connectors::kafka::KafkaEndpoint;
using testing::ReadFileToString;
using testing::ScopedTempDir;
using testing::WriteStringToFile;
using namespace ::kappa::testing;  // NOLINT: references, rows, RunKappa

// 24k events at 400 events/s: 60 s of event time, 6 tumbling and 30 sliding windows;
// about 1.5 MB per partition, well under the mock's ~5 MiB retention.
constexpr int64_t kEvents = 24'000;
constexpr double kRate = 400;
constexpr int kPartitions = 4;
constexpr int64_t kBoundMs = 4000;      // the jobs' out-of-orderness
constexpr int64_t kShuffleSpanMs = 3000;  // events move by less than the bound: none is late

struct Data {
  std::vector<nexmark::Event> events;                // all, for the references
  std::vector<std::vector<nexmark::Event>> parts;    // per partition, in produce order
};

Data* MakeData(int64_t events, double rate, int partitions) {
    auto* d = new Data;
    nexmark::GeneratorConfig config;
    config.seed = 7;
    config.events = events;
    config.rate = rate;
    for (nexmark::Generator gen(config); gen.HasNext();) d->events.push_back(gen.Next());
    std::mt19937_64 rng(11);
    for (int p = 0; p < partitions; ++p) {
      std::vector<nexmark::Event> part;
      for (nexmark::Generator gen(config, p, partitions); gen.HasNext();) part.push_back(gen.Next());
      // Shuffle inside blocks of kShuffleSpanMs of event time.
      size_t begin = 0;
      while (begin < part.size()) {
        size_t end = begin;
        int64_t block = part[begin].date_time() / kShuffleSpanMs;
        while (end < part.size() && part[end].date_time() / kShuffleSpanMs == block) ++end;
        std::shuffle(part.begin() + begin, part.begin() + end, rng);
        begin = end;
      }
      d->parts.push_back(std::move(part));
    }
    return d;
}

const Data& TestData() {
  static const Data* data = MakeData(kEvents, kRate, kPartitions);
  return *data;
}

class KafkaReplayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = EmbeddedCluster::Start(3);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static std::string Uri(const std::string& topic) { return absl::StrCat("kafka://", cluster_->bootstrap(), "/", topic); }

  static KafkaEndpoint Endpoint(const std::string& topic) {
    KafkaEndpoint e;
    e.bootstrap = cluster_->bootstrap();
    e.topic = topic;
    return e;
  }

  // Produces the test data to `topic`: message timestamp = the event's dateTime. With
  // `pace`, each partition has its own producer thread sleeping random amounts, so the
  // partitions advance at different speeds while a live job reads them.
  static void Produce(const std::string& topic, bool pace, std::function<void(int)> midway = nullptr,
                      const Data& data = TestData()) {
    std::vector<std::thread> threads;
    for (int p = 0; p < static_cast<int>(data.parts.size()); ++p) {
      threads.emplace_back([&, p] {
        auto rk = connectors::kafka::NewClient(RD_KAFKA_PRODUCER, Endpoint(topic), {{"linger.ms", "1"}});
        ASSERT_TRUE(rk.ok());
        std::mt19937 rng(100 + p);
        std::string json;
        const auto& events = data.parts[p];
        for (size_t i = 0; i < events.size(); ++i) {
          json.clear();
          nexmark::AppendJson(events[i], &json);
          rd_kafka_resp_err_t err;
          while ((err = rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
                                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                          RD_KAFKA_V_VALUE(json.data(), json.size()),
                                          RD_KAFKA_V_TIMESTAMP(events[i].date_time()), RD_KAFKA_V_END)) ==
                 RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk->get(), 10);
          }
          ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
          if (pace && i % 200 == 0) {
            rd_kafka_poll(rk->get(), 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
          }
          if (midway && p == 0 && i == events.size() / 2) midway(p);
        }
        ASSERT_EQ(rd_kafka_flush(rk->get(), 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
      });
    }
    for (auto& t : threads) t.join();
  }

  // The watermark a live run reaches once it has read everything: the minimum over the
  // partitions of their largest event time, minus the bound.
  static int64_t FinalLiveWatermark() {
    int64_t wm = INT64_MAX;
    for (const auto& part : TestData().parts) {
      int64_t max = 0;
      for (const auto& e : part) max = std::max(max, e.date_time());
      wm = std::min(wm, max - kBoundMs);
    }
    return wm;
  }

  static std::vector<std::string> ReadRows(const std::string& topic, const Schema& schema) {
    auto values = connectors::kafka::ReadTopic(Endpoint(topic));
    EXPECT_TRUE(values.ok()) << values.status();
    std::vector<std::string> rows;
    simdjson::dom::parser parser;
    if (values.ok()) {
      for (const auto& v : *values) rows.push_back(Canonical(parser, v, schema));
    }
    return rows;
  }

  static EmbeddedCluster* cluster_;
};

EmbeddedCluster* KafkaReplayTest::cluster_ = nullptr;

struct Query {
  std::string job;
  const Schema* schema;
  std::vector<std::string> (*reference)(const std::vector<nexmark::Event>&);
  std::string end_field;  // the row's window or session end (exclusive)
};

int64_t FieldOf(const std::string& canonical_row, const std::string& field) {
  for (absl::string_view part : absl::StrSplit(canonical_row, '|')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == field) return std::stoll(kv.second);
  }
  ADD_FAILURE() << "no " << field << " in " << canonical_row;
  return 0;
}

// Rows of windows (sessions) a run whose watermark reached `wm` has fired: end − 1 ≤ wm.
std::vector<std::string> ClosedBy(const std::vector<std::string>& rows, const std::string& end_field, int64_t wm) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (FieldOf(r, end_field) - 1 <= wm) out.push_back(r);
  }
  return out;
}

// The rows of the published part files in a directory sink (hidden in-progress files are
// not output yet).
std::vector<std::string> ReadPartRows(const std::string& dir, const Schema& schema) {
  std::vector<std::string> rows;
  simdjson::dom::parser parser;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    if (f.path().filename().string().starts_with(".")) continue;
    for (absl::string_view line : absl::StrSplit(ReadFileToString(f.path()), '\n', absl::SkipEmpty())) {
      rows.push_back(Canonical(parser, std::string(line), schema));
    }
  }
  return rows;
}

TEST_F(KafkaReplayTest, LiveRunsAndTheirReplaysAgreeForEveryClosedWindow) {
  ASSERT_TRUE(cluster_->CreateTopic("live-events", kPartitions).ok());
  const std::vector<Query> queries = {{"nexmark-q5", &kQ5Schema, &RefQ5, "window_end"},
                                      {"nexmark-q7", &kBidSchema, &RefQ7, ""},
                                      {"nexmark-q11", &kQ11Schema, &RefQ11, "endtime"}};
  ScopedTempDir dir;
  const int64_t wm = FinalLiveWatermark();
  std::vector<pid_t> live;
  struct KillLeftovers {  // a failed assertion must not leave live jobs running
    std::vector<pid_t>* pids;
    ~KillLeftovers() {
      for (pid_t p : *pids) {
        if (p > 0 && kill(p, SIGKILL) == 0) WaitKappa(p);
      }
    }
  } kill_leftovers{&live};
  for (const Query& q : queries) {
    ASSERT_TRUE(cluster_->CreateTopic(q.job + "-live", 2).ok());
    ASSERT_TRUE(cluster_->CreateTopic(q.job + "-replay", 3).ok());
    live.push_back(StartKappa({"run", q.job, "--source", Uri("live-events"), "--sink", Uri(q.job + "-live"), "-p",
                               "2", "--checkpoint-dir", dir.path() + "/ck-" + q.job, "--checkpoint-interval", "200"},
                              dir.path() + "/" + q.job + ".log"));
  }
  Produce("live-events", /*pace=*/true);

  for (size_t i = 0; i < queries.size(); ++i) {
    const Query& q = queries[i];
    SCOPED_TRACE(q.job);
    // q7's rows carry the bid's dateTime; its window is the tumbling 10 s one around it.
    auto closed = [&](const std::vector<std::string>& rows) {
      if (!q.end_field.empty()) return ClosedBy(rows, q.end_field, wm);
      std::vector<std::string> out;
      for (const auto& r : rows) {
        if (WindowStart(FieldOf(r, "dateTime"), 10'000) + 10'000 - 1 <= wm) out.push_back(r);
      }
      return out;
    };
    std::vector<std::string> expected = closed(q.reference(TestData().events));
    ASSERT_GE(expected.size(), 4u);
    // Wait until the live run has committed every closed window (checkpoints every 200 ms).
    std::vector<std::string> live_rows;
    for (int tries = 0; tries < 300; ++tries) {
      live_rows = ReadRows(q.job + "-live", *q.schema);
      if (live_rows.size() >= expected.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(live[i], SIGINT);
    EXPECT_EQ(WaitKappa(live[i]), 130) << ReadFileToString(dir.path() + "/" + q.job + ".log");
    live[i] = -1;
    ExpectSameRows(live_rows, expected, "the reference (closed windows)");

    // The same job, rewound: from earliest to the end, at another parallelism.
    RunResult replay = RunKappa({"replay", q.job, "--source", Uri("live-events"), "--from", "earliest", "--sink",
                                 Uri(q.job + "-replay"), "-p", "3", "--checkpoint-dir",
                                 dir.path() + "/ck-replay-" + q.job});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_NE(replay.err.find("kappa: replayed partitions"), std::string::npos) << replay.err;
    std::vector<std::string> replay_rows = ReadRows(q.job + "-replay", *q.schema);
    ExpectSameRows(replay_rows, q.reference(TestData().events), "the reference (all windows)");

    // kappa diff: the live output against the replay's rows of the windows live closed.
    std::string replay_closed;
    auto values = connectors::kafka::ReadTopic(Endpoint(q.job + "-replay"));
    ASSERT_TRUE(values.ok());
    simdjson::dom::parser parser;
    for (const auto& v : *values) {
      if (!closed({Canonical(parser, v, *q.schema)}).empty()) absl::StrAppend(&replay_closed, v, "\n");
    }
    WriteStringToFile(dir.path() + "/" + q.job + "-replay-closed.jsonl", replay_closed);
    RunResult diff = RunKappa({"diff", Uri(q.job + "-live"), "file:" + dir.path() + "/" + q.job + "-replay-closed.jsonl"});
    EXPECT_EQ(diff.exit_code, 0) << diff.out << diff.err;
    // And diff does see a difference: the full replay has windows live never closed.
    RunResult full = RunKappa({"diff", Uri(q.job + "-live"), Uri(q.job + "-replay")});
    if (replay_rows.size() > live_rows.size()) {
      EXPECT_EQ(full.exit_code, 1) << full.out;
    }
  }
}

TEST_F(KafkaReplayTest, ReplayFromAnEventTimeGivesTheReferenceOfThatRange) {
  ASSERT_TRUE(cluster_->CreateTopic("ts-events", kPartitions).ok());
  Produce("ts-events", /*pace=*/false);
  int64_t first = TestData().events.front().date_time();
  int64_t from = WindowStart(first, 10'000) + 30'000;  // a window boundary mid-stream
  std::vector<nexmark::Event> range;
  for (const auto& e : TestData().events) {
    if (e.date_time() >= from) range.push_back(e);
  }
  ASSERT_GT(range.size(), 1000u);
  ASSERT_LT(range.size(), TestData().events.size() - 1000);
  ScopedTempDir dir;
  for (const Query& q : {Query{"nexmark-q7", &kBidSchema, &RefQ7, ""}, Query{"nexmark-q5", &kQ5Schema, &RefQ5, ""}}) {
    SCOPED_TRACE(q.job);
    std::string out = dir.path() + "/" + q.job + ".jsonl";
    RunResult r = RunKappa({"replay", q.job, "--source", Uri("ts-events"), "--from", absl::StrCat("ts:", from),
                            "--sink", "file:" + out, "-p", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> rows;
    simdjson::dom::parser parser;
    for (absl::string_view line : absl::StrSplit(ReadFileToString(out), '\n', absl::SkipEmpty())) {
      rows.push_back(Canonical(parser, std::string(line), *q.schema));
    }
    ExpectSameRows(rows, q.reference(range), "the reference over events from ts");
  }
}

TEST_F(KafkaReplayTest, ReplayThenFollowCatchesUpAndGoesOnLive) {
  ASSERT_TRUE(cluster_->CreateTopic("follow-events", kPartitions).ok());
  const Data& data = TestData();
  Data first, second;  // each partition's first and second half
  for (const auto& part : data.parts) {
    first.parts.emplace_back(part.begin(), part.begin() + part.size() / 2);
    second.parts.emplace_back(part.begin() + part.size() / 2, part.end());
  }
  auto bids = [](const Data& d) {
    std::vector<nexmark::Event> all;
    for (const auto& part : d.parts) all.insert(all.end(), part.begin(), part.end());
    return RefQ0(all);
  };
  Produce("follow-events", /*pace=*/false, nullptr, first);
  ScopedTempDir dir;
  std::string out = dir.path() + "/out/";
  pid_t pid = StartKappa({"replay", "nexmark-q0", "--source", Uri("follow-events"), "--from", "earliest",
                          "--then-follow", "--sink", "file:" + out, "--checkpoint-dir", dir.path() + "/ck",
                          "--checkpoint-interval", "100"},
                         dir.path() + "/log");
  auto read_rows = [&] { return ReadPartRows(out, kBidSchema); };
  auto wait_for = [&](size_t n) {
    std::vector<std::string> rows;
    for (int tries = 0; tries < 300 && rows.size() < n; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rows = read_rows();
    }
    return rows;
  };
  std::vector<std::string> history = bids(first);
  ExpectSameRows(wait_for(history.size()), history, "the history");
  Produce("follow-events", /*pace=*/true, nullptr, second);  // live input after the catch-up
  std::vector<std::string> everything = bids(data);
  std::vector<std::string> rows = wait_for(everything.size());
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130) << ReadFileToString(dir.path() + "/log");
  ExpectSameRows(rows, everything, "history and live input");
}

// An empty partition holds back the watermark of a live run (no window closes) until
// --idle-timeout declares it idle.
TEST_F(KafkaReplayTest, AnEmptyPartitionStallsWindowsUntilDeclaredIdle) {
  ASSERT_TRUE(cluster_->CreateTopic("idle-events", kPartitions + 1).ok());  // the last stays empty
  Produce("idle-events", /*pace=*/false);
  ScopedTempDir dir;
  const int64_t wm = FinalLiveWatermark();
  size_t closed = 0;
  for (const auto& r : RefQ7(TestData().events)) {
    closed += WindowStart(FieldOf(r, "dateTime"), 10'000) + 10'000 - 1 <= wm ? 1 : 0;
  }
  ASSERT_GT(closed, 0u);
  auto run_for = [&](std::vector<std::string> extra, const std::string& name) {
    std::string out = dir.path() + "/" + name + ".jsonl";
    std::vector<std::string> args = {"run", "nexmark-q7", "--source", Uri("idle-events"), "--sink", "file:" + out};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_t pid = StartKappa(args, dir.path() + "/" + name + ".log");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    kill(pid, SIGINT);
    EXPECT_EQ(WaitKappa(pid), 130);
    std::vector<std::string> lines = absl::StrSplit(ReadFileToString(out), '\n', absl::SkipEmpty());
    return lines.size();
  };
  EXPECT_EQ(run_for({}, "stalled"), 0u);
  EXPECT_EQ(run_for({"--idle-timeout", "500"}, "idle"), closed);
}

TEST_F(KafkaReplayTest, KcatProducesTheInputAndReadsTheOutput) {
  if (system("command -v kcat >/dev/null 2>&1") != 0) GTEST_SKIP() << "kcat is not installed (scripts/setup installs it)";
  ASSERT_TRUE(cluster_->CreateTopic("kcat-in", 1).ok());
  ASSERT_TRUE(cluster_->CreateTopic("kcat-out", 1).ok());
  ScopedTempDir dir;
  std::string input;
  std::vector<nexmark::Event> events(TestData().events.begin(), TestData().events.begin() + 3000);
  for (const auto& e : events) absl::StrAppend(&input, nexmark::ToJson(e), "\n");
  WriteStringToFile(dir.path() + "/in.jsonl", input);
  std::string produce = absl::StrCat("kcat -P -b ", cluster_->bootstrap(), " -t kcat-in -p 0 -l ", dir.path(),
                                     "/in.jsonl");
  ASSERT_EQ(system(produce.c_str()), 0);
  RunResult r = RunKappa({"run", "nexmark-q2", "--source", Uri("kcat-in") + "?end=end", "--sink", Uri("kcat-out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string consume = absl::StrCat("kcat -C -b ", cluster_->bootstrap(), " -t kcat-out -e -q -o beginning > ",
                                     dir.path(), "/out.jsonl");
  ASSERT_EQ(system(consume.c_str()), 0);
  std::vector<std::string> rows;
  simdjson::dom::parser parser;
  for (absl::string_view line : absl::StrSplit(ReadFileToString(dir.path() + "/out.jsonl"), '\n', absl::SkipEmpty())) {
    rows.push_back(Canonical(parser, std::string(line), kQ2Schema));
  }
  ASSERT_FALSE(rows.empty());
  ExpectSameRows(rows, RefQ2(events));
}

TEST_F(KafkaReplayTest, BrokersDownDuringALiveRunStallItAndNothingIsLost) {
  ASSERT_TRUE(cluster_->CreateTopic("flaky-events", kPartitions).ok());
  ScopedTempDir dir;
  std::string out = dir.path() + "/out/";
  pid_t pid = StartKappa({"run", "nexmark-q7", "--source", Uri("flaky-events"), "--sink", "file:" + out, "-p", "2",
                          "--checkpoint-dir", dir.path() + "/ck", "--checkpoint-interval", "200"},
                         dir.path() + "/log");
  std::atomic<bool> went_down{false};
  std::thread outage;
  Produce("flaky-events", /*pace=*/true, [&](int) {
    outage = std::thread([&] {
      for (int b = 1; b <= 3; ++b) ASSERT_TRUE(cluster_->SetBrokerDown(b, true).ok());
      went_down = true;
      std::this_thread::sleep_for(std::chrono::seconds(3));
      for (int b = 1; b <= 3; ++b) ASSERT_TRUE(cluster_->SetBrokerDown(b, false).ok());
    });
  });
  if (outage.joinable()) outage.join();
  ASSERT_TRUE(went_down);

  const int64_t wm = FinalLiveWatermark();
  std::vector<std::string> expected;
  for (const auto& r : RefQ7(TestData().events)) {
    if (WindowStart(FieldOf(r, "dateTime"), 10'000) + 10'000 - 1 <= wm) expected.push_back(r);
  }
  auto read_rows = [&] { return ReadPartRows(out, kBidSchema); };
  std::vector<std::string> rows;
  for (int tries = 0; tries < 300 && rows.size() < expected.size(); ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rows = read_rows();
  }
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130) << ReadFileToString(dir.path() + "/log");
  ExpectSameRows(rows, expected, "the reference (closed windows)");
}

TEST_F(KafkaReplayTest, KilledReplayRestartsFromItsCheckpointWithTheSameOutput) {
  // Fifteen times the data of the other tests (24 partitions keep each under the mock's
  // retention), so that the replay runs long enough to be killed.
  static const Data* big = MakeData(15 * kEvents, 15 * kRate, 24);
  ASSERT_TRUE(cluster_->CreateTopic("crash-events", 24).ok());
  Produce("crash-events", /*pace=*/false, nullptr, *big);
  const std::vector<nexmark::Event>& all = big->events;

  ScopedTempDir dir;
  std::string out = dir.path() + "/out/";
  std::vector<std::string> args = {"replay", "nexmark-q7", "--source", Uri("crash-events"), "--from", "earliest",
                                   "--sink", "file:" + out, "-p", "1", "--checkpoint-dir", dir.path() + "/ck",
                                   "--checkpoint-interval", "50", "--state", "rocksdb"};
  std::mt19937 rng(5);
  int kills = 0, restored = 0;
  // The newest complete checkpoint's id (0: none).
  auto newest = [&] {
    int64_t id = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir.path() + "/ck", ec)) {
      std::string name = e.path().filename().string();
      if (name.starts_with("chk-") && fs::exists(e.path() / "MANIFEST")) id = std::max<int64_t>(id, std::stoll(name.substr(4)));
    }
    return id;
  };
  for (int attempt = 0; attempt < 10 && kills < 3; ++attempt) {
    int64_t before = newest();
    pid_t pid = StartKappa(args, dir.path() + "/log");
    // Kill it at a random moment after it completed a checkpoint of its own, so every
    // restart has made progress to restore.
    for (int i = 0; i < 200 && newest() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));
    if (kill(pid, SIGKILL) == 0) {
      int code = WaitKappa(pid);
      if (code == 128 + SIGKILL) ++kills;
    } else {
      WaitKappa(pid);
    }
  }
  RunResult last = RunKappa(args, "", std::chrono::seconds(120));
  ASSERT_EQ(last.exit_code, 0) << last.err;
  std::string log = ReadFileToString(dir.path() + "/log") + last.err;
  for (size_t at = 0; (at = log.find("restored checkpoint", at)) != std::string::npos; ++at) ++restored;
  EXPECT_GE(kills, 3) << "the replay finished before it could be killed three times";
  EXPECT_GE(restored, 1) << log;

  std::vector<std::string> rows = ReadPartRows(out, kBidSchema);
  ExpectSameRows(rows, RefQ7(all), "an uninterrupted run's answer");
}

}  // namespace
}  // namespace kappa
