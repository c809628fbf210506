// Helpers shared by the backends' snapshot code. Not part of the public state API.
#ifndef KAPPA_STATE_INTERNAL_SNAPSHOT_H_
#define KAPPA_STATE_INTERNAL_SNAPSHOT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "kappa/state/backend.h"

namespace kappa::state {

inline constexpr char kHeapSnapshotMagic[] = "KAPPAHS1";
// Table names and kinds of a snapshot, one "kind<TAB>name" per line.
inline constexpr char kTablesFile[] = "TABLES";
// The backend's ttl_watermark() in decimal, in snapshots of backends with event-time TTL
// tables: restored with the state, so a restored run treats as expired what a background
// reclaim may already have dropped.
inline constexpr char kTtlWatermarkFile[] = "TTL_WATERMARK";

// Creates `dir` (and parents) and writes dir/name durably (fsync).
absl::Status WriteSnapshotFile(const std::string& dir, const std::string& name, std::string_view data);
std::string EncodeTables(const std::vector<TableInfo>& tables);

}  // namespace kappa::state

#endif  // KAPPA_STATE_INTERNAL_SNAPSHOT_H_
