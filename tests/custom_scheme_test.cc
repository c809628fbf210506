// A job binary that brings its own connectors, written as code outside the library would
// be: it includes only kappa/kappa.h, registers a source scheme (`seq:`, JSON numbers)
// and a sink scheme (`lines:`, collected in memory), and runs a job bound to them through
// JobContext and through the whole command line (kappa::cli::Main): run, replay with
// --from, and an unknown scheme's error.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/kappa.h"

namespace seq_test {

struct Num {
  int64_t n = 0;
};
struct Square {
  int64_t n = 0;
  int64_t square = 0;
};

}  // namespace seq_test

KAPPA_JSON(seq_test::Num, n);
KAPPA_JSON(seq_test::Square, n, square);

namespace seq_test {
namespace {

using kappa::connectors::Position;
using kappa::connectors::RawPartitionReader;
using kappa::connectors::RawRecord;
using kappa::connectors::RawSinkBatch;
using kappa::connectors::RawSinkConnector;
using kappa::connectors::RawSinkWriter;
using kappa::connectors::RawSourceConnector;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

// `seq:?n=N&partitions=P`: the numbers 0..N-1 as {"n":i}; partition p holds the numbers
// i ≡ p (mod P), and an offset counts the numbers a partition has produced.
class SeqSource final : public RawSourceConnector {
 public:
  SeqSource(int64_t n, int partitions, Position start) : n_(n), partitions_(partitions), start_(std::move(start)) {}

  absl::StatusOr<int> NumPartitions() override { return partitions_; }
  absl::StatusOr<int64_t> StartOffset(int partition) override {
    if (start_.kind != Position::Kind::kOffsets) return 0;
    auto it = start_.offsets.find(partition);
    return it == start_.offsets.end() ? 0 : it->second;
  }
  absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int partition, int64_t offset) override {
    return std::unique_ptr<RawPartitionReader>(new Reader(n_, partition, partitions_, offset));
  }
  std::string description() const override { return "seq:"; }

 private:
  class Reader final : public RawPartitionReader {
   public:
    Reader(int64_t n, int partition, int partitions, int64_t offset)
        : n_(n), partition_(partition), partitions_(partitions), offset_(offset) {}

    absl::StatusOr<kappa::ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) override {
      lines_.clear();
      while (lines_.size() < max_records && Number(offset_ + lines_.size()) < n_) {
        lines_.push_back("{\"n\":" + std::to_string(Number(offset_ + lines_.size())) + "}");
      }
      if (lines_.empty()) return kappa::ReadStatus::kEnd;
      for (const std::string& line : lines_) {
        out->push_back(RawRecord{.bytes = line, .offset = offset_, .next_offset = offset_ + 1,
                                 .padded_capacity = line.size()});
        ++offset_;
      }
      return kappa::ReadStatus::kRecords;
    }
    int64_t offset() const override { return offset_; }

   private:
    int64_t Number(int64_t offset) const { return partition_ + offset * partitions_; }
    int64_t n_;
    int partition_;
    int partitions_;
    int64_t offset_;
    std::vector<std::string> lines_;
  };

  int64_t n_;
  int partitions_;
  Position start_;
};

absl::StatusOr<kappa::connectors::OpenedSource> OpenSeq(const kappa::connectors::Uri& uri,
                                                        const kappa::connectors::SourceOptions& options) {
  int64_t n = 0;
  int partitions = 1;
  auto it = uri.params.find("n");
  if (it == uri.params.end() || !absl::SimpleAtoi(it->second, &n) || n < 0) {
    return absl::InvalidArgumentError("'" + uri.text + "': seq: needs n=COUNT");
  }
  if (auto p = uri.params.find("partitions"); p != uri.params.end() && !absl::SimpleAtoi(p->second, &partitions)) {
    return absl::InvalidArgumentError("'" + uri.text + "': partitions must be a number");
  }
  KAPPA_ASSIGN_OR_RETURN(kappa::connectors::SourceBounds bounds, kappa::connectors::ParseSourceBounds(uri, options));
  return kappa::connectors::OpenedSource(std::make_shared<SeqSource>(n, partitions, bounds.start));
}

// `lines:NAME`: every line written, by NAME, in this process.
std::mutex lines_mu;
std::map<std::string, std::vector<std::string>> lines_by_name;

class LinesSink final : public RawSinkConnector {
 public:
  explicit LinesSink(std::string name) : name_(std::move(name)) {}
  absl::StatusOr<std::unique_ptr<RawSinkWriter>> CreateWriter(int, int) override {
    return std::unique_ptr<RawSinkWriter>(new Writer(name_));
  }
  std::string description() const override { return "lines:" + name_; }

