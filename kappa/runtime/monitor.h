// What a running job looks like, for people and monitoring systems: the snapshot every
// view of a run is made from (`/metrics`, `/api/job`, the dashboard, `kappa status`).
//
// One JobMonitor per process, handed to Execute (ExecutionOptions::monitor). A run attaches
// its tasks, channels, source board and checkpoint coordinator when it starts and detaches
// when it ends (the monitor keeps the final figures, so a scrape after the end still sees
// them). Snapshot() may be called from any thread at any time; it reads counters the tasks
// publish with relaxed atomic stores and takes no lock a task ever waits on.
//
// Counters are cumulative (records, busy nanoseconds, checkpoints); rates are computed by
// whoever compares two snapshots (the HTTP endpoint keeps the previous one).
//
// Who publishes what, and how cheaply (nothing per record but a relaxed counter):
// - tasks (task.h TaskFigures): busy / backpressured / idle time, two clock reads per
//   step; the watermark per advance; their state backend's usage (entries, bytes, cache
//   hits, misses, evictions) sampled about once a second on the task's thread.
// - operators: records in, counted by each operator's input (OperatorBase::CountIn, a
//   relaxed load and store per record); records out are the records in of the operators
//   it feeds inside its chain, plus the task's records out for the operator whose records
//   leave the task (-1 when several of a chain's operators send records out of it, e.g.
//   two sinks in one chain); what each instance reported to the errors output
//   (late, user, decode), counted by its own ErrorSink, and late records it sent to a
//   late side output instead.
// - channels: their fill, stored on every push and pop; summed per edge.
// - sources (progress.h): offset, current end (Kafka's cached high-water mark), watermark
//   and idleness per partition, after every poll.
// - the checkpoint coordinator: counts, history, sink commit times; restore time from
//   Execute.
// - sinks: end-to-end latency of a sample of records (the first after each flush, and
//   every 64th; clock reads stay off the per-record path): emission (wall clock) minus
//   event time, and emission minus ingestion time. Ingestion time is carried per batch,
//   not per record: the time of the source poll that read the batch's first record
//   (stamped when an exchange opens a batch), so it errs towards more latency, never less.
// - the job's ErrorSink: counts by kind and the last 20 events.
// - Execute: restarts after failures, and the last cause.
#ifndef KAPPA_RUNTIME_MONITOR_H_
#define KAPPA_RUNTIME_MONITOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "kappa/base/time.h"
#include "kappa/runtime/progress.h"

namespace kappa {
class ErrorSink;
}
namespace kappa::checkpoint {
class CheckpointCoordinator;
}

