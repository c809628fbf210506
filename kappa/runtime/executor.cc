#include "kappa/runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kappa/base/status.h"
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

// Plan, restore, wire, run: each step in its own file under runtime/ and runtime/internal/.
absl::StatusOr<ExecutionResult> Execute(const runtime::JobGraph& g, const ExecutionOptions& opt_in) {
  ExecutionOptions opt = opt_in;
  if (opt.clock == nullptr) opt.clock = Clock::System();
  if (opt.workers <= 0) opt.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ErrorSink count_only(nullptr);
  if (opt.errors == nullptr) opt.errors = &count_only;
  runtime::SourceProgress own_progress;
  runtime::SourceProgress* progress = opt.progress != nullptr ? opt.progress : &own_progress;
  opt.progress = progress;

  KAPPA_ASSIGN_OR_RETURN(const runtime::Plan plan, runtime::Plan::Make(g, opt.parallelism, opt.max_parallelism));

  // Checkpoints: what to restore, and exactly-once sinks.
  ExecutionResult result;
  const auto restore_start = std::chrono::steady_clock::now();
  std::unique_ptr<checkpoint::CheckpointStorage> storage;
  runtime::internal::RestorePoint from;
  if (!opt.checkpoint_dir.empty()) {
    KAPPA_ASSIGN_OR_RETURN(storage, runtime::internal::OpenCheckpointStorage(opt.checkpoint_dir));
    KAPPA_ASSIGN_OR_RETURN(from, runtime::internal::ChooseCheckpoint(g, opt, *storage));
    result.skipped_checkpoints = from.skipped;
    if (from.checkpoint) result.restored_checkpoint = from.checkpoint->id;
    KAPPA_RETURN_IF_ERROR(runtime::internal::RecoverSinks(g, *storage, from, opt.dead_letters.get()));
    if (from.already_finished()) {
      result.already_finished = true;
      return result;
    }
    if (from.checkpoint && !from.checkpoint->manifest.keeps_event_time()) {
      result.restore_warnings.push_back(absl::StrCat(
          "checkpoint ", from.checkpoint->id,
          " was written before checkpoints kept event time: watermarks start over, so lateness may differ "
          "from an uninterrupted run (records late before the restore may be accepted after it)"));
    }
  }

  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<runtime::internal::WiredJob> job,
                         runtime::internal::Wire(g, plan, opt, from, storage.get(), progress));
  if (from.checkpoint) {
    // Restoring: choosing and checking the checkpoint, recovering sinks, loading state.
    job->restored_id = from.checkpoint->id;
    job->restore_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_start).count();
  }
  KAPPA_RETURN_IF_ERROR(runtime::internal::RunWired(g, plan, opt, *job, &result));
  result.sources = progress->Read();
  return result;
}

}  // namespace kappa
