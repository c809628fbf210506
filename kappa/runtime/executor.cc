#include "kappa/runtime/executor.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kappa/runtime/channel.h"
#include "kappa/runtime/scheduler.h"
#include "kappa/runtime/task.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/checkpoint/coordinator.h"
#include "kappa/checkpoint/manifest_convert.h"
#include "kappa/base/status.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa {
namespace {

using runtime::Channel;
using runtime::EdgeSpec;
using runtime::JobGraph;
using runtime::NodeSpec;
using runtime::OutputChannel;
using runtime::OutputNode;
using runtime::OutputPtr;
using runtime::Partitioning;
using runtime::StreamTask;

struct Plan {
  std::vector<int> parallelism;       // per node
  std::vector<bool> chained;          // per edge: fused into the producer's task
  std::vector<int> head;              // per node: the head of its chain
  std::vector<std::vector<int>> chain;  // per head: nodes in topological order
  std::vector<std::vector<int>> in_edges, out_edges;
};

absl::StatusOr<Plan> MakePlan(const JobGraph& g, const ExecutionOptions& opt) {
  const int n = static_cast<int>(g.nodes.size());
  Plan p;
  p.parallelism.assign(n, opt.parallelism);
  p.in_edges.resize(n);
  p.out_edges.resize(n);
  for (int e = 0; e < static_cast<int>(g.edges.size()); ++e) {
    p.in_edges[g.edges[e].to].push_back(e);
    p.out_edges[g.edges[e].from].push_back(e);
  }
  for (int i = 0; i < n; ++i) {
    if (g.nodes[i].parallelism > 0) p.parallelism[i] = g.nodes[i].parallelism;
    if (p.parallelism[i] > opt.max_parallelism) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", g.nodes[i].name, "' has parallelism ",
                                                     p.parallelism[i], " above the maximum ",
                                                     opt.max_parallelism));
    }
    if (!g.nodes[i].source && p.in_edges[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", g.nodes[i].name, "' has no input"));
    }
  }
  p.chained.assign(g.edges.size(), false);
  for (int e = 0; e < static_cast<int>(g.edges.size()); ++e) {
    const EdgeSpec& edge = g.edges[e];
    p.chained[e] = edge.partitioning == Partitioning::kForward &&
                   p.parallelism[edge.from] == p.parallelism[edge.to] && p.in_edges[edge.to].size() == 1 &&
                   !g.nodes[edge.to].source;
  }
  // Nodes are added to the graph after their inputs, so id order is topological.
  p.head.assign(n, -1);
  p.chain.resize(n);
  for (int i = 0; i < n; ++i) {
    int h = i;
    if (p.in_edges[i].size() == 1 && p.chained[p.in_edges[i][0]]) h = p.head[g.edges[p.in_edges[i][0]].from];
    p.head[i] = h;
    p.chain[h].push_back(i);
  }
  return p;
}

// A checkpoint restores into this job only if it was taken of the same job, with the
// same key-group count, and every operator with state in it still exists (by uid).
absl::Status CheckCompatible(const JobGraph& g, const Plan& plan, const checkpoint::Manifest& m,
                             const ExecutionOptions& opt) {
  if (m.job_name() != g.name) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint ", m.checkpoint_id(), " belongs to job '",
                                                      m.job_name(), "', not '", g.name, "'"));
  }
  if (m.max_parallelism() != opt.max_parallelism) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint ", m.checkpoint_id(), " has ", m.max_parallelism(),
                                                      " key groups, this run ", opt.max_parallelism));
  }
  for (const auto& ts : m.tasks()) {
    bool found = false;
    for (const auto& node : g.nodes) found |= node.keyed && node.uid == ts.operator_uid();
    if (!found) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint ", m.checkpoint_id(), " holds state of operator '", ts.operator_uid(),
          "', which this job does not have (operator uids must stay the same to restore; use --fresh to start over)"));
    }
  }
  (void)plan;
  return absl::OkStatus();
}

// A name usable as one path component.
std::string SafeName(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  return out;
}

}  // namespace