 private:
  class Writer final : public RawSinkWriter {
   public:
    explicit Writer(std::string name) : name_(std::move(name)) {}
    absl::Status Write(const RawSinkBatch& batch) override {
      std::lock_guard<std::mutex> lock(lines_mu);
      for (size_t i = 0; i < batch.size(); ++i) lines_by_name[name_].emplace_back(batch.bytes(i));
      return absl::OkStatus();
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    absl::Status Close() override { return absl::OkStatus(); }

   private:
    std::string name_;
  };
  std::string name_;
};

std::vector<std::string> Lines(const std::string& name) {
  std::lock_guard<std::mutex> lock(lines_mu);
  return lines_by_name[name];
}

void BuildEvenSquares(kappa::JobContext& ctx) {
  auto numbers = ctx.Source<Num>("numbers", kappa::WatermarkStrategy<Num>::BoundedOutOfOrderness(0).WithTimestamp(
                                                [](const Num& x) { return x.n; }));
  ctx.Sink(numbers.Filter([](const Num& x) { return x.n % 2 == 0; })
               .Map([](const Num& x) { return Square{x.n, x.n * x.n}; }));
}

// Two sinks: the even squares to "output", the odd numbers' squares to "odd".
void BuildEvenAndOddSquares(kappa::JobContext& ctx) {
  auto numbers = ctx.Source<Num>("numbers", kappa::WatermarkStrategy<Num>::BoundedOutOfOrderness(0).WithTimestamp(
                                                &Num::n));
  auto squares = numbers.Map([](const Num& x) { return Square{x.n, x.n * x.n}; });
  ctx.Sink(squares.Filter([](const Square& s) { return s.n % 2 == 0; }), "output");
  ctx.Sink(squares.Filter([](const Square& s) { return s.n % 2 != 0; }), "odd");
}

// What even-squares writes for the numbers [from, to).
std::vector<std::string> WantSquares(int64_t from, int64_t to) {
  std::vector<std::string> want;
  for (int64_t i = from; i < to; ++i) {
    if (i % 2 == 0) want.push_back("{\"n\":" + std::to_string(i) + ",\"square\":" + std::to_string(i * i) + "}");
  }
  return want;
}

class CustomSchemeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kappa::RegisterSourceScheme("seq", OpenSeq, "seq:?n=N&partitions=P");
    kappa::RegisterSinkScheme(
        "lines",
        [](const kappa::connectors::Uri& uri,
           const kappa::connectors::SinkOptions&) -> absl::StatusOr<kappa::connectors::OpenedSink> {
          return kappa::connectors::OpenedSink(std::make_shared<LinesSink>(uri.path));
        },
        "lines:NAME");
    registry_.Register({"even-squares", "squares of the even numbers", BuildEvenSquares});
    registry_.Register({"even-and-odd-squares", "squares, even and odd apart", BuildEvenAndOddSquares});
  }

  // Runs kappa::cli::Main with `args` (after the program name); returns its exit code.
  int Main(std::vector<std::string> args) {
    args.insert(args.begin(), "custom-scheme-test");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return kappa::cli::Main(static_cast<int>(args.size()), argv.data(), registry_);
  }

  kappa::JobRegistry registry_;
};

TEST_F(CustomSchemeTest, JobContextBindsTheJobToRegisteredSchemes) {
  kappa::JobBindings bindings;
  bindings.default_source = "seq:?n=1000&partitions=3";
  bindings.default_sink = "lines:context";
  auto job = kappa::Job::Create("even-squares");
  kappa::JobContext ctx(job.get(), bindings);
  registry_.Find("even-squares")->build(ctx);
  ASSERT_TRUE(job->status().ok()) << job->status();
  ASSERT_TRUE(ctx.CheckBindings().ok());
  kappa::ExecutionOptions options;
  options.parallelism = 2;
  auto result = job->Execute(options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(ctx.Finish().ok());
  EXPECT_THAT(Lines("context"), UnorderedElementsAreArray(WantSquares(0, 1000)));
  ASSERT_EQ(ctx.sinks().size(), 1u);
  EXPECT_EQ(ctx.sinks()[0].connector->description(), "lines:context");
}

TEST_F(CustomSchemeTest, CommandLineRunsTheJobOverTheRegisteredSchemes) {
  EXPECT_EQ(Main({"run", "even-squares", "--source", "seq:?n=500&partitions=2", "--sink", "lines:run", "-p", "2"}),
            0);
  EXPECT_THAT(Lines("run"), UnorderedElementsAreArray(WantSquares(0, 500)));
}

// --from offsets: reaches the scheme's factory: each partition starts where it says.
TEST_F(CustomSchemeTest, ReplayPassesItsBoundsToTheScheme) {
  EXPECT_EQ(Main({"replay", "even-squares", "--source", "seq:?n=100&partitions=2", "--from", "offsets:0=25,1=25",
                  "--sink", "lines:replay"}),
            0);
  EXPECT_THAT(Lines("replay"), UnorderedElementsAreArray(WantSquares(50, 100)));
}

TEST_F(CustomSchemeTest, UnknownSchemeIsAUsageErrorListingTheRegisteredOnes) {
  testing::internal::CaptureStderr();
  int code = Main({"run", "even-squares", "--source", "sqe:?n=10", "--sink", "lines:unused"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  EXPECT_THAT(err, AllOf(HasSubstr("'sqe:?n=10'"), HasSubstr("seq:?n=N&partitions=P"), HasSubstr("file:PATH"),
                         HasSubstr("kafka://")));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(Lines("unused").empty());
}

// One file for two sinks would keep only one sink's rows: the run is refused before it
// starts, naming the binding that fixes it, and writes nothing.
TEST_F(CustomSchemeTest, OneFileForTwoSinksIsAUsageErrorNamingTheFix) {
  const std::string out = ::testing::TempDir() + "/custom_scheme_test_shared.jsonl";
  std::filesystem::remove(out);
  testing::internal::CaptureStderr();
  int code = Main({"run", "even-and-odd-squares", "--source", "seq:?n=10", "--sink", "file:" + out});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  std::string odd = ::testing::TempDir() + "/odd.jsonl";
  EXPECT_THAT(err, HasSubstr("--sink file:" + out + " would be written by both sinks 'output' and 'odd'; " +
                             "bind each its own: --sink odd=file:" + std::filesystem::path(odd).lexically_normal().string()));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CustomSchemeTest, TwoSinksBoundApartEachGetTheirRows) {
  EXPECT_EQ(Main({"run", "even-and-odd-squares", "--source", "seq:?n=10", "--sink", "lines:evens", "--sink",
                  "odd=lines:odds"}),
            0);
  EXPECT_THAT(Lines("evens"), UnorderedElementsAreArray(WantSquares(0, 10)));
  EXPECT_EQ(Lines("odds").size(), 5u);
}

}  // namespace
}  // namespace seq_test
