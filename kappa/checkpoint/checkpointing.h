// What tasks and operators contribute to a checkpoint, and what they get back on restore.
//
// On barrier n a task asks each operator to SnapshotState(n, &snapshot): sources record
// the offset of every partition they read, transactional sinks pre-commit (close their
// current part file and list it as pending), keyed operators have nothing to add because
// their state is in the task's backend, which the task snapshots itself. The task then
// acknowledges n to the coordinator with everything collected (TaskAck). When every task
// acknowledged, the coordinator writes the manifest; only then are pending sink files
// published.
#ifndef KAPPA_CHECKPOINT_CHECKPOINTING_H_
#define KAPPA_CHECKPOINT_CHECKPOINTING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kappa/checkpoint/manifest.pb.h"

namespace kappa::checkpoint {

// A file a transactional sink wrote but has not published: published (renamed) when the
// checkpoint that pre-committed it completes, or on recovery from that checkpoint.
struct PendingFile {
  std::string hidden;     // where it is now
  std::string published;  // where it goes
};

// DIR/part-<checkpoint>-<subtask>.jsonl: the published name of a pre-committed part file.
std::string PublishedPartName(const std::string& dir, int64_t checkpoint, int subtask);
// Publishes pending files (rename; already published is fine; missing both is DataLoss).
absl::Status PublishPending(const std::vector<PendingFile>& pending);
// Removes hidden part files (.part-*.inprogress) of epochs that never completed.
absl::Status RemoveAbandonedParts(const std::string& dir);
// Removes published part files of checkpoints after `checkpoint` (and final ones): when a
// run restores an older checkpoint than the newest (the newest was broken), the sources
// are rewound to it and produce that output again.
absl::Status WithdrawPartsAfter(const std::string& dir, int64_t checkpoint);

struct TaskSnapshot {
  std::vector<checkpoint::SourceOffsets> sources;
  std::vector<checkpoint::SinkPending> sinks;
};

struct TaskAck {
  std::string task;                                 // task name, for messages
  std::optional<checkpoint::TaskState> state;       // set when the task has keyed state
  TaskSnapshot snapshot;
};

}  // namespace kappa::checkpoint

#endif  // KAPPA_CHECKPOINT_CHECKPOINTING_H_
