// Broker failures under a running exactly-once job, on a real 3-node Apache Kafka cluster
// (scripts/kafka-broker) that each test starts for itself:
//
//  - The leader of an input partition is killed with kill -9 and restarted 4 s later.
//  - Every broker is stopped for 20 s and started again.
//
// Nexmark q5 reads a 4-partition topic while the test produces it at a pace, and writes a
// topic exactly-once with checkpoints every 500 ms; topics have replication factor 3 and
// min.insync.replicas=2. The fault starts once a third of the input is produced and ends
// before the last third is: the source ends at offsets fixed before the run, so the job
// cannot finish before the fault is over. In both, the job stalls, resumes by itself and
// exits 0, and its committed output (read_committed) equals, as a multiset, that of an
// uninterrupted run over the same input, and the independent reference.
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kappa/base/file_test_util.h"
#include "kappa/base/status.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark/json.h"
#include "gtest/gtest.h"
#include "tests/kafka_cluster.h"
#include "tests/kappa_process.h"
#include "tests/nexmark_reference.h"

namespace kappa {
namespace {

using testing::ReadFileToString;
using testing::ScopedTempDir;
using namespace ::kappa::testing;  // NOLINT: KafkaBrokerScript, RunKappa, ReadTopicValues

// 6000 events at 200 events/s: 30 s of event time, 19 sliding windows of q5. The test
// produces them over about kProduceSeconds of wall time, plus the fault.
constexpr int64_t kEvents = 6000;
constexpr double kRate = 200;
constexpr int kPartitions = 4;
constexpr int kProduceSeconds = 12;
constexpr int64_t kShuffleSpanMs = 3000;  // less than q5's out-of-orderness: nothing is late

// Runs scripts/kafka-broker with `args`: its exit code and its stdout and stderr together.
struct ScriptResult {
  int exit_code = -1;
  std::string output;
};

ScriptResult Script(const std::string& args) {
  ScriptResult r;
  std::string cmd = absl::StrCat(KafkaBrokerScript(), " ", args, " 2>&1");
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  int status = pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// True while `pid` (a StartKappa process) runs; false once it has exited, its exit code
// then in *exit_code.
bool StillRunning(pid_t pid, int* exit_code) {
  int status = 0;
  pid_t got = waitpid(pid, &status, WNOHANG);
  if (got == 0) return true;
  *exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return false;
}

// The per-partition input: the Nexmark events of partition p in produce order, shuffled
// within blocks of kShuffleSpanMs of event time.
std::vector<std::vector<nexmark::Event>> MakeInput() {
  nexmark::GeneratorConfig config;
  config.seed = 17;
  config.events = kEvents;
  config.rate = kRate;
  std::mt19937_64 rng(23);
  std::vector<std::vector<nexmark::Event>> parts;
  for (int p = 0; p < kPartitions; ++p) {
    std::vector<nexmark::Event> part;
    for (nexmark::Generator gen(config, p, kPartitions); gen.HasNext();) part.push_back(gen.Next());
    size_t begin = 0;
    while (begin < part.size()) {
      size_t end = begin;
      const int64_t block = part[begin].date_time() / kShuffleSpanMs;
      while (end < part.size() && part[end].date_time() / kShuffleSpanMs == block) ++end;
      std::shuffle(part.begin() + begin, part.begin() + end, rng);
      begin = end;
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

class KafkaBrokerFaultsTest : public ::testing::Test {
 protected:
  // Each test has a 3-node cluster of its own, in a fixed directory per test: a run killed
  // before TearDown leaves a cluster there that the next run's `start` stops.
  void SetUp() override {
    dir_ = absl::StrCat(KAPPA_KAFKA_FAULTS_DIR, "/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ScriptResult r = Script(absl::StrCat("start ", dir_, " --brokers 3"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    bootstrap_ = std::string(absl::StripAsciiWhitespace(ReadFileToString(dir_ + "/bootstrap")));
    ASSERT_FALSE(bootstrap_.empty());
  }
  void TearDown() override {
    ScriptResult r = Script(absl::StrCat("stop ", dir_, " --wait 10"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }

  // Nexmark's event times (November 2023) are the records' timestamps: without
  // retention.ms=-1 the brokers' time-based retention (7 days) deletes them within minutes.
  absl::Status CreateReplicatedTopic(const std::string& topic) {
    KAPPA_RETURN_IF_ERROR(
        CreateTopic(bootstrap_, topic, kPartitions, 3, {{"min.insync.replicas", "2"}, {"retention.ms", "-1"}}));
    // CreateTopic saw the topic on one broker; the others learn of it a little later, and
    // the job fails fast on a broker that does not know its topic yet.
    for (absl::string_view broker : absl::StrSplit(bootstrap_, ',')) {
      bool known = false;
      for (int attempt = 0; attempt < 300 && !known; ++attempt) {
        // A new client's first metadata request goes to its bootstrap broker.
        auto rk = kafka_test_internal::NewClient(RD_KAFKA_PRODUCER, std::string(broker), {{"log_level", "2"}});
        if (!rk.ok()) return rk.status();
        rd_kafka_topic_t* t = rd_kafka_topic_new(rk->get(), topic.c_str(), nullptr);
        const rd_kafka_metadata_t* md = nullptr;
        if (rd_kafka_metadata(rk->get(), 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          known = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                  md->topics[0].partition_cnt == kPartitions;
          for (int p = 0; known && p < kPartitions; ++p) known = md->topics[0].partitions[p].leader >= 0;
          rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(t);
        if (!known) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!known) return absl::DeadlineExceededError(absl::StrCat(broker, " does not know topic ", topic, " after 30 s"));
    }
    return absl::OkStatus();
  }

  // Produces the input to `topic`, one paced producer thread per partition, spread over
  // about kProduceSeconds; *produced counts the events handed to librdkafka. The last
  // third waits until *healed: the job cannot end before the fault is over.
  void Produce(const std::string& topic, const std::vector<std::vector<nexmark::Event>>& parts,
               std::atomic<int64_t>* produced, const std::atomic<bool>* healed) {
    std::vector<std::thread> threads;
    for (int p = 0; p < kPartitions; ++p) {
      threads.emplace_back([&, p] {
        auto rk = kafka_test_internal::NewClient(RD_KAFKA_PRODUCER, bootstrap_,
                                                 {{"enable.idempotence", "true"}, {"linger.ms", "5"}, {"log_level", "2"}});
        ASSERT_TRUE(rk.ok()) << rk.status();
        const auto& events = parts[p];
        const auto pause = std::chrono::milliseconds(kProduceSeconds * 1000 * 50 / events.size());
        std::string json;
        for (size_t i = 0; i < events.size(); ++i) {
          while (i == events.size() * 2 / 3 && !healed->load()) {
            rd_kafka_poll(rk->get(), 10);
          }
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
          produced->fetch_add(1);
          if (i % 50 == 49) {
            rd_kafka_poll(rk->get(), 0);
            std::this_thread::sleep_for(pause);
          }
        }
        // Long enough for a cluster stopped for 20 s to come back.
        ASSERT_EQ(rd_kafka_flush(rk->get(), 180000), RD_KAFKA_RESP_ERR_NO_ERROR);
      });
    }
    for (auto& t : threads) t.join();
  }

  // The source URI: `topic`, ending at each partition's event count (the producer is
  // idempotent and not transactional, so partition p's events take offsets 0..n-1).
  std::string SourceUri(const std::string& topic, const std::vector<std::vector<nexmark::Event>>& parts) {
    std::vector<std::string> ends;
    for (int p = 0; p < kPartitions; ++p) ends.push_back(absl::StrCat(p, "=", parts[p].size()));
    return absl::StrCat("kafka://", bootstrap_, "/", topic, "?end=offsets:", absl::StrJoin(ends, ","));
  }

  std::vector<std::string> RunArgs(const std::string& source, const std::string& sink_topic,
                                          const std::string& checkpoint_dir) {
    return {"run",   "nexmark-q5", "--source", source, "--sink", absl::StrCat("kafka://", bootstrap_, "/", sink_topic),
            "-p",    "2",          "--checkpoint-dir", checkpoint_dir, "--checkpoint-interval", "500"};
  }

  static std::vector<std::string> Sorted(std::vector<std::string> rows) {
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  // Runs q5 live on a new input topic while producing it. Once a third of the input is
  // produced, `inject` starts the fault; `heal` ends it before the last third is produced.
  // Both get the input topic. Then q5 runs again over the whole input without faults.
  // Both outputs, read_committed, must be equal as multisets.
  void RunWithFault(const std::string& name, const std::function<void(const std::string&)>& inject,
                    const std::function<void(const std::string&)>& heal) {
    const auto parts = MakeInput();
    const std::string input = UniqueTopicName(name + "-in");
    const std::string faulty = UniqueTopicName(name + "-out");
    const std::string clean = UniqueTopicName(name + "-clean");
    for (const auto& t : {input, faulty, clean}) {
      absl::Status created = CreateReplicatedTopic(t);
      ASSERT_TRUE(created.ok()) << created;
    }
    ScopedTempDir dir;
    const std::string log = dir.path() + "/faulty.log";

    pid_t job = StartKappa(RunArgs(SourceUri(input, parts), faulty, dir.path() + "/ck-faulty"), log);
    ASSERT_GT(job, 0);
    std::atomic<int64_t> produced{0};
    std::atomic<bool> healed{false};
    std::thread producer([&] { Produce(input, parts, &produced, &healed); });
    struct Cleanup {  // a failed assertion must neither leave the job running nor the producer waiting
      pid_t pid;
      std::atomic<bool>* healed;
      std::thread* producer;
      ~Cleanup() {
        healed->store(true);
        if (producer->joinable()) producer->join();
        if (pid > 0 && kill(pid, SIGKILL) == 0) WaitKappa(pid);
      }
    } cleanup{job, &healed, &producer};

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (produced.load() < kEvents / 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int exit_code = -1;
    ASSERT_TRUE(StillRunning(job, &exit_code)) << "the job exited with " << exit_code << " before the fault:\n"
                                               << ReadFileToString(log);
    inject(input);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(StillRunning(job, &exit_code)) << "the job exited with " << exit_code << " during the fault:\n"
                                               << ReadFileToString(log);
    heal(input);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(StillRunning(job, &exit_code)) << "the job exited with " << exit_code << " during the fault:\n"
                                               << ReadFileToString(log);
    EXPECT_LE(produced.load(), kEvents * 2 / 3 + kPartitions) << "the last third was produced during the fault";
    healed.store(true);
    producer.join();

    // The job ends by itself once it has read every event (deadline: generous).
    const auto end_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (StillRunning(job, &exit_code) && std::chrono::steady_clock::now() < end_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_NE(exit_code, -1) << "the job did not finish within 300 s of the fault:\n" << ReadFileToString(log);
    cleanup.pid = -1;
    const std::string faulty_log = ReadFileToString(log);
    ASSERT_EQ(exit_code, 0) << faulty_log;
    EXPECT_NE(faulty_log.find(absl::StrCat(kEvents, " records read")), std::string::npos) << faulty_log;

    RunResult uninterrupted =
        RunKappa(RunArgs(SourceUri(input, parts), clean, dir.path() + "/ck-clean"), "", std::chrono::seconds(180));
    ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.err;
    EXPECT_NE(uninterrupted.err.find(absl::StrCat(kEvents, " records read")), std::string::npos) << uninterrupted.err;

    auto got = ReadTopicValues(bootstrap_, faulty);
    ASSERT_TRUE(got.ok()) << got.status();
    auto want = ReadTopicValues(bootstrap_, clean);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_GT(want->size(), 10u);
    EXPECT_EQ(Sorted(*got), Sorted(*want)) << faulty_log << "\nuninterrupted:\n" << uninterrupted.err;
    // And both are right: the independent reference over the input the jobs read. That is
    // not always the input generated: librdkafka's idempotent producer has been seen to
    // write a batch twice when every broker stopped (then the last records lie beyond
    // the source's end offsets).
    auto input_records = ReadTopicRecords(bootstrap_, input);
    ASSERT_TRUE(input_records.ok()) << input_records.status();
    std::map<std::string, const nexmark::Event*> by_json;
    for (const auto& part : parts) {
      for (const auto& e : part) by_json[nexmark::ToJson(e)] = &e;
    }
    std::vector<nexmark::Event> read;
    for (const auto& r : *input_records) {
      if (r.offset >= static_cast<int64_t>(parts[r.partition].size())) continue;
      auto it = by_json.find(r.value);
      ASSERT_NE(it, by_json.end()) << "not an input event: " << r.value;
      read.push_back(*it->second);
    }
    ASSERT_EQ(read.size(), static_cast<size_t>(kEvents));
    simdjson::dom::parser parser;
    std::vector<std::string> rows;
    for (const auto& v : *want) rows.push_back(Canonical(parser, v, kQ5Schema));
    EXPECT_EQ(Sorted(rows), Sorted(RefQ5(read)));
  }

  std::string dir_;        // the cluster's directory
  std::string bootstrap_;  // its bootstrap servers
};

TEST_F(KafkaBrokerFaultsTest, JobOutlivesKilledPartitionLeader) {
  std::string node;
  RunWithFault(
      "leader-kill",
      [&](const std::string& input) {
        ScriptResult leader = Script(absl::StrCat("leader ", dir_, " ", input, " 0"));
        ASSERT_EQ(leader.exit_code, 0) << leader.output;
        node = std::string(absl::StripAsciiWhitespace(leader.output));
        ScriptResult killed = Script(absl::StrCat("kill ", dir_, " --node ", node));
        ASSERT_EQ(killed.exit_code, 0) << killed.output;
        std::this_thread::sleep_for(std::chrono::seconds(4));  // the fault's length, not a wait for anything
      },
      [&](const std::string& input) {
        ScriptResult restarted = Script(absl::StrCat("restart ", dir_, " --node ", node));
        ASSERT_EQ(restarted.exit_code, 0) << restarted.output;
      });
}

TEST_F(KafkaBrokerFaultsTest, JobOutlivesWholeClusterStoppedFor20Seconds) {
  RunWithFault(
      "all-stopped",
      [&](const std::string&) {
        ScriptResult stopped = Script(absl::StrCat("stop ", dir_));
        ASSERT_EQ(stopped.exit_code, 0) << stopped.output;
        std::this_thread::sleep_for(std::chrono::seconds(20));  // the fault's length, not a wait for anything
      },
      [&](const std::string&) {
        ScriptResult restarted = Script(absl::StrCat("restart ", dir_));
        ASSERT_EQ(restarted.exit_code, 0) << restarted.output;
      });
}

}  // namespace
}  // namespace kappa
