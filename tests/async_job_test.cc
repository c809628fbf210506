// AsyncMap in running jobs: input order in ordered mode, the bound on open calls, no
// result behind a watermark it belongs before (unordered results into event-time
// windows), and a run that fails with calls open, restored from its checkpoint, makes
// those calls again — the committed output has every record exactly once.
//
// The "service" answers on its own thread after a short pseudo-random latency, like a
// remote call; it can hold the calls for some records (never answering them) and fail
// them later to end the run.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/file_sink.h"
#include "kappa/api/job.h"

namespace kappa {
namespace {

struct Req {
  int64_t id = 0;
  Timestamp ts = 0;
};
struct Answer {
  int64_t id = 0;
  int64_t doubled = 0;
};

}  // namespace
}  // namespace kappa

KAPPA_SERIALIZABLE(kappa::Req, &kappa::Req::id, &kappa::Req::ts);
KAPPA_JSON(kappa::Req, id, ts);
KAPPA_JSON(kappa::Answer, id, doubled);

namespace kappa {
namespace {

namespace fs = std::filesystem;

// One partition of records 0..n-1 with ts = id * ts_step. With `end` false the partition
// waits for more after the last record instead of ending.
class RequestSource final : public SourceConnector<Req> {
 public:
  RequestSource(int64_t n, Timestamp ts_step, bool end) : n_(n), step_(ts_step), end_(end) {}
  absl::StatusOr<int> NumPartitions() override { return 1; }
  absl::StatusOr<std::unique_ptr<PartitionReader<Req>>> Open(int, int64_t offset) override {
    return std::unique_ptr<PartitionReader<Req>>(new Reader(this, offset));
  }
  std::string description() const override { return "requests"; }

 private:
  class Reader final : public PartitionReader<Req> {
   public:
    Reader(RequestSource* s, int64_t at) : s_(s), at_(at) {}
    absl::StatusOr<ReadStatus> Read(size_t max, SourceContext<Req>& ctx) override {
      if (at_ >= s_->n_) return s_->end_ ? ReadStatus::kEnd : ReadStatus::kWouldBlock;
      for (size_t i = 0; i < max && at_ < s_->n_; ++i, ++at_) ctx.Emit(Req{at_, at_ * s_->step_});
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return at_; }

   private:
    RequestSource* s_;
    int64_t at_;
  };
  const int64_t n_;
  const Timestamp step_;
  const bool end_;
};

WatermarkStrategy<Req> ByTs() {
  return WatermarkStrategy<Req>::BoundedOutOfOrderness(0).WithTimestamp([](const Req& r) { return r.ts; });
}

// Answers each call with {id, 2 · id} on its own thread after 0..max_latency_us.
class FakeService {
 public:
  explicit FakeService(int max_latency_us, uint32_t seed = 1) : max_latency_us_(max_latency_us), rng_(seed) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeService() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Call(const Req& r, AsyncResult<Answer> result) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    called_.push_back(r.id);
    max_open_ = std::max(max_open_, ++open_);
    if (hold_ && hold_(r.id)) {
      held_.push_back(std::move(result));
      return;
    }
    const auto due = std::chrono::steady_clock::now() +
                     std::chrono::microseconds(max_latency_us_ == 0 ? 0 : rng_() % max_latency_us_);
    queue_.push(Pending{due, seq_++, r.id, std::move(result)});
    cv_.notify_all();
  }
  // Calls for which `hold` is true are never answered (until FailHeld).
  void Hold(std::function<bool(int64_t)> hold) { hold_ = std::move(hold); }
  // Fails the held calls with a TaskError: the run that made them fails.
  void FailHeld() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : held_) r.Fail(std::make_exception_ptr(TaskError(absl::AbortedError("the service went away"))));
    held_.clear();
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::vector<int64_t> called() {
    std::lock_guard<std::mutex> lock(mu_);
    return called_;
  }
  int max_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_open_;
  }

 private:
  struct Pending {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;
    int64_t id;
    AsyncResult<Answer> result;
    bool operator>(const Pending& o) const { return std::tie(due, seq) > std::tie(o.due, o.seq); }
  };
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (queue_.top().due > std::chrono::steady_clock::now()) {
        const auto due = queue_.top().due;
        cv_.wait_until(lock, due);
        continue;
      }
      Pending p = queue_.top();
      queue_.pop();
      --open_;  // counted as answered before the answer can free a slot
      p.result.Complete(Answer{p.id, 2 * p.id});
    }
  }

  const int max_latency_us_;
  std::mt19937 rng_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue_;
  std::vector<AsyncResult<Answer>> held_;
  std::function<bool(int64_t)> hold_;
  uint64_t seq_ = 0;
  int calls_ = 0;
  int open_ = 0;
  int max_open_ = 0;
  std::vector<int64_t> called_;
  bool stop_ = false;
  std::thread thread_;
};

