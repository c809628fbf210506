#include "kappa/runtime/internal/wiring.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kappa/base/status.h"
#include "kappa/runtime/sink.h"
#include "kappa/checkpoint/manifest_convert.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/heap_backend.h"

namespace kappa::runtime::internal {
namespace {

// The run's RocksDB working directory: state_dir/<job> (emptied first), or a fresh
// temporary directory. Only when some operator is keyed.
absl::Status CreateStateRoot(const JobGraph& g, const ExecutionOptions& opt, WiredJob* job) {
  if (opt.state_backend != StateBackendKind::kRocksDb) return absl::OkStatus();
  bool any_keyed = false;
  for (const auto& node : g.nodes) any_keyed |= node.keyed;
  if (!any_keyed) return absl::OkStatus();
  job->rocks = state::RocksDbResources::Create(
      {.block_cache_bytes = opt.rocksdb_cache_bytes, .write_buffer_bytes = opt.rocksdb_cache_bytes / 2});
  std::error_code ec;
  if (opt.state_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "kappa-state-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create a state directory in /tmp: ", strerror(errno)));
    }
    job->state_root.dir = tmpl;
  } else {
    job->state_root.dir = absl::StrCat(opt.state_dir, "/", SafeName(g.name));
    std::filesystem::remove_all(job->state_root.dir, ec);
  }
  return absl::OkStatus();
}

// Tasks: one per chain head and instance. Stateful ones share the write-back cache budget.
absl::Status CreateTasks(const JobGraph& g, const Plan& plan, const ExecutionOptions& opt, const RestorePoint& from,
                         SourceProgress* progress, WiredJob* job) {
  const int n = static_cast<int>(g.nodes.size());
  auto chain_keyed = [&](int h) {
    bool keyed = false;
    for (int i : plan.chain[h]) keyed |= g.nodes[i].keyed;
    return keyed;
  };
  size_t stateful_tasks = 0;
  for (int h : plan.heads()) {
    if (chain_keyed(h)) stateful_tasks += plan.parallelism[h];
  }
  const size_t cache_bytes = opt.state_cache_bytes / std::max<size_t>(stateful_tasks, 1);
  const checkpoint::LoadedCheckpoint* restored = from.checkpoint ? &*from.checkpoint : nullptr;
  if (restored) job->restored = checkpoint::RestoredStateOf(restored->manifest);
  job->tasks.resize(n);
  int total_tasks = 0;
  for (int h : plan.heads()) total_tasks += plan.parallelism[h];
  int instance = 0;  // the task's index among all tasks: its dead-letter writer's instance
  for (int h : plan.heads()) {
    const bool keyed = chain_keyed(h);
    for (int s = 0; s < plan.parallelism[h]; ++s, ++instance) {
      TaskConfig cfg;
      cfg.name = absl::StrCat(g.nodes[h].name, "[", s, "]");
      cfg.subtask = s;
      cfg.parallelism = plan.parallelism[h];
      cfg.max_parallelism = opt.max_parallelism;
      cfg.clock = opt.clock;
      cfg.errors = opt.errors;
      cfg.stop_requested = opt.stop_requested;
      cfg.progress = progress;
      cfg.tracer = opt.tracer;
      if (opt.dead_letters) {
        auto writer = opt.dead_letters->CreateWriter(instance, total_tasks);
        if (!writer.ok()) {
          return absl::Status(writer.status().code(),
                              absl::StrCat("dead-letter output ", opt.dead_letters->description(), ": ",
                                           writer.status().message()));
        }
        cfg.dead_letters = std::make_unique<DeadLetterWriter>(std::move(*writer));
        cfg.dead_letter_instance = instance;
      }
      if (keyed && job->rocks) {
        auto backend =
            state::RocksDbBackend::Open(absl::StrCat(job->state_root.dir, "/", SafeName(cfg.name)), job->rocks);
        if (!backend.ok()) return backend.status();
        if (cache_bytes > 0) {
          cfg.backend = state::CachingBackend::Create(std::move(*backend), cache_bytes);
        } else {
          cfg.backend = std::move(*backend);
        }
      } else if (keyed) {
        cfg.backend = state::HeapBackend::Create();
      }
      if (keyed) {
        for (int i : plan.chain[h]) {
          if (g.nodes[i].keyed && cfg.state_uid.empty()) cfg.state_uid = g.nodes[i].uid;
        }
        auto range = state::KeyGroupRange::ForOperator(opt.max_parallelism, cfg.parallelism, s);
        cfg.key_group_first = range.first;
        cfg.key_group_last = range.last;
        if (restored) {
          for (const auto& ts : restored->manifest.tasks()) {
            if (ts.operator_uid() != cfg.state_uid) continue;
            int first = std::max(range.first, ts.key_group_first());
            int last = std::min(range.last, ts.key_group_last());
            if (first > last) continue;
            absl::Status rs = state::RestoreSnapshot(absl::StrCat(restored->path, "/", ts.dir()), ts.backend(), first,
                                                     last, cfg.backend.get());
            if (!rs.ok()) {
              return absl::Status(rs.code(), absl::StrCat("restoring ", cfg.name, " from checkpoint ", restored->id,
                                                          ": ", rs.message()));
            }
          }
        }
      }
      if (restored) cfg.restored = &job->restored;
      job->tasks[h].push_back(std::make_unique<StreamTask>(std::move(cfg)));
    }
  }
  return absl::OkStatus();
}