namespace kappa::runtime {

class StreamTask;
class Channel;

// One operator of a fused chain, in one task instance.
struct OperatorView {
  std::string uid;
  std::string name;
  int64_t records_in = 0;   // -1: not counted (inside a fused chain)
  int64_t records_out = 0;  // -1: not counted (inside a fused chain)
  int64_t late_dropped = 0;     // records dropped (or sent to a late output) as late
  int64_t user_errors = 0;      // user function threw
  int64_t decode_errors = 0;    // sources: records that could not be decoded
  int64_t state_entries = -1;   // keyed operators: entries in their state; -1 unknown
  int64_t state_bytes = -1;
};

// One parallel instance of a fused chain.
struct TaskView {
  int node = 0;          // index of the chain (ChainView) it belongs to
  int subtask = 0;
  bool is_source = false;
  bool finished = false;
  int64_t records_in = 0;
  int64_t records_out = 0;
  // Where its worker time went, cumulative nanoseconds (Flink's busy/backpressured/idle).
  int64_t busy_ns = 0;
  int64_t backpressured_ns = 0;
  int64_t idle_ns = 0;
  Timestamp watermark = kMinTimestamp;
  // The task's write-back state cache (RocksDB backend), cumulative; -1 without one.
  int64_t cache_hits = -1, cache_misses = -1, cache_evictions = -1;
  std::vector<OperatorView> operators;  // head first
};

// A fused chain of operators and its parallel instances (a box in the job graph).
struct ChainView {
  std::string name;  // "source -> map -> filter"
  int parallelism = 1;
  std::vector<std::string> operator_uids;
  // Per operator, by position in the chain: the operators it feeds inside the chain, and
  // whether its records also leave the task (to a channel or out of a sink). An operator's
  // records out are its chained consumers' records in, plus the task's records out when it
  // is the chain's only operator whose records leave.
  std::vector<std::vector<int>> feeds;
  std::vector<bool> leaves;
};

// The channels between two chains, summed over instance pairs.
struct EdgeView {
  int from = 0, to = 0;  // ChainView indexes
  std::string partitioning;  // forward | hash | rebalance | broadcast
  int64_t queued_batches = 0;
  int64_t capacity_batches = 0;  // over all channels of the edge
};

struct SourcePartitionView {
  SourceProgress::View progress;     // position, start, end (bounded), records
  int64_t high_water = -1;           // the partition's current end (Kafka high-water mark); -1 unknown
  Timestamp watermark = kMinTimestamp;
  bool idle = false;
  // `replay --then-follow`: the end the partition had when the replay started; -1 otherwise.
  int64_t replay_end = -1;
};

// `replay --then-follow`: whether every partition has reached the end it had when the
// replay started (the moment to switch readers over to this run's output).
struct CatchUpView {
  bool tracking = false;  // this run replays history and then follows
  bool caught_up = false;
  int64_t at_ms = 0;      // when it caught up (epoch ms)
};

struct CheckpointView {
  int64_t id = 0;
  bool completed = false;
  int64_t triggered_ms = 0;   // epoch ms
  double duration_s = 0;      // trigger to complete (or failure)
  double alignment_s = 0;     // longest barrier alignment of any task
  int64_t bytes = 0;          // state written for it
  std::string error;          // why it failed
};

struct CheckpointStatsView {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t restored_id = -1;
  double restore_s = 0;                 // time to restore state at start
  std::vector<CheckpointView> history;  // the newest last, at most 32
};

struct SinkView {
  std::string uid;
  int subtask = 0;
  int64_t commits = 0;
  double last_commit_s = 0;  // how long the last commit (publish) took
};

// A Prometheus-style cumulative histogram: counts[i] = observations <= bounds[i].
struct HistogramView {
  std::vector<double> bounds;  // seconds, ascending
  std::vector<int64_t> counts;  // cumulative, same size as bounds
  int64_t count = 0;
  double sum = 0;
};

struct ErrorView {
  int64_t time_ms = 0;
  std::string kind;  // decode | user | late
  std::string operator_name;
  std::string error;
};

struct JobSnapshot {
  std::string job;
  std::string state = "starting";  // starting | running | finished | failed | stopped
  int64_t now_ms = 0;       // epoch ms when the snapshot was taken
  int64_t started_ms = 0;   // when the run started
  std::vector<ChainView> chains;
  std::vector<TaskView> tasks;
  std::vector<EdgeView> edges;
  std::vector<SourcePartitionView> sources;
  CheckpointStatsView checkpoints;
  std::vector<SinkView> sinks;
  // Sink emission time minus the record's event time, and minus its ingestion time.
  HistogramView event_time_latency;
  HistogramView ingestion_latency;
  std::vector<ErrorView> last_errors;  // the newest last, at most 20
  int64_t errors_decode = 0, errors_user = 0, errors_late = 0;
  CatchUpView catch_up;
  // Restarts after a failure (ExecutionOptions::restart) since the process started, and
  // the cause of the newest one (epoch ms; 0: none).
  int64_t restarts = 0;
  std::string last_restart_cause;
  int64_t last_restart_ms = 0;
};

class JobMonitor {
 public:
  JobMonitor() = default;
  JobMonitor(const JobMonitor&) = delete;
  JobMonitor& operator=(const JobMonitor&) = delete;

  // The run's parts; called by Execute. Everything attached stays valid until Detach().
  struct Attachment {
    std::string job;
    std::vector<ChainView> chains;
    std::vector<std::pair<int, StreamTask*>> tasks;  // (chain index, task)
    const SourceProgress* progress = nullptr;
    checkpoint::CheckpointCoordinator* coordinator = nullptr;
    const ErrorSink* errors = nullptr;  // the job's errors output
    struct Edge {
      EdgeView view;  // from, to, partitioning (the fill is read from the channels)
      std::vector<const Channel*> channels;
    };
    std::vector<Edge> edges;
    int64_t restored_id = -1;
    double restore_s = 0;
  };
  void Attach(Attachment attachment);
  // Takes the final snapshot (state: finished, failed or stopped) and forgets the run.
  void Detach(const std::string& final_state);

  JobSnapshot Snapshot() const;

  // The run failed and restarts (called by Execute between its attempts); kept across
  // Attach and Detach.
  void RecordRestart(const std::string& cause);

 private:
  JobSnapshot SnapshotLocked() const;

  mutable std::mutex mu_;
  // Per task: the busy, backpressured and idle time last reported, so that a wait counted
  // while it went on never makes a later figure smaller.
  mutable std::vector<std::array<int64_t, 3>> time_floor_;
  bool attached_ = false;
  Attachment run_;
  int64_t started_ms_ = 0;
  JobSnapshot last_;  // after Detach: the final figures
  int64_t restarts_ = 0;
  std::string last_restart_cause_;
  int64_t last_restart_ms_ = 0;
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_MONITOR_H_
