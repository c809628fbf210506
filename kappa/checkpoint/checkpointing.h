// What tasks and operators contribute to a checkpoint, and what they get back on restore.
//
// On barrier n a task asks each operator to SnapshotState(n, &snapshot): sources record
// the offset of every partition they read, transactional sinks pre-commit (close their
// current part file and list it as pending), keyed operators have nothing to add because
// their state is in the task's backend, which the task snapshots itself. The task then
// acknowledges n to the coordinator with everything collected (TaskAck, coordinator.h).
// When every task acknowledged, the coordinator writes the manifest; only then are
// pending sink files published.
//
// Everything here is plain C++: operators, sources and sinks are templates compiled into
// every job, and the manifest's protobuf types (manifest.proto) stay behind the
// checkpoint layer's .cc files (manifest_convert.h converts).
#ifndef KAPPA_CHECKPOINT_CHECKPOINTING_H_
#define KAPPA_CHECKPOINT_CHECKPOINTING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

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

// A fatal error stops the run at once instead of being retried with the next checkpoint:
// the run lost its right to write (a newer run took over its checkpoint directory, or
// fenced its Kafka producers). Marked with a payload, so it survives being passed on
// unchanged; a status rebuilt with another message is no longer fatal.
absl::Status MarkFatal(absl::Status status);
bool IsFatal(const absl::Status& status);

// Where a source resumes reading one partition (manifest: PartitionOffset).
struct PartitionPosition {
  int partition = 0;
  int64_t offset = 0;  // where reading resumes
  // A bounded partition's end (exclusive), fixed when a run first opened it, so that a
  // restarted replay stops where the first run would have.
  std::optional<int64_t> end_offset;
  // The largest event time read from the partition (empty: nothing read yet, or a
  // checkpoint written before event time was kept), and whether it was idle.
  std::optional<int64_t> max_event_time;
  bool idle = false;
};

// The partitions one source instance read (manifest: SourceOffsets).
struct SourcePositions {
  std::string operator_uid;
  std::vector<PartitionPosition> partitions;
};

// The files one sink instance pre-committed on a barrier (manifest: SinkPending).
struct SinkPreCommit {
  std::string operator_uid;
  int subtask = 0;
  std::vector<PendingFile> files;
};

// A task instance's event-time watermark at the barrier (manifest: TaskWatermark). The
// task fills it itself; operators add nothing.
struct WatermarkPosition {
  std::string operator_uid;  // the chain's first operator
  int subtask = 0;
  int parallelism = 1;
  int key_group_first = 0;  // first > last: the chain is not keyed
  int key_group_last = -1;
  int64_t watermark = 0;
  std::vector<int64_t> input_watermarks;  // per input channel, in the task's order
};

// What one operator instance keeps outside keyed state (manifest: OperatorState): records
// waiting for a retry, requests in flight. Each entry is one item the operator serialized
// itself; on restore the items are dealt out again (OperatorEntriesFor).
struct OperatorStateEntries {
  std::string operator_uid;
  int subtask = 0;
  int parallelism = 1;
  std::vector<std::string> entries;
};

// What a task's operators add to checkpoint n beyond keyed state.
struct TaskSnapshot {
  std::vector<SourcePositions> sources;
  std::vector<SinkPreCommit> sinks;
  std::vector<OperatorStateEntries> operator_states;
};

// What operators learn from the checkpoint a run restores (keyed state is restored into
// the task's backend before they open). Owned by the run; read-only while tasks run.
struct RestoredState {
  int64_t checkpoint_id = -1;
  std::vector<SourcePositions> sources;
  std::vector<WatermarkPosition> watermarks;
  // False for a checkpoint written before event time was kept: partitions and tasks then
  // start their event time over (the run warns that lateness may differ).
  bool keeps_event_time = false;
  std::vector<OperatorStateEntries> operator_states;

  // The positions source `operator_uid` recorded, over all its instances; empty when it
  // recorded none (a new source: it starts where its connector is configured to).
  std::vector<PartitionPosition> SourcePartitions(const std::string& operator_uid) const;

  // Where task instance `subtask` of `parallelism` of the chain headed by `operator_uid`
  // (keyed over key groups [first, last], or first > last when not keyed) resumes its
  // watermark. At the parallelism of the checkpoint: its own instance's watermark and
  // input watermarks (when it has as many inputs). At another: the minimum watermark over
  // the old instances that held any of its key groups (of all old instances when not
  // keyed), no input watermarks: never later than any instance its keys come from.
  // Nothing recorded (a new operator, an old checkpoint): empty.
  std::optional<WatermarkPosition> WatermarkFor(const std::string& operator_uid, int subtask, int parallelism,
                                            int key_group_first, int key_group_last) const;

  // The operator-state entries instance `subtask` of `parallelism` of operator
  // `operator_uid` takes over: at the checkpoint's parallelism, exactly what that instance
  // stored, in its order; at another, all instances' entries (old instance by instance, in
  // order) dealt out round robin: entry i goes to instance i mod parallelism. Every entry
  // goes to exactly one instance. Nothing recorded: empty.
  std::vector<std::string> OperatorEntriesFor(const std::string& operator_uid, int subtask, int parallelism) const;
};

}  // namespace kappa::checkpoint

#endif  // KAPPA_CHECKPOINT_CHECKPOINTING_H_