// Channels for every edge that crosses tasks; returns outs[edge][producer instance]: the
// producer ends of that instance's channels, one per consumer instance it feeds.
std::vector<std::vector<std::vector<OutputChannel*>>> CreateChannels(const JobGraph& g, const Plan& plan,
                                                                     const ExecutionOptions& opt, WiredJob* job) {
  std::vector<std::vector<std::vector<OutputChannel*>>> outs(g.edges.size());
  for (int e = 0; e < static_cast<int>(g.edges.size()); ++e) {
    if (plan.chained[e]) continue;
    const EdgeSpec& edge = g.edges[e];
    const int pp = plan.parallelism[edge.from], cp = plan.parallelism[edge.to];
    auto& producers = job->tasks[plan.head[edge.from]];
    auto& consumers = job->tasks[plan.head[edge.to]];
    outs[e].resize(pp);
    const bool pointwise = edge.partitioning == Partitioning::kForward && pp == cp;
    WiredEdge& wired = job->edges.emplace_back();
    wired.from_head = plan.head[edge.from];
    wired.to_head = plan.head[edge.to];
    switch (edge.partitioning) {
      case Partitioning::kForward:
        wired.partitioning = pointwise ? "forward" : "rebalance";
        break;
      case Partitioning::kHash:
        wired.partitioning = "hash";
        break;
      case Partitioning::kRebalance:
        wired.partitioning = "rebalance";
        break;
      case Partitioning::kBroadcast:
        wired.partitioning = "broadcast";
        break;
      case Partitioning::kSteal:
        wired.partitioning = "steal";
        break;
    }
    for (int i = 0; i < pp; ++i) {
      for (int j = 0; j < cp; ++j) {
        if (pointwise && i != j) continue;
        job->channels.push_back(std::make_unique<Channel>(opt.channel_capacity, producers[i].get(), consumers[j].get()));
        wired.channels.push_back(job->channels.back().get());
        outs[e][i].push_back(producers[i]->AddOutput(job->channels.back().get()));
        consumers[j]->AddInput(job->channels.back().get(), edge.to_input);
      }
      if (edge.partitioning == Partitioning::kSteal) {
        // Producer instance i's channels to every consumer instance form one steal group.
        auto& group = job->steal_groups.emplace_back(std::make_unique<std::vector<Channel*>>());
        for (auto it = job->channels.end() - cp; it != job->channels.end(); ++it) group->push_back(it->get());
        for (Channel* c : *group) c->JoinStealGroup(group.get());
      }
    }
  }
  return outs;
}

bool IsSink(const NodeSpec& node) { return node.take_final_pending != nullptr; }

