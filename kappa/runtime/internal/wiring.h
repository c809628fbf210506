// Wiring, the third step of a run: from the plan, the tasks (one per chain head and
// instance, each with its keyed state backend, restored from the checkpoint), the
// channels for every edge that crosses tasks, the operators connected inside each task
// and across channels, and the checkpoint coordinator wired to every task.
//
// Called by Execute on the caller's thread; nothing runs yet. The WiredJob owns all of
// it for the run's duration (RunWired drives it) and, when destroyed, stops the
// coordinator before the channels and tasks go, and removes the run's working state
// directory after the tasks closed their backends.
#ifndef KAPPA_RUNTIME_INTERNAL_WIRING_H_
#define KAPPA_RUNTIME_INTERNAL_WIRING_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/checkpoint/coordinator.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/runtime/channel.h"
#include "kappa/runtime/executor.h"
#include "kappa/runtime/graph.h"
#include "kappa/runtime/internal/restore.h"
#include "kappa/runtime/plan.h"
#include "kappa/runtime/progress.h"
#include "kappa/runtime/task.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::runtime::internal {

// Removes a directory when destroyed (the run's RocksDB working state, however it ends).
struct RemoveOnExit {
  RemoveOnExit() = default;
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  ~RemoveOnExit();
  std::string dir;
};

// The channels of one job-graph edge that crosses tasks, for the monitor's channel fill.
struct WiredEdge {
  int from_head = 0, to_head = 0;  // chain heads (node indexes)
  std::string partitioning;        // forward | hash | rebalance | broadcast
  std::vector<const Channel*> channels;
};

// Members in construction order; destroyed in reverse.
struct WiredJob {
  // What operators read of the restored checkpoint (source positions); tasks point here.
  checkpoint::RestoredState restored;
  std::shared_ptr<state::RocksDbResources> rocks;  // shared by the run's RocksDB instances
  RemoveOnExit state_root;                         // their working directory
  std::vector<std::vector<std::unique_ptr<StreamTask>>> tasks;  // per chain head: its instances
  std::vector<std::unique_ptr<Channel>> channels;
  // The steal groups of kSteal edges (channel.h), one per producer instance.
  std::vector<std::unique_ptr<std::vector<Channel*>>> steal_groups;
  std::vector<WiredEdge> edges;
  std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator;  // null without checkpoints
  // The checkpoint the run starts from (-1: none) and how long choosing, checking and
  // loading it took (set by Execute).
  int64_t restored_id = -1;
  double restore_s = 0;

  std::vector<StreamTask*> all_tasks() const;
};

// `options` are resolved (clock, errors and workers set). `storage` is null when the run
// takes no checkpoints. `progress` receives the sources' positions.
absl::StatusOr<std::unique_ptr<WiredJob>> Wire(const JobGraph& graph, const Plan& plan, const ExecutionOptions& options,
                                               const RestorePoint& from, checkpoint::CheckpointStorage* storage,
                                               SourceProgress* progress);

// A name usable as one path component.
std::string SafeName(const std::string& name);

}  // namespace kappa::runtime::internal

#endif  // KAPPA_RUNTIME_INTERNAL_WIRING_H_
