// Runs a job graph: plans fused chains, creates tasks and channels, runs them on the
// worker pool and reports what happened. Execute is four steps, each in its own file:
// planning (plan.h: the chains and their parallelism), restore (internal/restore.h: which
// checkpoint, and the sinks' recovery), wiring (internal/wiring.h: tasks, channels,
// operators, the coordinator) and running (internal/running.h: the scheduler, the final
// checkpoint, the result).
//
// Chaining rule: a node joins its producer's task when the edge between them is a
// forward edge, both have the same parallelism and the node has no other input. Every
// other edge becomes channels: one per (producer instance, consumer instance) pair, or one
// per instance pair i→i for a forward edge between equal parallelisms.
//
// Execute blocks the calling thread until the run ends. Several runs may go on at once in
// one process, on different threads: each has its own tasks, state, checkpoints and source
// progress board.
#ifndef KAPPA_RUNTIME_EXECUTOR_H_
#define KAPPA_RUNTIME_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/runtime/dead_letters.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/graph.h"
#include "kappa/runtime/monitor.h"
#include "kappa/runtime/progress.h"
#include "kappa/runtime/restart.h"
#include "kappa/base/time.h"

namespace kappa {

enum class StateBackendKind { kHeap, kRocksDb };

struct ExecutionOptions {
  int parallelism = 1;
  int workers = 0;  // 0: number of cores
  int max_parallelism = 128;
  size_t channel_capacity = 8;  // batches per channel
  Clock* clock = nullptr;       // null: the system clock
  ErrorSink* errors = nullptr;  // null: count only
  // Where records given up on go (dead_letters.h: `--dead-letter URI`), exactly once with
  // checkpoints like any sink. Null: they are reported on `errors`, as are records that
  // do not decode.
  std::shared_ptr<DeadLetterSink> dead_letters;
  // Set (e.g. by a SIGINT handler) to stop sources; the run then drains and ends.
  const std::atomic<bool>* stop_requested = nullptr;
  // Where keyed state lives. RocksDB (the default) keeps each stateful task's state under
  // state_dir/<job>/<task> (a fresh temporary directory when state_dir is empty); the
  // working state of a run is removed when the run ends. In front of each RocksDB instance
  // sits a write-back cache of hot keys (state/caching_backend.h), written back on every
  // checkpoint barrier and when full; state_cache_bytes is shared evenly by the stateful
  // tasks of the run (0: no cache).
  StateBackendKind state_backend = StateBackendKind::kRocksDb;
  std::string state_dir;
  size_t rocksdb_cache_bytes = size_t{256} << 20;
  size_t state_cache_bytes = size_t{256} << 20;

  // Checkpoints (DESIGN §4): with a checkpoint_dir, a checkpoint is taken every
  // checkpoint_interval_ms, the newest `checkpoints_retained` are kept, sinks write
  // exactly once, and a start restores the newest complete checkpoint (restore = kLatest),
  // a given one (kPath: restore_path), or none (kFresh).
  std::string checkpoint_dir;
  int64_t checkpoint_interval_ms = 1000;
  int checkpoints_retained = 3;
  enum class Restore { kLatest, kFresh, kPath };
  Restore restore = Restore::kLatest;
  std::string restore_path;
  // A restore refuses a checkpoint that has no offsets for one of the job's sources (a
  // source added since): it would read that source from its configured start. True
  // accepts that (`--allow-new-sources`).
  bool allow_new_sources = false;

  // Where the sources publish their positions while the run goes on (`kappa replay`'s
  // progress line reads it from another thread). Owned by the caller, who may read it
  // during and after the run; null: the run keeps its own board (the result has its
  // final view either way).
  runtime::SourceProgress* progress = nullptr;

  // Where the run shows itself while it goes on (metrics, the dashboard): it attaches its
  // tasks when it starts and detaches when it ends. Owned by the caller; null: none.
  runtime::JobMonitor* monitor = nullptr;

  // Tracing (`--trace`, runtime/trace.h): marks the source records the tracer's filter
  // selects and writes what every operator does with them. Owned by the caller; null: off.
  runtime::Tracer* tracer = nullptr;

  // What a task failure does (runtime/restart.h): none (the default) ends the run with it;
  // any other strategy restarts the job in-process from the latest complete checkpoint
  // (without checkpoint_dir: from the beginning of its sources, so a sink that is not
  // rewritten from scratch gets the failed attempt's output again). A failure before the
  // first attempt's tasks start (bad configuration) and a fatal one (checkpoint.h IsFatal)
  // never restart.
  RestartStrategy restart;
};

struct NodeMetrics {
  std::string name;
  int64_t records_in = 0;
  int64_t records_out = 0;
};

struct ExecutionResult {
  std::vector<NodeMetrics> nodes;  // per chain head: records in and out of its tasks
  int tasks = 0;
  double seconds = 0;
  int64_t restored_checkpoint = -1;           // the checkpoint this run started from
  std::vector<std::string> skipped_checkpoints;  // newer ones that were broken, and why
  int64_t checkpoints_completed = 0;
  bool already_finished = false;  // the restored checkpoint was final: nothing was run
  int64_t dead_letters = 0;       // written to options.dead_letters by this run
  // One line each, about the restore (a checkpoint written before event time was kept).
  std::vector<std::string> restore_warnings;
  absl::Status checkpoint_status;  // the first checkpoint that could not be completed, if any
  // Where every source partition of this run ended up: offsets from..to and records read.
  std::vector<runtime::SourceProgress::View> sources;
  // How often the job restarted after a failure (ExecutionOptions::restart), and why: one
  // cause per restart, oldest first.
  int restarts = 0;
  std::vector<std::string> restart_causes;
};

absl::StatusOr<ExecutionResult> Execute(const runtime::JobGraph& graph, const ExecutionOptions& options);

// Describes the planned tasks (chains and parallelism), one line per chain.
std::string DescribePlan(const runtime::JobGraph& graph, const ExecutionOptions& options);

}  // namespace kappa

#endif  // KAPPA_RUNTIME_EXECUTOR_H_
