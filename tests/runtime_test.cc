// Runtime tests: whole jobs on the worker pool, through channels and exchanges.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/file_sink.h"
#include "kappa/connectors/file_source.h"
#include "kappa/connectors/nexmark_source.h"
#include "kappa/api/job.h"
#include "kappa/checkpoint/storage.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

using connectors::CollectSink;
using nexmark::Event;
using ::testing::UnorderedElementsAreArray;

struct Rec {
  int64_t key = 0;
  Timestamp ts = 0;
  int64_t value = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::Rec, &kappa::Rec::key, &kappa::Rec::ts, &kappa::Rec::value);
KAPPA_JSON(kappa::Rec, key, ts, value);

namespace kappa {
namespace {

// A bounded in-memory source: partition p emits parts[p] in order.
class VectorSource final : public SourceConnector<Rec> {
 public:
  explicit VectorSource(std::vector<std::vector<Rec>> parts) : parts_(std::move(parts)) {}
  absl::StatusOr<int> NumPartitions() override { return static_cast<int>(parts_.size()); }
  absl::StatusOr<std::unique_ptr<PartitionReader<Rec>>> Open(int p, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Rec>>(new Reader(&parts_[p], offset, this));
  }
  std::string description() const override { return "vector"; }
  std::atomic<int64_t> emitted{0};

