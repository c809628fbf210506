// Rebalance(Distribution::kStealing): idle instances take batches queued for a slow one.
// The output is the same multiset as with round robin, and with checkpoints a failure and
// restore (a restart from the latest checkpoint) still writes every record exactly once:
// barriers separate the same records for a thief as for the channel's owner.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/api/job.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/file_sink.h"
#include "kappa/testing/range_source.h"

namespace kappa {
namespace {

struct Num {
  int64_t v = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_JSON(kappa::Num, v);

namespace kappa {
namespace {

using connectors::CollectSink;

using testing::RangeSource;

// Every record at event time 0: the watermark never advances, so between two barriers
// the instances steal freely (a watermark after every poll would leave little to steal).
WatermarkStrategy<int64_t> ConstantTime() {
  return WatermarkStrategy<int64_t>::BoundedOutOfOrderness(0).WithTimestamp([](const int64_t&) { return int64_t{0}; });
}

void Spin(std::chrono::nanoseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// A map whose first instance to run is 10x slower than the others (per record).
auto SlowFirstInstance(std::chrono::nanoseconds per_record) {
  auto next = std::make_shared<std::atomic<int>>(0);
  return [next, per_record, id = -1](const int64_t& v) mutable -> int64_t {
    if (id < 0) id = next->fetch_add(1);
    Spin(id == 0 ? per_record * 10 : per_record);
    return v * 2;
  };
}

bool HasCompleteCheckpoint(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (std::filesystem::exists(entry.path() / "MANIFEST")) return true;
  }
  return false;
}

std::vector<int64_t> Doubled(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(2 * i);
  return out;
}

class StealTest : public ::testing::TestWithParam<Distribution> {};

TEST_P(StealTest, OutputIsEveryRecordOnceWithASlowInstance) {
  constexpr int64_t kN = 50'000;
  auto out = std::make_shared<CollectSink<int64_t>>();
  auto job = Job::Create("steal");
  job->Source<int64_t>("range", std::make_shared<RangeSource>(kN), ConstantTime())
      .Rebalance(GetParam(), 3)
      .Map(SlowFirstInstance(std::chrono::microseconds(1)))
      .Parallelism(3)
      .SinkTo(out);
  ExecutionOptions options;
  options.workers = 4;
  auto result = job->Execute(options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<int64_t> got = out->values();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, Doubled(kN));
}

// Checkpoints every 5 ms while the map runs; a task failure past the middle, once a
// checkpoint completed, restores the latest one (in-process restart). The exactly-once directory sink then holds every
// record once.
TEST_P(StealTest, ARestoreFromACheckpointWritesEveryRecordExactlyOnce) {
  constexpr int64_t kN = 60'000;
  const std::string dir = ::testing::TempDir() + "/kappa_steal_" + std::to_string(getpid()) + "_" +
                          std::to_string(static_cast<int>(GetParam()));
  std::filesystem::remove_all(dir);
  auto out = std::make_shared<connectors::FileSink<Num>>(dir + "/out/", connectors::FileSinkKind::kDirectory);
  auto failed = std::make_shared<std::atomic<bool>>(false);
  auto job = Job::Create("steal-restore");
  job->Source<int64_t>("range", std::make_shared<RangeSource>(kN), ConstantTime())
      .Rebalance(GetParam(), 3)
      .Map(SlowFirstInstance(std::chrono::microseconds(2)))
      .Parallelism(3)
      .Map([failed, chk = dir + "/chk"](const int64_t& v) -> Num {
        // Once, past the middle, after a checkpoint completed.
        if (v >= kN && v % 256 == 0 && !failed->load() && HasCompleteCheckpoint(chk) && !failed->exchange(true)) {
          throw TaskError(absl::UnavailableError("injected"));
        }
        return Num{v};
      })
      .Parallelism(3)
      .SinkTo(out);
  ExecutionOptions options;
  options.workers = 4;
  options.checkpoint_dir = dir + "/chk";
  options.checkpoint_interval_ms = 5;
  options.state_backend = StateBackendKind::kHeap;
  options.restart = RestartStrategy::FixedDelay(1, absl::ZeroDuration());
  auto result = job->Execute(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->restarts, 1);
  EXPECT_GE(result->restored_checkpoint, 1) << "the restart should have restored a checkpoint";
  ASSERT_TRUE(out->Finish().ok());
  std::vector<int64_t> got;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/out")) {
    if (entry.path().filename().string().rfind("part-", 0) != 0) continue;
    std::ifstream in(entry.path());
    // {"v":N}
    for (std::string line; std::getline(in, line);) got.push_back(std::stoll(line.substr(line.find(':') + 1)));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, Doubled(kN));
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Distributions, StealTest,
                         ::testing::Values(Distribution::kRoundRobin, Distribution::kStealing),
                         [](const auto& info) {
                           return info.param == Distribution::kStealing ? std::string("Stealing")
                                                                        : std::string("RoundRobin");
                         });

}  // namespace
}  // namespace kappa
