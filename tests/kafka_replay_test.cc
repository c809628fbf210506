// Kafka end to end against a real Apache Kafka broker: the suite's single-node KRaft
// cluster (CTest's kafka_broker fixture, tests/kafka_cluster.h), which this file shares
// with the other Kafka tests, so every topic it uses has a name of its own. The `kappa`
// binary, kcat and Kafka's own console tools connect to it as to any cluster.
//
//  - Live, then replay: Nexmark q5, q7 and q11 run live on a 4-partition topic while it is
//    being produced (each partition at its own random pace, events out of order within
//    the bound), writing to Kafka exactly-once with checkpoints. Then each job is replayed
//    from earliest to end at another parallelism into another topic. `kappa diff` of the
//    live output and the replay's rows for every window the live run closed: equal. Both
//    also equal the independent reference (output read with read_committed).
//  - Replay by event time (--from ts:): the broker's time index places every partition
//    (offsets_for_times; `kappa replay` says so on stderr), at the offsets the test
//    computes from what it produced, and the rows equal the reference over that range. The
//    binary search kept for brokers without a time index finds the same offsets.
//  - --then-follow catches up on history and goes on with live input; an empty partition
//    holds back every window until --idle-timeout declares it idle.
//  - Interop: kcat and Kafka's console producer write the input (with keys and headers),
//    kcat and Kafka's console consumer read the output with read_committed; the sink's keys
//    (key=), headers (header.NAME=) and timestamps (event time) survive the round trip.
//  - SIGKILL during a replay with checkpoints into a Kafka topic: restarts finish it, and
//    what read_committed consumers see equals an uninterrupted run's answer, without
//    duplicates.
//  - A missing topic or a malformed ts: is one line on stderr and exit 2.
//
// A broker failure during a live run needs a cluster whose brokers a test may stop; the
// suite's shared one is not that. tests/kafka_broker_faults_test.cc covers broker failures
// on clusters of its own.
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kappa/base/file_test_util.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark/json.h"
#include "gtest/gtest.h"
#include "tests/kafka_cluster.h"
#include "tests/kappa_process.h"
#include "tests/nexmark_reference.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using connectors::kafka::KafkaEndpoint;
using testing::ReadFileToString;
using testing::ScopedTempDir;
using testing::WriteStringToFile;
using namespace ::kappa::testing;  // NOLINT: references, rows, RunKappa, the cluster

// 24k events at 400 events/s: 60 s of event time, 6 tumbling and 30 sliding windows.
constexpr int64_t kEvents = 24'000;
constexpr double kRate = 400;
constexpr int kPartitions = 4;
constexpr int64_t kBoundMs = 4000;      // the jobs' out-of-orderness
constexpr int64_t kShuffleSpanMs = 3000;  // events move by less than the bound: none is late

struct Data {
  std::vector<nexmark::Event> events;                // all, for the references
  std::vector<std::vector<nexmark::Event>> parts;    // per partition, in produce order
};