TEST(AsyncJobTest, OrderedResultsKeepInputOrderAndOpenCallsStayWithinCapacity) {
  constexpr int64_t kN = 3000;
  FakeService service(/*max_latency_us=*/300);
  auto job = Job::Create("async-ordered");
  auto out = std::make_shared<connectors::CollectSink<Answer>>();
  job->Source<Req>("requests", std::make_shared<RequestSource>(kN, 1, true), ByTs())
      .AsyncMap<Answer>([&service](const Req& r, AsyncResult<Answer> result) { service.Call(r, std::move(result)); },
                        {.capacity = 16, .order = AsyncOrder::kOrdered}, "lookup")
      .SinkTo(out);
  ExecutionOptions opt;
  opt.workers = 2;
  auto result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<Answer> answers = out->values();
  ASSERT_EQ(answers.size(), static_cast<size_t>(kN));
  for (int64_t i = 0; i < kN; ++i) {
    ASSERT_EQ(answers[i].id, i) << "out of order at " << i;
    ASSERT_EQ(answers[i].doubled, 2 * i);
  }
  EXPECT_EQ(service.calls(), kN);
  EXPECT_LE(service.max_open(), 16);
  EXPECT_GT(service.max_open(), 1);  // calls did overlap
}

struct WindowCount {
  int64_t start = 0;
  int64_t count = 0;
};

TEST(AsyncJobTest, UnorderedResultsNeverArriveBehindTheWatermarkOfTheirWindow) {
  constexpr int64_t kN = 4000;  // ts = 10 · id: 400 windows of 100 ms, 10 records each
  FakeService service(/*max_latency_us=*/2000, /*seed=*/7);
  ErrorSink errors(nullptr, /*keep_in_memory=*/true);
  auto job = Job::Create("async-windows");
  auto out = std::make_shared<connectors::CollectSink<WindowCount>>();
  job->Source<Req>("requests", std::make_shared<RequestSource>(kN, 10, true), ByTs())
      .AsyncMap<Answer>([&service](const Req& r, AsyncResult<Answer> result) { service.Call(r, std::move(result)); },
                        {.capacity = 64, .order = AsyncOrder::kUnordered}, "lookup")
      .KeyBy([](const Answer&) { return int64_t{0}; })
      .Window(Tumbling(absl::Milliseconds(100)))
      .Aggregate(Count(), [](const int64_t&, const TimeWindow& w, int64_t&& n) { return WindowCount{w.start, n}; })
      .SinkTo(out);
  ExecutionOptions opt;
  opt.workers = 2;
  opt.state_backend = StateBackendKind::kHeap;
  opt.errors = &errors;
  auto result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(errors.late_records(), 0);
  std::map<int64_t, int64_t> counts;
  for (const WindowCount& w : out->values()) counts[w.start] += w.count;
  ASSERT_EQ(counts.size(), 400u);
  for (const auto& [start, n] : counts) EXPECT_EQ(n, 10) << "window at " << start;
}

std::vector<int64_t> CommittedIds(const std::string& dir) {
  std::vector<int64_t> ids;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.path().filename().string().starts_with("part-")) continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) {
      Answer a;
      EXPECT_TRUE(JsonCodec<Answer>().Decode(line, 0, &a).ok()) << line;
      EXPECT_EQ(a.doubled, 2 * a.id);
      ids.push_back(a.id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

int64_t NewestCompleteCheckpoint(const std::string& dir) {
  int64_t id = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("chk-") && fs::exists(e.path() / "MANIFEST")) id = std::max<int64_t>(id, std::stoll(name.substr(4)));
  }
  return id;
}

