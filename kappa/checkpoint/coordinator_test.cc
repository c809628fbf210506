#include "kappa/checkpoint/coordinator.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "kappa/base/file_test_util.h"
#include "kappa/checkpoint/manifest_convert.h"

namespace kappa::checkpoint {
namespace {

using ::kappa::testing::ScopedTempDir;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// Stands in for the runtime's source tasks: records the barriers the coordinator asks
// for. The coordinator calls it on its trigger thread with its lock held, so the test
// answers (OnAck) from its own thread, after Next() returned the id.
class Triggers {
 public:
  void operator()(int64_t id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ids_.push_back(id);
    }
    cv_.notify_all();
  }
  // The next barrier requested; -1 if none came within a minute (the test then fails).
  int64_t Next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(60), [this] { return !ids_.empty(); })) return -1;
    int64_t id = ids_.front();
    ids_.pop_front();
    return id;
  }
  bool Empty() {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int64_t> ids_;
};

SourcePositions Offsets(const std::string& uid, int partition, int64_t offset) {
  SourcePositions s;
  s.operator_uid = uid;
  s.partitions.push_back({.partition = partition, .offset = offset});
  return s;
}

TaskAck SourceAck(const std::string& task, const std::string& uid, int64_t offset) {
  TaskAck ack;
  ack.task = task;
  ack.snapshot.sources.push_back(Offsets(uid, 0, offset));
  return ack;
}

TaskAck SinkAck(const std::string& task, const std::string& hidden, const std::string& published) {
  TaskAck ack;
  ack.task = task;
  SinkPreCommit p;
  p.operator_uid = "sink";
  p.files.push_back({hidden, published});
  ack.snapshot.sinks.push_back(std::move(p));
  return ack;
}

std::vector<std::string> SourceUids(const Manifest& m) {
  std::vector<std::string> out;
  for (const auto& s : m.sources()) {
    for (const auto& p : s.partitions()) out.push_back(absl::StrCat(s.operator_uid(), "/", p.partition(), "@", p.offset()));
  }
  return out;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorOptions Options() {
    CoordinatorOptions o;
    o.job_name = "job";
    o.interval_ms = 1;
    // Checkpoints are abandoned here by a task finishing mid-checkpoint, never by the
    // timeout, so that a slow test machine cannot change what happens.
    o.timeout_ms = 10 * 60 * 1000;
    o.operator_uids = {"src", "sink"};
    o.commit = [this](const SinkPending& sink) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& f : sink.published_names()) committed_.push_back(f);
      return absl::OkStatus();
    };
    return o;
  }
  std::vector<std::string> committed() {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }
  Manifest Latest() {
    std::vector<std::string> skipped;
    auto loaded = storage_.LatestValid(&skipped);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? loaded->manifest : Manifest();
  }

  ScopedTempDir dir_;
  CheckpointStorage storage_{dir_.path()};
  Triggers triggers_;
  std::mutex mu_;
  std::vector<std::string> committed_;
};

TEST_F(CoordinatorTest, CheckpointCompletesOnlyOnceEveryLiveTaskAcknowledged) {
  CheckpointCoordinator c(&storage_, Options(), 3, std::ref(triggers_));
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  c.OnAck(1, SourceAck("a", "src", 10));
  // Checkpoint 1 still lacks b's and c's acks; c finishes instead, so 1 can never
  // complete: it is abandoned and the next one starts, waiting for a and b.
  c.OnTaskFinished(TaskSnapshot());
  ASSERT_EQ(triggers_.Next(), 2);
  EXPECT_EQ(c.completed(), 0);
  std::vector<std::string> skipped;
  EXPECT_FALSE(storage_.LatestValid(&skipped).ok());
  c.OnAck(2, SourceAck("a", "src", 20));
  c.OnAck(2, SourceAck("b", "src2", 30));
  ASSERT_EQ(triggers_.Next(), 3);  // checkpoint 2 was settled first
  c.Stop();
  EXPECT_EQ(c.completed(), 1);
  EXPECT_EQ(c.last_completed_id(), 2);
  Manifest m = Latest();
  EXPECT_EQ(m.checkpoint_id(), 2);
  EXPECT_EQ(m.job_name(), "job");
  EXPECT_THAT(SourceUids(m), UnorderedElementsAre("src/0@20", "src2/0@30"));
  EXPECT_TRUE(c.status().ok()) << c.status();
}

