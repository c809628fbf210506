// JobMonitor over a real run: every group of figures a running job publishes moves, and
// the figures agree with each other and with what the job did.
#include "kappa/runtime/monitor.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kappa/api/job.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/file_sink.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

struct Reading {
  int64_t key = 0;
  Timestamp ts = 0;
  int64_t seen = 0;  // readings of this key so far (the counter's state)
};

}  // namespace
}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::Reading, &kappa::Reading::key, &kappa::Reading::ts, &kappa::Reading::seen);
KAPPA_JSON(kappa::Reading, key, ts, seen);

namespace kappa {
namespace {

using runtime::JobMonitor;
using runtime::JobSnapshot;

constexpr int kPartitions = 2;
constexpr int kPerPartition = 60000;
constexpr int kKeys = 13;

// A bounded source: partition p has kPerPartition readings one millisecond apart, from a
// minute ago; in partition 1 every 100th reading is two seconds behind (late for the window).
class ReadingSource final : public SourceConnector<Reading> {
 public:
  explicit ReadingSource(Timestamp base) : base_(base) {}
  absl::StatusOr<int> NumPartitions() override { return kPartitions; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Reading>>> Open(int p, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Reading>>(new Reader(base_, p, offset));
  }
  std::string description() const override { return "readings"; }

  static int64_t LateIn(int p) { return p == 1 ? kPerPartition / 100 : 0; }

 private:
  class Reader final : public PartitionReader<Reading> {
   public:
    Reader(Timestamp base, int p, int64_t at) : base_(base), p_(p), at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Reading>& ctx) override {
      if (at_ >= kPerPartition) return ReadStatus::kEnd;
      for (size_t i = 0; i < max && at_ < kPerPartition; ++i, ++at_) {
        Timestamp ts = base_ + at_;
        if (p_ == 1 && at_ % 100 == 99) ts -= 2000;
        ctx.Emit(Reading{at_ % kKeys, ts, 0});
      }
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }
    int64_t end_offset() const override { return kPerPartition; }

   private:
    Timestamp base_;
    int p_;
    int64_t at_;
  };
  Timestamp base_;
};

// Counts readings per key in keyed state (read and written through the state cache), and
// is slow: its input channels fill and the source is backpressured.
class SlowCounter : public KeyedProcessFunction<int64_t, Reading, Reading> {
 public:
  void Open(RuntimeContext& ctx) override { seen_ = ctx.GetValueState<int64_t>("seen"); }
  void ProcessElement(const Reading& r, Context&, Collector<Reading>& out) override {
    const int64_t seen = seen_.ValueOr(0) + 1;
    seen_.Update(seen);
    if (++calls_ % 256 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    out.Collect(Reading{r.key, r.ts, seen});
  }

 private:
  ValueState<int64_t> seen_;
  int64_t calls_ = 0;
};

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/kappa_monitor_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // source -hash-> counter -hash-> window -> sink, parallelism 2, checkpoints every 20 ms.
  // Returns the snapshots taken while it ran, the final one last.
  std::vector<JobSnapshot> RunWatched(ErrorSink* errors) {
    const Timestamp base =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() -
        60'000;
    auto job = Job::Create("watched");
    job->Source<Reading>("readings", std::make_shared<ReadingSource>(base),
                         WatermarkStrategy<Reading>::BoundedOutOfOrderness(50).WithTimestamp(
                             [](const Reading& r) { return r.ts; }))
        .KeyBy([](const Reading& r) { return r.key; })
        .Process(std::make_unique<SlowCounter>(), "counter")
        .Uid("counter")
        .KeyBy([](const Reading& r) { return r.key; })
        .Window(Tumbling(absl::Milliseconds(100)))
        .Reduce([](const Reading& a, const Reading& b) { return a.seen > b.seen ? a : b; }, "window")
        .Uid("window")
        .SinkTo(std::make_shared<connectors::FileSink<Reading>>(dir_ + "/out",
                                                                 connectors::FileSink<Reading>::Kind::kDirectory),
                "sink");
    ExecutionOptions opt;
    opt.parallelism = 2;
    opt.workers = 2;
    opt.channel_capacity = 4;
    opt.errors = errors;
    opt.checkpoint_dir = dir_ + "/chk";
    opt.checkpoint_interval_ms = 20;
    opt.monitor = &monitor_;
    absl::StatusOr<ExecutionResult> result;
    std::atomic<bool> done{false};
    std::thread runner([&] {
      result = job->Execute(opt);
      done = true;
    });
    std::vector<JobSnapshot> seen;
    while (!done) {
      seen.push_back(monitor_.Snapshot());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    runner.join();
    EXPECT_TRUE(result.ok()) << result.status();
    seen.push_back(monitor_.Snapshot());
    return seen;
  }

  std::string dir_;
  JobMonitor monitor_;
};

int ChainOf(const JobSnapshot& s, const std::string& uid) {
  for (size_t c = 0; c < s.chains.size(); ++c) {
    const auto& uids = s.chains[c].operator_uids;
    if (std::find(uids.begin(), uids.end(), uid) != uids.end()) return static_cast<int>(c);
  }
  return -1;
}

const runtime::OperatorView* OperatorOf(const runtime::TaskView& t, const std::string& uid) {
  for (const auto& o : t.operators) {
    if (o.uid == uid) return &o;
  }
  return nullptr;
}

TEST_F(MonitorTest, EveryGroupOfFiguresMovesAndAgrees) {
  ErrorSink errors(nullptr);
  std::vector<JobSnapshot> seen = RunWatched(&errors);
  ASSERT_GE(seen.size(), 2u);
  const JobSnapshot& last = seen.back();
  EXPECT_EQ(last.state, "finished");
  const int source = ChainOf(last, "readings"), counter = ChainOf(last, "counter"), window = ChainOf(last, "window");
  ASSERT_GE(source, 0);
  ASSERT_GE(counter, 0);
  ASSERT_GE(window, 0);
  ASSERT_EQ(last.tasks.size(), 6u);

  // Records: the sources read everything; the figures never go back while the job runs
  // and were seen between nothing and everything.
  const int64_t total = int64_t{kPartitions} * kPerPartition;
  int64_t read = 0;
  for (const auto& t : last.tasks) {
    if (t.node == source) read += t.records_in;
  }
  EXPECT_EQ(read, total);
  int64_t previous = 0;
  bool midway = false;
  for (const JobSnapshot& s : seen) {
    if (s.tasks.empty()) continue;  // before the run attached
    int64_t in = 0;
    for (const auto& t : s.tasks) {
      if (t.node == source) in += t.records_in;
    }
    EXPECT_GE(in, previous);
    midway |= in > 0 && in < total;
    previous = in;
  }
  EXPECT_TRUE(midway);

  // Operators inside a fused chain are counted one by one: the window's records out are
  // what its chained sink received, and the sink's out is what the task wrote; the
  // counter received every reading the sources sent, and emitted one per reading.
  int64_t counter_in = 0, counter_out = 0, window_out = 0, sink_in = 0;
  for (const auto& t : last.tasks) {
    if (t.node == counter) {
      const runtime::OperatorView* c = OperatorOf(t, "counter");
      ASSERT_NE(c, nullptr);
      counter_in += c->records_in;
      counter_out += c->records_out;
    }
    if (t.node != window) continue;
    const runtime::OperatorView* w = OperatorOf(t, "window");
    const runtime::OperatorView* k = OperatorOf(t, "sink");
    ASSERT_NE(w, nullptr);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(w->records_out, k->records_in);
    EXPECT_EQ(k->records_out, t.records_out);
    window_out += w->records_out;
    sink_in += k->records_in;
  }
  EXPECT_EQ(counter_in, total);
  EXPECT_EQ(counter_out, total);
  EXPECT_GT(window_out, 0);
  EXPECT_EQ(sink_in, window_out);

  // Time: every task worked; the source waited on the slow counter's full channels.
  int64_t source_backpressured = 0;
  for (const auto& t : last.tasks) {
    EXPECT_TRUE(t.finished);
    EXPECT_GT(t.busy_ns, 0);
    EXPECT_GE(t.backpressured_ns, 0);
    EXPECT_GE(t.idle_ns, 0);
    if (t.node == source) source_backpressured += t.backpressured_ns;
  }
  EXPECT_GT(source_backpressured, 0);
  for (size_t k = 0; k + 1 < seen.size(); ++k) {
    if (seen[k].tasks.size() != seen[k + 1].tasks.size()) continue;
    for (size_t i = 0; i < seen[k].tasks.size(); ++i) {
      EXPECT_LE(seen[k].tasks[i].busy_ns, seen[k + 1].tasks[i].busy_ns);
      EXPECT_LE(seen[k].tasks[i].backpressured_ns, seen[k + 1].tasks[i].backpressured_ns);
      EXPECT_LE(seen[k].tasks[i].idle_ns, seen[k + 1].tasks[i].idle_ns);
    }
  }

  // Channels: the edge into the slow counter filled up at some point, within capacity.
  int64_t max_fill = 0;
  for (const JobSnapshot& s : seen) {
    for (const auto& e : s.edges) {
      if (e.from != source || e.to != counter) continue;
      EXPECT_EQ(e.partitioning, "hash");
      EXPECT_EQ(e.capacity_batches, 4 * 2 * 2);
      EXPECT_LE(e.queued_batches, e.capacity_batches);
      max_fill = std::max(max_fill, e.queued_batches);
    }
  }
  EXPECT_GT(max_fill, 0);
  ASSERT_EQ(last.edges.size(), 2u);

  // Watermarks: the window's advanced while the job ran and reached the end of time.
  Timestamp window_wm = kMinTimestamp;
  bool advanced_midway = false;
  for (const JobSnapshot& s : seen) {
    for (const auto& t : s.tasks) {
      if (t.node != window || t.subtask != 0) continue;
      EXPECT_GE(t.watermark, window_wm);
      window_wm = t.watermark;
      advanced_midway |= t.watermark > kMinTimestamp && t.watermark < kMaxTimestamp;
    }
  }
  EXPECT_TRUE(advanced_midway);
  EXPECT_EQ(window_wm, kMaxTimestamp);

  // Sources: every partition read to its end, with a watermark, and not idle.
  ASSERT_EQ(last.sources.size(), static_cast<size_t>(kPartitions));
  for (const auto& p : last.sources) {
    EXPECT_EQ(p.progress.offset, kPerPartition);
    EXPECT_EQ(p.high_water, kPerPartition);
    EXPECT_GT(p.watermark, kMinTimestamp);
    EXPECT_FALSE(p.idle);
  }

  // Late records: counted at the window, as the errors output counted them.
  int64_t late = 0;
  for (const auto& t : last.tasks) {
    if (t.node != window) continue;
    const runtime::OperatorView* w = OperatorOf(t, "window");
    ASSERT_NE(w, nullptr);
    late += w->late_dropped;
  }
  EXPECT_GT(late, 0);
  EXPECT_LE(late, ReadingSource::LateIn(1));
  EXPECT_EQ(late, errors.late_records());
  EXPECT_EQ(last.errors_late, late);
  ASSERT_FALSE(last.last_errors.empty());
  EXPECT_LE(last.last_errors.size(), 20u);
  EXPECT_EQ(last.last_errors.back().kind, "late");
  EXPECT_EQ(last.last_errors.back().operator_name, "window");
  EXPECT_GT(last.last_errors.back().time_ms, 0);

  // State: the keyed operators hold entries; the counter's reads are mostly cache hits.
  int64_t counter_entries = 0, hits = 0, misses = 0;
  for (const auto& t : last.tasks) {
    if (t.node != counter) continue;
    const runtime::OperatorView* c = OperatorOf(t, "counter");
    ASSERT_NE(c, nullptr);
    counter_entries += c->state_entries;
    EXPECT_GT(c->state_bytes, 0);
    hits += t.cache_hits;
    misses += t.cache_misses;
    EXPECT_GE(t.cache_evictions, 0);
  }
  EXPECT_GE(counter_entries, kKeys);
  EXPECT_GT(hits, misses);
  for (const auto& t : last.tasks) {
    if (t.node == source) {
      EXPECT_EQ(t.cache_hits, -1);  // no state, no cache
    }
  }

  // Checkpoints: completed ones are in the history with a duration, an alignment and bytes.
  EXPECT_GE(last.checkpoints.completed, 1);
  EXPECT_EQ(last.checkpoints.restored_id, -1);
  int64_t completed = 0;
  for (const auto& c : last.checkpoints.history) {
    if (!c.completed) {
      EXPECT_FALSE(c.error.empty());
      continue;
    }
    ++completed;
    EXPECT_GT(c.id, 0);
    EXPECT_GT(c.triggered_ms, 0);
    EXPECT_GT(c.duration_s, 0);
    EXPECT_GT(c.alignment_s, 0);
    EXPECT_LE(c.alignment_s, c.duration_s);
    EXPECT_GT(c.bytes, 0);
  }
  EXPECT_GE(completed, 1);
  EXPECT_LE(last.checkpoints.history.size(), 32u);

  // Sinks: each instance's output was committed (published) at least once.
  ASSERT_EQ(last.sinks.size(), 2u);
  for (const auto& s : last.sinks) {
    EXPECT_EQ(s.uid, "sink");
    EXPECT_GE(s.commits, 1);
    EXPECT_GE(s.last_commit_s, 0);
  }

  // Latency: observed at the sink, a cumulative histogram.
  const runtime::HistogramView& et = last.event_time_latency;
  ASSERT_EQ(et.bounds.size(), et.counts.size());
  ASSERT_FALSE(et.bounds.empty());
  EXPECT_GT(et.count, 0);
  for (size_t i = 1; i < et.counts.size(); ++i) {
    EXPECT_LT(et.bounds[i - 1], et.bounds[i]);
    EXPECT_LE(et.counts[i - 1], et.counts[i]);
  }
  EXPECT_LE(et.counts.back(), et.count);
  // Windows of the last minute, emitted after the run started: none within a millisecond,
  // and together more than a second behind on average.
  EXPECT_EQ(et.counts[0], 0);
  EXPECT_GT(et.sum, static_cast<double>(et.count));
  const runtime::HistogramView& ing = last.ingestion_latency;
  EXPECT_EQ(ing.count, et.count);
  EXPECT_GE(ing.sum, 0);
  EXPECT_LE(ing.counts.back(), ing.count);
}

// Readings without end, paced a little so that a run lasts until it is stopped.
class EndlessSource final : public SourceConnector<Reading> {
 public:
  absl::StatusOr<int> NumPartitions() override { return 2; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Reading>>> Open(int, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Reading>>(new Reader(offset));
  }
  std::string description() const override { return "endless"; }

 private:
  class Reader final : public PartitionReader<Reading> {
   public:
    explicit Reader(int64_t at) : at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Reading>& ctx) override {
      for (size_t i = 0; i < std::min<size_t>(max, 64); ++i, ++at_) ctx.Emit(Reading{at_ % kKeys, at_, 0});
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    int64_t at_;
  };
};

// Runs the endless counter on the heap backend until `until` holds for a snapshot (polled,
// at most 60 s), then stops it; returns the final snapshot.
template <typename Until>
JobSnapshot RunUntil(const std::string& dir, JobMonitor* monitor, Until until) {
  auto job = Job::Create("endless");
  job->Source<Reading>("readings", std::make_shared<EndlessSource>(),
                       WatermarkStrategy<Reading>::BoundedOutOfOrderness(0).WithTimestamp(
                           [](const Reading& r) { return r.ts; }))
      .KeyBy([](const Reading& r) { return r.key; })
      .Process(std::make_unique<SlowCounter>(), "counter")
      .Uid("counter")
      .SinkTo(std::make_shared<connectors::FileSink<Reading>>(dir + "/out", connectors::FileSink<Reading>::Kind::kDirectory),
              "sink");
  std::atomic<bool> stop{false};
  ExecutionOptions opt;
  opt.parallelism = 2;
  opt.workers = 2;
  opt.state_backend = StateBackendKind::kHeap;
  opt.checkpoint_dir = dir + "/chk";
  opt.checkpoint_interval_ms = 20;
  opt.stop_requested = &stop;
  opt.monitor = monitor;
  absl::StatusOr<ExecutionResult> result;
  std::thread runner([&] { result = job->Execute(opt); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool held = false;
  while (!held && std::chrono::steady_clock::now() < deadline) {
    held = until(monitor->Snapshot());
    if (!held) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  runner.join();
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(held) << "the condition did not hold within 60 s";
  return monitor->Snapshot();
}

TEST_F(MonitorTest, ARestoredRunShowsItsCheckpointAndHowLongTheRestoreTook) {
  JobMonitor first;
  JobSnapshot stopped = RunUntil(dir_, &first, [](const JobSnapshot& s) { return s.checkpoints.completed >= 2; });
  EXPECT_EQ(stopped.state, "stopped");
  EXPECT_EQ(stopped.checkpoints.restored_id, -1);
  EXPECT_EQ(stopped.checkpoints.restore_s, 0);
  // The heap backend counts its entries and estimates their bytes (at least a key and a
  // varint-sized count each); it has no cache.
  for (const auto& t : stopped.tasks) {
    if (t.is_source) continue;
    const runtime::OperatorView* c = OperatorOf(t, "counter");
    ASSERT_NE(c, nullptr);
    EXPECT_GT(c->state_entries, 0);
    EXPECT_GE(c->state_bytes, 2 * c->state_entries);
    EXPECT_EQ(t.cache_hits, -1);
  }

  JobMonitor second;
  JobSnapshot restored = RunUntil(dir_, &second, [](const JobSnapshot& s) { return !s.tasks.empty(); });
  EXPECT_GE(restored.checkpoints.restored_id, 1);
  EXPECT_GT(restored.checkpoints.restore_s, 0);
  // Its sources resumed where the checkpoint left them, not at the beginning.
  ASSERT_FALSE(restored.sources.empty());
  for (const auto& p : restored.sources) EXPECT_GT(p.progress.start, 0);
}


TEST_F(MonitorTest, LateRecordsSentToTheLateOutputAreCountedToo) {
  auto job = Job::Create("late");
  Stream<Reading> windowed =
      job->Source<Reading>("readings", std::make_shared<ReadingSource>(0),
                           WatermarkStrategy<Reading>::BoundedOutOfOrderness(50).WithTimestamp(
                               [](const Reading& r) { return r.ts; }))
          .KeyBy([](const Reading& r) { return r.key; })
          .Window(Tumbling(absl::Milliseconds(100)))
          .Reduce([](const Reading& a, const Reading&) { return a; }, "window");
  windowed.Uid("window");
  auto late = std::make_shared<connectors::CollectSink<Reading>>();
  windowed.SideOutput<Reading>("late").SinkTo(late, "late");
  windowed.SinkTo(std::make_shared<connectors::CollectSink<Reading>>(), "rows");
  ErrorSink errors(nullptr);
  ExecutionOptions opt;
  opt.state_backend = StateBackendKind::kHeap;
  opt.errors = &errors;
  opt.monitor = &monitor_;
  auto result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  const JobSnapshot s = monitor_.Snapshot();
  int64_t counted = 0;
  for (const auto& t : s.tasks) {
    if (const runtime::OperatorView* w = OperatorOf(t, "window")) counted += w->late_dropped;
  }
  EXPECT_GT(counted, 0);
  EXPECT_EQ(counted, static_cast<int64_t>(late->values().size()));
  EXPECT_EQ(errors.late_records(), 0);
}

// A replay of events from long ago: each latency is decades, and ten of them in
// nanoseconds would overflow a 64-bit sum.
TEST(LatencyHistogramTest, DecadesOfLatencyKeepACorrectSum) {
  LatencyHistogram h;
  const int64_t decades_ns = int64_t{55} * 365 * 24 * 3600 * 1'000'000'000;
  for (int i = 0; i < 10; ++i) h.Observe(decades_ns);
  EXPECT_EQ(h.count.load(), 10);
  EXPECT_EQ(h.buckets[LatencyHistogram::kBounds].load(), 10);
  EXPECT_NEAR(h.sum_s.load(), 10.0 * static_cast<double>(decades_ns) / 1e9, 1.0);
}

}  // namespace
}  // namespace kappa
