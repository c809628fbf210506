// TimerService keeps timers in memory and writes them to the backend on Flush(): what a
// checkpoint holds, what a restore gets back, and a bounded memory that spills.
#include "kappa/operators/timer_service.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::operators {
namespace {

using ::testing::ElementsAre;

std::string FreshDir(const std::string& name) {
  static int n = 0;
  std::string dir = ::testing::TempDir() + "/kappa_timers_" + name + "_" + std::to_string(getpid()) + "_" +
                    std::to_string(n++);
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<state::KeyedStateBackend> MakeBackend(const std::string& kind) {
  if (kind == "heap") return state::HeapBackend::Create();
  static auto shared = state::RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  auto rocks = state::RocksDbBackend::Open(FreshDir("db"), shared);
  EXPECT_TRUE(rocks.ok()) << rocks.status();
  return state::CachingBackend::Create(std::move(*rocks), 1 << 20);
}

// "key@time" for each fired timer.
struct Fired {
  std::vector<std::string> order;
  std::function<void(const FiredTimer&)> fn() {
    return [this](const FiredTimer& t) { order.push_back(std::string(t.key_bytes) + "@" + std::to_string(t.time)); };
  }
};

int64_t TimersInBackend(state::KeyedStateBackend* b) {
  auto table = b->RegisterTable("op/timers/event", state::TableKind::kTimers);
  EXPECT_TRUE(table.ok());
  int64_t n = 0;
  for (auto it = b->Scan(*table, {}); it->Valid(); it->Next()) ++n;
  return n;
}

class TimerServiceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { backend_ = MakeBackend(GetParam()); }
  state::KeyContext& Key(const std::string& k, int group = 5) {
    key_.Set(k, group);
    return key_;
  }
  std::unique_ptr<state::KeyedStateBackend> backend_;
  state::KeyContext key_;
};

TEST_P(TimerServiceTest, FiresDueTimersOnceInTimeOrder) {
  TimerService timers;
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  timers.RegisterEventTimer(Key("b"), {}, 20);
  timers.RegisterEventTimer(Key("a"), {}, 30);
  timers.RegisterEventTimer(Key("a"), {}, 10);
  timers.RegisterEventTimer(Key("a"), {}, 10);  // the same timer: kept once
  EXPECT_EQ(timers.next_event_timer(), 10);
  Fired fired;
  EXPECT_TRUE(timers.FireEventTimers(20, fired.fn(), [] { return false; }));
  EXPECT_THAT(fired.order, ElementsAre("a@10", "b@20"));
  EXPECT_EQ(timers.next_event_timer(), 30);
  EXPECT_TRUE(timers.FireEventTimers(kMaxTimestamp, fired.fn(), [] { return false; }));
  EXPECT_THAT(fired.order, ElementsAre("a@10", "b@20", "a@30"));
  EXPECT_EQ(timers.next_event_timer(), kMaxTimestamp);
}

TEST_P(TimerServiceTest, TimersReachTheBackendOnlyOnFlush) {
  TimerService timers;
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  timers.RegisterEventTimer(Key("a"), {}, 10);
  timers.RegisterEventTimer(Key("b"), {}, 20);
  EXPECT_EQ(TimersInBackend(backend_.get()), 0);
  timers.Flush();
  EXPECT_EQ(TimersInBackend(backend_.get()), 2);
  // Deleted and fired timers leave the backend with the next flush.
  timers.DeleteEventTimer(Key("a"), {}, 10);
  Fired fired;
  timers.FireEventTimers(kMaxTimestamp, fired.fn(), [] { return false; });
  EXPECT_THAT(fired.order, ElementsAre("b@20"));
  EXPECT_EQ(TimersInBackend(backend_.get()), 2);
  timers.Flush();
  EXPECT_EQ(TimersInBackend(backend_.get()), 0);
}

TEST_P(TimerServiceTest, TimerDeletedWhileOnlyInMemoryNeverFiresNorReachesTheBackend) {
  TimerService timers;
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  timers.RegisterEventTimer(Key("a"), "ns", 10);
  timers.RegisterEventTimer(Key("b"), {}, 10);
  timers.DeleteEventTimer(Key("a"), "ns", 10);
  timers.Flush();
  EXPECT_EQ(TimersInBackend(backend_.get()), 1);
  // Deleted after a flush, registered again before the next: still pending, still there.
  timers.DeleteEventTimer(Key("b"), {}, 10);
  timers.RegisterEventTimer(Key("b"), {}, 10);
  timers.Flush();
  EXPECT_EQ(TimersInBackend(backend_.get()), 1);
  Fired fired;
  timers.FireEventTimers(kMaxTimestamp, fired.fn(), [] { return false; });
  EXPECT_THAT(fired.order, ElementsAre("b@10"));
}

TEST_P(TimerServiceTest, AFreshServiceLoadsWhatASnapshotHeldForItsKeyGroups) {
  TimerService timers;
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  for (int g = 0; g < 128; g += 10) timers.RegisterEventTimer(Key("k" + std::to_string(g), g), {}, 100 - g);
  timers.RegisterProcessingTimer(Key("p", 3), {}, 7);
  timers.Flush();  // the barrier, then the snapshot
  std::string dir = FreshDir("snap");
  ASSERT_TRUE(backend_->Snapshot(dir).ok());
  timers.RegisterEventTimer(Key("after-the-snapshot"), {}, 1);

  // Restored at another parallelism: the instance owning key groups [0, 63].
  auto target = MakeBackend(GetParam() == "heap" ? "rocksdb" : "heap");
  ASSERT_TRUE(state::RestoreSnapshot(dir, backend_->name(), 0, 63, target.get()).ok());
  TimerService restored;
  ASSERT_TRUE(restored.Init(target.get(), "op").ok());
  EXPECT_EQ(restored.next_processing_timer(), 7);
  Fired fired;
  restored.FireEventTimers(kMaxTimestamp, fired.fn(), [] { return false; });
  EXPECT_THAT(fired.order, ElementsAre("k60@40", "k50@50", "k40@60", "k30@70", "k20@80", "k10@90", "k0@100"));
}

TEST_P(TimerServiceTest, TimerThatACallbackRegistersFiresInTheSameCallWhenDue) {
  TimerService timers;
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  timers.RegisterEventTimer(Key("a"), {}, 10);
  std::vector<Timestamp> fired;
  timers.FireEventTimers(
      50,
      [&](const FiredTimer& t) {
        fired.push_back(t.time);
        if (t.time <= 40) timers.RegisterEventTimer(key_, {}, t.time + 15);
      },
      [] { return false; });
  EXPECT_THAT(fired, ElementsAre(10, 25, 40));
  EXPECT_EQ(timers.next_event_timer(), 55);
}

TEST_P(TimerServiceTest, FiringYieldsWhenDownstreamIsFullAndResumes) {
  TimerService timers;
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  for (int t = 1; t <= 3; ++t) timers.RegisterEventTimer(Key("a"), {}, t);
  Fired fired;
  EXPECT_FALSE(timers.FireEventTimers(10, fired.fn(), [] { return true; }));
  EXPECT_EQ(fired.order.size(), 1u);
  EXPECT_FALSE(timers.FireEventTimers(10, fired.fn(), [] { return true; }));
  EXPECT_TRUE(timers.FireEventTimers(10, fired.fn(), [] { return true; })) << "the last due timer fired";
  EXPECT_EQ(fired.order.size(), 3u);
}

// Random registrations, deletions and firings against a model, with room for only 8
// timers in memory: spilled timers are kept in the backend and come back in order, and
// after every flush the backend holds exactly the pending timers.
TEST_P(TimerServiceTest, SpillingToTheBackendLosesNothingAndKeepsTheOrder) {
  TimerService timers;
  timers.set_capacity(8);
  ASSERT_TRUE(timers.Init(backend_.get(), "op").ok());
  std::set<std::pair<Timestamp, std::string>> model;
  std::mt19937 rng(7);
  Timestamp wm = 0;
  for (int step = 0; step < 2000; ++step) {
    std::string k = "k" + std::to_string(rng() % 30);
    Timestamp t = wm + 1 + static_cast<Timestamp>(rng() % 200);
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2:
      case 3:
        timers.RegisterEventTimer(Key(k), {}, t);
        model.insert({t, k});
        break;
      case 4:
      case 5: {
        // Delete a pending timer (when there is one near t), or a missing one.
        auto it = model.lower_bound({t, std::string()});
        if (it != model.end()) {
          timers.DeleteEventTimer(Key(it->second), {}, it->first);
          model.erase(it);
        } else {
          timers.DeleteEventTimer(Key(k), {}, t);
        }
        break;
      }
      case 6: {
        wm += static_cast<Timestamp>(rng() % 60);
        std::vector<std::pair<Timestamp, std::string>> fired;
        timers.FireEventTimers(
            wm, [&](const FiredTimer& f) { fired.push_back({f.time, std::string(f.key_bytes)}); },
            [] { return false; });
        // In time order; among equal times, in key-byte order (not the model's).
        for (size_t i = 1; i < fired.size(); ++i) ASSERT_LE(fired[i - 1].first, fired[i].first) << "step " << step;
        std::sort(fired.begin(), fired.end());
        std::vector<std::pair<Timestamp, std::string>> want(model.begin(), model.upper_bound({wm, "\xff"}));
        ASSERT_EQ(fired, want) << "step " << step;
        model.erase(model.begin(), model.upper_bound({wm, "\xff"}));
        break;
      }
      case 7:
        timers.Flush();
        ASSERT_EQ(TimersInBackend(backend_.get()), static_cast<int64_t>(model.size())) << "step " << step;
        break;
    }
    ASSERT_LE(timers.in_memory(), 9u);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TimerServiceTest, ::testing::Values("heap", "rocksdb"));

}  // namespace
}  // namespace kappa::operators
