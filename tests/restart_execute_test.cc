// ExecutionOptions::restart through the API: Execute restarts a failed job under the
// strategy, reports the restarts (result, monitor), gives up with one message, and never
// restarts what must not be restarted (none, fatal errors, a failure before the tasks run).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kappa/api/job.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/runtime/monitor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

using connectors::CollectSink;
using ::testing::HasSubstr;

// One bounded partition of 0..n-1 (the value is its event time too). NumPartitions counts
// its calls, and fails when `unreadable`.
class CountingSource final : public SourceConnector<int64_t> {
 public:
  explicit CountingSource(int64_t n, bool unreadable = false) : n_(n), unreadable_(unreadable) {}
  absl::StatusOr<int> NumPartitions() override {
    ++opened;
    if (unreadable_) return absl::NotFoundError("no such input");
    return 1;
  }
  absl::StatusOr<std::unique_ptr<PartitionReader<int64_t>>> Open(int, int64_t offset) override {
    return std::unique_ptr<PartitionReader<int64_t>>(new Reader(n_, offset));
  }
  std::string description() const override { return "counting"; }
  std::atomic<int> opened{0};

 private:
  class Reader final : public PartitionReader<int64_t> {
   public:
    Reader(int64_t n, int64_t at) : n_(n), at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<int64_t>& ctx) override {
      if (at_ >= n_) return ReadStatus::kEnd;
      for (size_t i = 0; i < max && at_ < n_; ++i) ctx.Emit(int64_t{at_++});
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    int64_t n_, at_;
  };
  int64_t n_;
  bool unreadable_;
};

WatermarkStrategy<int64_t> ByValue() {
  return WatermarkStrategy<int64_t>::BoundedOutOfOrderness(0).WithTimestamp([](const int64_t& v) { return v; });
}

// A job whose map fails the task on record 500 during its first `failing` attempts
// (`failure` is the status it fails with).
struct FailingJob {
  std::unique_ptr<Job> job = Job::Create("failing");
  std::shared_ptr<CountingSource> source;
  std::shared_ptr<CollectSink<int64_t>> out = std::make_shared<CollectSink<int64_t>>();
  std::shared_ptr<std::atomic<int>> failures = std::make_shared<std::atomic<int>>(0);

  FailingJob(int failing, absl::Status failure, bool unreadable = false)
      : source(std::make_shared<CountingSource>(1000, unreadable)) {
    auto count = failures;
    job->Source<int64_t>("numbers", source, ByValue())
        .Map([count, failing, failure](const int64_t& v) -> int64_t {
          if (v == 500 && count->load() < failing) {
            count->fetch_add(1);
            throw TaskError(failure);
          }
          return v;
        })
        .SinkTo(out);
  }
};

TEST(RestartExecuteTest, RestartsUnderTheStrategyAndReportsEachCause) {
  FailingJob f(2, absl::UnavailableError("the disk is full"));
  runtime::JobMonitor monitor;
  ExecutionOptions options;
  options.restart = RestartStrategy::FixedDelay(3, absl::Milliseconds(10));
  options.monitor = &monitor;
  absl::StatusOr<ExecutionResult> result = f.job->Execute(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->restarts, 2);
  ASSERT_EQ(result->restart_causes.size(), 2u);
  EXPECT_THAT(result->restart_causes[0], HasSubstr("the disk is full"));
  EXPECT_EQ(f.source->opened.load(), 3);  // three attempts, each from the beginning (no checkpoints)
  // The last attempt ran to the end: every value reached the sink in it.
  EXPECT_GE(f.out->values().size(), 1000u);
  runtime::JobSnapshot s = monitor.Snapshot();
  EXPECT_EQ(s.restarts, 2);
  EXPECT_THAT(s.last_restart_cause, HasSubstr("the disk is full"));
  EXPECT_GT(s.last_restart_ms, 0);
  EXPECT_EQ(s.state, "finished");
}

TEST(RestartExecuteTest, GivingUpReturnsTheLastFailureAndWhy) {
  FailingJob f(5, absl::UnavailableError("broker down"));
  ExecutionOptions options;
  options.restart = RestartStrategy::FixedDelay(2, absl::ZeroDuration());
  absl::StatusOr<ExecutionResult> result = f.job->Execute(options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("broker down"));
  EXPECT_THAT(result.status().message(),
              HasSubstr("(no more restarts: fixed:2:0 allows 2 restarts and all were used)"));
  EXPECT_EQ(f.failures->load(), 3);
}

TEST(RestartExecuteTest, NoneReturnsTheFirstFailureUnchanged) {
  FailingJob f(5, absl::UnavailableError("broker down"));
  absl::StatusOr<ExecutionResult> result = f.job->Execute(ExecutionOptions{});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "broker down");
  EXPECT_EQ(f.failures->load(), 1);
}

TEST(RestartExecuteTest, AFatalFailureIsNeverRestarted) {
  FailingJob f(5, checkpoint::MarkFatal(absl::FailedPreconditionError("fenced: another process took over")));
  ExecutionOptions options;
  options.restart = RestartStrategy::FixedDelay(3, absl::ZeroDuration());
  absl::StatusOr<ExecutionResult> result = f.job->Execute(options);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(checkpoint::IsFatal(result.status()));
  EXPECT_EQ(f.failures->load(), 1);
}

TEST(RestartExecuteTest, AFailureBeforeTheTasksRunIsNotRestarted) {
  FailingJob f(0, absl::OkStatus(), /*unreadable=*/true);
  ExecutionOptions options;
  options.restart = RestartStrategy::FixedDelay(3, absl::ZeroDuration());
  absl::StatusOr<ExecutionResult> result = f.job->Execute(options);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("no such input"));
  EXPECT_EQ(f.source->opened.load(), 1);
}

}  // namespace
}  // namespace kappa