std::string DescribePlan(const JobGraph& g, const ExecutionOptions& opt) {
  auto plan = MakePlan(g, opt);
  if (!plan.ok()) return std::string(plan.status().message());
  std::string out;
  for (int h = 0; h < static_cast<int>(g.nodes.size()); ++h) {
    if (plan->head[h] != h) continue;
    std::vector<std::string> names;
    for (int i : plan->chain[h]) names.push_back(g.nodes[i].name);
    absl::StrAppend(&out, "task x", plan->parallelism[h], ": ", absl::StrJoin(names, " -> "), "\n");
  }
  return out;
}

absl::StatusOr<ExecutionResult> Execute(const JobGraph& g, const ExecutionOptions& opt_in) {
  ExecutionOptions opt = opt_in;
  if (opt.clock == nullptr) opt.clock = Clock::System();
  if (opt.workers <= 0) opt.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ErrorSink count_only(nullptr);
  if (opt.errors == nullptr) opt.errors = &count_only;

  auto plan_or = MakePlan(g, opt);
  if (!plan_or.ok()) return plan_or.status();
  const Plan& plan = *plan_or;
  const int n = static_cast<int>(g.nodes.size());

  // Checkpoints: what to restore, and exactly-once sinks.
  ExecutionResult result;
  std::optional<checkpoint::CheckpointStorage> storage;
  std::optional<checkpoint::LoadedCheckpoint> restored;
  checkpoint::RestoredState restored_state;  // what operators read of `restored`
  if (!opt.checkpoint_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opt.checkpoint_dir, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot create checkpoint directory ", opt.checkpoint_dir, ": ", ec.message()));
    }
    // Fail before any work when checkpoints could not be written (a read-only remount, no
    // permission): a run that cannot checkpoint cannot publish exactly-once output either.
    {
      std::string probe = absl::StrCat(opt.checkpoint_dir, "/.write-probe-", getpid());
      FILE* f = std::fopen(probe.c_str(), "w");
      if (f == nullptr) {
        return absl::UnavailableError(absl::StrCat("checkpoint directory ", opt.checkpoint_dir,
                                                   " is not writable: ", std::strerror(errno)));
      }
      std::fclose(f);
      std::filesystem::remove(probe, ec);
    }
    storage.emplace(opt.checkpoint_dir);
    if (opt.restore == ExecutionOptions::Restore::kPath) {
      auto loaded = storage->Load(opt.restore_path);
      if (!loaded.ok()) {
        return absl::Status(loaded.status().code(),
                            absl::StrCat("cannot restore ", opt.restore_path, ": ", loaded.status().message()));
      }
      restored = std::move(*loaded);
    } else if (opt.restore == ExecutionOptions::Restore::kLatest) {
      auto loaded = storage->LatestValid(&result.skipped_checkpoints);
      if (loaded.ok()) {
        restored = std::move(*loaded);
      } else if (!storage->ListIds().empty()) {
        bool any_broken = false;
        for (const auto& why : result.skipped_checkpoints) any_broken |= why.find("never completed") == std::string::npos;
        if (any_broken) {
          return absl::DataLossError(absl::StrCat("no usable checkpoint in ", opt.checkpoint_dir, " (",
                                                  result.skipped_checkpoints.front(),
                                                  "); fix or remove it, or use --fresh to start over"));
        }
      }
    }
    if (restored) {
      KAPPA_RETURN_IF_ERROR(CheckCompatible(g, plan, restored->manifest, opt));
      result.restored_checkpoint = restored->id;
      restored_state = checkpoint::RestoredStateOf(restored->manifest);
    }
    std::map<std::string, std::vector<checkpoint::PendingFile>> pending;
    if (restored) {
      for (const auto& s : restored->manifest.sinks()) {
        for (int i = 0; i < s.files_size() && i < s.published_names_size(); ++i) {
          pending[s.operator_uid()].push_back({s.files(i), s.published_names(i)});
        }
      }
    }
    for (const auto& node : g.nodes) {
      if (!node.enable_exactly_once) continue;
      KAPPA_RETURN_IF_ERROR(node.enable_exactly_once(g.name, opt.checkpoint_dir));
      // Output published after the restored checkpoint is withdrawn (it is produced again),
      // except after a final checkpoint: then everything published is the finished result.
      int64_t withdraw_after = restored && !restored->manifest.final() ? restored->id : -1;
      KAPPA_RETURN_IF_ERROR(node.recover(pending[node.uid], withdraw_after));
    }
    if (restored && restored->manifest.final()) {
      result.already_finished = true;
      return result;
    }
  }

  // Working directory of RocksDB state, removed when the run ends however it ends.
  std::shared_ptr<state::RocksDbResources> rocks;
  std::string state_root;
  struct RemoveOnExit {
    std::string dir;
    ~RemoveOnExit() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup;
  if (opt.state_backend == StateBackendKind::kRocksDb) {
    bool any_keyed = false;
    for (const auto& node : g.nodes) any_keyed |= node.keyed;
    if (any_keyed) {
      rocks = state::RocksDbResources::Create({.block_cache_bytes = opt.rocksdb_cache_bytes,
                                               .write_buffer_bytes = opt.rocksdb_cache_bytes / 2});
      std::error_code ec;
      if (opt.state_dir.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path(ec) / "kappa-state-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) {
          return absl::UnavailableError(absl::StrCat("cannot create a state directory in /tmp: ", strerror(errno)));
        }
        state_root = tmpl;
      } else {
        state_root = absl::StrCat(opt.state_dir, "/", SafeName(g.name));
        std::filesystem::remove_all(state_root, ec);
      }
      cleanup.dir = state_root;
    }
  }

  // Tasks: one per chain head and instance. Stateful ones share the write-back cache budget.
  size_t stateful_tasks = 0;
  for (int h = 0; h < n; ++h) {
    if (plan.head[h] != h) continue;
    bool keyed = false;
    for (int i : plan.chain[h]) keyed |= g.nodes[i].keyed;
    if (keyed) stateful_tasks += plan.parallelism[h];
  }
  const size_t cache_bytes = opt.state_cache_bytes / std::max<size_t>(stateful_tasks, 1);
  std::vector<std::vector<std::unique_ptr<StreamTask>>> tasks(n);
  for (int h = 0; h < n; ++h) {
    if (plan.head[h] != h) continue;
    bool keyed = false;
    for (int i : plan.chain[h]) keyed |= g.nodes[i].keyed;
    for (int s = 0; s < plan.parallelism[h]; ++s) {
      runtime::TaskConfig cfg;
      cfg.name = absl::StrCat(g.nodes[h].name, "[", s, "]");
      cfg.subtask = s;
      cfg.parallelism = plan.parallelism[h];
      cfg.max_parallelism = opt.max_parallelism;
      cfg.clock = opt.clock;
      cfg.errors = opt.errors;
      cfg.stop_requested = opt.stop_requested;
      if (keyed && rocks) {
        auto backend = state::RocksDbBackend::Open(absl::StrCat(state_root, "/", SafeName(cfg.name)), rocks);
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
      if (restored) cfg.restored = &restored_state;
      tasks[h].push_back(std::make_unique<StreamTask>(std::move(cfg)));
    }
  }

  // Channels for every edge that crosses tasks: channels[e][producer][consumer].
  std::vector<std::unique_ptr<Channel>> all_channels;
  std::vector<std::vector<std::vector<OutputChannel*>>> outs(g.edges.size());
  for (int e = 0; e < static_cast<int>(g.edges.size()); ++e) {
    if (plan.chained[e]) continue;
    const EdgeSpec& edge = g.edges[e];
    const int pp = plan.parallelism[edge.from], cp = plan.parallelism[edge.to];
    auto& producers = tasks[plan.head[edge.from]];
    auto& consumers = tasks[plan.head[edge.to]];
    outs[e].resize(pp);
    const bool pointwise = edge.partitioning == Partitioning::kForward && pp == cp;
    for (int i = 0; i < pp; ++i) {
      for (int j = 0; j < cp; ++j) {
        if (pointwise && i != j) continue;
        all_channels.push_back(std::make_unique<Channel>(opt.channel_capacity, producers[i].get(), consumers[j].get()));
        outs[e][i].push_back(producers[i]->AddOutput(all_channels.back().get()));
        consumers[j]->AddInput(all_channels.back().get(), edge.to_input);
      }
    }
  }

  // Operators, wired from the end of each chain backwards so that every consumer's input
  // exists when its producer is connected.
  for (int h = 0; h < n; ++h) {
    if (plan.head[h] != h) continue;
    for (int s = 0; s < plan.parallelism[h]; ++s) {
      StreamTask* task = tasks[h][s].get();
      std::vector<std::unique_ptr<runtime::OperatorBase>> ops(n);
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
              targets.push_back(ops[edge.to]->InputAt(edge.to_input));
              continue;
            }
            Partitioning part = edge.partitioning;
            if (part == Partitioning::kForward && outs[e][s].size() > 1) part = Partitioning::kRebalance;
            std::unique_ptr<OutputNode> w =
                edge.make_writer(part, outs[e][s], opt.max_parallelism, s, &task->metrics(), opt.errors,
                                 absl::StrCat("key-by(", g.nodes[edge.to].name, ")"));
            targets.push_back(w->output());
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
        if (auto* src = dynamic_cast<runtime::SourceDriver*>(ops[i].get())) task->SetSource(src);
        if (auto* fl = dynamic_cast<runtime::BatchFlusher*>(ops[i].get())) task->AddFlusher(fl);
        task->AddOperator(std::move(ops[i]), g.nodes[i].name, g.nodes[i].uid);
      }
    }
  }

  // The coordinator, wired to every task.
  std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator;
  if (storage) {
    checkpoint::CoordinatorOptions co;
    co.job_name = g.name;
    co.max_parallelism = opt.max_parallelism;
    co.retained = std::max(1, opt.checkpoints_retained);
    co.interval_ms = opt.checkpoint_interval_ms;
    co.timeout_ms = std::max<int64_t>(10000, 10 * opt.checkpoint_interval_ms);
    // Ids (and so part-file names) continue after the restored checkpoint, also when it
    // came from another directory (a savepoint): published output is never renamed over.
    std::vector<int64_t> ids = storage->ListIds();
    co.first_id = std::max<int64_t>(ids.empty() ? 1 : ids.back() + 1, restored ? restored->id + 1 : 1);
    for (const auto& node : g.nodes) co.operator_uids.push_back(node.uid);
    co.commit = [&g](const checkpoint::SinkPending& sink) -> absl::Status {
      std::vector<checkpoint::PendingFile> files;
      for (int i = 0; i < sink.files_size() && i < sink.published_names_size(); ++i) {
        files.push_back({sink.files(i), sink.published_names(i)});
      }
      for (const auto& node : g.nodes) {
        if (node.uid == sink.operator_uid() && node.commit) return node.commit(files);
      }
      return checkpoint::PublishPending(files);
    };
    std::vector<StreamTask*> all;
    for (int h = 0; h < n; ++h) {
      for (auto& t : tasks[h]) all.push_back(t.get());
    }
    coordinator = std::make_unique<checkpoint::CheckpointCoordinator>(
        &*storage, co, static_cast<int>(all.size()), [all](int64_t id) {
          for (StreamTask* t : all) {
            if (t->is_source()) t->TriggerCheckpoint(id);
          }
        });
    checkpoint::CheckpointCoordinator* c = coordinator.get();
    for (StreamTask* t : all) t->EnableCheckpoints(c);
  }

  runtime::Scheduler scheduler(opt.workers);
  for (int h = 0; h < n; ++h) {
    for (auto& t : tasks[h]) {
      absl::Status s = t->Open();
      if (!s.ok()) return s;
      scheduler.Add(t.get());
      ++result.tasks;
    }
  }
  auto start = std::chrono::steady_clock::now();
  scheduler.Start();
  if (coordinator) coordinator->Start();
  absl::Status status = scheduler.Wait();
  if (coordinator) coordinator->Stop();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) return status;
  if (coordinator) {
    result.checkpoints_completed = coordinator->completed();
    result.checkpoint_status = coordinator->status();
    bool stopped = opt.stop_requested != nullptr && opt.stop_requested->load();
    if (!stopped) {
      // The run finished: a final manifest, then the sinks' last files become visible.
      std::vector<checkpoint::SinkPending> final_files;
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
      KAPPA_RETURN_IF_ERROR(coordinator->Finalize(final_files));
    }
  }
  for (int h = 0; h < n; ++h) {
    if (plan.head[h] != h) continue;
    NodeMetrics m;
    std::vector<std::string> names;
    for (int i : plan.chain[h]) names.push_back(g.nodes[i].name);
    m.name = absl::StrJoin(names, " -> ");
    for (auto& t : tasks[h]) {
      m.records_in += t->metrics().records_in.load();
      m.records_out += t->metrics().records_out.load();
    }
    result.nodes.push_back(m);
  }
  return result;
}

}  // namespace kappa