TEST_F(CoordinatorTest, LateAckOfAnAbandonedCheckpointHasItsSinkFilesPublishedByTheNext) {
  CheckpointCoordinator c(&storage_, Options(), 2, std::ref(triggers_));
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  c.OnTaskFinished(TaskSnapshot());  // 1 is abandoned (as after a timeout)
  ASSERT_EQ(triggers_.Next(), 2);
  c.OnAck(1, SinkAck("s", "/out/.part-1", "/out/part-1"));  // too late for 1
  EXPECT_THAT(committed(), ElementsAre());
  c.OnAck(2, SinkAck("s", "/out/.part-2", "/out/part-2"));
  ASSERT_EQ(triggers_.Next(), 3);
  c.Stop();
  EXPECT_THAT(committed(), UnorderedElementsAre("/out/part-1", "/out/part-2"));
  Manifest m = Latest();
  EXPECT_EQ(m.checkpoint_id(), 2);
  EXPECT_EQ(m.sinks_size(), 2);
}

TEST_F(CoordinatorTest, KeepsTheNewestRetainedCheckpoints) {
  CoordinatorOptions o = Options();
  o.retained = 2;
  CheckpointCoordinator c(&storage_, o, 1, std::ref(triggers_));
  c.Start();
  for (int64_t id = 1; id <= 4; ++id) {
    ASSERT_EQ(triggers_.Next(), id);
    c.OnAck(id, SourceAck("a", "src", id * 100));
  }
  ASSERT_EQ(triggers_.Next(), 5);  // 4 completed and older ones were removed before 5 began
  c.Stop();
  EXPECT_EQ(c.completed(), 4);
  EXPECT_THAT(storage_.ListIds(), ElementsAre(3, 4, 5));  // 5 begun, never completed
  EXPECT_EQ(Latest().checkpoint_id(), 4);
}

TEST_F(CoordinatorTest, FinishedTasksOffsetsStayInEveryLaterManifest) {
  CheckpointCoordinator c(&storage_, Options(), 2, std::ref(triggers_));
  TaskSnapshot finished;
  finished.sources.push_back(Offsets("src", 3, 99));
  c.OnTaskFinished(std::move(finished));  // from now on only one task acknowledges
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  c.OnAck(1, SourceAck("b", "other", 5));
  ASSERT_EQ(triggers_.Next(), 2);
  EXPECT_THAT(SourceUids(Latest()), UnorderedElementsAre("src/3@99", "other/0@5"));
  c.OnAck(2, SourceAck("b", "other", 6));
  ASSERT_EQ(triggers_.Next(), 3);
  c.Stop();
  Manifest m = Latest();
  EXPECT_EQ(m.checkpoint_id(), 2);
  EXPECT_THAT(SourceUids(m), UnorderedElementsAre("src/3@99", "other/0@6"));
}

TEST_F(CoordinatorTest, SavepointRequestCheckpointsAtOnceAndKeepsItUnderItsName) {
  CoordinatorOptions o = Options();
  o.interval_ms = 3600 * 1000;  // no checkpoint would be due within the test
  ASSERT_TRUE(storage_.RequestSavepoint("before-upgrade").ok());
  CheckpointCoordinator c(&storage_, o, 1, std::ref(triggers_));
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  c.OnAck(1, SourceAck("a", "src", 7));
  const std::string manifest = dir_.path() + "/savepoints/before-upgrade/MANIFEST";
  for (int i = 0; i < 6000 && !std::filesystem::exists(manifest); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  c.Stop();
  ASSERT_TRUE(std::filesystem::exists(manifest));
  auto sp = storage_.Load(dir_.path() + "/savepoints/before-upgrade");
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_THAT(SourceUids(sp->manifest), ElementsAre("src/0@7"));
  EXPECT_TRUE(storage_.TakeSavepointRequests().empty());
}

TEST_F(CoordinatorTest, FinalizeWritesAFinalManifestAndPublishesTheLastFiles) {
  CheckpointCoordinator c(&storage_, Options(), 1, std::ref(triggers_));
  TaskSnapshot finished;
  finished.sources.push_back(Offsets("src", 0, 1234));
  c.OnTaskFinished(std::move(finished));
  SinkPending last;
  last.set_operator_uid("sink");
  last.add_files("/out/.part-final");
  last.add_published_names("/out/part-final");
  ASSERT_TRUE(c.Finalize({last}).ok());
  Manifest m = Latest();
  EXPECT_TRUE(m.final());
  EXPECT_THAT(SourceUids(m), ElementsAre("src/0@1234"));
  EXPECT_THAT(committed(), ElementsAre("/out/part-final"));
}

// Records the fatal handler's calls; Wait() returns the first (empty: none within a minute).
class FatalCalls {
 public:
  void operator()(const absl::Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(s);
    }
    cv_.notify_all();
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(60), [this] { return !calls_.empty(); })) return absl::OkStatus();
    return calls_.front();
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<absl::Status> calls_;
};

