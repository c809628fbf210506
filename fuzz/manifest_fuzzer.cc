// Fuzzes what a restore reads from a checkpoint directory: CheckpointStorage::Load (the
// manifest parses, has this kappa's format version, and every file it lists has the
// recorded size and CRC32C), then what a run takes from a loaded manifest: the source
// positions, the sinks' pending files, and each task's state snapshot restored for the
// key groups of one instance of a new run (runtime/internal/wiring.cc does the same).
//
// Input: a selector byte (the new run's parallelism and instance), then an archive
// (fuzz/fuzz_util.h) of one checkpoint directory: MANIFEST and the files under tasks/.
// The seeds are real checkpoints of heap and RocksDB runs.
//
// Checked: Load and LatestValid agree; a checkpoint that loads names only paths inside
// its directory; errors are one line.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "google/protobuf/stubs/logging.h"
#include "kappa/checkpoint/manifest_convert.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/state/backend.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/key_groups.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::abort();
  }
}

bool OneLine(const absl::Status& s) { return !s.message().empty() && s.message().find('\n') == std::string_view::npos; }

// Whether a path a manifest names could lead out of the checkpoint directory.
bool Escapes(std::string_view rel) {
  if (!rel.empty() && rel.front() == '/') return true;
  for (size_t start = 0; start <= rel.size();) {
    size_t slash = rel.find('/', start);
    if (rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start) == "..") return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs each string field with invalid UTF-8 it parses; Load reports the result.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    return true;
  }();
  (void)quiet;
  if (size < 1) return 0;
  const int parallelism = 1 + (data[0] & 3);
  const int subtask = (data[0] >> 2) % parallelism;
  const std::string root = kappa::fuzz::ScratchDir() + "/checkpoints";
  const std::string path = root + "/chk-00000001";
  kappa::fuzz::ResetDir(root);
  kappa::fuzz::UnpackArchive(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), path);

  kappa::checkpoint::CheckpointStorage storage(root);
  absl::StatusOr<kappa::checkpoint::LoadedCheckpoint> loaded = storage.Load(path);
  std::vector<std::string> skipped;
  absl::StatusOr<kappa::checkpoint::LoadedCheckpoint> latest = storage.LatestValid(&skipped);
  Check(loaded.ok() == latest.ok(), "Load and LatestValid agree");
  if (!loaded.ok()) {
    Check(OneLine(loaded.status()), "a refused checkpoint is described in one line");
    Check(skipped.size() == 1 && skipped[0] == loaded.status().message(), "LatestValid says why it skipped");
    return 0;
  }
  const kappa::checkpoint::Manifest& m = loaded->manifest;
  Check(loaded->id == m.checkpoint_id(), "the id is the manifest's");
  for (const kappa::checkpoint::TaskState& ts : m.tasks()) {
    Check(!Escapes(ts.dir()), "a loaded checkpoint's state is inside it");
    for (const kappa::checkpoint::FileEntry& f : ts.files()) Check(!Escapes(f.path()), "its files are inside it");
  }

  kappa::checkpoint::RestoredState restored = kappa::checkpoint::RestoredStateOf(m);
  Check(restored.sources.size() == static_cast<size_t>(m.sources_size()), "every source's positions");
  for (const kappa::checkpoint::SinkPending& sink : m.sinks()) {
    kappa::checkpoint::SinkPreCommit pre = kappa::checkpoint::FromProto(sink);
    Check(pre.files.size() == static_cast<size_t>(std::min(sink.files_size(), sink.published_names_size())),
          "pending files pair with their names");
  }

  // Restore each task's snapshot for one instance of a new run, as the runtime does.
  const int max_parallelism = std::clamp(m.max_parallelism(), 1, 1 << 15);
  const kappa::state::KeyGroupRange range =
      kappa::state::KeyGroupRange::ForOperator(max_parallelism, parallelism, subtask);
  for (const kappa::checkpoint::TaskState& ts : m.tasks()) {
    int first = std::max(range.first, ts.key_group_first());
    int last = std::min(range.last, ts.key_group_last());
    if (first > last) continue;
    auto target = kappa::state::HeapBackend::Create();
    absl::Status s = kappa::state::RestoreSnapshot(path + "/" + ts.dir(), ts.backend(), first, last, target.get());
    if (!s.ok()) Check(OneLine(s), "a failed restore says why in one line");
  }
  return 0;
}