// Each partition's events are shuffled inside blocks of kShuffleSpanMs of event time, so
// a multiple of kShuffleSpanMs splits every partition in two: all events before it come
// first.
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
  void SetUp() override {
    bootstrap_ = TestKafkaBootstrap();
    ASSERT_FALSE(bootstrap_.empty());
  }

  // A new topic (a unique name starting with `prefix`) of `partitions` partitions.
  std::string NewTopic(const std::string& prefix, int partitions) {
    std::string topic = UniqueTopicName(prefix);
    absl::Status created = CreateTopic(bootstrap_, topic, partitions);
    EXPECT_TRUE(created.ok()) << created;
    return topic;
  }

  std::string Uri(const std::string& topic) const { return absl::StrCat("kafka://", bootstrap_, "/", topic); }

  KafkaEndpoint Endpoint(const std::string& topic) const {
    KafkaEndpoint e;
    e.bootstrap = bootstrap_;
    e.topic = topic;
    return e;
  }

  // Produces the test data to `topic`, partition p's events to partition p: message
  // timestamp = the event's dateTime, key = the event's index in its partition. With
  // `pace`, each partition has its own producer thread sleeping random amounts, so the
  // partitions advance at different speeds while a live job reads them.
  void Produce(const std::string& topic, bool pace, const Data& data = TestData()) {
    std::vector<std::thread> threads;
    for (int p = 0; p < static_cast<int>(data.parts.size()); ++p) {
      threads.emplace_back([&, p] {
        auto rk = connectors::kafka::NewClient(RD_KAFKA_PRODUCER, Endpoint(topic), {{"linger.ms", "5"}});
        ASSERT_TRUE(rk.ok()) << rk.status();
        std::mt19937 rng(100 + p);
        std::string json, key;
        const auto& events = data.parts[p];
        for (size_t i = 0; i < events.size(); ++i) {
          json.clear();
          nexmark::AppendJson(events[i], &json);
          key = std::to_string(i);
          rd_kafka_resp_err_t err;
          while ((err = rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
                                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                          RD_KAFKA_V_VALUE(json.data(), json.size()),
                                          RD_KAFKA_V_KEY(key.data(), key.size()),
                                          RD_KAFKA_V_TIMESTAMP(events[i].date_time()), RD_KAFKA_V_END)) ==
                 RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk->get(), 10);
          }
          ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
          if (pace && i % 200 == 0) {
            rd_kafka_poll(rk->get(), 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
          }
        }
        ASSERT_EQ(rd_kafka_flush(rk->get(), 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
      });
    }
    for (auto& t : threads) t.join();
  }

  // The canonical rows of `topic` as a read_committed consumer sees them.
  std::vector<std::string> ReadRows(const std::string& topic, const Schema& schema) {
    auto values = ReadTopicValues(bootstrap_, topic);
    EXPECT_TRUE(values.ok()) << values.status();
    std::vector<std::string> rows;
    simdjson::dom::parser parser;
    if (values.ok()) {
      for (const auto& v : *values) rows.push_back(Canonical(parser, v, schema));
    }
    return rows;
  }

  // Polls `topic` (read_committed) until it holds at least `n` rows or a minute passed.
  std::vector<std::string> WaitForRows(const std::string& topic, const Schema& schema, size_t n) {
    std::vector<std::string> rows;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((rows = ReadRows(topic, schema)).size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return rows;
  }

  std::string bootstrap_;
};

// The watermark a live run reaches once it has read everything: the minimum over the
// partitions of their largest event time, minus the bound.
int64_t FinalLiveWatermark() {
  int64_t wm = INT64_MAX;
  for (const auto& part : TestData().parts) {
    int64_t max = 0;
    for (const auto& e : part) max = std::max(max, e.date_time());
    wm = std::min(wm, max - kBoundMs);
  }
  return wm;
}

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

// q7's rows carry the bid's dateTime; its window is the tumbling 10 s one around it.
std::vector<std::string> Q7ClosedBy(const std::vector<std::string>& rows, int64_t wm) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    if (WindowStart(FieldOf(r, "dateTime"), 10'000) + 10'000 - 1 <= wm) out.push_back(r);
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

// The line of `text` that contains `marker` (without its newline), or "".
std::string LineWith(const std::string& text, const std::string& marker) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.find(marker) != absl::string_view::npos) return std::string(line);
  }
  return "";
}