// A newer run claims the directory while checkpoint 1 is in flight: the coordinator
// writes no manifest, publishes nothing, triggers nothing more and reports the loss once.
TEST_F(CoordinatorTest, ATakenOverDirectoryStopsCheckpointingWithAFatalError) {
  auto claim = DirectoryClaim::Take(dir_.path());
  ASSERT_TRUE(claim.ok()) << claim.status();
  storage_.set_claim(*claim);
  FatalCalls fatal;
  CheckpointCoordinator c(&storage_, Options(), 1, std::ref(triggers_));
  c.SetFatalHandler(std::ref(fatal));
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  ASSERT_TRUE(DirectoryClaim::Take(dir_.path()).ok());
  c.OnAck(1, SinkAck("s", "/out/.part-1", "/out/part-1"));
  absl::Status s = fatal.Wait();
  ASSERT_FALSE(s.ok()) << "the fatal handler was not called";
  EXPECT_TRUE(IsFatal(s));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("was taken over by another run"));
  c.Stop();
  EXPECT_EQ(fatal.count(), 1u);
  EXPECT_TRUE(triggers_.Empty());
  EXPECT_EQ(c.completed(), 0);
  EXPECT_EQ(c.fatal().message(), s.message());
  EXPECT_THAT(committed(), ElementsAre());
  EXPECT_FALSE(std::filesystem::exists(storage_.PathFor(1) + "/MANIFEST"));
  EXPECT_FALSE(std::filesystem::exists(storage_.PathFor(2)));
}

// A sink's fatal commit error (its Kafka producer was fenced) ends checkpointing too; a
// plain one is retried with the next checkpoint.
TEST_F(CoordinatorTest, AFatalCommitErrorStopsCheckpointingAndAPlainOneDoesNot) {
  CoordinatorOptions o = Options();
  int calls = 0;
  o.commit = [&calls](const SinkPending&) {
    return ++calls == 1 ? absl::UnavailableError("broker down") : MarkFatal(absl::FailedPreconditionError("fenced"));
  };
  FatalCalls fatal;
  CheckpointCoordinator c(&storage_, o, 1, std::ref(triggers_));
  c.SetFatalHandler(std::ref(fatal));
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  c.OnAck(1, SinkAck("s", "/out/.part-1", "/out/part-1"));
  ASSERT_EQ(triggers_.Next(), 2);  // the plain error: the run goes on
  EXPECT_EQ(fatal.count(), 0u);
  c.OnAck(2, SinkAck("s", "/out/.part-2", "/out/part-2"));
  absl::Status s = fatal.Wait();
  EXPECT_EQ(s.message(), "fenced");
  c.Stop();
  EXPECT_TRUE(triggers_.Empty());
  EXPECT_EQ(c.status().message(), "broker down");
  EXPECT_EQ(c.fatal().message(), "fenced");
}

