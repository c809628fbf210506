// Retry policies in whole jobs: a flaky Map and a flaky keyed process function under
// retries, poison records as dead letters, and a crash while retries wait, restored from
// the checkpoint (heap and RocksDB backends, the same and another parallelism) into the
// same output as a run without the crash.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/api/job.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/file_sink.h"

namespace kappa {
namespace {

struct Rec {
  int64_t key = 0;
  Timestamp ts = 0;
  int64_t value = 0;  // unique per record
};
struct Enriched {
  int64_t value = 0;
  int64_t key = 0;
  int64_t score = 0;
};
struct Counted {
  int64_t key = 0;
  int64_t count = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::Rec, &kappa::Rec::key, &kappa::Rec::ts, &kappa::Rec::value);
KAPPA_JSON(kappa::Rec, key, ts, value);
KAPPA_SERIALIZABLE(kappa::Enriched, &kappa::Enriched::value, &kappa::Enriched::key, &kappa::Enriched::score);
KAPPA_JSON(kappa::Enriched, value, key, score);
KAPPA_JSON(kappa::Counted, key, count);

namespace kappa {
namespace {

using ::testing::UnorderedElementsAreArray;

constexpr int kPartitions = 2;
constexpr int kPerPartition = 2000;
constexpr int kKeys = 40;

constexpr size_t kReadSize = 16;  // records per read of a partition (one source poll reads each once)

bool IsPoison(int64_t value) { return value % 101 == 0; }

// While armed, the source fails its task (as a crashed process would) at its first read
// after a complete checkpoint numbered `crash_after` or later holds records waiting for a
// retry, and does not end before that: however slowly a loaded machine runs the job, the
// crash comes while retries wait, never after the input ended.
std::atomic<bool> crash_armed{false};
std::atomic<int64_t> crash_after{3};
std::string crash_checkpoints;  // the run's checkpoint directory, set before it starts

bool CheckpointHoldsWaitingRetries() {
  static std::mutex mu;
  static std::string dir;
  static int64_t next = 0;  // the next checkpoint id to look at
  std::lock_guard<std::mutex> lock(mu);
  if (dir != crash_checkpoints) {
    dir = crash_checkpoints;
    next = crash_after.load();
  }
  checkpoint::CheckpointStorage storage(dir);
  while (std::filesystem::exists(storage.PathFor(next) + "/MANIFEST")) {
    absl::StatusOr<checkpoint::LoadedCheckpoint> loaded = storage.Load(storage.PathFor(next));
    ++next;
    if (!loaded.ok()) continue;  // removed meanwhile (only the newest few are retained)
    for (const auto& state : loaded->manifest.operator_states()) {
      if (state.entries_size() > 0) return true;
    }
  }
  return false;
}

// A bounded source that reads slowly (16 records a millisecond per partition), so that
// checkpoints are taken while retries wait.
class SlowSource final : public SourceConnector<Rec> {
 public:
  explicit SlowSource(int64_t per_partition = kPerPartition) : per_partition_(per_partition) {}
  absl::StatusOr<int> NumPartitions() override { return kPartitions; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Rec>>> Open(int p, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Rec>>(new Reader(p, offset, per_partition_));
  }
  std::string description() const override { return "slow"; }

 private:
  class Reader final : public PartitionReader<Rec> {
   public:
    Reader(int p, int64_t at, int64_t end) : p_(p), at_(at), end_(end) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Rec>& ctx) override {
      if (crash_armed && CheckpointHoldsWaitingRetries()) {
        crash_armed = false;
        return absl::UnavailableError("injected crash");
      }
      if (at_ >= end_) {
        // Armed: wait for the crash (a minute at most; then the test fails on its own).
        if (crash_armed && waited_ms_++ < 60'000) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          return ReadStatus::kWouldBlock;
        }
        return ReadStatus::kEnd;
      }
      for (size_t i = 0; i < std::min<size_t>(max, kReadSize) && at_ < end_; ++i) {
        const int64_t at = at_++;  // offset() is past the record while it is emitted
        const int64_t value = at * kPartitions + p_;
        ctx.Emit(Rec{value % kKeys, at * 10, value});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    int p_;
    int64_t at_;
    int64_t end_;
    int waited_ms_ = 0;
  };
  int64_t per_partition_;
};

// Calls per record value and function, over every run of a test (a restarted job's calls
// go on counting): the flaky functions fail a record's first calls.
class Calls {
 public:
  int Next(const std::string& fn, int64_t value) {
    std::lock_guard<std::mutex> lock(mu_);
    return ++calls_[{fn, value}];
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, int> calls_;
};
Calls calls;

// Counts records per key and emits the count; the first call for every seventh record
// fails after reading the state.
class CountPerKey : public KeyedProcessFunction<int64_t, Enriched, Counted> {
 public:
  void Open(RuntimeContext& ctx) override { count_ = ctx.GetValueState<int64_t>("count"); }
  void ProcessElement(const Enriched& e, Context& ctx, Collector<Counted>& out) override {
    if (ctx.current_key() != e.key) throw PermanentError("called with another key's context");
    const int64_t count = count_.Value().value_or(0) + 1;
    if (e.value % 7 == 0 && calls.Next("count", e.value) == 1) throw std::runtime_error("state service busy");
    count_.Update(count);
    out.Collect(Counted{e.key, count});
  }

 private:
  ValueState<int64_t> count_;
};

RetryPolicy Policy() {
  RetryPolicy p = RetryPolicy::Exponential(4, absl::Milliseconds(20), absl::Milliseconds(80));
  return p;
}

void Build(Job* job, const std::string& dir) {
  Stream<Enriched> enriched = job->Source<Rec>("numbers", std::make_shared<SlowSource>(),
                                               WatermarkStrategy<Rec>::BoundedOutOfOrderness(0).WithTimestamp(
                                                   [](const Rec& r) { return r.ts; }))
                                  .Map(
                                      [](const Rec& r) {
                                        if (IsPoison(r.value)) throw PermanentError(absl::StrCat("poison ", r.value));
                                        // A flaky service: every fifth record fails its first two calls.
                                        if (r.value % 5 == 0 && calls.Next("enrich", r.value) <= 2) {
                                          throw std::runtime_error("503 Service Unavailable");
                                        }
                                        return Enriched{r.value, r.key, r.value * 3};
                                      },
                                      Policy(), "enrich");
  enriched.SinkTo(std::make_shared<connectors::FileSink<Enriched>>(dir + "/enriched",
                                                                connectors::FileSink<Enriched>::Kind::kDirectory));
  enriched.KeyBy([](const Enriched& e) { return e.key; })
      .Process(std::make_unique<CountPerKey>(), Policy(), "count")
      .SinkTo(std::make_shared<connectors::FileSink<Counted>>(dir + "/counts",
                                                               connectors::FileSink<Counted>::Kind::kDirectory));
}

// The committed lines of a directory sink, sorted.
std::vector<std::string> ReadLines(const std::string& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    if (f.path().filename().string().starts_with(".")) continue;
    std::ifstream in(f.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// What every run must write: each non-poison record enriched once; per key the counts
// 1..n (whatever order retries put the key's records in).
void ExpectCompleteOutput(const std::string& dir) {
  std::vector<std::string> enriched;
  std::map<int64_t, int64_t> per_key;
  for (int64_t v = 0; v < kPartitions * kPerPartition; ++v) {
    if (IsPoison(v)) continue;
    enriched.push_back(absl::StrCat(R"({"value":)", v, R"(,"key":)", v % kKeys, R"(,"score":)", v * 3, "}"));
    ++per_key[v % kKeys];
  }
  std::vector<std::string> counts;
  for (const auto& [key, n] : per_key) {
    for (int64_t c = 1; c <= n; ++c) counts.push_back(absl::StrCat(R"({"key":)", key, R"(,"count":)", c, "}"));
  }
  EXPECT_THAT(ReadLines(dir + "/enriched"), UnorderedElementsAreArray(enriched));
  EXPECT_THAT(ReadLines(dir + "/counts"), UnorderedElementsAreArray(counts));
}

class RetryJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_retry_job_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    calls.Clear();
    crash_armed = false;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ExecutionOptions Options(int parallelism, StateBackendKind backend) {
    ExecutionOptions opt;
    opt.parallelism = parallelism;
    opt.workers = 2;
    opt.state_backend = backend;
    opt.state_dir = dir_ + "/state";
    opt.checkpoint_dir = dir_ + "/chk";
    opt.checkpoint_interval_ms = 20;
    opt.errors = &errors_;
    return opt;
  }

  // Crashes a run after its third checkpoint, restarts it at `restart_parallelism` and
  // checks that the restore found retries waiting and the output is complete.
  void CrashAndRestore(int restart_parallelism, StateBackendKind backend) {
    crash_checkpoints = dir_ + "/chk";
    crash_armed = true;
    {
      auto job = Job::Create("retries");
      Build(job.get(), dir_);
      absl::StatusOr<ExecutionResult> crashed = job->Execute(Options(2, backend));
      ASSERT_FALSE(crashed.ok()) << "the run ended before its injected crash";
      ASSERT_THAT(std::string(crashed.status().message()), ::testing::HasSubstr("injected crash"));
    }
    // The newest complete checkpoint, which the restart restores, holds records waiting
    // for a retry.
    checkpoint::CheckpointStorage storage(dir_ + "/chk");
    int64_t newest = 0;
    for (int64_t id = crash_after.load(); std::filesystem::exists(storage.PathFor(id) + "/MANIFEST"); ++id) newest = id;
    ASSERT_GT(newest, 0);
    absl::StatusOr<checkpoint::LoadedCheckpoint> restored = storage.Load(storage.PathFor(newest));
    ASSERT_TRUE(restored.ok()) << restored.status();
    int waiting = 0;
    for (const auto& s : restored->manifest.operator_states()) waiting += s.entries_size();
    EXPECT_GT(waiting, 0) << "no retry was waiting at checkpoint " << newest;

    auto job = Job::Create("retries");
    Build(job.get(), dir_);
    absl::StatusOr<ExecutionResult> result = job->Execute(Options(restart_parallelism, backend));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->restored_checkpoint, newest);
    ExpectCompleteOutput(dir_);
  }

  std::string dir_;
  ErrorSink errors_{nullptr, /*keep_in_memory=*/true};
};

TEST_F(RetryJobTest, FlakyFunctionsUnderRetriesWriteEveryRecordOncePoisonBecomesDeadLetters) {
  auto job = Job::Create("retries");
  Build(job.get(), dir_);
  absl::StatusOr<ExecutionResult> result = job->Execute(Options(2, StateBackendKind::kHeap));
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectCompleteOutput(dir_);
  int poison = 0;
  for (int64_t v = 0; v < kPartitions * kPerPartition; ++v) poison += IsPoison(v) ? 1 : 0;
  int dead_letters = 0;
  for (const ErrorEvent& e : errors_.events()) {
    if (e.operator_name != "enrich" || !absl::StartsWith(e.error, "poison ")) continue;
    ++dead_letters;
    // Named by the partition and offset it was read from.
    const int64_t value = std::stoll(e.error.substr(7));
    EXPECT_EQ(e.partition, value % kPartitions) << e.error;
    EXPECT_EQ(e.offset, value / kPartitions) << e.error;
  }
  EXPECT_EQ(dead_letters, poison);
}

TEST_F(RetryJobTest, ACrashWhileRetriesWaitRestoresThemWithRocksDbAtTheSameParallelism) {
  CrashAndRestore(2, StateBackendKind::kRocksDb);
}

TEST_F(RetryJobTest, ACrashWhileRetriesWaitRestoresThemOnTheHeapAtAnotherParallelism) {
  CrashAndRestore(3, StateBackendKind::kHeap);
}

TEST_F(RetryJobTest, ABadPolicyIsRefusedWhenTheJobIsBuilt) {
  auto job = Job::Create("bad");
  RetryPolicy policy = Policy();
  policy.max_attempts = 0;
  job->Source<Rec>("numbers", std::make_shared<SlowSource>(),
                   WatermarkStrategy<Rec>::BoundedOutOfOrderness(0).WithTimestamp([](const Rec& r) { return r.ts; }))
      .Map([](const Rec& r) { return r.value; }, policy, "enrich");
  absl::StatusOr<ExecutionResult> result = job->Execute(Options(1, StateBackendKind::kHeap));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "'enrich': retry policy: max_attempts must be at least 1");
}

// All records fail their first call and wait 100 ms: without the bound the whole input
// (reading takes ~20 ms) would wait at once.
TEST_F(RetryJobTest, MaxWaitingBoundsTheRecordsWaitingInARunningJob) {
  static std::atomic<int> waiting_now{0};
  static std::atomic<int> peak{0};
  waiting_now = 0;
  peak = 0;
  constexpr int kPer = 300;
  RetryPolicy policy = RetryPolicy::Exponential(3, absl::Milliseconds(100), absl::Seconds(1));
  policy.max_waiting = 50;
  auto sink = std::make_shared<connectors::CollectSink<int64_t>>();
  auto job = Job::Create("bounded");
  job->Source<Rec>("numbers", std::make_shared<SlowSource>(kPer),
                   WatermarkStrategy<Rec>::BoundedOutOfOrderness(0).WithTimestamp([](const Rec& r) { return r.ts; }))
      .Map(
          [](const Rec& r) {
            if (calls.Next("bounded", r.value) == 1) {
              const int now = ++waiting_now;
              int seen = peak.load();
              while (now > seen && !peak.compare_exchange_weak(seen, now)) {
              }
              throw std::runtime_error("busy");
            }
            --waiting_now;
            return r.value;
          },
          policy, "bounded")
      .SinkTo(sink);
  ExecutionOptions opt;
  opt.parallelism = 1;
  opt.workers = 2;
  opt.state_backend = StateBackendKind::kHeap;
  absl::StatusOr<ExecutionResult> result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(sink->values().size(), static_cast<size_t>(kPartitions * kPer));
  // At most max_waiting, plus the records of the one source poll that filled the queue.
  EXPECT_LE(peak.load(), policy.max_waiting + static_cast<int>(kPartitions * kReadSize));
  EXPECT_GE(peak.load(), policy.max_waiting);
}


// Every third record fails its first call and waits 50 ms, far behind the watermark its
// partition has moved on to; the waiting records hold the watermark, so their windows
// wait for them and count them: no record is late, every count is whole.
TEST_F(RetryJobTest, WaitingRetriesHoldTheWatermarkSoWindowsCountTheirRecords) {
  constexpr int kPer = 400;
  auto sink = std::make_shared<connectors::CollectSink<std::pair<int64_t, int64_t>>>();
  auto job = Job::Create("held");
  job->Source<Rec>("numbers", std::make_shared<SlowSource>(kPer),
                   WatermarkStrategy<Rec>::BoundedOutOfOrderness(0).WithTimestamp([](const Rec& r) { return r.ts; }))
      .Map(
          [](const Rec& r) {
            if (r.value % 3 == 0 && calls.Next("held", r.value) == 1) throw std::runtime_error("busy");
            return r;
          },
          RetryPolicy::Exponential(3, absl::Milliseconds(50), absl::Seconds(1)), "held")
      .KeyBy([](const Rec& r) { return r.key % 4; })
      .Window(Tumbling(absl::Milliseconds(100)))
      .Aggregate(Count(), [](const int64_t& key, const TimeWindow& w, int64_t&& n) {
        return std::make_pair(key * 1'000'000 + w.start, n);
      })
      .SinkTo(sink);
  ExecutionOptions opt = Options(2, StateBackendKind::kHeap);
  opt.checkpoint_dir.clear();
  absl::StatusOr<ExecutionResult> result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(errors_.late_records(), 0);
  std::map<int64_t, int64_t> expected;
  for (int64_t at = 0; at < kPer; ++at) {
    for (int p = 0; p < kPartitions; ++p) {
      const int64_t value = at * kPartitions + p;
      ++expected[(value % kKeys) % 4 * 1'000'000 + at * 10 / 100 * 100];
    }
  }
  std::vector<std::pair<int64_t, int64_t>> want(expected.begin(), expected.end());
  EXPECT_THAT(sink->values(), UnorderedElementsAreArray(want));
}

}  // namespace
}  // namespace kappa
