#include "kappa/runtime/monitor.h"

#include <chrono>

#include "kappa/checkpoint/coordinator.h"
#include "kappa/runtime/task.h"

namespace kappa::runtime {
namespace {

int64_t EpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void JobMonitor::Attach(Attachment attachment) {
  std::lock_guard<std::mutex> lock(mu_);
  run_ = std::move(attachment);
  attached_ = true;
  started_ms_ = EpochMs();
}

void JobMonitor::Detach(const std::string& final_state) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!attached_) return;
  last_ = SnapshotLocked();
  last_.state = final_state;
  attached_ = false;
  run_ = Attachment{};
}

JobSnapshot JobMonitor::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!attached_) {
    JobSnapshot s = last_;
    s.now_ms = EpochMs();
    return s;
  }
  return SnapshotLocked();
}

JobSnapshot JobMonitor::SnapshotLocked() const {
  JobSnapshot s;
  s.job = run_.job;
  s.state = "running";
  s.now_ms = EpochMs();
  s.started_ms = started_ms_;
  s.chains = run_.chains;
  for (const auto& [chain, task] : run_.tasks) {
    TaskView t;
    t.node = chain;
    t.subtask = task->config().subtask;
    t.is_source = task->is_source();
    t.records_in = task->metrics().records_in.load(std::memory_order_relaxed);
    t.records_out = task->metrics().records_out.load(std::memory_order_relaxed);
    s.tasks.push_back(std::move(t));
  }
  if (run_.progress != nullptr) {
    for (const SourceProgress::View& v : run_.progress->Read()) {
      SourcePartitionView p;
      p.progress = v;
      p.replay_end = v.history_end;
      s.sources.push_back(std::move(p));
    }
    const SourceProgress::CatchUp c = run_.progress->ReadCatchUp();
    s.catch_up = CatchUpView{.tracking = c.tracking, .caught_up = c.caught_up, .at_ms = c.at_ms};
  }
  if (run_.coordinator != nullptr) {
    s.checkpoints.completed = run_.coordinator->completed();
  }
  return s;
}

}  // namespace kappa::runtime
