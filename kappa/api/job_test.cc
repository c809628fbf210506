// Tests of the typed API as a user meets it: what compiles (a name given as a string
// literal wherever a name is taken), what does not (nothing but the fluent API reaches a
// job's graph), and that the jobs built that way run.
#include "kappa/api/job.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Graph mutation is not part of the user API: these are private to Job and the streams
// (the typed API reaches them through internal::JobBuilder).
template <typename J>
concept ReachesGraph = requires(J& j) { j.graph(); };
template <typename J>
concept AddsNodes = requires(J& j, runtime::NodeSpec n) { j.AddNode(n); };
template <typename J>
concept AddsEdges = requires(J& j, runtime::EdgeSpec e) { j.AddEdge(e); };
template <typename J>
concept RecordsErrors = requires(J& j) { j.RecordError(absl::OkStatus()); };
template <typename S>
concept ChainsRawNodes = requires(S& s) {
  s.template Then<int>("n", [](const runtime::NodeSpec&, TaskMetrics*) { return nullptr; });
};
template <typename S>
concept MakesHashEdges = requires(const S& s) { s.HashEdge(0, 0); };
static_assert(!ReachesGraph<Job>);
static_assert(!AddsNodes<Job>);
static_assert(!AddsEdges<Job>);
static_assert(!RecordsErrors<Job>);
static_assert(!ChainsRawNodes<Stream<int>>);
static_assert(!MakesHashEdges<KeyedStream<int, int>>);
// Nor through the builder the typed API uses: its members are private to the streams.
template <typename B>
concept BuilderReachesGraph = requires(Job& j) { B::Graph(j); };
template <typename B>
concept BuilderAddsNodes = requires(Job& j, runtime::NodeSpec n) { B::AddNode(j, n); };
static_assert(!BuilderReachesGraph<internal::JobBuilder>);
static_assert(!BuilderAddsNodes<internal::JobBuilder>);

struct Click {
  std::string page;
  Timestamp ts = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::Click, &kappa::Click::page, &kappa::Click::ts);