// The start offset of each partition in `kappa replay`'s summary line
// ("kappa: replayed partitions (offsets from..to, events): TOPIC[P] FROM..TO N; ...").
std::map<int, int64_t> ReplayedFrom(const std::string& err) {
  std::map<int, int64_t> from;
  std::string line = LineWith(err, "kappa: replayed partitions");
  for (absl::string_view entry : absl::StrSplit(line.substr(line.find("):") + 2), ';', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    size_t open = entry.find('['), close = entry.find(']'), dots = entry.find("..");
    int p;
    int64_t offset;
    if (open == absl::string_view::npos || close == absl::string_view::npos || dots == absl::string_view::npos ||
        !absl::SimpleAtoi(entry.substr(open + 1, close - open - 1), &p) ||
        !absl::SimpleAtoi(entry.substr(close + 1, dots - close - 1), &offset)) {
      ADD_FAILURE() << "cannot read '" << entry << "' of: " << line;
      continue;
    }
    from[p] = offset;
  }
  return from;
}

TEST_F(KafkaReplayTest, LiveRunsAndTheirReplaysAgreeForEveryClosedWindow) {
  const std::string events = NewTopic("live-events", kPartitions);
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
  std::map<std::string, std::string> live_topic, replay_topic;
  for (const Query& q : queries) {
    live_topic[q.job] = NewTopic(q.job + "-live", 2);
    replay_topic[q.job] = NewTopic(q.job + "-replay", 3);
    live.push_back(StartKappa({"run", q.job, "--source", Uri(events), "--sink", Uri(live_topic[q.job]), "-p", "2",
                               "--checkpoint-dir", dir.path() + "/ck-" + q.job, "--checkpoint-interval", "200"},
                              dir.path() + "/" + q.job + ".log"));
  }
  Produce(events, /*pace=*/true);

  for (size_t i = 0; i < queries.size(); ++i) {
    const Query& q = queries[i];
    SCOPED_TRACE(q.job);
    auto closed = [&](const std::vector<std::string>& rows) {
      return q.end_field.empty() ? Q7ClosedBy(rows, wm) : ClosedBy(rows, q.end_field, wm);
    };
    std::vector<std::string> expected = closed(q.reference(TestData().events));
    ASSERT_GE(expected.size(), 4u);
    // Until the live run has committed every closed window (checkpoints every 200 ms).
    std::vector<std::string> live_rows = WaitForRows(live_topic[q.job], *q.schema, expected.size());
    kill(live[i], SIGINT);
    EXPECT_EQ(WaitKappa(live[i]), 130) << ReadFileToString(dir.path() + "/" + q.job + ".log");
    live[i] = -1;
    ExpectSameRows(live_rows, expected, "the reference (closed windows)");
    if (live_rows.size() != expected.size()) {
      ADD_FAILURE() << "the live run's log:\n" << ReadFileToString(dir.path() + "/" + q.job + ".log");
    }

    // The same job, rewound: from earliest to the end, at another parallelism.
    RunResult replay = RunKappa({"replay", q.job, "--source", Uri(events), "--from", "earliest", "--sink",
                                 Uri(replay_topic[q.job]), "-p", "3", "--checkpoint-dir",
                                 dir.path() + "/ck-replay-" + q.job});
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_NE(replay.err.find("kappa: replayed partitions"), std::string::npos) << replay.err;
    std::vector<std::string> replay_rows = ReadRows(replay_topic[q.job], *q.schema);
    ExpectSameRows(replay_rows, q.reference(TestData().events), "the reference (all windows)");
    if (replay_rows.size() != q.reference(TestData().events).size()) {
      ADD_FAILURE() << "the replay's log:\n" << replay.err;
    }

    // kappa diff: the live output against the replay's rows of the windows live closed.
    std::string replay_closed;
    auto values = ReadTopicValues(bootstrap_, replay_topic[q.job]);
    ASSERT_TRUE(values.ok()) << values.status();
    simdjson::dom::parser parser;
    for (const auto& v : *values) {
      if (!closed({Canonical(parser, v, *q.schema)}).empty()) absl::StrAppend(&replay_closed, v, "\n");
    }
    WriteStringToFile(dir.path() + "/" + q.job + "-replay-closed.jsonl", replay_closed);
    RunResult diff =
        RunKappa({"diff", Uri(live_topic[q.job]), "file:" + dir.path() + "/" + q.job + "-replay-closed.jsonl"});
    EXPECT_EQ(diff.exit_code, 0) << diff.out << diff.err;
    // And diff does see a difference: the full replay has windows live never closed.
    RunResult full = RunKappa({"diff", Uri(live_topic[q.job]), Uri(replay_topic[q.job])});
    if (replay_rows.size() > live_rows.size()) {
      EXPECT_EQ(full.exit_code, 1) << full.out << full.err;
    }
  }
}

// For every partition, the offset of the first event at or after `ts` in produce order
// (the topic holds nothing else, so index = offset). Exact for a multiple of
// kShuffleSpanMs, before which every partition's events come first.
std::vector<int64_t> FirstOffsetsAtOrAfter(int64_t ts) {
  std::vector<int64_t> offsets;
  for (const auto& part : TestData().parts) {
    int64_t at = static_cast<int64_t>(part.size());
    for (size_t i = 0; i < part.size(); ++i) {
      if (part[i].date_time() >= ts) {
        at = static_cast<int64_t>(i);
        break;
      }
    }
    offsets.push_back(at);
  }
  return offsets;
}

TEST_F(KafkaReplayTest, ReplayFromAnEventTimeStartsWhereTheBrokersTimeIndexSaysWithTheReferenceOfThatRange) {
  const std::string events = NewTopic("ts-events", kPartitions);
  Produce(events, /*pace=*/false);
  const int64_t first = TestData().events.front().date_time();
  const int64_t from = WindowStart(first, 10'000) + 30'000;  // a window boundary mid-stream
  std::vector<nexmark::Event> range;
  for (const auto& e : TestData().events) {
    if (e.date_time() >= from) range.push_back(e);
  }
  ASSERT_GT(range.size(), 1000u);
  ASSERT_LT(range.size(), TestData().events.size() - 1000);
  // Every partition starts at the first message at or after from − the bound.
  const std::vector<int64_t> starts = FirstOffsetsAtOrAfter(from - kBoundMs);
  ScopedTempDir dir;
  for (const Query& q : {Query{"nexmark-q7", &kBidSchema, &RefQ7, ""}, Query{"nexmark-q5", &kQ5Schema, &RefQ5, ""}}) {
    SCOPED_TRACE(q.job);
    std::string out = dir.path() + "/" + q.job + ".jsonl";
    RunResult r = RunKappa({"replay", q.job, "--source", Uri(events), "--from", absl::StrCat("ts:", from),
                            "--sink", "file:" + out, "-p", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(LineWith(r.err, "starts at ts:"),
              absl::StrCat("kappa: ", Uri(events), " starts at ts:", from - kBoundMs,
                           ": 4 partitions by the broker's time index (offsets_for_times)"))
        << r.err;
    std::map<int, int64_t> replayed_from = ReplayedFrom(r.err);
    ASSERT_EQ(replayed_from.size(), starts.size()) << r.err;
    for (int p = 0; p < kPartitions; ++p) {
      EXPECT_GT(starts[p], 0) << "partition " << p << " should start mid-stream";
      EXPECT_EQ(replayed_from[p], starts[p]) << "partition " << p << "\n" << r.err;
    }
    std::vector<std::string> rows;
    simdjson::dom::parser parser;
    for (absl::string_view line : absl::StrSplit(ReadFileToString(out), '\n', absl::SkipEmpty())) {
      rows.push_back(Canonical(parser, std::string(line), *q.schema));
    }
    ExpectSameRows(rows, q.reference(range), "the reference over events from ts");
  }
}

// The fallback for brokers without a time index (and librdkafka's mock cluster), run
// against a broker that has one: both find the first message at or after the time.
TEST_F(KafkaReplayTest, TheSearchFallbackFindsWhatTheBrokersTimeIndexFinds) {
  const std::string events = NewTopic("search-events", kPartitions);
  Produce(events, /*pace=*/false);
  // As the source's lookup client: no auto commit (an unassign would wait for the group
  // coordinator, which a new cluster may not have yet), short fetch waits.
  auto rk = connectors::kafka::NewClient(
      RD_KAFKA_CONSUMER, Endpoint(events),
      {{"group.id", "kappa-test"}, {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "10"}});
  ASSERT_TRUE(rk.ok()) << rk.status();
  const int64_t first = TestData().events.front().date_time();
  const int64_t last = TestData().events.back().date_time();
  for (int64_t ts : {first - 60'000, WindowStart(first, kShuffleSpanMs) + 5 * kShuffleSpanMs,
                     WindowStart(first, kShuffleSpanMs) + 13 * kShuffleSpanMs, last + 1}) {
    SCOPED_TRACE(ts);
    const std::vector<int64_t> want = FirstOffsetsAtOrAfter(ts);
    for (int p = 0; p < kPartitions; ++p) {
      connectors::kafka::TimeLookup how;
      auto indexed = connectors::kafka::OffsetForTime(rk->get(), events, p, ts, 10000, &how);
      ASSERT_TRUE(indexed.ok()) << indexed.status();
      EXPECT_EQ(*indexed, want[p]) << "partition " << p;
      EXPECT_EQ(how, ts > last ? connectors::kafka::TimeLookup::kPastEnd : connectors::kafka::TimeLookup::kTimeIndex);
      auto searched = connectors::kafka::OffsetForTimeBySearch(rk->get(), events, p, ts);
      ASSERT_TRUE(searched.ok()) << searched.status();
      EXPECT_EQ(*searched, want[p]) << "partition " << p;
    }
  }
}

TEST_F(KafkaReplayTest, ReplayThenFollowCatchesUpAndGoesOnLive) {
  const std::string events = NewTopic("follow-events", kPartitions);
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
  Produce(events, /*pace=*/false, first);
  ScopedTempDir dir;
  std::string out = dir.path() + "/out/";
  pid_t pid = StartKappa({"replay", "nexmark-q0", "--source", Uri(events), "--from", "earliest", "--then-follow",
                          "--sink", "file:" + out, "--checkpoint-dir", dir.path() + "/ck", "--checkpoint-interval",
                          "100"},
                         dir.path() + "/log");
  auto wait_for = [&](size_t n) {
    std::vector<std::string> rows;
    for (int tries = 0; tries < 600 && rows.size() < n; ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rows = ReadPartRows(out, kBidSchema);
    }
    return rows;
  };
  std::vector<std::string> history = bids(first);
  ExpectSameRows(wait_for(history.size()), history, "the history");
  Produce(events, /*pace=*/true, second);  // live input after the catch-up
  std::vector<std::string> everything = bids(data);
  std::vector<std::string> rows = wait_for(everything.size());
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130) << ReadFileToString(dir.path() + "/log");
  ExpectSameRows(rows, everything, "history and live input");
}

// The offsets consumer group `group` has committed for partitions [0, n) of `topic`
// (negative: none yet).
std::vector<int64_t> CommittedOffsets(const std::string& bootstrap, const std::string& topic,
                                      const std::string& group, int n) {
  std::vector<int64_t> offsets(n, -1);
  auto rk = kafka_test_internal::NewClient(RD_KAFKA_CONSUMER, bootstrap, {{"group.id", group}});
  if (!rk.ok()) return offsets;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  if (rd_kafka_committed(rk->get(), list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) offsets[list->elems[i].partition] = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  return offsets;
}

// An empty partition holds back the watermark of a live run (no window closes) until
// --idle-timeout declares it idle.
TEST_F(KafkaReplayTest, AnEmptyPartitionStallsWindowsUntilDeclaredIdle) {
  const std::string events = NewTopic("idle-events", kPartitions + 1);  // the last stays empty
  Produce(events, /*pace=*/false);
  ScopedTempDir dir;
  const std::vector<std::string> closed = Q7ClosedBy(RefQ7(TestData().events), FinalLiveWatermark());
  ASSERT_GT(closed.size(), 0u);

  // Stalled: the run commits what it read to a consumer group (every 100 ms); once that
  // is everything, no window has fired, and none will.
  const std::string stalled = NewTopic("idle-stalled", 1);
  const std::string group = UniqueTopicName("idle-group");
  pid_t pid = StartKappa({"run", "nexmark-q7", "--source",
                          Uri(events) + "?group=" + group + "&kafka.auto.commit.interval.ms=100", "--sink",
                          Uri(stalled)},
                         dir.path() + "/stalled.log");
  bool read_all = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !read_all && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<int64_t> committed = CommittedOffsets(bootstrap_, events, group, kPartitions);
    read_all = true;
    for (int p = 0; p < kPartitions; ++p) {
      read_all &= committed[p] == static_cast<int64_t>(TestData().parts[p].size());
    }
  }
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130);
  std::string log = ReadFileToString(dir.path() + "/stalled.log");
  ASSERT_TRUE(read_all) << "the run did not read its input within a minute: " << log;
  EXPECT_NE(log.find(absl::StrCat(kEvents, " records read")), std::string::npos) << log;
  EXPECT_EQ(ReadRows(stalled, kBidSchema).size(), 0u);

  // Idle after 3 s: the windows every non-empty partition closed fire. (Idleness is wall
  // time: a timeout shorter than a busy machine's first fetch from the broker would declare
  // a non-empty partition idle too, and its records would then be late.)
  const std::string idle = NewTopic("idle-fired", 1);
  pid = StartKappa({"run", "nexmark-q7", "--source", Uri(events), "--sink", Uri(idle), "--idle-timeout", "3000"},
                   dir.path() + "/idle.log");
  std::vector<std::string> rows = WaitForRows(idle, kBidSchema, closed.size());
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130) << ReadFileToString(dir.path() + "/idle.log");
  ExpectSameRows(rows, closed, "the reference (windows closed by the non-empty partitions)");
}

// A record of Kafka's console consumer with print.timestamp, print.headers and
// print.key: "CreateTime:TS\tH1:V1,H2:V2\tKEY\tVALUE"; or kcat's -f '%T\t%h\t%k\t%s\n'
// ("TS\tH1=V1,H2=V2\tKEY\tVALUE").
struct Printed {
  int64_t timestamp = -1;
  std::string headers, key, value;
};

std::vector<Printed> ParsePrinted(const std::string& text) {
  std::vector<Printed> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('\t', 3));
    if (f.size() != 4) {
      ADD_FAILURE() << "not TIMESTAMP, HEADERS, KEY and VALUE: " << line;
      continue;
    }
    Printed p;
    absl::string_view ts = f[0];
    absl::ConsumePrefix(&ts, "CreateTime:");
    EXPECT_TRUE(absl::SimpleAtoi(ts, &p.timestamp)) << line;
    p.headers = f[1];
    p.key = f[2];
    p.value = f[3];
    out.push_back(std::move(p));
  }
  return out;
}