// What the tap on `edge` needs to know (tracing only).
TapSpec TapFor(const JobGraph& g, const EdgeSpec& edge, const TraceFilter& filter, TaskTrace* trace) {
  const NodeSpec& from = g.nodes[edge.from];
  const NodeSpec& to = g.nodes[edge.to];
  TapSpec t;
  t.trace = trace;
  t.from_name = from.name;
  t.from_uid = from.uid;
  t.to_name = to.name;
  t.to_uid = to.uid;
  t.from_source = from.source;
  t.to_sink = IsSink(to);
  t.by_key = filter.by_key() && to.keyed && edge.partitioning == Partitioning::kHash &&
             (to.name == filter.key_at || to.uid == filter.key_at);
  return t;
}

// A filter that names a source or keyed operator the job does not have is an error.
absl::Status CheckTraceFilter(const JobGraph& g, const TraceFilter& f) {
  if (f.source.empty() && !f.by_key()) return absl::OkStatus();
  std::string names;
  for (const auto& node : g.nodes) {
    const bool candidate = f.by_key() ? node.keyed : node.source;
    if (!candidate) continue;
    if (node.name == (f.by_key() ? f.key_at : f.source) || node.uid == (f.by_key() ? f.key_at : f.source)) {
      return absl::OkStatus();
    }
    absl::StrAppend(&names, names.empty() ? "" : ", ", node.name);
  }
  return absl::InvalidArgumentError(
      f.by_key() ? absl::StrCat("--trace: job '", g.name, "' has no keyed operator named '", f.key_at,
                                "' (keyed operators: ", names.empty() ? "none" : names, ")")
                 : absl::StrCat("--trace: job '", g.name, "' has no source named '", f.source, "' (sources: ",
                                names.empty() ? "none" : names, ")"));
}

// Operators, wired from the end of each chain backwards so that every consumer's input
// exists when its producer is connected.
void CreateOperators(const JobGraph& g, const Plan& plan, const ExecutionOptions& opt,
                     const std::vector<std::vector<std::vector<OutputChannel*>>>& outs, WiredJob* job) {
  const int n = static_cast<int>(g.nodes.size());
  for (int h : plan.heads()) {
    for (int s = 0; s < plan.parallelism[h]; ++s) {
      StreamTask* task = job->tasks[h][s].get();
      if (task->trace() != nullptr) task->trace()->head_is_sink = IsSink(g.nodes[h]);
      std::vector<std::unique_ptr<OperatorBase>> ops(n);
      for (int i : plan.chain[h]) ops[i] = g.nodes[i].make_operator(g.nodes[i], &task->metrics());
      for (auto it = plan.chain[h].rbegin(); it != plan.chain[h].rend(); ++it) {
        const int i = *it;
        const NodeSpec& node = g.nodes[i];
        for (int port = 0; port < static_cast<int>(node.ports.size()); ++port) {
          std::vector<OutputPtr> targets;
          for (int e : plan.out_edges[i]) {
            const EdgeSpec& edge = g.edges[e];
            if (edge.from_port != port) continue;
            if (plan.chained[e]) {
              OutputPtr in = ops[edge.to]->InputAt(edge.to_input);
              if (task->trace() != nullptr) {
                std::unique_ptr<OutputNode> tap =
                    edge.make_tap(TapFor(g, edge, opt.tracer->filter(), task->trace()), in, nullptr);
                in = tap->output();
                task->AddOwned(std::move(tap));
              }
              targets.push_back(in);
              continue;
            }
            Partitioning part = edge.partitioning;
            if (part == Partitioning::kForward && outs[e][s].size() > 1) part = Partitioning::kRebalance;
            std::unique_ptr<OutputNode> w =
                edge.make_writer(part, outs[e][s], opt.max_parallelism, s, &task->metrics(), opt.errors,
                                 absl::StrCat("key-by(", g.nodes[edge.to].name, ")"));
            OutputPtr out = w->output();
            if (task->trace() != nullptr) {
              std::unique_ptr<OutputNode> tap =
                  edge.make_tap(TapFor(g, edge, opt.tracer->filter(), task->trace()), out, w.get());
              out = tap->output();
              task->AddOwned(std::move(tap));
            }
            targets.push_back(out);
            task->AddFlusher(w.get());
            task->AddOwned(std::move(w));
          }
          if (targets.empty()) continue;
          if (targets.size() == 1) {
            ops[i]->ConnectOutput(port, targets[0]);
          } else {
            std::unique_ptr<OutputNode> f = node.ports[port].make_fanout(targets);
            ops[i]->ConnectOutput(port, f->output());
            task->AddOwned(std::move(f));
          }
        }
      }
      for (int i : plan.chain[h]) {
        if (auto* src = dynamic_cast<SourceDriver*>(ops[i].get())) task->SetSource(src);
        if (auto* fl = dynamic_cast<BatchFlusher*>(ops[i].get())) task->AddFlusher(fl);
        task->AddOperator(std::move(ops[i]), g.nodes[i].name, g.nodes[i].uid);
      }
    }
  }
}