namespace kappa {
namespace {

// A bounded in-memory source with one partition.
class ClickSource final : public SourceConnector<Click> {
 public:
  explicit ClickSource(std::vector<Click> clicks) : clicks_(std::move(clicks)) {}
  absl::StatusOr<int> NumPartitions() override { return 1; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Click>>> Open(int, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Click>>(new Reader(&clicks_, offset));
  }
  std::string description() const override { return "clicks"; }

 private:
  class Reader final : public PartitionReader<Click> {
   public:
    Reader(const std::vector<Click>* clicks, int64_t at) : clicks_(clicks), at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Click>& ctx) override {
      if (at_ >= static_cast<int64_t>(clicks_->size())) return ReadStatus::kEnd;
      for (size_t i = 0; i < max && at_ < static_cast<int64_t>(clicks_->size()); ++i) {
        Click c = (*clicks_)[at_++];
        ctx.Emit(std::move(c));
      }
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    const std::vector<Click>* clicks_;
    int64_t at_;
  };
  std::vector<Click> clicks_;
};

// Collects what every writer receives, in memory.
template <typename T>
class VectorSink final : public SinkConnector<T> {
 public:
  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int, int) override {
    return std::unique_ptr<SinkWriter<T>>(new Writer(this));
  }
  std::string description() const override { return "vector"; }
  std::vector<T> values() const {
    std::lock_guard<std::mutex> lock(mu_);
    return values_;
  }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(VectorSink* sink) : sink_(sink) {}
    absl::Status Write(const Record<T>& r) override {
      std::lock_guard<std::mutex> lock(sink_->mu_);
      sink_->values_.push_back(r.value);
      return absl::OkStatus();
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    absl::Status Close() override { return absl::OkStatus(); }

   private:
    VectorSink* sink_;
  };
  mutable std::mutex mu_;
  std::vector<T> values_;
};

ExecutionOptions HeapOptions() {
  ExecutionOptions options;
  options.state_backend = StateBackendKind::kHeap;
  options.workers = 2;
  return options;
}

class JobApiTest : public ::testing::Test {
 protected:
  Stream<Click> Clicks() {
    std::vector<Click> clicks = {{"/a", 1000}, {"/b", 2000}, {"/a", 3000}, {"/a", 61000}};
    return job_->Source<Click>(
        "clicks", std::make_shared<ClickSource>(clicks),
        WatermarkStrategy<Click>::BoundedOutOfOrderness(0).WithTimestamp([](const Click& c) { return c.ts; }));
  }
  std::unique_ptr<Job> job_ = Job::Create("clicks-per-page");
};

std::string Describe(const Windowed<std::string, int64_t>& w) {
  return absl::StrCat(w.key, "@", w.window.start, "=", w.value);
}

TEST_F(JobApiTest, AggregateTakesAStringLiteralAsTheName) {
  auto sink = std::make_shared<VectorSink<Windowed<std::string, int64_t>>>();
  Clicks()
      .KeyBy([](const Click& c) { return c.page; })
      .Window(Tumbling(absl::Minutes(1)))
      .Aggregate(Count(), "count")
      .SinkTo(sink);
  EXPECT_THAT(job_->DescribePlan(HeapOptions()), HasSubstr("count"));
  ASSERT_TRUE(job_->Execute(HeapOptions()).ok()) << job_->status();
  std::vector<std::string> rows;
  for (const auto& w : sink->values()) rows.push_back(Describe(w));
  EXPECT_THAT(rows, UnorderedElementsAre("/a@0=2", "/b@0=1", "/a@60000=1"));
}

TEST_F(JobApiTest, AggregateWithResultFunctionTakesAStringLiteralAsTheName) {
  auto sink = std::make_shared<VectorSink<std::string>>();
  Clicks()
      .KeyBy([](const Click& c) { return c.page; })
      .Window(Tumbling(absl::Minutes(1)))
      .Aggregate(
          Count(), [](const std::string& page, const TimeWindow& w, int64_t n) { return absl::StrCat(page, "=", n); },
          "per-page")
      .SinkTo(sink);
  EXPECT_THAT(job_->DescribePlan(HeapOptions()), HasSubstr("per-page"));
  ASSERT_TRUE(job_->Execute(HeapOptions()).ok());
  EXPECT_THAT(sink->values(), UnorderedElementsAre("/a=2", "/b=1", "/a=1"));
}

TEST_F(JobApiTest, EveryOperatorTakesAStringLiteralAsTheName) {
  auto sink = std::make_shared<VectorSink<std::string>>();
  Clicks()
      .Filter([](const Click& c) { return c.ts < 60000; }, "early")
      .Map([](const Click& c) { return c; }, "copy")
      .FlatMap<Click>([](const Click& c, Collector<Click>& out) { out.Collect(c); }, "again")
      .KeyBy([](const Click& c) { return c.page; })
      .Window(Tumbling(absl::Minutes(1)))
      .Reduce([](const Click& a, const Click& b) { return Click{a.page, std::max(a.ts, b.ts)}; }, "latest")
      .Map([](const Click& c) { return absl::StrCat(c.page, "@", c.ts); }, "describe")
      .SinkTo(sink, "out");
  const std::string plan = job_->DescribePlan(HeapOptions());
  for (const char* name : {"early", "copy", "again", "latest", "describe", "out"}) {
    EXPECT_THAT(plan, HasSubstr(name));
  }
  ASSERT_TRUE(job_->Execute(HeapOptions()).ok());
  EXPECT_THAT(sink->values(), UnorderedElementsAre("/a@3000", "/b@2000"));
}

TEST_F(JobApiTest, BuildingMistakesAreReturnedByExecute) {
  auto sink = std::make_shared<VectorSink<Click>>();
  Clicks().Parallelism(0).SinkTo(sink);
  EXPECT_EQ(job_->status().code(), absl::StatusCode::kInvalidArgument);
  auto result = job_->Execute(HeapOptions());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("parallelism must be at least 1"));
}

TEST_F(JobApiTest, RegularFullJoinRunsAsAChangelogThatFoldsToTheSqlResult) {
  auto sink = std::make_shared<VectorSink<Change<std::string>>>();
  std::vector<Click> ads = {{"/a", 500}, {"/c", 700}, {"/a", 65000}};
  Stream<Click> ad_clicks = job_->Source<Click>(
      "ads", std::make_shared<ClickSource>(ads),
      WatermarkStrategy<Click>::BoundedOutOfOrderness(0).WithTimestamp([](const Click& c) { return c.ts; }));
  Clicks()
      .KeyBy([](const Click& c) { return c.page; })
      .Join(ad_clicks.KeyBy([](const Click& c) { return c.page; }))
      .Regular(JoinMode::kFull)
      .Apply(
          [](const Click* c, const Click* ad) {
            return absl::StrCat(c ? absl::StrCat(c->page, "@", c->ts) : "-", "+",
                                ad ? absl::StrCat(ad->page, "@", ad->ts) : "-");
          },
          "clicks-and-ads")
      .SinkTo(sink);
  EXPECT_THAT(job_->DescribePlan(HeapOptions()), HasSubstr("clicks-and-ads"));
  ASSERT_TRUE(job_->Execute(HeapOptions()).ok()) << job_->status();
  std::multiset<std::string> rows;
  for (const Change<std::string>& c : sink->values()) {
    if (c.is_insert()) {
      rows.insert(c.row);
    } else {
      ASSERT_EQ(c.op, "-D");
      ASSERT_TRUE(rows.count(c.row)) << c.row;
      rows.erase(rows.find(c.row));
    }
  }
  EXPECT_THAT(rows, UnorderedElementsAre("/a@1000+/a@500", "/a@3000+/a@500", "/a@61000+/a@500", "/a@1000+/a@65000",
                                         "/a@3000+/a@65000", "/a@61000+/a@65000", "/b@2000+-", "-+/c@700"));
  std::string json;
  JsonCodec<Change<std::string>>().Encode(Change<std::string>{"-D", "x"}, &json);
  EXPECT_EQ(json, R"({"op":"-D","row":"x"})");
}

TEST_F(JobApiTest, ANegativeJoinTtlIsReturnedByExecute) {
  auto sink = std::make_shared<VectorSink<Change<int>>>();
  Clicks()
      .KeyBy([](const Click& c) { return c.page; })
      .Join(Clicks().KeyBy([](const Click& c) { return c.page; }))
      .Regular(JoinMode::kLeft)
      .RightTtl(absl::Seconds(-1))
      .Apply([](const Click*, const Click*) { return 1; })
      .SinkTo(sink);
  auto result = job_->Execute(HeapOptions());
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("regular join: RightTtl is negative"));
}

