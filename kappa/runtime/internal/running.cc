#include "kappa/runtime/internal/running.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "kappa/base/status.h"
#include "kappa/runtime/sink.h"
#include "kappa/runtime/scheduler.h"

namespace kappa::runtime::internal {
namespace {

// The run finished: a final manifest, then the sinks' last files become visible.
absl::Status FinalCheckpoint(const JobGraph& g, DeadLetterSink* dead_letters,
                             checkpoint::CheckpointCoordinator* coordinator) {
  std::vector<checkpoint::SinkPending> final_files;
  if (dead_letters != nullptr) {
    checkpoint::SinkPending p;
    p.set_operator_uid(kDeadLetterUid);
    for (const auto& f : dead_letters->TakeFinalPending()) {
      p.add_files(f.hidden);
      p.add_published_names(f.published);
    }
    if (p.files_size() > 0) final_files.push_back(std::move(p));
  }
  for (const auto& node : g.nodes) {
    if (!node.take_final_pending) continue;
    checkpoint::SinkPending p;
    p.set_operator_uid(node.uid);
    for (const auto& f : node.take_final_pending()) {
      p.add_files(f.hidden);
      p.add_published_names(f.published);
    }
    if (p.files_size() > 0) final_files.push_back(std::move(p));
  }
  return coordinator->Finalize(final_files);
}

}  // namespace

absl::Status RunWired(const JobGraph& g, const Plan& plan, const ExecutionOptions& opt, WiredJob& job,
                      ExecutionResult* result, bool* started) {
  Scheduler scheduler(opt.workers);
  for (StreamTask* t : job.all_tasks()) {
    KAPPA_RETURN_IF_ERROR(t->Open());
    scheduler.Add(t);
    ++result->tasks;
  }
  if (opt.progress != nullptr) opt.progress->MarkComplete();  // every source partition has registered
  if (opt.monitor != nullptr) {
    JobMonitor::Attachment a;
    a.job = g.name;
    for (int h : plan.heads()) {
      ChainView c;
      c.name = plan.ChainName(g, h);
      c.parallelism = plan.parallelism[h];
      const std::vector<int>& nodes = plan.chain[h];
      for (int n : nodes) {
        c.operator_uids.push_back(g.nodes[n].uid.empty() ? g.nodes[n].name : g.nodes[n].uid);
        std::vector<int> feeds;
        bool leaves = plan.out_edges[n].empty();  // a sink
        for (int e : plan.out_edges[n]) {
          if (!plan.chained[e]) {
            leaves = true;
            continue;
          }
          for (size_t j = 0; j < nodes.size(); ++j) {
            if (nodes[j] == g.edges[e].to) feeds.push_back(static_cast<int>(j));
          }
        }
        c.feeds.push_back(std::move(feeds));
        c.leaves.push_back(leaves);
      }
      const int index = static_cast<int>(a.chains.size());
      a.chains.push_back(std::move(c));
      for (auto& t : job.tasks[h]) a.tasks.emplace_back(index, t.get());
    }
    a.progress = opt.progress;
    a.coordinator = job.coordinator.get();
    a.errors = opt.errors;
    a.restored_id = job.restored_id;
    a.restore_s = job.restore_s;
    // Edges between chains: graph edges joining the same two chains count as one.
    std::map<int, int> chain_of;  // chain head -> chain index
    for (int h : plan.heads()) chain_of.emplace(h, static_cast<int>(chain_of.size()));
    for (const WiredEdge& e : job.edges) {
      const int from = chain_of[e.from_head], to = chain_of[e.to_head];
      auto same = std::find_if(a.edges.begin(), a.edges.end(),
                               [&](const auto& x) { return x.view.from == from && x.view.to == to; });
      if (same == a.edges.end()) {
        same = a.edges.emplace(a.edges.end());
        same->view.from = from;
        same->view.to = to;
        same->view.partitioning = e.partitioning;
      }
      same->channels.insert(same->channels.end(), e.channels.begin(), e.channels.end());
    }
    opt.monitor->Attach(std::move(a));
  }
  // Whatever ends the run, the monitor keeps its last figures and forgets the tasks.
  struct DetachOnExit {
    JobMonitor* monitor;
    std::string state = "failed";
    ~DetachOnExit() {
      if (monitor != nullptr) monitor->Detach(state);
    }
  } detach{opt.monitor};
  auto start = std::chrono::steady_clock::now();
  scheduler.Start();
  if (started != nullptr) *started = true;
  if (job.coordinator) {
    // A fatal checkpoint error (the directory was taken over, a sink was fenced) fails the
    // run as a task failure does: this run must not write anything more.
    job.coordinator->SetFatalHandler([&scheduler](const absl::Status& s) { scheduler.Fail(s); });
    job.coordinator->Start();
  }
  absl::Status status = scheduler.Wait();
  if (job.coordinator) job.coordinator->Stop();
  result->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (job.coordinator) result->checkpoints_completed = job.coordinator->completed();
  KAPPA_RETURN_IF_ERROR(status);
  if (job.coordinator) KAPPA_RETURN_IF_ERROR(job.coordinator->fatal());
  if (job.coordinator) {
    result->checkpoints_completed = job.coordinator->completed();
    result->checkpoint_status = job.coordinator->status();
    const bool stopped = opt.stop_requested != nullptr && opt.stop_requested->load();
    if (!stopped) KAPPA_RETURN_IF_ERROR(FinalCheckpoint(g, opt.dead_letters.get(), job.coordinator.get()));
  }
  for (StreamTask* t : job.all_tasks()) result->dead_letters += t->dead_letters_written();
  detach.state = opt.stop_requested != nullptr && opt.stop_requested->load() ? "stopped" : "finished";
  for (int h : plan.heads()) {
    NodeMetrics m;
    m.name = plan.ChainName(g, h);
    for (auto& t : job.tasks[h]) {
      m.records_in += t->metrics().records_in.load();
      m.records_out += t->metrics().records_out.load();
    }
    result->nodes.push_back(m);
  }
  return absl::OkStatus();
}

}  // namespace kappa::runtime::internal