// q0's output as a reader printed it: values equal the reference; each message's key is
// its row's "auction|bidder" (key=auction,bidder), its timestamp the row's dateTime (the
// event time) and its headers `headers` (the header.NAME= parameters, as printed).
void ExpectQ0Output(const std::vector<Printed>& printed, const std::vector<nexmark::Event>& input,
                    const std::string& headers) {
  std::vector<std::string> rows;
  simdjson::dom::parser parser;
  for (const Printed& p : printed) {
    rows.push_back(Canonical(parser, p.value, kBidSchema));
    auto auction = connectors::kafka::JsonFieldText(p.value, "auction");
    auto bidder = connectors::kafka::JsonFieldText(p.value, "bidder");
    auto time = connectors::kafka::JsonFieldText(p.value, "dateTime");
    ASSERT_TRUE(auction.ok() && bidder.ok() && time.ok()) << p.value;
    EXPECT_EQ(p.key, absl::StrCat(*auction, "|", *bidder)) << p.value;
    EXPECT_EQ(absl::StrCat(p.timestamp), *time) << p.value;
    EXPECT_EQ(p.headers, headers) << p.value;
  }
  ExpectSameRows(rows, RefQ0(input));
}

// The first `n` events of the test data, one JSON line each, and the bids among them.
std::vector<nexmark::Event> FirstEvents(size_t n) {
  return std::vector<nexmark::Event>(TestData().events.begin(), TestData().events.begin() + n);
}

