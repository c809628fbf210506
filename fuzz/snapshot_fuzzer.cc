// Fuzzes the restore of a task's state snapshot (state/backend.h: RestoreSnapshot), the
// files a restore reads after the manifest has vouched for their size and checksum; a
// damaged or hostile checkpoint directory still reaches this code when its manifest was
// rewritten to match.
//
// Input: a selector byte, the first and last key group to restore, then an archive of the
// snapshot directory (fuzz/fuzz_util.h: a heap snapshot's state.bin, or a RocksDB
// snapshot's TABLES, SST, MANIFEST, CURRENT and OPTIONS files). Selector bit 0 picks the
// backend that wrote it: heap or rocksdb. The snapshot is restored into a heap backend.
//
// Checked: a restore either fails with a one-line error or restores only keys of the key
// groups asked for, into tables of a known kind.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "kappa/state/backend.h"
#include "kappa/state/heap_backend.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool rocksdb = (data[0] & 1) != 0;
  const int first = data[1];
  const int last = data[2];
  const std::string dir = kappa::fuzz::ScratchDir() + "/snapshot";
  kappa::fuzz::UnpackArchive(std::string_view(reinterpret_cast<const char*>(data + 3), size - 3), dir);

  auto target = kappa::state::HeapBackend::Create();
  absl::Status s = kappa::state::RestoreSnapshot(dir, rocksdb ? "rocksdb" : "heap", first, last, target.get());
  if (!s.ok()) {
    Check(!s.message().empty() && s.message().find('\n') == std::string_view::npos, "an error is one line");
    return 0;
  }
  for (const kappa::state::TableInfo& table : target->Tables()) {
    Check(table.kind == kappa::state::TableKind::kOrdered || table.kind == kappa::state::TableKind::kPoint ||
              table.kind == kappa::state::TableKind::kTimers,
          "restored tables have a known kind");
    absl::StatusOr<kappa::state::TableId> id = target->RegisterTable(table.name, table.kind);
    Check(id.ok(), "a restored table registers again");
    auto it = target->Scan(*id, {});
    for (; it->Valid(); it->Next()) {
      int kg = kappa::state::KeyGroupOfKey(table.kind, it->key());
      Check(kg >= first && kg <= last, "only the key groups asked for are restored");
    }
    Check(it->status().ok(), "a restored table scans");
  }
  return 0;
}