// The builders of a strategy held in a variable return a changed copy and leave the
// variable as it was; chained on a temporary they give the same strategy.
TEST(WatermarkStrategyTest, BuildersWorkOnAVariableAndOnATemporary) {
  const auto base = WatermarkStrategy<Click>::BoundedOutOfOrderness(5000);
  WatermarkStrategy<Click> from_variable = base.WithTimestamp([](const Click& c) { return c.ts; }).WithIdleness(300);
  auto idle = base.WithIdleness(100);
  WatermarkStrategy<Click> chained =
      WatermarkStrategy<Click>::BoundedOutOfOrderness(5000).WithIdleness(300).WithTimestamp(&Click::ts);

  EXPECT_EQ(base.idle_timeout_ms, 0);
  EXPECT_FALSE(base.timestamp) << "the variable keeps no extractor it was not given";
  EXPECT_EQ(idle.idle_timeout_ms, 100);
  EXPECT_EQ(idle.out_of_orderness_ms, 5000);
  for (const WatermarkStrategy<Click>* s : {&from_variable, &chained}) {
    EXPECT_EQ(s->out_of_orderness_ms, 5000);
    EXPECT_EQ(s->idle_timeout_ms, 300);
    ASSERT_TRUE(s->timestamp);
    EXPECT_EQ(s->timestamp(Click{"/a", 1234}), 1234);
  }
}

TEST(WatermarkStrategyTest, BoundAndIdlenessTakeDurationsAsWindowsDo) {
  auto strategy = WatermarkStrategy<Click>::BoundedOutOfOrderness(absl::Seconds(5)).WithIdleness(absl::Minutes(1));
  EXPECT_EQ(strategy.out_of_orderness_ms, 5000);
  EXPECT_EQ(strategy.idle_timeout_ms, 60000);
  EXPECT_EQ(strategy.WithIdleness(absl::Milliseconds(250)).idle_timeout_ms, 250);
}

TEST(WatermarkStrategyTest, ExtractorMayBeAMemberPointer) {
  auto strategy = WatermarkStrategy<Click>::BoundedOutOfOrderness(0);
  auto with_ts = strategy.WithTimestamp(&Click::ts);
  ASSERT_TRUE(with_ts.timestamp);
  EXPECT_EQ(with_ts.timestamp(Click{"/a", 42}), 42);
}

TEST_F(JobApiTest, KeyByAndPartitionByTakeAMemberPointer) {
  auto sink = std::make_shared<VectorSink<Windowed<std::string, int64_t>>>();
  Clicks()
      .PartitionBy(&Click::page, 2)
      .KeyBy(&Click::page)
      .Window(Tumbling(absl::Minutes(1)))
      .Aggregate(Count())
      .SinkTo(sink);
  ASSERT_TRUE(job_->Execute(HeapOptions()).ok()) << job_->status();
  std::vector<std::string> rows;
  for (const auto& w : sink->values()) rows.push_back(Describe(w));
  EXPECT_THAT(rows, UnorderedElementsAre("/a@0=2", "/b@0=1", "/a@60000=1"));
}

// A key selector that is neither a lambda nor a member pointer: any invocable object.
struct PageOf {
  std::string operator()(const Click& c) const { return c.page; }
};

TEST_F(JobApiTest, KeyByTakesAnyInvocable) {
  auto sink = std::make_shared<VectorSink<Windowed<std::string, int64_t>>>();
  Clicks().KeyBy(PageOf{}).Window(Tumbling(absl::Minutes(1))).Aggregate(Count()).SinkTo(sink);
  ASSERT_TRUE(job_->Execute(HeapOptions()).ok()) << job_->status();
  std::vector<std::string> rows;
  for (const auto& w : sink->values()) rows.push_back(Describe(w));
  EXPECT_THAT(rows, UnorderedElementsAre("/a@0=2", "/b@0=1", "/a@60000=1"));
}

}  // namespace
}  // namespace kappa