// Kafka's own console producer writes the input, keys and headers parsed from each line;
// the job reads every value (a job sees values only, docs/operations.md says) and writes
// exactly-once; Kafka's console consumer reads the output read_committed.
TEST_F(KafkaReplayTest, KafkasConsoleToolsWriteTheInputAndReadTheOutputWithKeysHeadersAndTimestamps) {
  const std::string kafka_dir = TestKafkaDir();
  ASSERT_FALSE(kafka_dir.empty());
  const std::string in = NewTopic("console-in", 2), out = NewTopic("console-out", 3);
  ScopedTempDir dir;
  const std::vector<nexmark::Event> events = FirstEvents(2000);
  std::string input;
  for (size_t i = 0; i < events.size(); ++i) {
    absl::StrAppend(&input, "origin:console,line:", i, "|", "key-", i, "|", nexmark::ToJson(events[i]), "\n");
  }
  WriteStringToFile(dir.path() + "/in.txt", input);
  const std::string tool = absl::StrCat(KafkaBrokerScript(), " tool ", kafka_dir, " ");
  const std::string produce =
      absl::StrCat(tool, "console-producer --topic ", in,
                   " --property parse.key=true --property key.separator='|' --property parse.headers=true"
                   " --property headers.delimiter='|' < ",
                   dir.path(), "/in.txt > ", dir.path(), "/producer.log 2>&1");
  ASSERT_EQ(system(produce.c_str()), 0) << ReadFileToString(dir.path() + "/producer.log");
  // The tool wrote what the test meant it to: keys and headers on every message.
  auto written = ReadTopicRecords(bootstrap_, in);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->size(), events.size());
  for (const KafkaRecord& r : *written) {
    ASSERT_TRUE(r.key.starts_with("key-")) << r.key;
    ASSERT_EQ(r.headers.size(), 2u) << r.key;
    EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>("origin", "console")));
  }

  RunResult r = RunKappa({"run", "nexmark-q0", "--source", Uri(in) + "?end=end", "--sink",
                          Uri(out) + "?key=auction,bidder&header.job=q0&header.team=ads", "-p", "2",
                          "--checkpoint-dir", dir.path() + "/ck", "--checkpoint-interval", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t bids = RefQ0(events).size();
  ASSERT_GT(bids, 100u);
  const std::string consume =
      absl::StrCat(tool, "console-consumer --topic ", out,
                   " --from-beginning --isolation-level read_committed --max-messages ", bids,
                   " --timeout-ms 60000 --property print.timestamp=true --property print.headers=true"
                   " --property print.key=true > ",
                   dir.path(), "/out.txt 2> ", dir.path(), "/consumer.log");
  ASSERT_EQ(system(consume.c_str()), 0) << ReadFileToString(dir.path() + "/consumer.log");
  ExpectQ0Output(ParsePrinted(ReadFileToString(dir.path() + "/out.txt")), events, "job:q0,team:ads");
  // Nothing beyond what the console consumer stopped at.
  auto all = ReadTopicValues(bootstrap_, out);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), bids);
}

