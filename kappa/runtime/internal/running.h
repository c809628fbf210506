// Running, the last step of a run: opens every wired task, runs them on a fixed pool of
// worker threads (runtime::Scheduler) with the checkpoint coordinator triggering
// checkpoints meanwhile, and collects the result. A bounded run that was not stopped
// ends with a final checkpoint that publishes the sinks' last files.
//
// Called by Execute on the caller's thread, which it blocks until the run ends (every
// task finished, one failed, the coordinator hit a fatal error, or options.stop_requested
// drained the sources).
#ifndef KAPPA_RUNTIME_INTERNAL_RUNNING_H_
#define KAPPA_RUNTIME_INTERNAL_RUNNING_H_

#include "absl/status/status.h"
#include "kappa/runtime/executor.h"
#include "kappa/runtime/graph.h"
#include "kappa/runtime/internal/wiring.h"
#include "kappa/runtime/plan.h"

namespace kappa::runtime::internal {

// Fills result->tasks, seconds, checkpoints and per-chain metrics. `options` are resolved.
// *started (when given) becomes true once every task opened and the tasks started running:
// a failure after that is a failure of the run, not of its configuration. The run's
// checkpoints_completed is filled in even when it fails.
absl::Status RunWired(const JobGraph& graph, const Plan& plan, const ExecutionOptions& options, WiredJob& job,
                      ExecutionResult* result, bool* started = nullptr);

}  // namespace kappa::runtime::internal

#endif  // KAPPA_RUNTIME_INTERNAL_RUNNING_H_
