// Cooperative scheduling of tasks on a fixed pool of worker threads.
//
// A Task is a state machine that never blocks a thread: Step() does a bounded amount of
// work and says why it stopped (no input, output full, budget used, finished). Whoever
// makes a task runnable again — a channel that received a message, a channel that freed
// space, a timer — calls Notify(). Runnable tasks wait in one shared queue, so an idle
// worker always picks up the next runnable task (work sharing; no task is pinned).
//
// Implementation rules:
// - Step() of one task never runs on two threads at once; Notify() may be called from any
//   thread at any time, including while the task runs (it then runs once more).
// - A task that returns kIdle or kBlocked must have arranged for a Notify() (by leaving
//   a waiting flag on the channel it found empty/full, or by WakeAfter()).
// - The first task failure stops the whole run; Wait() returns it.
#ifndef KAPPA_RUNTIME_SCHEDULER_H_
#define KAPPA_RUNTIME_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace kappa::runtime {

class Scheduler;

class Task {
 public:
  enum class StepResult { kIdle, kBlocked, kYield, kFinished };

  explicit Task(std::string name) : name_(std::move(name)) {}
  virtual ~Task() = default;

  // Runs a bounded slice of work. Called by one worker thread at a time.
  virtual StepResult Step() = 0;

  // Makes the task runnable. Thread-safe, cheap when already runnable.
  void Notify();

  // The run is over (Wait() is returning): no Step() follows and
  // Notify() must not be called any more. Tasks that hand out ways to wake them
  // (TaskWaker) disconnect them here.
  virtual void OnRunEnded() {}

  const std::string& name() const { return name_; }
  Scheduler* scheduler() const { return scheduler_; }

 private:
  friend class Scheduler;
  enum : int { kStateIdle, kStateQueued, kStateRunning, kStateRunningNotified, kStateDone };
  std::string name_;
  Scheduler* scheduler_ = nullptr;
  std::atomic<int> state_{kStateIdle};
};

class Scheduler {
 public:
  explicit Scheduler(int workers);
  ~Scheduler();

  // Registers a task before Start(); the scheduler does not own it.
  void Add(Task* task);
  // Starts the workers; every task gets one initial Step.
  void Start();
  // Blocks until every task finished, a task failed, or Cancel() was called.
  absl::Status Wait();

  // Records the first failure and stops the run.
  void Fail(absl::Status status);
  // Stops the run without an error (tasks are abandoned where they are).
  void Cancel();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  // Notifies `task` after `delay` of wall time (used for polling and processing-time timers).
  void WakeAfter(Task* task, std::chrono::milliseconds delay);

  int workers() const { return num_workers_; }

 private:
  friend class Task;
  void Enqueue(Task* task);
  void WorkerLoop();
  void RunOne(Task* task);

  struct Timer {
    std::chrono::steady_clock::time_point at;
    Task* task;
    bool operator>(const Timer& o) const { return at > o.at; }
  };

  const int num_workers_;
  std::vector<Task*> tasks_;
  std::vector<std::thread> threads_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task*> runnable_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  int remaining_ = 0;
  absl::Status failure_;
  std::condition_variable done_cv_;
  std::atomic<bool> stopping_{false};
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_SCHEDULER_H_
