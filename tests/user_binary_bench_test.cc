// `bench` in a job binary of a user's own, written as code outside the library would be:
// it includes only the public header kappa/kappa.h, registers one job (none of Kappa's)
// and calls kappa::cli::Main. `bench nexmark` still runs the Nexmark queries (the library
// brings them), and `bench job` measures the binary's own job beside its source read alone.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/kappa.h"

namespace user_bench_test {

struct Num {
  int64_t n = 0;
};
struct Square {
  int64_t n = 0;
  int64_t square = 0;
};

}  // namespace user_bench_test

KAPPA_JSON(user_bench_test::Num, n);
KAPPA_JSON(user_bench_test::Square, n, square);

namespace user_bench_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// even-squares: the squares of the even numbers of its input.
void BuildEvenSquares(kappa::JobContext& ctx) {
  auto numbers = ctx.Source<Num>("numbers", kappa::WatermarkStrategy<Num>::BoundedOutOfOrderness(0).WithTimestamp(
                                                [](const Num& x) { return x.n; }));
  ctx.Sink(numbers.Filter([](const Num& x) { return x.n % 2 == 0; })
               .Map([](const Num& x) { return Square{x.n, x.n * x.n}; }));
}

class UserBinaryBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.Register({"even-squares", "squares of the even numbers", BuildEvenSquares});
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("user_binary_bench_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A JSON-lines file of the numbers 0..n-1; returns its file: URI.
  std::string WriteNumbers(int n) {
    const std::filesystem::path path = dir_ / "numbers.jsonl";
    std::ofstream out(path);
    for (int i = 0; i < n; ++i) out << "{\"n\":" << i << "}\n";
    return "file:" + path.string();
  }

  struct Outcome {
    int code = -1;
    std::string out;
    std::string err;
  };
  // Runs kappa::cli::Main with `args` (after the program name), capturing stdout and stderr.
  Outcome Main(std::vector<std::string> args) {
    args.insert(args.begin(), "user-binary-bench-test");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    Outcome o;
    o.code = kappa::cli::Main(static_cast<int>(args.size()), argv.data(), registry_);
    o.out = ::testing::internal::GetCapturedStdout();
    o.err = ::testing::internal::GetCapturedStderr();
    return o;
  }

  kappa::JobRegistry registry_;
  std::filesystem::path dir_;
};

TEST_F(UserBinaryBenchTest, ItsJobsAreItsOwnOnly) {
  Outcome o = Main({"jobs"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("even-squares"));
  EXPECT_THAT(o.out, Not(HasSubstr("nexmark")));
}

TEST_F(UserBinaryBenchTest, BenchNexmarkRunsTheLibrarysQueryBesideTheBaseline) {
  Outcome o = Main({"bench", "nexmark", "--query", "q1", "--events", "20000", "--json"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("\"query\":\"q1\""));
  EXPECT_THAT(o.out, HasSubstr("\"events\":20000,"));
  // Every bid is a row: 46 of every 50 events, in the engine and in the baseline alike.
  EXPECT_THAT(o.out, HasSubstr("\"engine_rows\":18400,"));
  EXPECT_THAT(o.out, HasSubstr("\"baseline_rows\":18400,"));
  EXPECT_THAT(o.out, HasSubstr("\"rows_match\":true"));
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 1) << o.out;
}

TEST_F(UserBinaryBenchTest, BenchJobMeasuresItsOwnJobBesideItsSourceReadAlone) {
  const std::string numbers = WriteNumbers(1000);
  Outcome o = Main({"bench", "job", "even-squares", "--source", numbers, "-p", "2", "--json"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("\"job\":\"even-squares\""));
  EXPECT_THAT(o.out, HasSubstr("\"events\":1000,"));
  EXPECT_THAT(o.out, HasSubstr("\"baseline_events\":1000,"));
  EXPECT_THAT(o.out, HasSubstr("\"events_match\":true"));
  EXPECT_THAT(o.out, HasSubstr("\"job_rows\":500,"));
  EXPECT_THAT(o.out, HasSubstr("\"rows_counted\":true"));
  EXPECT_THAT(o.out, HasSubstr("\"baseline\":\"read only\""));
  EXPECT_THAT(o.out, Not(HasSubstr("\"job_events_per_s\":0.0,")));
  EXPECT_THAT(o.out, Not(HasSubstr("\"baseline_events_per_s\":0.0,")));
}

TEST_F(UserBinaryBenchTest, BenchJobOverAFollowedFileIsOneLineAndExitCode2) {
  const std::string numbers = WriteNumbers(10);
  Outcome o = Main({"bench", "job", "even-squares", "--source", numbers + "?follow=true"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("never ends"));
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.out, "");
}

}  // namespace
}  // namespace user_bench_test
