// A bounded write-back cache in front of a disk backend (RocksDB): hot keys are read and
// written in memory and reach the backend when the cache is full or the backend is
// snapshotted, which every checkpoint barrier does.
//
//   auto rocks = kappa::state::RocksDbBackend::Open(dir, shared);
//   auto backend = kappa::state::CachingBackend::Create(std::move(*rocks), /*capacity_bytes=*/64 << 20);
//   backend->Put(t, key, value);       // in memory
//   backend->Snapshot(checkpoint_dir);  // writes back every changed key, then snapshots RocksDB
//
// What is cached, by table kind:
// - Point tables (value and list state): every key read or written, as the backend's bytes.
//   A read miss loads the key and remembers absence too. Appends never read: appended
//   elements of a key whose value is not cached wait as a pending tail and are written back
//   as one merge operand; a key whose value is cached gets them appended in memory.
// - Ordered tables (map state): the same, except that an append loads the value first; a
//   scan merges cached entries with the backend's in key order.
// - Timer tables, and tables the caller caches itself (BypassCache: window accumulators
//   in CachedValueState): passed through. Operators keep their timers in memory
//   (TimerService) and write them back themselves.
//
// Event-time TTL tables (SetTtl): expired data is never written back — a changed value
// that expired by the TTL watermark becomes a delete (or nothing, if the backend never had
// it), expired appended elements are left out — and every flush (each snapshot) drops
// clean cached values that expired, so the cache neither keeps nor brings back what the
// backend's reclaim removed.
//
// Deleted keys are dropped from the cache once the backend is known not to hold them, and
// while nothing of a table was ever written back (a run before its first checkpoint) the
// backend is not asked about it at all.
//
// Bound: keys + values + a fixed overhead per entry stay within `capacity_bytes`. An access
// that crosses it writes back every changed entry and evicts unchanged ones until the cache
// is half full; an entry used since the previous eviction round survives one round (second
// chance). Nothing is evicted while a scan is open, and a read then does not add entries to
// ordered tables, so open iterators stay valid. Snapshot() writes back first, so a snapshot
// holds exactly what the backend alone would hold after the same calls; a write-back failure
// (disk full) is returned by the call that triggered it.
//
// Like every backend: one task thread at a time. The cache owns the backend it wraps.
#ifndef KAPPA_STATE_CACHING_BACKEND_H_
#define KAPPA_STATE_CACHING_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "kappa/state/backend.h"

namespace kappa::state {

class CachingBackend : public KeyedStateBackend {
 public:
  static std::unique_ptr<CachingBackend> Create(std::unique_ptr<KeyedStateBackend> inner, size_t capacity_bytes);

  absl::StatusOr<TableId> RegisterTable(const std::string& name, TableKind kind = TableKind::kOrdered) override;
  absl::Status Get(TableId table, std::string_view key, std::string* value) override;
  absl::Status Put(TableId table, std::string_view key, std::string_view value) override;
  absl::Status Append(TableId table, std::string_view key, std::string_view element) override;
  absl::Status AppendEncoded(TableId table, std::string_view key, std::string_view elements) override;
  absl::Status Delete(TableId table, std::string_view key) override;
  std::unique_ptr<StateIterator> Scan(TableId table, std::string_view prefix) override;
  // Writes back the table's changes; from then on it is passed through, like timer tables.
  void BypassCache(TableId table) override;
  // Writes back the table's changes first, then asks the backend.
  int64_t ApproximateKeys(TableId table) override;
  void SetTtl(TableId table, TtlLayout layout) override;
  // Forwarded: the backend reclaims; the cache drops expired entries at its next flush.
  void AdvanceTtlWatermark(int64_t wm) override;
  std::vector<TableInfo> Tables() const override { return inner_->Tables(); }
  // The backend's estimates, or the cache's own figures when they are larger (changes not
  // yet written back), with the cache's hits, misses and evicted entries.
  BackendUsage Usage() override;
  // Writes back every change, then snapshots the backend.
  absl::StatusOr<std::vector<std::string>> Snapshot(const std::string& dir) override;
  // The wrapped backend's: snapshots are in its format.
  std::string_view name() const override { return inner_->name(); }

  // Writes every changed entry to the backend; entries stay cached.
  absl::Status Flush();

  KeyedStateBackend* inner() { return inner_.get(); }
  size_t capacity_bytes() const { return capacity_; }
  size_t cached_bytes() const { return bytes_; }
  int64_t evictions() const { return evictions_; }  // eviction rounds so far
  int64_t write_backs() const { return write_backs_; }  // backend writes so far
  int64_t hits() const { return hits_; }      // reads answered from memory
  int64_t misses() const { return misses_; }  // reads that went to the backend

 private:
  // What the backend holds under a cached key, as far as the cache knows.
  enum class Stored : uint8_t { kUnknown, kAbsent, kPresent };
  struct Entry {
    // known: the whole value (empty when absent). !known: only elements appended since
    // the last write-back, to go on top of whatever the backend holds.
    std::string value;
    size_t pending = 0;     // trailing bytes of value appended since the last write-back
    bool known = true;
    bool present = false;   // known: the key exists
    bool replace = false;   // the backend must be overwritten (Put value, or Delete)
    bool referenced = true;  // used since the last eviction round
    Stored stored = Stored::kUnknown;
    bool dirty() const { return replace || pending > 0; }
  };
  struct Table {
    TableKind kind = TableKind::kOrdered;
    TtlLayout ttl = TtlLayout::kNone;
    bool bypass = false;
    // The backend holds nothing for this table (nothing was ever written back to it):
    // misses need no backend read and deletes no backend write.
    bool inner_empty = false;
    bool cached() const { return kind != TableKind::kTimers && !bypass; }
    absl::flat_hash_map<std::string, Entry> point;
    absl::btree_map<std::string, Entry, std::less<>> ordered;
  };
  class MergedIterator;

  CachingBackend(std::unique_ptr<KeyedStateBackend> inner, size_t capacity_bytes)
      : inner_(std::move(inner)), capacity_(capacity_bytes) {}

  Entry* Find(Table& t, std::string_view key);
  Entry& Add(Table& t, std::string_view key);  // key must not be cached yet
  void Erase(Table& t, std::string_view key);  // key must be cached
  void SetValue(Entry& e, std::string_view value);
  absl::Status Complete(TableId id, std::string_view key, Entry& e);
  absl::Status WriteBack(TableId id, std::string_view key, Entry& e);
  // TTL tables: takes out of a dirty entry what expired, before it is written back.
  void DropExpired(const Table& t, Entry& e);
  // TTL tables: a clean, whole value that expired entirely.
  bool Expired(const Table& t, const Entry& e);
  absl::Status FlushTable(TableId id);
  // Over capacity and no scan open: write back everything, evict down to half.
  absl::Status MaybeEvict();
  void Evict();

  std::unique_ptr<KeyedStateBackend> inner_;
  size_t capacity_;
  size_t bytes_ = 0;
  int open_scans_ = 0;
  std::vector<std::unique_ptr<Table>> tables_;  // by TableId; stable while scans are open
  size_t evict_from_ = 0;      // the table the next eviction round starts at
  int64_t evictions_ = 0;
  int64_t write_backs_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  int64_t evicted_entries_ = 0;
  std::string scratch_;
  std::string ttl_scratch_;
};

}  // namespace kappa::state

#endif  // KAPPA_STATE_CACHING_BACKEND_H_
