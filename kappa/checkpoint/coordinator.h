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

 private:
  void Loop();
  absl::Status Trigger(int64_t id);
  // Records `s` (the first failure in status_); true when it is fatal and the loop must end.
  bool Failed(const absl::Status& s);
  absl::Status Complete();
  checkpoint::Manifest NewManifest(int64_t id) const;

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
};

}  // namespace kappa::checkpoint

#endif  // KAPPA_CHECKPOINT_COORDINATOR_H_
