// /metrics of a real running `kappa run --http`: scraped repeatedly while the job follows
// a Kafka topic on the suite's broker and checkpoints; every page must pass
// `promtool check metrics`, and the figures must move as the input does.
#include <signal.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "tests/kafka_cluster.h"
#include "tests/kappa_process.h"
#include "tests/metrics_scrape.h"

namespace kappa::testing {
namespace {

using ::testing::HasSubstr;

// Writes `events` Nexmark events (JSON, no key: spread over the partitions) into `topic`,
// without transactions, so each partition's high-water mark is its record count.
void ProduceEvents(const std::string& uri, int events, int seed, int64_t base_time) {
  RunResult run = RunKappa({"run", "nexmark-copy", "--source",
                            absl::StrCat("gen:nexmark?events=", events, "&rate=1000&seed=", seed,
                                         "&base_time=", base_time),
                            "--sink", uri, "-q"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
}

TEST(MetricsTest, ScrapedFiguresMoveWhileAJobFollowsATopicAndPromtoolAcceptsEveryPage) {
  ASSERT_NE(FindOnPath("promtool"), "")
      << "promtool not found on PATH: install Debian's prometheus package (apt-get install prometheus)";
  const std::string bootstrap = TestKafkaBootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = UniqueTopicName("metrics-events");
  ASSERT_TRUE(CreateTopic(bootstrap, topic, 2).ok());
  const std::string uri = absl::StrCat("kafka://", bootstrap, "/", topic);
  ProduceEvents(uri, 20000, 1, 1'700'000'000'000);

  ScopedTempDir dir;
  const std::string err = dir.path() + "/kappa.log";
  pid_t pid = StartKappa({"run", "hot-auctions", "--source", uri, "--sink", "file:" + dir.path() + "/out/",
                          "--checkpoint-dir", dir.path() + "/ck", "--checkpoint-interval", "200", "-p", "2",
                          "--http", "127.0.0.1:0"},
                         err);
  ASSERT_GT(pid, 0);
  int port = WaitForHttpPort(err);
  ASSERT_GT(port, 0) << ReadFile(err);
  Scraper scraper(port);

  // Every record of the topic is read, no lag is left and a checkpoint completes.
  std::string page;
  std::map<std::string, double> lag;
  double first_records = -1;
  auto read_up_to = [&](double records) {
    return WaitFor([&] {
      page = scraper.Scrape();
      double read = Sum(page, "kappa_source_partition_records_total");
      if (first_records < 0 && !page.empty()) first_records = read;
      lag = Samples(page, "kappa_source_partition_lag_offsets");
      bool no_lag = lag.size() == 2 && lag.begin()->second == 0 && lag.rbegin()->second == 0;
      return read == records && no_lag && Sum(page, "kappa_checkpoints_completed_total") >= 1;
    });
  };
  ASSERT_TRUE(read_up_to(20000)) << "last page:\n" << page << "\n" << ReadFile(err);
  EXPECT_EQ(Sum(page, "kappa_source_partition_high_water_offset"), 20000) << page;
  EXPECT_THAT(page, HasSubstr("kappa_job_state{job=\"hot-auctions\",state=\"running\"} 1\n"));
  const double out_before = Sum(page, "kappa_task_records_out_total");
  const double checkpoints_before = Sum(page, "kappa_checkpoints_completed_total");
  EXPECT_GT(out_before, 0);
  EXPECT_GT(Sum(page, "kappa_task_busy_seconds_total"), 0);

  // More events on the topic: the high-water marks move, the records follow, the lag
  // returns to zero, and checkpoints go on being counted.
  ProduceEvents(uri, 5000, 9, 1'700'000'100'000);
  ASSERT_TRUE(read_up_to(25000)) << "last page:\n" << page << "\n" << ReadFile(err);
  EXPECT_EQ(Sum(page, "kappa_source_partition_high_water_offset"), 25000) << page;
  EXPECT_TRUE(WaitFor([&] {
    page = scraper.Scrape();
    return Sum(page, "kappa_checkpoints_completed_total") > checkpoints_before &&
           Sum(page, "kappa_task_records_out_total") > out_before;
  })) << page;
  EXPECT_LT(first_records, 25000);
  EXPECT_GE(scraper.checked(), 3);

  EXPECT_EQ(Stop(pid, SIGINT), 130) << ReadFile(err);
}

}  // namespace
}  // namespace kappa::testing
