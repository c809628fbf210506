// Restore, the second step of a run (after planning): where the checkpoint directory is,
// which checkpoint the run starts from, and what the exactly-once sinks recover from it.
//
//   Newest complete (Restore::kLatest): checkpoints that never completed are skipped
//   quietly; broken ones (a missing or corrupt file) are skipped with the reason, which
//   the run reports. When checkpoints exist but none is usable and one of them is broken,
//   the run fails instead of silently starting over.
//   Named (kPath): that one or an error. Fresh (kFresh): none.
//
// A checkpoint fits this job only if it was taken of the same job name, with the same
// key-group count, every operator with state in it still exists (by uid), and it holds
// offsets for every source of the job (unless options.allow_new_sources).
//
// Called by Execute on the caller's thread, before any task exists.
#ifndef KAPPA_RUNTIME_INTERNAL_RESTORE_H_
#define KAPPA_RUNTIME_INTERNAL_RESTORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/runtime/executor.h"
#include "kappa/runtime/graph.h"

namespace kappa::runtime::internal {

// What a run starts from.
struct RestorePoint {
  std::optional<checkpoint::LoadedCheckpoint> checkpoint;  // empty: a fresh start
  std::vector<std::string> skipped;                        // newer checkpoints that were broken, and why

  // The restored checkpoint is a run's final one: its output is complete, nothing to run.
  bool already_finished() const { return checkpoint && checkpoint->manifest.final(); }
};

// Creates the checkpoint directory and fails at once when it is not writable (a
// read-only remount, no permission): a run that cannot checkpoint cannot publish
// exactly-once output either. Then claims it for this run (checkpoint::DirectoryClaim):
// an older run still writing there stops at its next write. A restart of the same run
// passes the claim it took (`kept`): it is checked (fatal when another run took the
// directory over meanwhile) and kept instead of taking the directory again.
absl::StatusOr<std::unique_ptr<checkpoint::CheckpointStorage>> OpenCheckpointStorage(
    const std::string& dir, std::shared_ptr<const checkpoint::DirectoryClaim> kept = nullptr);

// Chooses the checkpoint to restore as options.restore says and checks that it fits.
absl::StatusOr<RestorePoint> ChooseCheckpoint(const JobGraph& graph, const ExecutionOptions& options,
                                              const checkpoint::CheckpointStorage& storage);

// Whether checkpoint `manifest` can be restored into `graph` run with `options`.
absl::Status CheckCompatible(const JobGraph& graph, const checkpoint::Manifest& manifest,
                             const ExecutionOptions& options);

// Turns on exactly-once output for every sink that supports it and recovers their
// pre-committed files: published if the restored checkpoint listed them, and output
// published after that checkpoint withdrawn (it is produced again) unless the checkpoint
// was final. Sinks check `storage`'s claim on the directory before their writes there.
// The run's dead-letter output (options.dead_letters, may be null) recovers as a sink
// whose uid is kDeadLetterUid.
absl::Status RecoverSinks(const JobGraph& graph, const checkpoint::CheckpointStorage& storage, const RestorePoint& from,
                          DeadLetterSink* dead_letters = nullptr);

}  // namespace kappa::runtime::internal

#endif  // KAPPA_RUNTIME_INTERNAL_RESTORE_H_
