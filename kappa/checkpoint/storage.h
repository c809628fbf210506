// Checkpoint storage: one directory per checkpoint under --checkpoint-dir.
//
//   DIR/chk-00000042/MANIFEST          protobuf (manifest.proto), written last
//   DIR/chk-00000042/tasks/<task>/...  state snapshots of the stateful tasks
//
// A checkpoint is complete only when its MANIFEST has been written to MANIFEST.tmp,
// fsync'ed and renamed into place (and the directory fsync'ed). Loading checks the
// manifest parses and that every file it lists has the recorded size and CRC32C; a
// checkpoint that fails any check is reported with the reason and never loaded.
// Not thread-safe: the coordinator owns it.
#ifndef KAPPA_CHECKPOINT_STORAGE_H_
#define KAPPA_CHECKPOINT_STORAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/checkpoint/manifest.pb.h"

namespace kappa::checkpoint {

inline constexpr uint32_t kFormatVersion = 1;

uint32_t Crc32c(uint32_t crc, std::string_view data);

// Size and CRC32C of root/rel.
absl::StatusOr<FileEntry> DescribeFile(const std::string& root, const std::string& rel);

// Writes `data` to path durably: path.tmp, fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data);

// A run's claim on its checkpoint directory, so that one run at a time writes there.
//
// Take() writes DIR/OWNER atomically (temporary file, fsync, rename): a random token and
// the run's pid, host and start time. A newer run takes over unconditionally, like a
// newly elected leader: the older run may be frozen or cut off and cannot be asked to let
// go. The older run calls Check() before each of its writes in DIR (a checkpoint's
// directory and manifest, retention, savepoints, a sink's staged and committed files);
// once OWNER names another run, Check() fails with a fatal error (MarkFatal) naming it,
// and the run stops without writing more.
//
// The check and the write after it are not atomic: a run frozen between the two still
// makes that one write when it wakes. The claim keeps a stale run from going on writing
// in the directory (new checkpoint ids, retention, staged files); what reaches a Kafka
// topic is guarded by Kafka's fencing of the stale run's producers, not by the claim.
// Thread-safe (Check only reads).
class DirectoryClaim {
 public:
  static absl::StatusOr<std::shared_ptr<const DirectoryClaim>> Take(const std::string& dir);

  // OK while DIR/OWNER holds this claim; otherwise a fatal FailedPrecondition: "DIR was
  // taken over by another run (pid P on HOST, started T); this run stops without writing
  // to it".
  absl::Status Check() const;

  const std::string& dir() const { return dir_; }
  const std::string& token() const { return token_; }

 private:
  DirectoryClaim(std::string dir, std::string token) : dir_(std::move(dir)), token_(std::move(token)) {}
  std::string dir_;
  std::string token_;
};

struct LoadedCheckpoint {
  int64_t id = 0;
  std::string path;  // the checkpoint's directory
  Manifest manifest;
};

class CheckpointStorage {
 public:
  explicit CheckpointStorage(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  // A run's storage holds the run's claim on dir(): every write here checks it first
  // (Begin, Commit, Retain, CreateSavepoint). Without a claim (tools reading a directory,
  // tests) nothing is checked.
  void set_claim(std::shared_ptr<const DirectoryClaim> claim) { claim_ = std::move(claim); }
  const std::shared_ptr<const DirectoryClaim>& claim() const { return claim_; }
  absl::Status CheckOwner() const { return claim_ ? claim_->Check() : absl::OkStatus(); }
  std::string PathFor(int64_t id) const;

  // Creates the directory of checkpoint `id` (empty).
  absl::StatusOr<std::string> Begin(int64_t id);
  // Writes the manifest durably: from now on the checkpoint is complete.
  absl::Status Commit(const std::string& path, const Manifest& manifest);

  // Reads and verifies the checkpoint in `path` (a chk-* directory or a savepoint).
  absl::StatusOr<LoadedCheckpoint> Load(const std::string& path) const;
  // The newest complete, verified checkpoint; each one skipped is described in *skipped
  // ("chk-00000007: MANIFEST is corrupt: ..."). NotFound when there is none.
  absl::StatusOr<LoadedCheckpoint> LatestValid(std::vector<std::string>* skipped) const;
  // Ids of the chk-* directories present, complete or not, ascending.
  std::vector<int64_t> ListIds() const;
  // Keeps the newest `keep` complete checkpoints and removes older and abandoned ones
  // (incomplete directories older than the newest complete checkpoint).
  absl::Status Retain(int keep);

  // Copies the newest valid checkpoint to DIR/savepoints/<name> (hard links where the
  // file system allows, so it costs no space) and marks it as a savepoint. Savepoints are
  // never removed by Retain; restore one with --from-checkpoint PATH.
  absl::StatusOr<std::string> CreateSavepoint(const std::string& name) const;

  // Savepoints of a running job: `kappa savepoint --running` leaves a request file in
  // DIR/requests/; the job's coordinator takes the requests, triggers a checkpoint at
  // once and keeps it as the named savepoint.
  absl::Status RequestSavepoint(const std::string& name) const;
  std::vector<std::string> TakeSavepointRequests() const;
  void CancelSavepointRequest(const std::string& name) const;

 private:
  std::string dir_;
  std::shared_ptr<const DirectoryClaim> claim_;
};

}  // namespace kappa::checkpoint

#endif  // KAPPA_CHECKPOINT_STORAGE_H_
