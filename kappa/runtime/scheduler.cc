#include "kappa/runtime/scheduler.h"

namespace kappa::runtime {

void Task::Notify() {
  int s = state_.load(std::memory_order_acquire);
  while (true) {
    switch (s) {
      case kStateIdle:
        if (state_.compare_exchange_weak(s, kStateQueued, std::memory_order_acq_rel)) {
          scheduler_->Enqueue(this);
          return;
        }
        break;
      case kStateRunning:
        if (state_.compare_exchange_weak(s, kStateRunningNotified, std::memory_order_acq_rel)) return;
        break;
      default:  // queued, already notified, or done
        return;
    }
  }
}

Scheduler::Scheduler(int workers) : num_workers_(workers < 1 ? 1 : workers) {}

Scheduler::~Scheduler() {
  Cancel();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Scheduler::Add(Task* task) {
  task->scheduler_ = this;
  tasks_.push_back(task);
}

void Scheduler::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    remaining_ = static_cast<int>(tasks_.size());
    for (Task* t : tasks_) {
      t->state_.store(Task::kStateQueued, std::memory_order_release);
      runnable_.push_back(t);
    }
  }
  if (tasks_.empty()) done_cv_.notify_all();
  for (int i = 0; i < num_workers_; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

absl::Status Scheduler::Wait() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return remaining_ == 0 || stopping_.load(); });
    stopping_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  for (Task* t : tasks_) t->OnRunEnded();
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void Scheduler::Fail(absl::Status status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.ok()) failure_ = std::move(status);
    stopping_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  done_cv_.notify_all();
}

void Scheduler::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  done_cv_.notify_all();
}

void Scheduler::Enqueue(Task* task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    runnable_.push_back(task);
  }
  cv_.notify_one();
}

void Scheduler::WakeAfter(Task* task, std::chrono::milliseconds delay) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    timers_.push({std::chrono::steady_clock::now() + delay, task});
  }
  cv_.notify_one();
}

void Scheduler::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_.load(std::memory_order_acquire)) {
    auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.top().at <= now) {
      Task* t = timers_.top().task;
      timers_.pop();
      lock.unlock();
      t->Notify();
      lock.lock();
    }
    if (!runnable_.empty()) {
      Task* t = runnable_.front();
      runnable_.pop_front();
      lock.unlock();
      RunOne(t);
      lock.lock();
      continue;
    }
    // Firing timers dropped the lock: a stop (Wait() after the last task finished, Fail,
    // Cancel) may have come and gone, and its notify_all found this worker awake.
    if (stopping_.load(std::memory_order_acquire)) break;
    if (timers_.empty()) {
      cv_.wait(lock);
    } else {
      // A copy: wait_until reads its deadline again after waking, and meanwhile other
      // threads may have grown the heap and moved the element a reference would point to.
      const std::chrono::steady_clock::time_point due = timers_.top().at;
      cv_.wait_until(lock, due);
    }
  }
}

void Scheduler::RunOne(Task* task) {
  task->state_.store(Task::kStateRunning, std::memory_order_release);
  Task::StepResult r = task->Step();
  if (r == Task::StepResult::kFinished) {
    task->state_.store(Task::kStateDone, std::memory_order_release);
    std::lock_guard<std::mutex> lock(mu_);
    if (--remaining_ == 0) done_cv_.notify_all();
    return;
  }
  if (r == Task::StepResult::kYield) {
    task->state_.store(Task::kStateQueued, std::memory_order_release);
    Enqueue(task);
    return;
  }
  int expected = Task::kStateRunning;
  if (!task->state_.compare_exchange_strong(expected, Task::kStateIdle, std::memory_order_acq_rel)) {
    // Notified while running: run again.
    task->state_.store(Task::kStateQueued, std::memory_order_release);
    Enqueue(task);
  }
}

}  // namespace kappa::runtime
