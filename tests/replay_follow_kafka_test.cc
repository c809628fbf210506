// `kappa replay --then-follow` over a topic on the suite's Kafka broker: one caught-up line
// at the partitions' high-water marks when the replay started, and messages produced
// before and after it still processed, compared with a bounded run over the final topic.
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "tests/kafka_cluster.h"
#include "tests/kappa_process.h"
#include "tests/replay_follow.h"

#ifndef KAPPA_BINARY
#error "KAPPA_BINARY must name the kappa executable"
#endif

namespace kappa {
namespace {

using ::kappa::testing::Count;
using ::kappa::testing::Describe;
using ::kappa::testing::ExpectCaughtUpLine;
using ::kappa::testing::OutputLines;
using ::kappa::testing::ReadFile;
using ::kappa::testing::ReplayFollowTest;
using ::kappa::testing::RunKappa;
using ::kappa::testing::RunResult;
using ::kappa::testing::StartKappa;
using ::kappa::testing::PollUntil;
using ::kappa::testing::WaitKappa;

TEST_F(ReplayFollowTest, KafkaTopicCatchesUpOnceAtTheHighWaterMarksAndFollows) {
  const std::string bootstrap = kappa::testing::TestKafkaBootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = kappa::testing::UniqueTopicName("follow");
  ASSERT_TRUE(kappa::testing::CreateTopic(bootstrap, topic, 3).ok());
  const std::string uri = absl::StrCat("kafka://", bootstrap, "/", topic);
  auto produce = [&](int seed, int events) {
    RunResult r = RunKappa({"run", "nexmark-copy", "--source",
                            absl::StrCat("gen:nexmark?events=", events, "&rate=1000&partitions=3&seed=", seed),
                            "--sink", uri, "-p", "3"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
  };
  produce(1, 6000);
  auto client = kappa::testing::kafka_test_internal::NewClient(RD_KAFKA_CONSUMER, bootstrap, {});
  ASSERT_TRUE(client.ok()) << client.status();
  std::vector<int64_t> ends;
  for (int p = 0; p < 3; ++p) {
    auto w = connectors::kafka::QueryWatermarks(client->get(), topic, p);
    ASSERT_TRUE(w.ok()) << w.status();
    ends.push_back(w->high);
  }
  ASSERT_EQ(ends[0] + ends[1] + ends[2], 6000);

  const std::string out = Path("out/"), replay_log = Path("replay.log");
  pid_t pid = StartKappa({"replay", "nexmark-q0", "--source", uri, "--from", "earliest", "--then-follow", "--sink",
                          "file:" + out, "--checkpoint-dir", Path("ck"), "--checkpoint-interval", "100",
                          "--log-level", "debug"},
                         replay_log);
  ASSERT_TRUE(PollUntil([&] { return Count(ReadFile(replay_log), "opened at offset") == 3; })) << ReadFile(replay_log);
  produce(2, 3000);
  ASSERT_TRUE(PollUntil([&] { return Count(ReadFile(replay_log), "caught up") > 0; })) << ReadFile(replay_log);
  produce(3, 3000);

  RunResult ref = RunKappa({"run", "nexmark-q0", "--source", uri + "?end=end", "--sink", "file:" + Path("ref/")});
  ASSERT_EQ(ref.exit_code, 0) << Describe(ref);
  const std::vector<std::string> expected = OutputLines(Path("ref/"));
  ASSERT_GT(expected.size(), 0u);
  std::vector<std::string> rows;
  PollUntil([&] {
    rows = OutputLines(out);
    return rows.size() >= expected.size();
  });
  kill(pid, SIGINT);
  EXPECT_EQ(WaitKappa(pid), 130) << ReadFile(replay_log);
  EXPECT_EQ(rows, expected) << "the replay did not follow the records produced later";
  ExpectCaughtUpLine(ReadFile(replay_log), absl::StrCat(topic, " p0 @ ", ends[0], ", p1 @ ", ends[1], ", p2 @ ", ends[2]),
                     6000);
}
}  // namespace
}  // namespace kappa
