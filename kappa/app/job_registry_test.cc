#include "kappa/app/job_registry.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/base/file_test_util.h"
#include "kappa/testing/status_matchers.h"

namespace kappa {
namespace {

using ::kappa::testing::IsOk;
using ::kappa::testing::ReadFileToString;
using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::StatusIs;
using ::kappa::testing::WriteStringToFile;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

struct View {
  std::string user;
  std::string page;
  int64_t ts = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_JSON(kappa::View, user, page, ts);

namespace kappa {
namespace {

constexpr char kSignedIn[] = R"({"user":"ann","page":"/a","ts":1000})";
constexpr char kAnonymous[] = R"({"user":"","page":"/b","ts":2000})";

// Two sinks, as a job with a side output has: views with a user to "output", views without
// one to "late" (the name the common case, a window's late records, gives the second sink).
void BuildTwoSinks(JobContext& ctx) {
  Stream<View> views =
      ctx.Source<View>("views", WatermarkStrategy<View>::BoundedOutOfOrderness(0).WithTimestamp(&View::ts));
  ctx.Sink(views.Filter([](const View& v) { return !v.user.empty(); }, "signed-in"), "output");
  ctx.Sink(views.Filter([](const View& v) { return v.user.empty(); }, "anonymous"), "late");
}

void BuildOneSink(JobContext& ctx) {
  ctx.Sink(ctx.Source<View>("views", WatermarkStrategy<View>::BoundedOutOfOrderness(0).WithTimestamp(&View::ts)));
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class JobContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    input_ = dir_.Path("views.jsonl");
    WriteStringToFile(input_, absl::StrCat(kSignedIn, "\n", kAnonymous, "\n"));
    bindings_.default_source = "file:" + input_;
  }

  // Builds the job and checks its bindings as `kappa run` does; runs it if they pass.
  absl::Status Run(const std::function<void(JobContext&)>& build) {
    auto job = Job::Create("views");
    JobContext ctx(job.get(), bindings_);
    build(ctx);
    KAPPA_RETURN_IF_ERROR(job->status());
    KAPPA_RETURN_IF_ERROR(ctx.CheckBindings());
    KAPPA_RETURN_IF_ERROR(job->Execute({.parallelism = 2}).status());
    return ctx.Finish();
  }