// kcat writes the input (a key per line, a header on every message); the job reads every
// value; kcat reads the output with read_committed, printing timestamp, headers and key.
TEST_F(KafkaReplayTest, KcatWritesTheInputAndReadsTheOutputWithKeysHeadersAndTimestamps) {
  const std::string in = NewTopic("kcat-in", 1), out = NewTopic("kcat-out", 2);
  ScopedTempDir dir;
  const std::vector<nexmark::Event> events = FirstEvents(3000);
  std::string input;
  for (size_t i = 0; i < events.size(); ++i) absl::StrAppend(&input, "key-", i, "\t", nexmark::ToJson(events[i]), "\n");
  WriteStringToFile(dir.path() + "/in.txt", input);
  const std::string produce = absl::StrCat("kcat -P -b ", bootstrap_, " -t ", in, " -p 0 -K '\t' -H origin=kcat -l ",
                                           dir.path(), "/in.txt");
  ASSERT_EQ(system(produce.c_str()), 0);
  auto written = ReadTopicRecords(bootstrap_, in);
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_EQ(written->size(), events.size());
  EXPECT_EQ(written->front().key, "key-0");
  EXPECT_EQ(written->front().headers, (std::vector<std::pair<std::string, std::string>>{{"origin", "kcat"}}));

  RunResult r = RunKappa({"run", "nexmark-q0", "--source", Uri(in) + "?end=end", "--sink",
                          Uri(out) + "?key=auction,bidder&header.job=q0", "--checkpoint-dir", dir.path() + "/ck",
                          "--checkpoint-interval", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string consume =
      absl::StrCat("kcat -C -b ", bootstrap_, " -t ", out, " -X isolation.level=read_committed -e -q -o beginning",
                   " -f '%T\\t%h\\t%k\\t%s\\n' > ", dir.path(), "/out.txt");
  ASSERT_EQ(system(consume.c_str()), 0);
  std::vector<Printed> printed = ParsePrinted(ReadFileToString(dir.path() + "/out.txt"));
  ASSERT_FALSE(printed.empty());
  ExpectQ0Output(printed, events, "job=q0");
}

// The error contract against a real broker (which creates no topic it is asked about):
// one line on stderr naming what is wrong, exit 2, before the job starts.
TEST_F(KafkaReplayTest, AMissingTopicOrABadTimeIsOneLineNamingIt) {
  ScopedTempDir dir;
  const std::string missing = UniqueTopicName("no-such-topic");
  const std::string events = NewTopic("error-events", 1);
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  for (const Case& c : {Case{{"replay", "nexmark-q0", "--source", Uri(missing), "--from", "ts:1700000000000",
                              "--sink", "file:" + dir.path() + "/a.jsonl"},
                             absl::StrCat("topic '", missing, "' does not exist")},
                        Case{{"replay", "nexmark-q0", "--source", Uri(events), "--from", "ts:yesterday", "--sink",
                              "file:" + dir.path() + "/b.jsonl"},
                             "ts: needs epoch milliseconds"},
                        Case{{"run", "nexmark-q0", "--source", Uri(events) + "?end=ts:soon", "--sink",
                              "file:" + dir.path() + "/c.jsonl"},
                             "ts: needs epoch milliseconds"}}) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    RunResult r = RunKappa(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(r.err.starts_with("kappa: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(KafkaReplayTest, KilledReplayRestartsFromItsCheckpointWithTheSameOutput) {
  // Fifteen times the data of the other tests, so that the replay runs long enough to be
  // killed three times.
  static const Data* big = MakeData(15 * kEvents, 15 * kRate, kPartitions);
  const std::string events = NewTopic("crash-events", kPartitions);
  const std::string out = NewTopic("crash-out", 3);
  Produce(events, /*pace=*/false, *big);

  ScopedTempDir dir;
  std::vector<std::string> args = {"replay", "nexmark-q7", "--source", Uri(events), "--from", "earliest",
                                   "--sink", Uri(out), "-p", "1", "--checkpoint-dir", dir.path() + "/ck",
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
    for (int i = 0; i < 1000 && newest() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
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

  // What a read_committed consumer sees: every row once.
  ExpectSameRows(ReadRows(out, kBidSchema), RefQ7(big->events), "an uninterrupted run's answer");
}

}  // namespace
}  // namespace kappa
