// The checkpoint coordinator: triggers aligned checkpoints and completes them.
//
// Every `interval` it starts checkpoint n (one at a time): it creates the checkpoint's
// directory and asks every source task to inject barrier n. Each task acknowledges once
// it snapshotted (TaskAck: its state files, source offsets, pre-committed sink files).
// When every live task acknowledged, the coordinator checksums the state files, writes
// the manifest durably (now the checkpoint is complete), publishes the sink files
// pre-committed for n, and keeps the newest K checkpoints. A checkpoint that does not
// complete within its timeout is abandoned; the next one starts over. A checkpoint that
// fails goes into status() and the next one tries again, except for a fatal error
// (IsFatal: the run lost its checkpoint directory or its Kafka producers were fenced):
// then the coordinator triggers nothing more and reports it to the fatal handler, which
// stops the run.
//
// Threads: its own trigger thread; OnAck and OnTaskFinished from task threads. It knows
// tasks only by count and reaches them through `trigger_sources`, so it sits below the
// runtime.
#ifndef KAPPA_CHECKPOINT_COORDINATOR_H_
#define KAPPA_CHECKPOINT_COORDINATOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kappa/checkpoint/checkpointing.h"
#include "kappa/checkpoint/manifest.pb.h"
#include "kappa/checkpoint/storage.h"

namespace kappa::checkpoint {

// What a task acknowledges for checkpoint n once it snapshotted and forwarded barrier n.
struct TaskAck {
  std::string task;               // task name, for messages
  std::optional<TaskState> state;  // set when the task has keyed state
  TaskSnapshot snapshot;
  std::optional<WatermarkPosition> watermark;  // the task's event time at the barrier
  double alignment_s = 0;  // from the first barrier on an input to the snapshot (aligned)
};

// One checkpoint as monitoring shows it.
struct CheckpointRecord {
  int64_t id = 0;
  bool completed = false;
  int64_t triggered_ms = 0;  // epoch ms
  double duration_s = 0;     // trigger to completion (or failure)
  double alignment_s = 0;    // the longest barrier alignment of any task
  int64_t bytes = 0;         // size of the state files it lists
  std::string error;         // why it failed or was abandoned
};

// Commits of one sink instance's pre-committed output (file publish, Kafka transaction).
struct SinkCommitRecord {
  std::string operator_uid;
  int subtask = 0;
  int64_t commits = 0;
  double last_commit_s = 0;
};

struct CheckpointStats {
  int64_t completed = 0;
  // Checkpoints that failed or timed out; one abandoned because a task finished before it
  // acknowledged (the end of a bounded input) is in the history but not counted here.
  int64_t failed = 0;
  std::vector<CheckpointRecord> history;  // the newest last, at most kHistory
  std::vector<SinkCommitRecord> sinks;
  static constexpr size_t kHistory = 32;
};

struct CoordinatorOptions {
  std::string job_name;
  int max_parallelism = 128;
  int retained = 3;
  int64_t interval_ms = 1000;
  int64_t timeout_ms = 60000;
  int64_t first_id = 1;
  std::vector<std::string> operator_uids;
  // Makes a completed checkpoint's pre-committed sink output visible (the sink's Commit);
  // unset: rename the pending files into place.
  std::function<absl::Status(const checkpoint::SinkPending&)> commit;
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(checkpoint::CheckpointStorage* storage, CoordinatorOptions options,
                        int tasks, std::function<void(int64_t id)> trigger_sources);
  ~CheckpointCoordinator();

  // Where a task writes its state snapshot for checkpoint id.
  std::string SnapshotDir(int64_t id, const std::string& task) const;
  // Whether the run still owns the checkpoint directory (CheckpointStorage::CheckOwner);
  // tasks check before they write a snapshot there. Thread-safe.
  absl::Status CheckOwner() const { return storage_->CheckOwner(); }

  // Called (on the coordinator's thread, once) with the first fatal error. Set before Start.
  void SetFatalHandler(std::function<void(const absl::Status&)> handler) { on_fatal_ = std::move(handler); }

  void Start();
  void Stop();
  void OnAck(int64_t id, TaskAck ack);
  // A task finished: it acknowledges nothing from now on. Source offsets it reports stay in
  // every later checkpoint (a finished partition must not be re-read on restore).
  void OnTaskFinished(TaskSnapshot final_snapshot);

  // After a successful bounded run: writes a final manifest listing the sinks' final files,
  // then publishes them.
  absl::Status Finalize(const std::vector<checkpoint::SinkPending>& final_files);

  int64_t completed() const { return completed_.load(); }
  int64_t last_completed_id() const { return last_completed_.load(); }
  // The first error completing a checkpoint (the run goes on; it is reported at the end).
  absl::Status status() const;
  // The fatal error that stopped checkpointing, if any.
  absl::Status fatal() const;
  // Counts, the recent history and sink commits, for monitoring. Any thread; never waits
  // for a checkpoint being completed.
  CheckpointStats stats() const;

 private:
  void Loop();
  absl::Status Trigger(int64_t id);
  // Records `s` (the first failure in status_); true when it is fatal and the loop must end.
  bool Failed(const absl::Status& s);
  absl::Status Complete();
  checkpoint::Manifest NewManifest(int64_t id) const;
  // Publishes one sink's pre-committed output and records how long it took.
  absl::Status CommitSink(const checkpoint::SinkPending& sink);
  void Record(CheckpointRecord record, bool failed);

  checkpoint::CheckpointStorage* storage_;
  CoordinatorOptions options_;
  const int tasks_;
  // Asks every source task to inject barrier `id` (the runtime's tasks; see executor.cc).
  std::function<void(int64_t id)> trigger_sources_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int live_tasks_ = 0;
  int64_t next_id_;
  int64_t pending_id_ = -1;
  std::string pending_path_;
  int acks_ = 0;
  int expected_acks_ = 0;
  std::vector<TaskAck> pending_acks_;
  std::vector<checkpoint::SourceOffsets> finished_sources_;
  // Sink files pre-committed for checkpoints that were abandoned (or acknowledged too late):
  // their data precedes every later barrier, so the next checkpoint to complete publishes them.
  std::vector<checkpoint::SinkPending> carried_sinks_;
  std::vector<std::string> savepoints_requested_;  // kept as savepoints once a checkpoint completes
  absl::Status status_;
  absl::Status fatal_;
  std::function<void(const absl::Status&)> on_fatal_;
  std::atomic<int64_t> completed_{0};
  std::atomic<int64_t> last_completed_{-1};
  // Figures of the checkpoint being completed (mu_).
  double pending_alignment_s_ = 0;
  int64_t pending_bytes_ = 0;

  mutable std::mutex stats_mu_;  // never held while waiting for anything
  CheckpointStats stats_;
};

}  // namespace kappa::checkpoint

#endif  // KAPPA_CHECKPOINT_COORDINATOR_H_
