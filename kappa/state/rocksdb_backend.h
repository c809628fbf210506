// RocksDB state backend: keyed state on local disk.
//
// One RocksDB instance per stateful task, one column family per state table, keys as the
// backend interface defines them (key group first). All instances of a process share one
// block cache and one write-buffer manager, so memory stays bounded however many tasks
// run. List appends are merge operands (no read-modify-write). The write-ahead log is
// off: durability comes from checkpoints, which snapshot the instance; a crash between
// checkpoints restarts from the last one.
//
//   auto shared = kappa::state::RocksDbResources::Create({});
//   KAPPA_ASSIGN_OR_RETURN(auto backend, kappa::state::RocksDbBackend::Open("/var/kappa/q5-0", shared));
//
// Thread-safety: like every backend, used by one task thread at a time.
#ifndef KAPPA_STATE_ROCKSDB_BACKEND_H_
#define KAPPA_STATE_ROCKSDB_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "kappa/state/backend.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
class WriteBufferManager;
class Status;
}  // namespace rocksdb

namespace kappa::state {

// Converts a RocksDB status at the edge of state/: NotFound, DataLoss (corruption),
// ResourceExhausted (no space), Unavailable (I/O), with `context` (e.g. the path) first.
absl::Status FromRocksDb(const rocksdb::Status& s, const std::string& context);

struct RocksDbOptions {
  size_t block_cache_bytes = size_t{256} << 20;
  size_t write_buffer_bytes = size_t{128} << 20;  // all memtables of the process together
};

// Memory shared by every RocksDB instance of a process.
class RocksDbResources {
 public:
  static std::shared_ptr<RocksDbResources> Create(const RocksDbOptions& options);
  const std::shared_ptr<rocksdb::Cache>& block_cache() const { return block_cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffers() const { return write_buffers_; }

 private:
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
};

class RocksDbBackend : public KeyedStateBackend {
 public:
  // Opens (creating if needed) the instance in `dir`, with every column family it has.
  static absl::StatusOr<std::unique_ptr<RocksDbBackend>> Open(const std::string& dir,
                                                              std::shared_ptr<RocksDbResources> resources);
  ~RocksDbBackend() override;

  absl::StatusOr<TableId> RegisterTable(const std::string& name, TableKind kind = TableKind::kOrdered) override;
  absl::Status Get(TableId table, std::string_view key, std::string* value) override;
  absl::Status Put(TableId table, std::string_view key, std::string_view value) override;
  absl::Status Append(TableId table, std::string_view key, std::string_view element) override;
  // One merge operand holding all the elements.
  absl::Status AppendEncoded(TableId table, std::string_view key, std::string_view elements) override;
  absl::Status Delete(TableId table, std::string_view key) override;
  std::unique_ptr<StateIterator> Scan(TableId table, std::string_view prefix) override;
  int64_t ApproximateKeys(TableId table) override;
  // RocksDB's estimates: estimate-num-keys, and estimate-live-data-size plus the memtables.
  BackendUsage Usage() override;
  std::vector<TableInfo> Tables() const override;
  // A RocksDB checkpoint: SST files are hard-linked (a checkpoint after the previous one
  // shares every unchanged file with it; nothing is copied), memtables are flushed first.
  absl::StatusOr<std::vector<std::string>> Snapshot(const std::string& dir) override;
  std::string_view name() const override { return "rocksdb"; }
  // Event-time TTL tables are reclaimed by a compaction filter with the TTL watermark at
  // the compaction's start; compactions run in the background as data grows.
  void SetTtl(TableId table, TtlLayout layout) override;
  void AdvanceTtlWatermark(int64_t wm) override;
  // Compacts every table now (tests, tools): what expired by the TTL watermark is gone after.
  absl::Status Compact();

  const std::string& dir() const { return dir_; }
  struct TtlShared;
  rocksdb::DB* db() { return db_; }

 private:
  RocksDbBackend() = default;
  std::string dir_;
  std::shared_ptr<RocksDbResources> resources_;
  std::shared_ptr<TtlShared> ttl_;
  bool has_ttl_ = false;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // by TableId
  std::vector<TableInfo> tables_;                      // by TableId
  absl::flat_hash_map<std::string, TableId> ids_;
  std::string scratch_;
};

}  // namespace kappa::state

#endif  // KAPPA_STATE_ROCKSDB_BACKEND_H_