 private:
  class Reader final : public PartitionReader<Rec> {
   public:
    Reader(const std::vector<Rec>* recs, int64_t at, VectorSource* src) : recs_(recs), at_(at), src_(src) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Rec>& ctx) override {
      if (at_ >= static_cast<int64_t>(recs_->size())) return ReadStatus::kEnd;
      for (size_t i = 0; i < max && at_ < static_cast<int64_t>(recs_->size()); ++i) {
        Rec r = (*recs_)[at_++];
        src_->emitted.fetch_add(1, std::memory_order_relaxed);
        ctx.Emit(std::move(r));
      }
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    const std::vector<Rec>* recs_;
    int64_t at_;
    VectorSource* src_;
  };
  std::vector<std::vector<Rec>> parts_;
};

WatermarkStrategy<Rec> RecStrategy(Timestamp bound) {
  return WatermarkStrategy<Rec>::BoundedOutOfOrderness(bound).WithTimestamp([](const Rec& r) { return r.ts; });
}

// Partitions of records with timestamps shuffled within `bound` per partition.
std::vector<std::vector<Rec>> MakeInput(int partitions, int per_partition, Timestamp bound, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<Rec>> parts(partitions);
  for (int p = 0; p < partitions; ++p) {
    for (int i = 0; i < per_partition; ++i) {
      Timestamp ts = i * 7 + p;
      parts[p].push_back(Rec{static_cast<int64_t>(rng() % 50), ts, static_cast<int64_t>(rng() % 1000)});
    }
    // Shuffle within windows of `bound` ms so no record is behind its partition's watermark.
    auto& v = parts[p];
    for (size_t i = 0; i < v.size();) {
      size_t j = i;
      while (j < v.size() && v[j].ts - v[i].ts < bound) ++j;
      std::shuffle(v.begin() + i, v.begin() + j, rng);
      i = j;
    }
  }
  return parts;
}

struct Row {
  int64_t key, start, end, count, sum;
  bool operator==(const Row&) const = default;
  bool operator<(const Row& o) const { return std::tie(key, start, end, count, sum) < std::tie(o.key, o.start, o.end, o.count, o.sum); }
};
std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << r.key << "[" << r.start << "," << r.end << ")=" << r.count << "/" << r.sum;
}

struct CountSum {
  std::pair<int64_t, int64_t> Create() const { return {0, 0}; }
  void Add(std::pair<int64_t, int64_t>& acc, const Rec& r) const {
    ++acc.first;
    acc.second += r.value;
  }
  std::pair<int64_t, int64_t> Result(const std::pair<int64_t, int64_t>& acc) const { return acc; }
  void Merge(std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) const {
    a.first += b.first;
    a.second += b.second;
  }
};

template <typename BuildWindow>
std::vector<Row> RunWindowJob(const std::vector<std::vector<Rec>>& input, int parallelism, BuildWindow window,
                              ErrorSink* errors = nullptr) {
  auto job = Job::Create("test");
  auto src = std::make_shared<VectorSource>(input);
  auto out = std::make_shared<CollectSink<Row>>();
  auto keyed = job->Source<Rec>("src", src, RecStrategy(100)).KeyBy([](const Rec& r) { return r.key; });
  window(keyed)
      .Aggregate(CountSum(),
                 [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
                   return Row{k, w.start, w.end, cs.first, cs.second};
                 })
      .SinkTo(out);
  ExecutionOptions opt;
  opt.parallelism = parallelism;
  opt.workers = 2;
  opt.errors = errors;
  auto result = job->Execute(opt);
  EXPECT_TRUE(result.ok()) << result.status();
  auto rows = out->values();
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Straightforward reference: per key and window, count and sum.
std::vector<Row> Reference(const std::vector<std::vector<Rec>>& input, Timestamp size, Timestamp slide) {
  std::map<std::tuple<int64_t, Timestamp>, std::pair<int64_t, int64_t>> acc;
  for (const auto& part : input) {
    for (const Rec& r : part) {
      Timestamp last = r.ts - ((r.ts % slide) + slide) % slide;
      for (Timestamp s = last; s > r.ts - size; s -= slide) {
        auto& a = acc[{r.key, s}];
        ++a.first;
        a.second += r.value;
      }
    }
  }
  std::vector<Row> rows;
  for (const auto& [k, v] : acc) rows.push_back(Row{std::get<0>(k), std::get<1>(k), std::get<1>(k) + size, v.first, v.second});
  std::sort(rows.begin(), rows.end());
  return rows;
}

class ParallelismTest : public ::testing::TestWithParam<int> {};

TEST_P(ParallelismTest, TumblingWindowsMatchReferenceAtAnyParallelism) {
  auto input = MakeInput(4, 5000, 100, 42);
  auto rows = RunWindowJob(input, GetParam(), [](auto& k) { return k.Window(Tumbling(absl::Milliseconds(500))); });
  EXPECT_EQ(rows, Reference(input, 500, 500));
}

TEST_P(ParallelismTest, SlidingWindowsMatchReferenceAtAnyParallelism) {
  auto input = MakeInput(3, 3000, 100, 7);
  auto rows = RunWindowJob(input, GetParam(),
                           [](auto& k) { return k.Window(Sliding(absl::Milliseconds(1000), absl::Milliseconds(250))); });
  EXPECT_EQ(rows, Reference(input, 1000, 250));
}

TEST_P(ParallelismTest, SessionWindowsAreTheSameAtAnyParallelism) {
  auto input = MakeInput(4, 4000, 100, 3);
  // Sparse keys make real sessions: keep one key in 8.
  for (auto& part : input) std::erase_if(part, [](const Rec& r) { return r.key % 8 != 0; });
  auto at1 = RunWindowJob(input, 1, [](auto& k) { return k.Window(Session(absl::Milliseconds(60))); });
  auto atp = RunWindowJob(input, GetParam(), [](auto& k) { return k.Window(Session(absl::Milliseconds(60))); });
  EXPECT_GT(at1.size(), 10u);
  EXPECT_EQ(at1, atp);
}

INSTANTIATE_TEST_SUITE_P(Runtime, ParallelismTest, ::testing::Values(1, 2, 4));

TEST(LatenessTest, SameRecordsAreLateRegardlessOfParallelismAndInterleaving) {
  // Partition 1 carries records far behind its own watermark: they are late by the
  // deterministic rule whatever the interleaving with partition 0.
  std::vector<std::vector<Rec>> input(2);
  for (int i = 0; i < 2000; ++i) input[0].push_back(Rec{1, i * 10, 1});
  for (int i = 0; i < 2000; ++i) {
    Timestamp ts = (i % 10 == 9) ? (i - 5) * 10 - 1000 : i * 10;  // every 10th is 1 s behind
    input[1].push_back(Rec{2, ts, 1});
  }
  for (int p : {1, 2, 4}) {
    ErrorSink errors(nullptr);
    RunWindowJob(input, p, [](auto& k) { return k.Window(Tumbling(absl::Milliseconds(100))); }, &errors);
    int64_t expected = 0;
    Timestamp max_ts = kMinTimestamp;
    for (const Rec& r : input[1]) {
      Timestamp pwm = max_ts == kMinTimestamp ? kMinTimestamp : max_ts - 100;
      Timestamp end = r.ts - ((r.ts % 100) + 100) % 100 + 100;
      if (end - 1 <= pwm) ++expected;
      max_ts = std::max(max_ts, r.ts);
    }
    EXPECT_GT(expected, 100);
    EXPECT_EQ(errors.late_records(), expected) << "parallelism " << p;
  }
}

// Counts records and tracks how far the source runs ahead of a slow sink.
class SlowCountingSink final : public SinkConnector<Rec> {
 public:
  explicit SlowCountingSink(VectorSource* src) : src_(src) {}
  absl::StatusOr<std::unique_ptr<SinkWriter<Rec>>> CreateWriter(int, int) override {
    return std::unique_ptr<SinkWriter<Rec>>(new Writer(this));
  }
  std::string description() const override { return "slow"; }
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> max_in_flight{0};

 private:
  class Writer final : public SinkWriter<Rec> {
   public:
    explicit Writer(SlowCountingSink* s) : s_(s) {}
    absl::Status Write(const Record<Rec>&) override {
      int64_t n = s_->received.fetch_add(1) + 1;
      int64_t in_flight = s_->src_->emitted.load() - n;
      int64_t prev = s_->max_in_flight.load();
      while (in_flight > prev && !s_->max_in_flight.compare_exchange_weak(prev, in_flight)) {
      }
      if (n % 512 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
      return absl::OkStatus();
    }
    absl::Status Flush() override { return absl::OkStatus(); }
    absl::Status Close() override { return absl::OkStatus(); }

   private:
    SlowCountingSink* s_;
  };
  VectorSource* src_;
};

TEST(BackpressureTest, SlowSinkBoundsRecordsInFlight) {
  const int n = 300000;
  std::vector<std::vector<Rec>> input(1);
  for (int i = 0; i < n; ++i) input[0].push_back(Rec{i % 7, i, i});
  auto src = std::make_shared<VectorSource>(input);
  auto sink = std::make_shared<SlowCountingSink>(src.get());
  auto job = Job::Create("backpressure");
  // Rebalance forces a channel between the source task and the sink task.
  job->Source<Rec>("src", src, RecStrategy(0)).Map([](const Rec& r) { return r; }).Rebalance(1).SinkTo(sink);
  ExecutionOptions opt;
  opt.workers = 2;
  opt.channel_capacity = 4;
  auto result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(sink->received.load(), n);
  // One channel of 4 batches of 1024, a batch being filled, one poll of the source and
  // the batch the sink is working through: a few thousand records, never the input.
  EXPECT_LT(sink->max_in_flight.load(), 12 * 1024) << "the source ran ahead of the sink";
}

TEST(ErrorsTest, MalformedLinesGoToErrorsAndTheRestIsUnaffected) {
  std::string dir = ::testing::TempDir() + "/kappa_runtime_malformed";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string clean_path = dir + "/clean.jsonl", dirty_path = dir + "/dirty/part-0.jsonl";
  std::filesystem::create_directories(dir + "/dirty");
  std::ofstream clean(clean_path), dirty(dirty_path);
  std::vector<int64_t> bad_offsets;
  int64_t offset = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string line = "{\"key\":" + std::to_string(i % 5) + ",\"ts\":" + std::to_string(i * 10) + ",\"value\":1}\n";
    clean << line;
    dirty << line;
    offset += static_cast<int64_t>(line.size());
    if (i % 1000 == 500) {
      std::string bad = i % 2000 == 500 ? "{\"key\":1,\"ts\":\"soon\",\"value\":1}\n" : "not json at all\n";
      bad_offsets.push_back(offset);
      dirty << bad;
      offset += static_cast<int64_t>(bad.size());
    }
  }
  clean.close();
  dirty.close();

  auto run = [](const std::string& path, ErrorSink* errors) {
    auto job = Job::Create("errors");
    auto out = std::make_shared<CollectSink<Row>>();
    job->Source<Rec>("src", std::make_shared<connectors::FileSource<Rec>>(path, false), RecStrategy(0))
        .KeyBy([](const Rec& r) { return r.key; })
        .Window(Tumbling(absl::Seconds(1)))
        .Aggregate(CountSum(), [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
          return Row{k, w.start, w.end, cs.first, cs.second};
        })
        .SinkTo(out);
    ExecutionOptions opt;
    opt.parallelism = 2;
    opt.errors = errors;
    EXPECT_TRUE(job->Execute(opt).ok());
    auto rows = out->values();
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  ErrorSink clean_errors(nullptr, true), dirty_errors(nullptr, true);
  auto expected = run(clean_path, &clean_errors);
  auto got = run(dir + "/dirty/", &dirty_errors);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(clean_errors.decode_errors(), 0);
  ASSERT_EQ(dirty_errors.decode_errors(), static_cast<int64_t>(bad_offsets.size()));
  std::vector<int64_t> reported;
  for (const auto& e : dirty_errors.events()) {
    EXPECT_EQ(e.kind, "decode");
    EXPECT_EQ(e.partition, 0);
    reported.push_back(e.offset);
  }
  EXPECT_THAT(reported, UnorderedElementsAreArray(bad_offsets));
}

TEST(ErrorsTest, ThrowingUserFunctionIsReportedAndJobContinues) {
  std::vector<std::vector<Rec>> input(2);
  for (int i = 0; i < 1000; ++i) input[i % 2].push_back(Rec{i, i, i});
  auto job = Job::Create("throws");
  auto out = std::make_shared<CollectSink<int64_t>>();
  job->Source<Rec>("src", std::make_shared<VectorSource>(input), RecStrategy(0))
      .Map([](const Rec& r) -> int64_t {
        if (r.value % 100 == 0) throw std::invalid_argument("value divisible by 100");
        return r.value;
      })
      .SinkTo(out);
  ErrorSink errors(nullptr, true);
  ExecutionOptions opt;
  opt.parallelism = 2;
  opt.errors = &errors;
  ASSERT_TRUE(job->Execute(opt).ok());
  EXPECT_EQ(out->values().size(), 990u);
  EXPECT_EQ(errors.user_errors(), 10);
  EXPECT_EQ(errors.events()[0].error, "value divisible by 100");
}

TEST(ErrorsTest, ThrowingKeyFunctionIsReportedAndJobContinues) {
  std::vector<std::vector<Rec>> input(2);
  for (int i = 0; i < 1000; ++i) input[i % 2].push_back(Rec{i % 10, i, 1});
  auto job = Job::Create("key-throws");
  auto out = std::make_shared<CollectSink<Row>>();
  job->Source<Rec>("src", std::make_shared<VectorSource>(input), RecStrategy(0))
      .KeyBy([](const Rec& r) -> int64_t {
        if (r.key == 3) throw std::runtime_error("no key for 3");
        return r.key;
      })
      .Window(Tumbling(absl::Seconds(10)))
      .Aggregate(CountSum(), [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
        return Row{k, w.start, w.end, cs.first, cs.second};
      })
      .SinkTo(out);
  ErrorSink errors(nullptr, true);
  ExecutionOptions opt;
  opt.parallelism = 2;
  opt.errors = &errors;
  auto result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(out->values().size(), 9u);
  EXPECT_EQ(errors.user_errors(), 100);
  EXPECT_EQ(errors.events()[0].error, "no key for 3");
  EXPECT_EQ(errors.events()[0].operator_name, "key-by(window)");
}

TEST(PatternsTest, UnionSplitRebalanceAndFanOutKeepEveryRecordExactlyOnce) {
  std::vector<std::vector<Rec>> a(2), b(1);
  for (int i = 0; i < 4000; ++i) a[i % 2].push_back(Rec{i, i, i});
  for (int i = 0; i < 3000; ++i) b[0].push_back(Rec{i, i, 100000 + i});
  auto job = Job::Create("patterns");
  auto sa = job->Source<Rec>("a", std::make_shared<VectorSource>(a), RecStrategy(0));
  auto sb = job->Source<Rec>("b", std::make_shared<VectorSource>(b), RecStrategy(0));
  auto merged = sa.Union({sb}).Rebalance(3);
  auto split = merged.Split({"even", "odd"}, [](const Rec& r) { return static_cast<int>(r.value % 2); });
  auto evens = std::make_shared<CollectSink<Rec>>();
  auto odds = std::make_shared<CollectSink<Rec>>();
  auto all = std::make_shared<CollectSink<Rec>>();
  split.Output("even").SinkTo(evens);
  split.Output("odd").PartitionBy([](const Rec& r) { return r.key; }, 2).SinkTo(odds);
  merged.SinkTo(all);  // copier: the merged stream also goes here
  ExecutionOptions opt;
  opt.parallelism = 2;
  ASSERT_TRUE(job->Execute(opt).ok());
  EXPECT_EQ(all->values().size(), 7000u);
  EXPECT_EQ(evens->values().size() + odds->values().size(), 7000u);
  for (const Rec& r : evens->values()) EXPECT_EQ(r.value % 2, 0);
  for (const Rec& r : odds->values()) EXPECT_EQ(r.value % 2, 1);
  std::vector<int64_t> values;
  for (const Rec& r : all->values()) values.push_back(r.value);
  std::sort(values.begin(), values.end());
  EXPECT_EQ(std::adjacent_find(values.begin(), values.end()), values.end()) << "a record arrived twice";
}

TEST(PatternsTest, BroadcastDeliversEveryRecordToEveryInstance) {
  std::vector<std::vector<Rec>> a(1);
  for (int i = 0; i < 1000; ++i) a[0].push_back(Rec{i, i, i});
  auto job = Job::Create("broadcast");
  auto out = std::make_shared<CollectSink<Rec>>();
  job->Source<Rec>("a", std::make_shared<VectorSource>(a), RecStrategy(0)).Broadcast(3).SinkTo(out);
  ASSERT_TRUE(job->Execute(ExecutionOptions{.parallelism = 1, .workers = 2}).ok());
  EXPECT_EQ(out->values().size(), 3000u);
}

TEST(PlanTest, StatelessNeighboursAreFusedAndKeyByStartsANewTask) {
  auto job = Job::Create("plan");
  auto out = std::make_shared<CollectSink<Row>>();
  job->Source<Rec>("src", std::make_shared<VectorSource>(std::vector<std::vector<Rec>>(1)), RecStrategy(0))
      .Map([](const Rec& r) { return r; }, "m1")
      .Filter([](const Rec&) { return true; }, "f1")
      .KeyBy([](const Rec& r) { return r.key; })
      .Window(Tumbling(absl::Seconds(1)))
      .Aggregate(CountSum(), [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
        return Row{k, w.start, w.end, cs.first, cs.second};
      })
      .SinkTo(out);
  std::string plan = job->DescribePlan(ExecutionOptions{.parallelism = 2});
  EXPECT_EQ(plan, "task x2: src -> m1 -> f1\ntask x2: window -> sink\n");
}

// A source whose partition 1 never has data until released (a quiet Kafka partition).
class QuietPartitionSource final : public SourceConnector<Rec> {
 public:
  absl::StatusOr<int> NumPartitions() override { return 2; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Rec>>> Open(int p, int64_t) override {
    return std::unique_ptr<PartitionReader<Rec>>(new Reader(p, this));
  }
  std::string description() const override { return "quiet"; }
  std::atomic<bool> release{false};

 private:
  class Reader final : public PartitionReader<Rec> {
   public:
    Reader(int p, QuietPartitionSource* s) : p_(p), s_(s) {}
    // Partition 0 stays active: one record per millisecond of wall time, 100 ms of event
    // time apart, until released. Partition 1 is silent.
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Rec>& ctx) override {
      if (s_->release.load()) return ReadStatus::kEnd;
      if (p_ == 1) return ReadStatus::kWouldBlock;
      auto due = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
      if (next_ >= due) return ReadStatus::kWouldBlock;
      for (size_t i = 0; i < max && next_ < due; ++i, ++next_) ctx.Emit(Rec{1, next_ * 100, 1});
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return next_; }

   private:
    int p_;
    QuietPartitionSource* s_;
    int64_t next_ = 0;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  };
};

bool RunUntilOutput(Timestamp idle_timeout, bool* saw_output_before_release) {
  auto src = std::make_shared<QuietPartitionSource>();
  auto out = std::make_shared<CollectSink<Row>>();
  auto job = Job::Create("idle");
  auto strategy = RecStrategy(0);
  strategy.idle_timeout_ms = idle_timeout;
  job->Source<Rec>("src", src, strategy)
      .KeyBy([](const Rec& r) { return r.key; })
      .Window(Tumbling(absl::Seconds(1)))
      .Aggregate(CountSum(), [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
        return Row{k, w.start, w.end, cs.first, cs.second};
      })
      .SinkTo(out);
  absl::StatusOr<ExecutionResult> result;
  std::thread runner([&] { result = job->Execute(ExecutionOptions{.parallelism = 1, .workers = 2}); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(idle_timeout > 0 ? 10000 : 500);
  while (out->values().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  *saw_output_before_release = !out->values().empty();
  src->release = true;
  runner.join();
  return result.ok();
}

TEST(IdlenessTest, IdlePartitionDoesNotHoldBackTheWatermark) {
  bool early = false;
  EXPECT_TRUE(RunUntilOutput(/*idle_timeout=*/50, &early));
  EXPECT_TRUE(early) << "windows should fire while partition 1 is idle";
}

TEST(IdlenessTest, WithoutIdlenessAQuietPartitionHoldsWindowsBack) {
  bool early = true;
  EXPECT_TRUE(RunUntilOutput(/*idle_timeout=*/0, &early));
  EXPECT_FALSE(early) << "no window may fire while a partition without idleness is silent";
}

TEST(StopTest, StopRequestEndsAnUnboundedRunCleanly) {
  auto job = Job::Create("stop");
  auto out = std::make_shared<CollectSink<Event>>();
  nexmark::GeneratorConfig config;  // unbounded
  auto src = std::make_shared<connectors::NexmarkSource<Event>>(config, 2);
  job->Source<Event>("gen", src,
                     WatermarkStrategy<Event>::BoundedOutOfOrderness(0).WithTimestamp(
                         [](const Event& e) { return e.date_time(); }))
      .Filter([](const Event& e) { return e.is_person(); })
      .SinkTo(out);
  std::atomic<bool> stop{false};
  absl::StatusOr<ExecutionResult> result;
  std::thread runner([&] {
    result = job->Execute(ExecutionOptions{.parallelism = 2, .workers = 2, .stop_requested = &stop});
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out->values().size() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  runner.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(out->values().size(), 1000u);
}

TEST(JoinRuntimeTest, IntervalJoinOverTwoSourcesMatchesNestedLoop) {
  std::vector<std::vector<Rec>> left(2), right(2);
  std::mt19937 rng(5);
  for (int i = 0; i < 600; ++i) left[i % 2].push_back(Rec{static_cast<int64_t>(rng() % 20), i * 10, i});
  for (int i = 0; i < 600; ++i) right[i % 2].push_back(Rec{static_cast<int64_t>(rng() % 20), i * 10 + 3, 1000 + i});
  auto job = Job::Create("join");
  auto out = std::make_shared<CollectSink<std::pair<int64_t, int64_t>>>();
  auto l = job->Source<Rec>("l", std::make_shared<VectorSource>(left), RecStrategy(0)).KeyBy([](const Rec& r) { return r.key; });
  auto r = job->Source<Rec>("r", std::make_shared<VectorSource>(right), RecStrategy(0)).KeyBy([](const Rec& r) { return r.key; });
  l.IntervalJoin(r)
      .Between(absl::Milliseconds(-50), absl::Milliseconds(50))
      .Apply([](const Rec& a, const Rec& b) { return std::make_pair(a.value, b.value); })
      .SinkTo(out);
  ASSERT_TRUE(job->Execute(ExecutionOptions{.parallelism = 3, .workers = 2}).ok());
  std::vector<std::pair<int64_t, int64_t>> expected;
  for (const auto& lp : left)
    for (const Rec& a : lp)
      for (const auto& rp : right)
        for (const Rec& b : rp)
          if (a.key == b.key && b.ts >= a.ts - 50 && b.ts <= a.ts + 50) expected.emplace_back(a.value, b.value);
  EXPECT_GT(expected.size(), 100u);
  EXPECT_THAT(out->values(), UnorderedElementsAreArray(expected));
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

TEST(StateBackendTest, RocksDbGivesTheSameWindowsAsTheHeap) {
  auto input = MakeInput(3, 3000, 100, 11);
  auto run = [&](StateBackendKind kind, int p, size_t cache_bytes = ExecutionOptions().state_cache_bytes) {
    auto job = Job::Create("rocks");
    auto out = std::make_shared<CollectSink<Row>>();
    job->Source<Rec>("src", std::make_shared<VectorSource>(input), RecStrategy(100))
        .KeyBy([](const Rec& r) { return r.key; })
        .Window(Session(absl::Milliseconds(40)))
        .Aggregate(CountSum(), [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
          return Row{k, w.start, w.end, cs.first, cs.second};
        })
        .SinkTo(out);
    ExecutionOptions opt;
    opt.parallelism = p;
    opt.workers = 2;
    opt.state_backend = kind;
    opt.state_dir = ::testing::TempDir() + "/kappa_rocks_state";
    opt.state_cache_bytes = cache_bytes;
    auto result = job->Execute(opt);
    EXPECT_TRUE(result.ok()) << result.status();
    auto rows = out->values();
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  auto heap = run(StateBackendKind::kHeap, 1);
  EXPECT_GT(heap.size(), 100u);
  EXPECT_EQ(run(StateBackendKind::kRocksDb, 2), heap);
  EXPECT_EQ(run(StateBackendKind::kRocksDb, 2, /*cache_bytes=*/2048), heap) << "a cache that is always full";
  EXPECT_EQ(run(StateBackendKind::kRocksDb, 1, /*cache_bytes=*/0), heap) << "no cache";
  EXPECT_FALSE(std::filesystem::exists(::testing::TempDir() + "/kappa_rocks_state/rocks"))
      << "a run's working state is removed when it ends";
}

TEST(StateBackendTest, UnusableStateDirectoryFailsTheRunWithItsPath) {
  std::string file = ::testing::TempDir() + "/kappa_state_is_a_file";
  { std::ofstream(file) << "not a directory"; }
  auto job = Job::Create("rocks");
  auto out = std::make_shared<CollectSink<Row>>();
  job->Source<Rec>("src", std::make_shared<VectorSource>(MakeInput(1, 10, 10, 1)), RecStrategy(0))
      .KeyBy([](const Rec& r) { return r.key; })
      .Window(Tumbling(absl::Seconds(1)))
      .Aggregate(CountSum(), [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
        return Row{k, w.start, w.end, cs.first, cs.second};
      })
      .SinkTo(out);
  ExecutionOptions opt;
  opt.state_backend = StateBackendKind::kRocksDb;
  opt.state_dir = file;
  auto result = job->Execute(opt);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), ::testing::HasSubstr(file));
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

// Emits records with increasing timestamps until stopped.
class EndlessSource final : public SourceConnector<Rec> {
 public:
  absl::StatusOr<int> NumPartitions() override { return 2; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Rec>>> Open(int p, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Rec>>(new Reader(offset));
  }
  std::string description() const override { return "endless"; }

 private:
  class Reader final : public PartitionReader<Rec> {
   public:
    explicit Reader(int64_t at) : at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Rec>& ctx) override {
      for (size_t i = 0; i < std::min<size_t>(max, 64); ++i, ++at_) ctx.Emit(Rec{at_ % 13, at_, 1});
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    int64_t at_;
  };
};

void BuildCounting(Job* job, const std::string& window_uid, const std::string& out_dir) {
  job->Source<Rec>("src", std::make_shared<EndlessSource>(), RecStrategy(0))
      .KeyBy([](const Rec& r) { return r.key; })
      .Window(Tumbling(absl::Seconds(1)))
      .Aggregate(CountSum(),
                 [](const int64_t& k, const TimeWindow& w, std::pair<int64_t, int64_t>&& cs) {
                   return Row{k, w.start, w.end, cs.first, cs.second};
                 })
      .Uid(window_uid)
      .Map([](const Row& r) { return Rec{r.key, r.start, r.count}; })
      .SinkTo(std::make_shared<connectors::FileSink<Rec>>(out_dir, connectors::FileSink<Rec>::Kind::kDirectory));
}

TEST(SavepointTest, StateOfAnOperatorTheNewVersionLacksIsRefusedByName) {
  std::string dir = ::testing::TempDir() + "/kappa_uid_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::atomic<bool> stop{false};
  {
    auto job = Job::Create("counting");
    BuildCounting(job.get(), "count-v1", dir + "/out");
    ExecutionOptions opt;
    opt.parallelism = 2;
    opt.checkpoint_dir = dir;
    opt.checkpoint_interval_ms = 20;
    opt.stop_requested = &stop;
    absl::StatusOr<ExecutionResult> result;
    std::thread runner([&] { result = job->Execute(opt); });
    for (int i = 0; i < 500 && !std::filesystem::exists(dir + "/chk-00000002/MANIFEST"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop = true;
    runner.join();
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_GE(result->checkpoints_completed, 1);
  }
  stop = false;
  auto job = Job::Create("counting");
  BuildCounting(job.get(), "count-v2", dir + "/out");
  ExecutionOptions opt;
  opt.checkpoint_dir = dir;
  opt.stop_requested = &stop;
  auto result = job->Execute(opt);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(result.status()));
  EXPECT_THAT(std::string(result.status().message()), ::testing::HasSubstr("operator 'count-v1'"));
}

// The newest checkpoint directory in `dir` (complete or not; 0: none).
int64_t NewestCheckpointDir(const std::string& dir) {
  int64_t id = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("chk-")) id = std::max<int64_t>(id, std::stoll(name.substr(4)));
  }
  return id;
}

// A newer run claims the checkpoint directory of a running one (as a restarted process
// would, while the old one is frozen): the old run fails on its own with one line naming
// the newer claim, and begins no checkpoint after the one it may have had in flight.
TEST(CheckpointDirectoryTest, ARunWhoseDirectoryIsTakenOverFailsAndBeginsNoCheckpoint) {
  std::string dir = ::testing::TempDir() + "/kappa_claim_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  auto job = Job::Create("counting");
  BuildCounting(job.get(), "count", dir + "/out");
  ExecutionOptions opt;
  opt.parallelism = 2;
  opt.checkpoint_dir = dir;
  opt.checkpoint_interval_ms = 20;
  std::atomic<bool> stop{false};  // only if the run does not fail within a minute
  opt.stop_requested = &stop;
  std::atomic<bool> ended{false};
  absl::StatusOr<ExecutionResult> result;
  std::thread runner([&] {
    result = job->Execute(opt);
    ended = true;
  });
  for (int i = 0; i < 1000 && !std::filesystem::exists(dir + "/chk-00000002/MANIFEST"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto newer = checkpoint::DirectoryClaim::Take(dir);
  ASSERT_TRUE(newer.ok()) << newer.status();
  const int64_t at_takeover = NewestCheckpointDir(dir);
  for (int i = 0; i < 6000 && !ended; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool failed_by_itself = ended;
  stop = true;
  runner.join();
  ASSERT_TRUE(failed_by_itself) << "the run went on for a minute after it lost its checkpoint directory";
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(result.status())) << result.status();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::StartsWith(absl::StrCat(dir, " was taken over by another run (pid ", getpid(), " on ", host)));
  EXPECT_THAT(std::string(result.status().message()), ::testing::EndsWith("this run stops without writing to it"));
  // Begun before the takeover at most: the one in flight.
  EXPECT_LE(NewestCheckpointDir(dir), at_takeover + 1);
  EXPECT_TRUE((*newer)->Check().ok()) << "the old run claimed the directory back";
}

// Source progress belongs to a run: two jobs running at once in one process each see
// exactly their own partitions, whether the caller owns the board or the run does.
TEST(SourceProgressTest, TwoJobsRunningAtOnceSeeOnlyTheirOwnSourcesProgress) {
  auto run = [](int partitions, int per_partition, runtime::SourceProgress* board,
                absl::StatusOr<ExecutionResult>* result) {
    auto job = Job::Create(absl::StrCat("progress-", partitions));
    auto src = std::make_shared<VectorSource>(MakeInput(partitions, per_partition, 10, 7));
    auto out = std::make_shared<CollectSink<Rec>>();
    job->Source<Rec>("src", src, RecStrategy(10)).SinkTo(out);
    ExecutionOptions opt;
    opt.parallelism = 2;
    opt.workers = 2;
    opt.progress = board;
    *result = job->Execute(opt);
  };
  runtime::SourceProgress board;
  absl::StatusOr<ExecutionResult> first, second;
  std::thread a([&] { run(3, 100, &board, &first); });
  std::thread b([&] { run(2, 40, nullptr, &second); });
  a.join();
  b.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();

  auto summary = [](const std::vector<runtime::SourceProgress::View>& views) {
    std::map<int, std::pair<int64_t, int64_t>> by_partition;  // partition -> (offset, records)
    for (const auto& v : views) {
      EXPECT_TRUE(v.finished) << v.partition;
      EXPECT_EQ(v.start, 0);
      by_partition[v.partition] = {v.offset, v.records};
    }
    return by_partition;
  };
  using Parts = std::map<int, std::pair<int64_t, int64_t>>;
  EXPECT_EQ(summary(board.Read()), (Parts{{0, {100, 100}}, {1, {100, 100}}, {2, {100, 100}}}));
  EXPECT_EQ(board.Read().size(), 3u);
  EXPECT_EQ(summary(first->sources), summary(board.Read()));
  EXPECT_EQ(second->sources.size(), 2u);
  EXPECT_EQ(summary(second->sources), (Parts{{0, {40, 40}}, {1, {40, 40}}}));
}

}  // namespace
}  // namespace kappa