// The rescale rule for task watermarks: the same instance at the same parallelism; at
// another, the minimum over the old instances whose key groups overlap (all of them for a
// chain that is not keyed); nothing for an operator the checkpoint does not know.
TEST(RestoredStateTest, WatermarkForTakesItsOwnOrTheMinimumOverOverlappingOldInstances) {
  RestoredState r;
  r.keeps_event_time = true;
  r.watermarks = {
      {.operator_uid = "win", .subtask = 0, .parallelism = 2, .key_group_first = 0, .key_group_last = 63,
       .watermark = 500, .input_watermarks = {500, 700}},
      {.operator_uid = "win", .subtask = 1, .parallelism = 2, .key_group_first = 64, .key_group_last = 127,
       .watermark = 300, .input_watermarks = {300, 900}},
      {.operator_uid = "map", .subtask = 0, .parallelism = 2, .watermark = 800},
      {.operator_uid = "map", .subtask = 1, .parallelism = 2, .watermark = 600},
  };
  std::optional<WatermarkPosition> same = r.WatermarkFor("win", 1, 2, 64, 127);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->watermark, 300);
  EXPECT_THAT(same->input_watermarks, ElementsAre(300, 900));

  // Three instances: [0, 42] lies in old 0 only, [43, 85] spans both, [86, 127] old 1.
  EXPECT_EQ(r.WatermarkFor("win", 0, 3, 0, 42)->watermark, 500);
  EXPECT_EQ(r.WatermarkFor("win", 1, 3, 43, 85)->watermark, 300);
  EXPECT_EQ(r.WatermarkFor("win", 2, 3, 86, 127)->watermark, 300);
  EXPECT_TRUE(r.WatermarkFor("win", 0, 3, 0, 42)->input_watermarks.empty());
  // One instance holds every key group.
  EXPECT_EQ(r.WatermarkFor("win", 0, 1, 0, 127)->watermark, 300);
  // Not keyed: the minimum over every old instance.
  EXPECT_EQ(r.WatermarkFor("map", 0, 3, 0, -1)->watermark, 600);
  EXPECT_EQ(r.WatermarkFor("map", 1, 2, 0, -1)->watermark, 600);
  EXPECT_FALSE(r.WatermarkFor("new-operator", 0, 2, 0, 63).has_value());
}

// Operator state (retries waiting, requests in flight) goes into the manifest with the ack
// that carried it and comes back from it unchanged.
TEST_F(CoordinatorTest, OperatorStateEntriesReachTheManifestAndComeBack) {
  CheckpointCoordinator c(&storage_, Options(), 1, std::ref(triggers_));
  c.Start();
  ASSERT_EQ(triggers_.Next(), 1);
  TaskAck ack = SourceAck("a", "src", 10);
  ack.snapshot.operator_states.push_back(
      {.operator_uid = "enrich", .subtask = 0, .parallelism = 1, .entries = {"one", std::string("t\0wo", 4)}});
  c.OnAck(1, std::move(ack));
  ASSERT_EQ(triggers_.Next(), 2);
  c.Stop();
  RestoredState r = RestoredStateOf(Latest());
  EXPECT_THAT(r.OperatorEntriesFor("enrich", 0, 1), ElementsAre("one", std::string("t\0wo", 4)));
  EXPECT_TRUE(r.OperatorEntriesFor("other", 0, 1).empty());
}

// The same parallelism gets each instance its own entries; another deals every entry out
// round robin, so none is lost or taken twice.
TEST(RestoredStateTest, OperatorEntriesForKeepsOrDealsOutEveryEntryOnce) {
  RestoredState r;
  r.operator_states = {
      {.operator_uid = "m", .subtask = 1, .parallelism = 2, .entries = {"c", "d", "e"}},
      {.operator_uid = "m", .subtask = 0, .parallelism = 2, .entries = {"a", "b"}},
  };
  EXPECT_THAT(r.OperatorEntriesFor("m", 0, 2), ElementsAre("a", "b"));
  EXPECT_THAT(r.OperatorEntriesFor("m", 1, 2), ElementsAre("c", "d", "e"));
  EXPECT_THAT(r.OperatorEntriesFor("m", 0, 3), ElementsAre("a", "d"));
  EXPECT_THAT(r.OperatorEntriesFor("m", 1, 3), ElementsAre("b", "e"));
  EXPECT_THAT(r.OperatorEntriesFor("m", 2, 3), ElementsAre("c"));
  EXPECT_THAT(r.OperatorEntriesFor("m", 0, 1), ElementsAre("a", "b", "c", "d", "e"));
}

}  // namespace
}  // namespace kappa::checkpoint
