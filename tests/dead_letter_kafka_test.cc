// Dead letters into a Kafka topic on the suite's real broker (dead_letter_job.cc's
// `poison-bids`): a run killed with SIGKILL once a checkpoint is complete and restored
// commits exactly the dead letters of an uninterrupted run (read_committed: none lost,
// none twice), and a redrive reads them back from the topic.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka_cluster.h"
#include "kappa_process.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;

// A dead letter without its failure times, which differ from run to run.
std::string WithoutTimes(const std::string& letter) {
  static const std::regex times(",\"first_failure\":[0-9]+,\"last_failure\":[0-9]+");
  return std::regex_replace(letter, times, "");
}

std::vector<std::string> Letters(const std::string& bootstrap, const std::string& topic) {
  auto values = testing::ReadTopicValues(bootstrap, topic);
  EXPECT_TRUE(values.ok()) << values.status();
  std::vector<std::string> out;
  if (!values.ok()) return out;
  for (const std::string& v : *values) out.push_back(WithoutTimes(v));
  std::sort(out.begin(), out.end());
  return out;
}

int RunJob(const std::vector<std::string>& args, const std::string& log) {
  return testing::WaitKappa(testing::StartProgram(KAPPA_DEAD_LETTER_JOB, args, log));
}

TEST(DeadLetterKafkaTest, ARunKilledAndRestoredCommitsEveryDeadLetterOnce) {
  const std::string bootstrap = testing::TestKafkaBootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string dir = ::testing::TempDir() + "/kappa_dead_letter_kafka_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string log = dir + "/log.txt";
  const std::string ref_topic = testing::UniqueTopicName("dl-ref"), topic = testing::UniqueTopicName("dl");
  ASSERT_TRUE(testing::CreateTopic(bootstrap, ref_topic, 2).ok());
  ASSERT_TRUE(testing::CreateTopic(bootstrap, topic, 2).ok());
  const std::string source = "gen:nexmark?events=400000";

  ASSERT_EQ(RunJob({"run", "poison-bids", "--source", source, "--sink", "file:" + dir + "/ref/", "--dead-letter",
                    "kafka://" + bootstrap + "/" + ref_topic, "--checkpoint-dir", dir + "/ref-chk", "-q"},
                   log),
            0)
      << ReadFile(log);
  const std::vector<std::string> ref = Letters(bootstrap, ref_topic);
  ASSERT_GT(ref.size(), 1000u);
  for (const std::string& letter : ref) ASSERT_THAT(letter, ::testing::HasSubstr("\"kind\":\"user\"")) << letter;

  std::vector<std::string> args = {"run", "poison-bids", "--source", source, "--sink", "file:" + dir + "/out/",
                                   "--dead-letter", "kafka://" + bootstrap + "/" + topic, "--checkpoint-dir",
                                   dir + "/chk", "--checkpoint-interval", "50", "-p", "2"};
  pid_t pid = testing::StartProgram(KAPPA_DEAD_LETTER_JOB, args, log);
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       testing::CompleteCheckpoints(dir + "/chk").empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  ASSERT_EQ(testing::WaitKappa(pid), 128 + SIGKILL) << "the run ended before it was killed; use more events\n"
                                                    << ReadFile(log);
  EXPECT_LT(Letters(bootstrap, topic).size(), ref.size()) << "the killed run had committed only part of them";
  ASSERT_EQ(RunJob(args, log), 0) << ReadFile(log);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("restored checkpoint"));
  const std::vector<std::string> got = Letters(bootstrap, topic);
  EXPECT_EQ(got.size(), ref.size());
  EXPECT_TRUE(got == ref) << "dead letters differ from the uninterrupted run's";

  // Redrive from the topic with the cause fixed: every poison bid priced once.
  ASSERT_EQ(RunJob({"replay", "poison-bids", "--redrive", "--source", "kafka://" + bootstrap + "/" + topic,
                    "--param", "poison-every=0", "--sink", "file:" + dir + "/redriven/", "-q"},
                   log),
            0)
      << ReadFile(log);
  EXPECT_EQ(testing::OutputLines(dir + "/redriven").size(), ref.size());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kappa
