#include "kappa/runtime/monitor.h"

#include <algorithm>
#include <chrono>

#include "kappa/checkpoint/coordinator.h"
#include "kappa/runtime/channel.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/task.h"

namespace kappa::runtime {
namespace {

// Operator i's records out: what its chained consumers received, plus the task's records
// out when i is the one operator of the chain whose records leave the task; -1 when
// several do (the task counts them together).
int64_t RecordsOut(const ChainView& chain, size_t i, const StreamTask& task, int64_t task_out) {
  if (i >= chain.feeds.size()) return -1;
  int64_t out = 0;
  for (int j : chain.feeds[i]) out += task.operator_records_in(static_cast<size_t>(j));
  if (chain.leaves[i]) {
    if (std::count(chain.leaves.begin(), chain.leaves.end(), true) != 1) return -1;
    out += task_out;
  }
  return out;
}

int64_t EpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The tasks' histograms merged, cumulative, in seconds.
HistogramView Merge(const std::vector<const LatencyHistogram*>& hs) {
  HistogramView v;
  v.bounds.resize(LatencyHistogram::kBounds);
  v.counts.assign(LatencyHistogram::kBounds, 0);
  for (int i = 0; i < LatencyHistogram::kBounds; ++i) v.bounds[i] = static_cast<double>(LatencyHistogram::kBoundNs[i]) / 1e9;
  double sum_s = 0;
  for (const LatencyHistogram* h : hs) {
    int64_t below = 0;
    for (int i = 0; i < LatencyHistogram::kBounds; ++i) {
      below += h->buckets[i].load(std::memory_order_relaxed);
      v.counts[i] += below;
    }
    v.count += below + h->buckets[LatencyHistogram::kBounds].load(std::memory_order_relaxed);
    sum_s += h->sum_s.load(std::memory_order_relaxed);
  }
  v.sum = sum_s;
  return v;
}

}  // namespace

void JobMonitor::Attach(Attachment attachment) {
  std::lock_guard<std::mutex> lock(mu_);
  time_floor_.assign(attachment.tasks.size(), {0, 0, 0});
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
  JobSnapshot s = attached_ ? SnapshotLocked() : last_;
  if (!attached_) s.now_ms = EpochMs();
  s.restarts = restarts_;
  s.last_restart_cause = last_restart_cause_;
  s.last_restart_ms = last_restart_ms_;
  return s;
}

void JobMonitor::RecordRestart(const std::string& cause) {
  std::lock_guard<std::mutex> lock(mu_);
  ++restarts_;
  last_restart_cause_ = cause;
  last_restart_ms_ = EpochMs();
}

JobSnapshot JobMonitor::SnapshotLocked() const {
  JobSnapshot s;
  s.job = run_.job;
  s.state = "running";
  s.now_ms = EpochMs();
  s.started_ms = started_ms_;
  s.chains = run_.chains;
  const int64_t now_ns = SteadyNanos();
  std::vector<const LatencyHistogram*> event_time, ingestion;
  for (size_t k = 0; k < run_.tasks.size(); ++k) {
    const auto& [chain, task] = run_.tasks[k];
    const TaskFigures& f = task->figures();
    TaskView t;
    t.node = chain;
    t.subtask = task->config().subtask;
    t.is_source = task->is_source();
    t.records_in = task->metrics().records_in.load(std::memory_order_relaxed);
    t.records_out = task->metrics().records_out.load(std::memory_order_relaxed);
    const int waiting = f.waiting.load(std::memory_order_relaxed);
    const int64_t since = f.waiting_since_ns.load(std::memory_order_relaxed);
    std::array<int64_t, 3> times = {f.busy_ns.load(std::memory_order_relaxed),
                                    f.backpressured_ns.load(std::memory_order_relaxed),
                                    f.idle_ns.load(std::memory_order_relaxed)};
    // The wait going on now counts already, so an idle or blocked task's figures move.
    const int64_t waited = since > 0 && now_ns > since ? now_ns - since : 0;
    if (waiting == TaskFigures::kRunnable) times[0] += waited;
    if (waiting == TaskFigures::kBackpressured) times[1] += waited;
    if (waiting == TaskFigures::kIdle) times[2] += waited;
    for (int i = 0; i < 3; ++i) {
      times[i] = std::max(times[i], time_floor_[k][i]);
      time_floor_[k][i] = times[i];
    }
    t.busy_ns = times[0];
    t.backpressured_ns = times[1];
    t.idle_ns = times[2];
    t.finished = waiting == TaskFigures::kFinished;
    t.watermark = f.watermark.load(std::memory_order_relaxed);
    t.cache_hits = f.cache_hits.load(std::memory_order_relaxed);
    t.cache_misses = f.cache_misses.load(std::memory_order_relaxed);
    t.cache_evictions = f.cache_evictions.load(std::memory_order_relaxed);
    const size_t n = task->num_operators();
    for (size_t i = 0; i < n; ++i) {
      OperatorView o;
      o.uid = task->operator_uid(i);
      o.name = task->operator_name(i);
      o.records_in = i == 0 && t.is_source ? t.records_in : task->operator_records_in(i);
      o.records_out = RecordsOut(run_.chains[chain], i, *task, t.records_out);
      const ErrorSink* errors = task->operator_errors(i);
      o.late_dropped = errors->late_records() + task->operator_late_to_side_output(i);
      o.user_errors = errors->user_errors();
      o.decode_errors = errors->decode_errors();
      if (!task->config().state_uid.empty() && o.uid == task->config().state_uid) {
        o.state_entries = f.state_entries.load(std::memory_order_relaxed);
        o.state_bytes = f.state_bytes.load(std::memory_order_relaxed);
      }
      t.operators.push_back(std::move(o));
    }
    event_time.push_back(&task->metrics().event_time_latency);
    ingestion.push_back(&task->metrics().ingestion_latency);
    s.tasks.push_back(std::move(t));
  }
  s.event_time_latency = Merge(event_time);
  s.ingestion_latency = Merge(ingestion);
  for (const Attachment::Edge& e : run_.edges) {
    EdgeView v = e.view;
    v.queued_batches = 0;
    v.capacity_batches = 0;
    for (const Channel* c : e.channels) {
      v.queued_batches += static_cast<int64_t>(c->queued());
      v.capacity_batches += static_cast<int64_t>(c->capacity());
    }
    s.edges.push_back(std::move(v));
  }
  if (run_.progress != nullptr) {
    for (const SourceProgress::View& v : run_.progress->Read()) {
      SourcePartitionView p;
      p.progress = v;
      p.high_water = v.high_water;
      p.watermark = v.watermark;
      p.idle = v.idle;
      p.replay_end = v.history_end;
      s.sources.push_back(std::move(p));
    }
    const SourceProgress::CatchUp c = run_.progress->ReadCatchUp();
    s.catch_up = CatchUpView{.tracking = c.tracking, .caught_up = c.caught_up, .at_ms = c.at_ms};
  }
  s.checkpoints.restored_id = run_.restored_id;
  s.checkpoints.restore_s = run_.restore_s;
  if (run_.coordinator != nullptr) {
    checkpoint::CheckpointStats stats = run_.coordinator->stats();
    s.checkpoints.completed = run_.coordinator->completed();
    s.checkpoints.failed = stats.failed;
    for (checkpoint::CheckpointRecord& r : stats.history) {
      CheckpointView c;
      c.id = r.id;
      c.completed = r.completed;
      c.triggered_ms = r.triggered_ms;
      c.duration_s = r.duration_s;
      c.alignment_s = r.alignment_s;
      c.bytes = r.bytes;
      c.error = std::move(r.error);
      s.checkpoints.history.push_back(std::move(c));
    }
    for (checkpoint::SinkCommitRecord& r : stats.sinks) {
      SinkView v;
      v.uid = std::move(r.operator_uid);
      v.subtask = r.subtask;
      v.commits = r.commits;
      v.last_commit_s = r.last_commit_s;
      s.sinks.push_back(std::move(v));
    }
  }
  if (run_.errors != nullptr) {
    for (RecentError& e : run_.errors->Recent()) {
      ErrorView v;
      v.time_ms = e.time_ms;
      v.kind = std::move(e.kind);
      v.operator_name = std::move(e.operator_name);
      v.error = std::move(e.error);
      s.last_errors.push_back(std::move(v));
    }
    s.errors_decode = run_.errors->decode_errors();
    s.errors_user = run_.errors->user_errors();
    s.errors_late = run_.errors->late_records();
  }
  return s;
}

}  // namespace kappa::runtime
