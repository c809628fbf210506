#include "kappa/runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "kappa/base/log.h"
#include "kappa/base/status.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/runtime/internal/restore.h"
#include "kappa/runtime/internal/running.h"
#include "kappa/runtime/internal/wiring.h"
#include "kappa/runtime/plan.h"

namespace kappa {

std::string DescribePlan(const runtime::JobGraph& g, const ExecutionOptions& opt) {
  auto plan = runtime::Plan::Make(g, opt.parallelism, opt.max_parallelism);
  if (!plan.ok()) return std::string(plan.status().message());
  return plan->Describe(g);
}

namespace {

// One attempt: plan, restore, wire, run, each step in its own file under runtime/ and
// runtime/internal/. `opt` is resolved (clock, workers, errors, progress). *started: the
// tasks started running (see RunWired); `restart` > 0 names the restart in the log.
// *claim: the run's claim on its checkpoint directory, taken by the first attempt and
// kept by restarts.
absl::Status ExecuteOnce(const runtime::JobGraph& g, const ExecutionOptions& opt, int restart, ExecutionResult* out,
                         bool* started, std::shared_ptr<const checkpoint::DirectoryClaim>* claim) {
  KAPPA_ASSIGN_OR_RETURN(const runtime::Plan plan, runtime::Plan::Make(g, opt.parallelism, opt.max_parallelism));

  // Checkpoints: what to restore, and exactly-once sinks.
  ExecutionResult& result = *out;
  const auto restore_start = std::chrono::steady_clock::now();
  std::unique_ptr<checkpoint::CheckpointStorage> storage;
  runtime::internal::RestorePoint from;
  if (!opt.checkpoint_dir.empty()) {
    KAPPA_ASSIGN_OR_RETURN(storage, runtime::internal::OpenCheckpointStorage(opt.checkpoint_dir, *claim));
    *claim = storage->claim();
    KAPPA_ASSIGN_OR_RETURN(from, runtime::internal::ChooseCheckpoint(g, opt, *storage));
    result.skipped_checkpoints = from.skipped;
    if (from.checkpoint) result.restored_checkpoint = from.checkpoint->id;
    KAPPA_RETURN_IF_ERROR(runtime::internal::RecoverSinks(g, *storage, from, opt.dead_letters.get()));
    if (from.already_finished()) {
      result.already_finished = true;
      return absl::OkStatus();
    }
    if (from.checkpoint && !from.checkpoint->manifest.keeps_event_time()) {
      result.restore_warnings.push_back(absl::StrCat(
          "checkpoint ", from.checkpoint->id,
          " was written before checkpoints kept event time: watermarks start over, so lateness may differ "
          "from an uninterrupted run (records late before the restore may be accepted after it)"));
    }
  }
  if (restart > 0) {
    LogInfo(from.checkpoint ? absl::StrCat(g.name, " restart ", restart, ": restored checkpoint ", from.checkpoint->id)
                            : absl::StrCat(g.name, " restart ", restart, ": started from the beginning"));
  }

  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<runtime::internal::WiredJob> job,
                         runtime::internal::Wire(g, plan, opt, from, storage.get(), opt.progress));
  if (from.checkpoint) {
    // Restoring: choosing and checking the checkpoint, recovering sinks, loading state.
    job->restored_id = from.checkpoint->id;
    job->restore_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_start).count();
  }
  KAPPA_RETURN_IF_ERROR(runtime::internal::RunWired(g, plan, opt, *job, &result, started));
  result.sources = opt.progress->Read();
  return absl::OkStatus();
}

bool StopRequested(const ExecutionOptions& opt) {
  return opt.stop_requested != nullptr && opt.stop_requested->load();
}

}  // namespace

// Attempts until one succeeds or the restart strategy gives up (runtime/restart.h).
absl::StatusOr<ExecutionResult> Execute(const runtime::JobGraph& g, const ExecutionOptions& opt_in) {
  ExecutionOptions opt = opt_in;
  if (opt.clock == nullptr) opt.clock = Clock::System();
  if (opt.workers <= 0) opt.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ErrorSink count_only(nullptr);
  if (opt.errors == nullptr) opt.errors = &count_only;
  runtime::SourceProgress own_progress;
  runtime::SourceProgress* progress = opt.progress != nullptr ? opt.progress : &own_progress;
  opt.progress = progress;

  RestartTracker tracker(opt.restart);
  std::vector<std::string> causes;
  bool checkpointed = false;  // an attempt completed a checkpoint: restarts restore the latest
  std::shared_ptr<const checkpoint::DirectoryClaim> claim;
  for (int attempt = 0;; ++attempt) {
    ExecutionResult result;
    bool started = false;
    const absl::Time began = absl::Now();
    absl::Status status = ExecuteOnce(g, opt, attempt, &result, &started, &claim);
    checkpointed |= result.checkpoints_completed > 0;
    if (status.ok()) {
      result.restarts = tracker.restarts();
      result.restart_causes = std::move(causes);
      return result;
    }
    // A configuration error shows at once; a fatal one must not write anything more.
    if (!opt.restart.restarts() || checkpoint::IsFatal(status) || (attempt == 0 && !started) ||
        StopRequested(opt)) {
      return status;
    }
    std::optional<absl::Duration> wait = tracker.OnFailure(began, absl::Now());
    if (!wait) {
      return absl::Status(status.code(), absl::StrCat(status.message(), " (no more restarts: ", tracker.gave_up(), ")"));
    }
    std::string from;
    if (opt.checkpoint_dir.empty()) {
      from = "from the beginning (no checkpoints)";
    } else if (checkpointed || opt.restore == ExecutionOptions::Restore::kLatest) {
      from = "from the latest complete checkpoint";
    } else if (opt.restore == ExecutionOptions::Restore::kPath) {
      from = absl::StrCat("from ", opt.restore_path, " (no checkpoint completed since)");
    } else {
      from = "from the beginning (no checkpoint completed yet)";
    }
    LogWarning(absl::StrCat("restart ", tracker.restarts(), " of ", g.name, " (", opt.restart.ToString(), ") in ",
                            absl::FormatDuration(*wait), " ", from, "; cause: ", status.message()));
    causes.emplace_back(status.message());
    if (opt.monitor != nullptr) opt.monitor->RecordRestart(std::string(status.message()));
    const absl::Time due = absl::Now() + *wait;
    while (absl::Now() < due && !StopRequested(opt)) {
      absl::SleepFor(std::min(absl::Milliseconds(20), due - absl::Now()));
    }
    if (StopRequested(opt)) return status;

    // The next attempt starts as a new process would after a crash: the sinks' leftovers of
    // the failed attempt are recovered or withdrawn by the restore, its final files are not
    // published, its sources register again.
    for (const auto& node : g.nodes) {
      if (node.take_final_pending) (void)node.take_final_pending();
    }
    progress->Reset();
    if (checkpointed) opt.restore = ExecutionOptions::Restore::kLatest;
  }
}

}  // namespace kappa