  ScopedTempDir dir_;
  std::string input_;
  JobBindings bindings_;
};

// --retry-attempts and --retry-backoff override the job's policy, each only what it names.
TEST_F(JobContextTest, RetryPolicyIsTheJobsDefaultWithTheFlagsApplied) {
  auto job = Job::Create("views");
  RetryPolicy job_default = RetryPolicy::Exponential(3, absl::Milliseconds(100), absl::Seconds(5));
  job_default.attempt_timeout = absl::Seconds(2);
  {
    JobContext ctx(job.get(), bindings_);
    RetryPolicy p = ctx.retry_policy(job_default);
    EXPECT_EQ(p.max_attempts, 3);
    EXPECT_EQ(p.initial_backoff, absl::Milliseconds(100));
    EXPECT_EQ(p.max_backoff, absl::Seconds(5));
  }
  bindings_.retry_attempts = 7;
  {
    JobContext ctx(job.get(), bindings_);
    RetryPolicy p = ctx.retry_policy(job_default);
    EXPECT_EQ(p.max_attempts, 7);
    EXPECT_EQ(p.initial_backoff, absl::Milliseconds(100));
  }
  bindings_.retry_backoff = std::make_pair(absl::Milliseconds(20), absl::Milliseconds(400));
  {
    JobContext ctx(job.get(), bindings_);
    RetryPolicy p = ctx.retry_policy(job_default);
    EXPECT_EQ(p.max_attempts, 7);
    EXPECT_EQ(p.initial_backoff, absl::Milliseconds(20));
    EXPECT_EQ(p.max_backoff, absl::Milliseconds(400));
    EXPECT_EQ(p.attempt_timeout, absl::Seconds(2)) << "what the flags do not name stays the job's";
  }
}

// The bug this guards: both sinks truncated out.jsonl and wrote from its start, so one
// sink's rows were lost and the run still exited 0.
TEST_F(JobContextTest, TwoSinksOnOneDefaultFileRefuseOrKeepEveryRow) {
  bindings_.default_sink = "file:" + dir_.Path("out.jsonl");
  absl::Status status = Run(BuildTwoSinks);
  if (status.ok()) {
    EXPECT_THAT(Lines(ReadFileToString(dir_.Path("out.jsonl"))), UnorderedElementsAre(kSignedIn, kAnonymous));
  } else {
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST_F(JobContextTest, DefaultFileSharedByTwoSinksIsRefusedNamingTheBindingThatFixesIt) {
  bindings_.default_sink = "file:out.jsonl";
  EXPECT_THAT(Run(BuildTwoSinks),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "--sink file:out.jsonl would be written by both sinks 'output' and 'late'; bind each its "
                       "own: --sink late=file:late.jsonl"));
}

TEST_F(JobContextTest, TheFixTheErrorNamesRunsAndKeepsEveryRow) {
  bindings_.default_sink = "file:" + dir_.Path("out.jsonl");
  bindings_.sinks["late"] = "file:" + dir_.Path("late.jsonl");
  ASSERT_THAT(Run(BuildTwoSinks), IsOk());
  EXPECT_THAT(Lines(ReadFileToString(dir_.Path("out.jsonl"))), UnorderedElementsAre(kSignedIn));
  EXPECT_THAT(Lines(ReadFileToString(dir_.Path("late.jsonl"))), UnorderedElementsAre(kAnonymous));
}

TEST_F(JobContextTest, SuggestsRebindingTheOtherSinkWhenTheFileBearsTheLaterOnesName) {
  bindings_.default_sink = "file:" + dir_.Path("late.jsonl");
  EXPECT_THAT(Run(BuildTwoSinks),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("bind each its own: --sink output=file:", dir_.Path("output.jsonl")))));
}

TEST_F(JobContextTest, TwoNamedBindingsToOneFileAreRefusedHoweverThePathIsSpelt) {
  bindings_.sinks["output"] = "file:" + dir_.Path("out.jsonl");
  bindings_.sinks["late"] = "file:" + dir_.path() + "/./out.jsonl";
  absl::Status status = Run(BuildTwoSinks);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr(absl::StrCat("--sink output=file:", dir_.Path("out.jsonl"),
                                                      " and --sink late=file:", dir_.path(), "/./out.jsonl",
                                                      " would be written by both sinks 'output' and 'late'"))));
  EXPECT_FALSE(std::filesystem::exists(dir_.Path("out.jsonl"))) << "refused before anything was written";
}

// Exactly once, both sinks would publish DIR/part-<checkpoint>-<subtask>.jsonl; without
// checkpoints, both would truncate DIR/part-<subtask>.jsonl.
TEST_F(JobContextTest, DirectorySinkSharedByTwoSinksIsRefused) {
  bindings_.default_sink = "file:" + dir_.Path("out") + "/";
  EXPECT_THAT(Run(BuildTwoSinks),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("bind each its own: --sink late=file:", dir_.Path("late"), "/"))));
}

// A Kafka topic shared by two sinks: job_registry_kafka_test.cc (it needs a broker).
TEST_F(JobContextTest, FileInsideAnotherSinksDirectoryIsRefused) {
  bindings_.sinks["output"] = "file:" + dir_.Path("out") + "/";
  bindings_.sinks["late"] = "file:" + dir_.Path("out") + "/part-00000.jsonl";
  EXPECT_THAT(Run(BuildTwoSinks), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("would be written by both sinks 'output' and 'late'")));
}

// stdout: is append-only: lines of two sinks may interleave, but none is lost or split.
TEST_F(JobContextTest, StdoutSharedByTwoSinksKeepsEveryLineOfBoth) {
  bindings_.default_sink = "stdout:";
  ::testing::internal::CaptureStdout();
  absl::Status status = Run(BuildTwoSinks);
  std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_THAT(status, IsOk());
  EXPECT_THAT(Lines(out), UnorderedElementsAre(kSignedIn, kAnonymous));
}

TEST_F(JobContextTest, DiscardSharedByTwoSinksRuns) {
  bindings_.default_sink = "discard:";
  EXPECT_THAT(Run(BuildTwoSinks), IsOk());
}

TEST_F(JobContextTest, OneSinkStillWritesTheDefaultFile) {
  bindings_.default_sink = "file:" + dir_.Path("out.jsonl");
  ASSERT_THAT(Run(BuildOneSink), IsOk());
  EXPECT_THAT(Lines(ReadFileToString(dir_.Path("out.jsonl"))), UnorderedElementsAre(kSignedIn, kAnonymous));
}

TEST_F(JobContextTest, TwoSinksOfOneNameAreRefused) {
  bindings_.default_sink = "discard:";
  auto build = [](JobContext& ctx) {
    Stream<View> views =
        ctx.Source<View>("views", WatermarkStrategy<View>::BoundedOutOfOrderness(0).WithTimestamp(&View::ts));
    ctx.Sink(views, "output");
    ctx.Sink(views.Filter([](const View& v) { return v.user.empty(); }), "output");
  };
  EXPECT_THAT(Run(build), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "job 'views' declares two sinks named 'output'; give each sink its own name"));
}

}  // namespace
}  // namespace kappa
