#include "kappa/runtime/internal/restore.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "kappa/base/status.h"
#include "kappa/runtime/sink.h"

namespace kappa::runtime::internal {

absl::StatusOr<std::unique_ptr<checkpoint::CheckpointStorage>> OpenCheckpointStorage(
    const std::string& dir, std::shared_ptr<const checkpoint::DirectoryClaim> kept) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create checkpoint directory ", dir, ": ", ec.message()));
  }
  std::string probe = absl::StrCat(dir, "/.write-probe-", getpid());
  FILE* f = std::fopen(probe.c_str(), "w");
  if (f == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("checkpoint directory ", dir, " is not writable: ", std::strerror(errno)));
  }
  std::fclose(f);
  std::filesystem::remove(probe, ec);
  auto storage = std::make_unique<checkpoint::CheckpointStorage>(dir);
  if (kept != nullptr) {
    KAPPA_RETURN_IF_ERROR(kept->Check());
    storage->set_claim(std::move(kept));
    return storage;
  }
  KAPPA_ASSIGN_OR_RETURN(auto claim, checkpoint::DirectoryClaim::Take(dir));
  storage->set_claim(std::move(claim));
  return storage;
}

absl::StatusOr<RestorePoint> ChooseCheckpoint(const JobGraph& g, const ExecutionOptions& opt,
                                              const checkpoint::CheckpointStorage& storage) {
  RestorePoint from;
  if (opt.restore == ExecutionOptions::Restore::kPath) {
    auto loaded = storage.Load(opt.restore_path);
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat("cannot restore ", opt.restore_path, ": ", loaded.status().message()));
    }
    from.checkpoint = std::move(*loaded);
  } else if (opt.restore == ExecutionOptions::Restore::kLatest) {
    auto loaded = storage.LatestValid(&from.skipped);
    if (loaded.ok()) {
      from.checkpoint = std::move(*loaded);
    } else if (!storage.ListIds().empty()) {
      bool any_broken = false;
      for (const auto& why : from.skipped) any_broken |= why.find("never completed") == std::string::npos;
      if (any_broken) {
        return absl::DataLossError(absl::StrCat("no usable checkpoint in ", opt.checkpoint_dir, " (",
                                                from.skipped.front(),
                                                "); fix or remove it, or use --fresh to start over"));
      }
    }
  }
  if (from.checkpoint) KAPPA_RETURN_IF_ERROR(CheckCompatible(g, from.checkpoint->manifest, opt));
  return from;
}

absl::Status CheckCompatible(const JobGraph& g, const checkpoint::Manifest& m, const ExecutionOptions& opt) {
  if (m.job_name() != g.name) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint ", m.checkpoint_id(), " belongs to job '",
                                                      m.job_name(), "', not '", g.name, "'"));
  }
  if (m.max_parallelism() != opt.max_parallelism) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint ", m.checkpoint_id(), " has ", m.max_parallelism(),
                                                      " key groups, this run ", opt.max_parallelism));
  }
  for (const auto& ts : m.tasks()) {
    bool found = false;
    for (const auto& node : g.nodes) found |= node.keyed && node.uid == ts.operator_uid();
    if (!found) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint ", m.checkpoint_id(), " holds state of operator '", ts.operator_uid(),
          "', which this job does not have (operator uids must stay the same to restore; use --fresh to start over)"));
    }
  }
  // A source the checkpoint has no offsets for would silently read from its configured
  // start (often the beginning): refused unless asked for.
  if (!opt.allow_new_sources) {
    for (const auto& node : g.nodes) {
      if (!node.source) continue;
      bool found = false;
      for (const auto& s : m.sources()) found |= s.operator_uid() == node.uid;
      if (!found) {
        return absl::FailedPreconditionError(absl::StrCat(
            "checkpoint ", m.checkpoint_id(), " has no offsets for source '", node.uid,
            "', which would start from its beginning; pass --allow-new-sources to accept that, or keep the "
            "source's uid"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RecoverSinks(const JobGraph& g, const checkpoint::CheckpointStorage& storage, const RestorePoint& from,
                          DeadLetterSink* dead_letters) {
  std::map<std::string, std::vector<checkpoint::PendingFile>> pending;
  if (from.checkpoint) {
    for (const auto& s : from.checkpoint->manifest.sinks()) {
      for (int i = 0; i < s.files_size() && i < s.published_names_size(); ++i) {
        pending[s.operator_uid()].push_back({s.files(i), s.published_names(i)});
      }
    }
  }
  // Output published after the restored checkpoint is withdrawn (it is produced again),
  // except after a final checkpoint: then everything published is the finished result.
  const int64_t withdraw_after = from.checkpoint && !from.already_finished() ? from.checkpoint->id : -1;
  ExactlyOnceContext context{g.name, storage.dir(), nullptr};
  if (std::shared_ptr<const checkpoint::DirectoryClaim> claim = storage.claim()) {
    context.check_owner = [claim] { return claim->Check(); };
  }
  for (const auto& node : g.nodes) {
    if (!node.enable_exactly_once) continue;
    KAPPA_RETURN_IF_ERROR(node.enable_exactly_once(context));
    KAPPA_RETURN_IF_ERROR(node.recover(pending[node.uid], withdraw_after));
  }
  if (dead_letters != nullptr) {
    absl::Status s = dead_letters->EnableExactlyOnce(context);
    if (s.ok()) s = dead_letters->Recover(pending[kDeadLetterUid], withdraw_after);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("dead-letter output: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace kappa::runtime::internal