void BuildRestoreJob(Job* job, std::shared_ptr<RequestSource> source, FakeService* service, const std::string& out) {
  job->Source<Req>("requests", std::move(source), ByTs())
      .AsyncMap<Answer>([service](const Req& r, AsyncResult<Answer> result) { service->Call(r, std::move(result)); },
                        {.capacity = 64, .order = AsyncOrder::kUnordered}, "lookup")
      .SinkTo(std::make_shared<connectors::FileSink<Answer>>(out, connectors::FileSinkKind::kDirectory));
}

TEST(AsyncJobTest, CallsOpenAtTheCheckpointAreMadeAgainAfterARestoreAndNothingIsLostOrTwice) {
  constexpr int64_t kN = 600;
  const std::string dir = ::testing::TempDir() + "/kappa_async_restore_" + std::to_string(getpid());
  fs::remove_all(dir);
  const std::string out = dir + "/out/";
  ExecutionOptions opt;
  opt.workers = 2;
  opt.checkpoint_dir = dir + "/chk";
  opt.checkpoint_interval_ms = 20;
  opt.state_backend = StateBackendKind::kHeap;

  // Run 1: the calls for ids ≡ 7 (mod 50) never come back; the source waits for more
  // after its last record, so checkpoints go on with those calls open. Then the service
  // fails them and the run fails.
  auto is_held = [](int64_t id) { return id % 50 == 7; };
  std::vector<int64_t> held_ids;
  for (int64_t i = 0; i < kN; ++i) {
    if (is_held(i)) held_ids.push_back(i);
  }
  {
    FakeService service(/*max_latency_us=*/200);
    service.Hold(is_held);
    auto job = Job::Create("async-restore");
    BuildRestoreJob(job.get(), std::make_shared<RequestSource>(kN, 1, /*end=*/false), &service, out);
    absl::StatusOr<ExecutionResult> result;
    std::thread runner([&] { result = job->Execute(opt); });
    for (int i = 0; i < 4000 && service.calls() < kN; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(service.calls(), kN);
    const int64_t after_all_calls = NewestCompleteCheckpoint(opt.checkpoint_dir);
    for (int i = 0; i < 4000 && NewestCompleteCheckpoint(opt.checkpoint_dir) < after_all_calls + 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(NewestCompleteCheckpoint(opt.checkpoint_dir), after_all_calls + 2);
    service.FailHeld();
    runner.join();
    ASSERT_FALSE(result.ok());
    EXPECT_THAT(std::string(result.status().message()), ::testing::HasSubstr("the service went away"));
  }
  const std::vector<int64_t> before = CommittedIds(out);
  EXPECT_EQ(before.size(), static_cast<size_t>(kN) - held_ids.size());

  // Run 2 restores the newest checkpoint: its source offsets are past every record, and
  // the held calls come back from the operator state.
  FakeService service(/*max_latency_us=*/200);
  auto job = Job::Create("async-restore");
  BuildRestoreJob(job.get(), std::make_shared<RequestSource>(kN, 1, /*end=*/true), &service, out);
  auto result = job->Execute(opt);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->restored_checkpoint, 0);
  std::vector<int64_t> again = service.called();
  std::sort(again.begin(), again.end());
  EXPECT_EQ(again, held_ids);  // exactly the calls that were open, each once

  std::vector<int64_t> all(kN);
  for (int64_t i = 0; i < kN; ++i) all[i] = i;
  EXPECT_EQ(CommittedIds(out), all);
  fs::remove_all(dir);
}

TEST(AsyncJobTest, ACapacityBelowOneIsRefusedWhenTheJobIsBuilt) {
  auto job = Job::Create("bad");
  job->Source<Req>("requests", std::make_shared<RequestSource>(1, 1, true), ByTs())
      .AsyncMap<Answer>([](const Req&, AsyncResult<Answer>) {}, {.capacity = 0}, "lookup")
      .SinkTo(std::make_shared<connectors::CollectSink<Answer>>());
  auto result = job->Execute({});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "AsyncMap 'lookup': capacity must be at least 1, not 0");
}

}  // namespace
}  // namespace kappa
