#include "kappa/runtime/scheduler.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::runtime {
namespace {


// Fails a run that hangs (a lost wake-up) instead of hanging the test binary.
class Watchdog {
 public:
  explicit Watchdog(Scheduler* s)
      : thread_([this, s] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, std::chrono::minutes(1), [this] { return done_; })) {
            s->Fail(absl::DeadlineExceededError("the run hung"));
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Yields `steps` - 1 times, then finishes; flags any Step that overlaps another of its own.
class CountingTask : public Task {
 public:
  CountingTask(int steps, std::vector<Task*>* peers = nullptr) : Task("counting"), steps_(steps), peers_(peers) {}
  StepResult Step() override {
    if (running_.exchange(true)) overlapped = true;
    ++count;
    // Notify ourselves and others while running: the scheduler must run us again
    // afterwards, never concurrently.
    if (peers_ != nullptr) {
      for (Task* t : *peers_) t->Notify();
    }
    running_ = false;
    return count >= steps_ ? StepResult::kFinished : StepResult::kYield;
  }
  std::atomic<int> count{0};
  std::atomic<bool> overlapped{false};

 private:
  const int steps_;
  std::vector<Task*>* peers_;
  std::atomic<bool> running_{false};
};

TEST(SchedulerTest, RunsEveryTaskUntilItFinishesResumingThoseThatYield) {
  Scheduler scheduler(3);
  std::vector<std::unique_ptr<CountingTask>> tasks;
  for (int i = 0; i < 20; ++i) {
    tasks.push_back(std::make_unique<CountingTask>(1 + i * 10));
    scheduler.Add(tasks.back().get());
  }
  Watchdog watchdog(&scheduler);
  scheduler.Start();
  absl::Status status = scheduler.Wait();
  ASSERT_TRUE(status.ok()) << status;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(tasks[i]->count, 1 + i * 10) << "task " << i;
}

TEST(SchedulerTest, NoTaskStepsOnTwoWorkersAtOnceEvenWhenNotifiedWhileRunning) {
  Scheduler scheduler(4);
  std::vector<Task*> all;
  std::vector<std::unique_ptr<CountingTask>> tasks;
  for (int i = 0; i < 8; ++i) {
    tasks.push_back(std::make_unique<CountingTask>(2000, &all));
    all.push_back(tasks.back().get());
    scheduler.Add(all.back());
  }
  Watchdog watchdog(&scheduler);
  scheduler.Start();
  absl::Status status = scheduler.Wait();
  ASSERT_TRUE(status.ok()) << status;
  for (const auto& t : tasks) {
    EXPECT_FALSE(t->overlapped);
    EXPECT_EQ(t->count, 2000);
  }
}

// Idle until notified from outside, then finishes.
class WaitingTask : public Task {
 public:
  WaitingTask() : Task("waiting") {}
  StepResult Step() override {
    ++steps;
    if (!go) {
      idle = true;
      return StepResult::kIdle;
    }
    return StepResult::kFinished;
  }
  std::atomic<bool> go{false};
  std::atomic<bool> idle{false};
  std::atomic<int> steps{0};
};

TEST(SchedulerTest, IdleTaskRunsAgainWhenNotified) {
  Scheduler scheduler(2);
  WaitingTask task;
  scheduler.Add(&task);
  Watchdog watchdog(&scheduler);
  scheduler.Start();
  while (!task.idle) std::this_thread::yield();  // its first step went idle
  task.go = true;
  task.Notify();
  absl::Status status = scheduler.Wait();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GE(task.steps, 2);
}

// Goes idle once with a timer set, then finishes when the timer wakes it.
class TimerTask : public Task {
 public:
  TimerTask() : Task("timer") {}
  StepResult Step() override {
    if (++steps == 1) {
      scheduler()->WakeAfter(this, std::chrono::milliseconds(1));
      return StepResult::kIdle;
    }
    return StepResult::kFinished;
  }
  std::atomic<int> steps{0};
};

TEST(SchedulerTest, WakeAfterRunsAnIdleTaskAgain) {
  Scheduler scheduler(1);
  TimerTask task;
  scheduler.Add(&task);
  Watchdog watchdog(&scheduler);
  scheduler.Start();
  absl::Status status = scheduler.Wait();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(task.steps, 2);
}

// Sets `timers` wake-ups that are due at once, then finishes: the run ends while a worker
// is still firing them.
class TimerFloodTask : public Task {
 public:
  explicit TimerFloodTask(int timers) : Task("timer-flood"), timers_(timers) {}
  StepResult Step() override {
    for (int i = 0; i < timers_; ++i) scheduler()->WakeAfter(this, std::chrono::milliseconds(0));
    return StepResult::kFinished;
  }

 private:
  const int timers_;
};

// A worker drops its lock to fire each due timer. When the last task finished, Wait() sets
// the stop flag and wakes every worker; a worker firing timers at that moment is not
// waiting and misses the wake-up, so it must look at the flag again before it sleeps, or
// it sleeps forever and Wait() never joins it.
TEST(SchedulerTest, RunEndsWhileAWorkerFiresTimers) {
  for (int round = 0; round < 5; ++round) {
    Scheduler scheduler(1);
    TimerFloodTask task(100000);
    scheduler.Add(&task);
    Watchdog watchdog(&scheduler);
    scheduler.Start();
    absl::Status status = scheduler.Wait();
    ASSERT_TRUE(status.ok()) << "round " << round << ": " << status;
  }
}

// Waits on a timer of its own, then finishes when it fires.
class SleeperTask : public Task {
 public:
  SleeperTask() : Task("sleeper") {}
  StepResult Step() override {
    if (++steps == 1) {
      scheduler()->WakeAfter(this, std::chrono::milliseconds(20));
      return StepResult::kIdle;
    }
    return StepResult::kFinished;
  }
  std::atomic<int> steps{0};
};

// Once `sleeper` went idle on its timer, adds `timers` wake-ups an hour away (they never
// fire; the run ends first) in one step, while the other worker sleeps.
class LateTimerFloodTask : public Task {
 public:
  LateTimerFloodTask(SleeperTask* sleeper, int timers) : Task("late-timers"), sleeper_(sleeper), timers_(timers) {}
  StepResult Step() override {
    if (sleeper_->steps == 0) return StepResult::kYield;
    for (int i = 0; i < timers_; ++i) scheduler()->WakeAfter(this, std::chrono::hours(1));
    return StepResult::kFinished;
  }

 private:
  SleeperTask* const sleeper_;
  const int timers_;
};

// A worker sleeps until the earliest timer is due while others add timers. The timer heap
// grows meanwhile and moves its storage; the sleeping worker must not wait on a reference
// into it (AddressSanitizer saw heap-use-after-free there in `kappa bench kafka`).
TEST(SchedulerTest, WorkerWaitsForATimerWhileTheTimerHeapGrows) {
  for (int round = 0; round < 5; ++round) {
    Scheduler scheduler(2);
    SleeperTask sleeper;
    LateTimerFloodTask flood(&sleeper, 20000);
    scheduler.Add(&sleeper);
    scheduler.Add(&flood);
    Watchdog watchdog(&scheduler);
    scheduler.Start();
    absl::Status status = scheduler.Wait();
    ASSERT_TRUE(status.ok()) << "round " << round << ": " << status;
    EXPECT_EQ(sleeper.steps, 2);
  }
}

class FailingTask : public Task {
 public:
  FailingTask() : Task("failing") {}
  StepResult Step() override {
    scheduler()->Fail(absl::DataLossError("disk gone"));
    return StepResult::kFinished;
  }
};

TEST(SchedulerTest, FirstFailureStopsTheRunAndWaitReturnsIt) {
  Scheduler scheduler(2);
  WaitingTask never_done;  // would keep the run alive forever
  FailingTask failing;
  scheduler.Add(&never_done);
  scheduler.Add(&failing);
  scheduler.Start();
  absl::Status status = scheduler.Wait();
  EXPECT_EQ(status, absl::DataLossError("disk gone"));
  EXPECT_TRUE(scheduler.stopping());
}

TEST(SchedulerTest, CancelEndsTheRunWithoutAnError) {
  Scheduler scheduler(2);
  WaitingTask never_done;
  scheduler.Add(&never_done);
  scheduler.Start();
  scheduler.Cancel();
  EXPECT_EQ(scheduler.Wait(), absl::OkStatus());
  EXPECT_FALSE(never_done.go);
}

TEST(SchedulerTest, RunWithoutTasksEndsAtOnce) {
  Scheduler scheduler(2);
  scheduler.Start();
  EXPECT_EQ(scheduler.Wait(), absl::OkStatus());
}

}  // namespace
}  // namespace kappa::runtime
