// In-memory state backend: hash maps and ordered maps on the heap.
//
// For tests and small jobs. It implements the same byte-level contract as the RocksDB
// backend (ordering, prefixes, list append), so operators cannot tell them apart. Point
// tables are hash maps (one probe per access); ordered tables are B-trees. A scan of a
// point table sorts the matching keys first.
//
//   auto backend = kappa::state::HeapBackend::Create();
//   TableId t = *backend->RegisterTable("counts");
//   backend->Put(t, "k", "v");
#ifndef KAPPA_STATE_HEAP_BACKEND_H_
#define KAPPA_STATE_HEAP_BACKEND_H_

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "kappa/state/backend.h"

namespace kappa::state {

class HeapBackend : public KeyedStateBackend {
 public:
  static std::unique_ptr<HeapBackend> Create();

  absl::StatusOr<TableId> RegisterTable(const std::string& name, TableKind kind = TableKind::kOrdered) override;
  absl::Status Get(TableId table, std::string_view key, std::string* value) override;
  absl::Status Put(TableId table, std::string_view key, std::string_view value) override;
  absl::Status Append(TableId table, std::string_view key, std::string_view element) override;
  absl::Status AppendEncoded(TableId table, std::string_view key, std::string_view elements) override;
  absl::Status Delete(TableId table, std::string_view key) override;
  std::unique_ptr<StateIterator> Scan(TableId table, std::string_view prefix) override;
  int64_t ApproximateKeys(TableId table) override;
  // Entries counted; bytes unknown (counting them would walk every table).
  BackendUsage Usage() override;
  std::vector<TableInfo> Tables() const override;
  absl::StatusOr<std::vector<std::string>> Snapshot(const std::string& dir) override;
  std::string_view name() const override { return "heap"; }
  void SetTtl(TableId table, TtlLayout layout) override;
  void AdvanceTtlWatermark(int64_t wm) override;

  // Keys one watermark advance looks at, at most.
  static constexpr size_t kSweepBudget = 4096;
  // Keys waiting in the expiry queue; for tests.
  size_t ttl_queue_size() const { return queue_.size(); }

 private:
  struct Table {
    std::string name;
    TableKind kind;
    TtlLayout ttl = TtlLayout::kNone;
    absl::flat_hash_map<std::string, int64_t> queued;  // key -> its entry in queue_
    absl::btree_map<std::string, std::string, std::less<>> ordered;
    absl::flat_hash_map<std::string, std::string> point;
  };
  HeapBackend() = default;
  std::string* Find(Table& t, std::string_view key);
  std::string* FindOrAdd(Table& t, std::string_view key);
  // Queues `key` of a TTL table for the sweep at `expiry`, unless it waits for an earlier one.
  void Enqueue(TableId id, std::string_view key, int64_t expiry);
  void EnqueueValue(TableId id, std::string_view key, std::string_view value);
  void Sweep(int64_t wm, size_t budget);
  std::vector<std::unique_ptr<Table>> tables_;
  // (expiry, table, key) of every queued key, earliest first.
  absl::btree_set<std::tuple<int64_t, TableId, std::string>> queue_;
  bool has_ttl_ = false;
  absl::flat_hash_map<std::string, TableId> ids_;
};

}  // namespace kappa::state

#endif  // KAPPA_STATE_HEAP_BACKEND_H_