// The coordinator, wired to every task.
void CreateCoordinator(const JobGraph& g, const ExecutionOptions& opt, const RestorePoint& from,
                       checkpoint::CheckpointStorage* storage, WiredJob* job) {
  checkpoint::CoordinatorOptions co;
  co.job_name = g.name;
  co.max_parallelism = opt.max_parallelism;
  co.retained = std::max(1, opt.checkpoints_retained);
  co.interval_ms = opt.checkpoint_interval_ms;
  co.timeout_ms = std::max<int64_t>(10000, 10 * opt.checkpoint_interval_ms);
  // Ids (and so part-file names) continue after the restored checkpoint, also when it
  // came from another directory (a savepoint): published output is never renamed over.
  std::vector<int64_t> ids = storage->ListIds();
  const int64_t restored_id = from.checkpoint ? from.checkpoint->id : -1;
  co.first_id = std::max<int64_t>(ids.empty() ? 1 : ids.back() + 1, restored_id >= 0 ? restored_id + 1 : 1);
  for (const auto& node : g.nodes) co.operator_uids.push_back(node.uid);
  std::shared_ptr<DeadLetterSink> dead_letters = opt.dead_letters;
  co.commit = [&g, dead_letters](const checkpoint::SinkPending& sink) -> absl::Status {
    std::vector<checkpoint::PendingFile> files;
    for (int i = 0; i < sink.files_size() && i < sink.published_names_size(); ++i) {
      files.push_back({sink.files(i), sink.published_names(i)});
    }
    if (dead_letters && sink.operator_uid() == kDeadLetterUid) return dead_letters->Commit(files);
    for (const auto& node : g.nodes) {
      if (node.uid == sink.operator_uid() && node.commit) return node.commit(files);
    }
    return checkpoint::PublishPending(files);
  };
  std::vector<StreamTask*> all = job->all_tasks();
  job->coordinator = std::make_unique<checkpoint::CheckpointCoordinator>(
      storage, co, static_cast<int>(all.size()), [all](int64_t id) {
        for (StreamTask* t : all) {
          if (t->is_source()) t->TriggerCheckpoint(id);
        }
      });
  for (StreamTask* t : all) t->EnableCheckpoints(job->coordinator.get());
}

}  // namespace

RemoveOnExit::~RemoveOnExit() {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

std::vector<StreamTask*> WiredJob::all_tasks() const {
  std::vector<StreamTask*> all;
  for (const auto& instances : tasks) {
    for (const auto& t : instances) all.push_back(t.get());
  }
  return all;
}

std::string SafeName(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  return out;
}

absl::StatusOr<std::unique_ptr<WiredJob>> Wire(const JobGraph& g, const Plan& plan, const ExecutionOptions& opt,
                                               const RestorePoint& from, checkpoint::CheckpointStorage* storage,
                                               SourceProgress* progress) {
  if (opt.tracer != nullptr) KAPPA_RETURN_IF_ERROR(CheckTraceFilter(g, opt.tracer->filter()));
  auto job = std::make_unique<WiredJob>();
  KAPPA_RETURN_IF_ERROR(CreateStateRoot(g, opt, job.get()));
  KAPPA_RETURN_IF_ERROR(CreateTasks(g, plan, opt, from, progress, job.get()));
  auto outs = CreateChannels(g, plan, opt, job.get());
  CreateOperators(g, plan, opt, outs, job.get());
  if (storage != nullptr) CreateCoordinator(g, opt, from, storage, job.get());
  return job;
}

}  // namespace kappa::runtime::internal
