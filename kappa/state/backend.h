// The keyed state backend interface.
//
// A backend is a byte-level, ordered key-value store organised in named tables (one per
// declared state; a column family in RocksDB). Every table key starts with the key group
// of the record's key (2 bytes, big-endian) unless the table says otherwise, so a
// snapshot can be cut by key-group range and restored at another parallelism.
//
// Implementation rules:
// - One backend instance per stateful task; only that task's current worker thread calls
//   it, never two threads at once. Implementations need no locking.
// - Get/Put/Append/Delete/Scan report I/O failures as absl::Status; the typed handles in
//   keyed_state.h turn them into a StateError that fails the task (it restarts from the
//   last checkpoint), never into a dropped record.
// - Append adds one length-prefixed element to the list stored under a key (RocksDB: a
//   merge operand), so lists grow in O(1) without reading them back.
// - Event-time TTL (SetTtl, AdvanceTtlWatermark): a table whose values carry an expiry
//   (keyed_state.h's framing) is declared with SetTtl; as the task's watermark advances,
//   the backend may drop entries whose expiry is at or below ttl_watermark() without being
//   asked (heap: an incremental sweep; RocksDB: a compaction filter). ttl_watermark() only
//   grows, is written with every snapshot of a backend that has TTL tables, and is restored
//   with it, so a restored run reads as expired everything a reclaim may have dropped.
#ifndef KAPPA_STATE_BACKEND_H_
#define KAPPA_STATE_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kappa::state {

using TableId = int;

// How a table is used, so a backend can pick its structure. Point tables are read and
// written by exact key (value and list state); ordered tables are also scanned by prefix
// in key order (map state, timers). Scanning a point table works but may be slow.
// Timer tables are ordered with the key group after an 8-byte time (timer_service.h).
enum class TableKind { kOrdered = 0, kPoint = 1, kTimers = 2 };

// The key group a table key belongs to (big-endian, at offset 0, or 8 for timers).
inline int KeyGroupOfKey(TableKind kind, std::string_view key) {
  size_t at = kind == TableKind::kTimers ? 8 : 0;
  if (key.size() < at + 2) return -1;
  return (static_cast<uint8_t>(key[at]) << 8) | static_cast<uint8_t>(key[at + 1]);
}

// Where a TTL table keeps the expiry of its values (an 8-byte event time, native order,
// written by the state handles of keyed_state.h):
// - kValue: before the value ([expiry][value]; value and map state). The entry is gone
//   once its expiry passed.
// - kListElements: before every list element (list state). Expired elements are dropped;
//   the entry is gone once all of them are.
enum class TtlLayout { kNone = 0, kValue = 1, kListElements = 2 };

// Reads the expiry at the front of a framed value or element; false if too short.
inline bool ReadTtlExpiry(std::string_view framed, int64_t* expiry) {
  if (framed.size() < sizeof(int64_t)) return false;
  std::memcpy(expiry, framed.data(), sizeof(int64_t));
  return true;
}

// What a background reclaim does with one stored value of a TTL table at watermark `wm`:
// kKeep it, kDrop the whole entry, or kRewrite it as `*kept` (a list without its expired
// elements). Values too short to carry an expiry, or malformed lists, are kept: reads
// report them as corrupt.
enum class TtlVerdict { kKeep, kDrop, kRewrite };
TtlVerdict JudgeTtl(TtlLayout layout, std::string_view value, int64_t wm, std::string* kept);

struct TableInfo {
  std::string name;
  TableKind kind;
};

// Ordered iteration over the keys of one table that start with a prefix.
// Valid until the next write to the backend.
class StateIterator {
 public:
  virtual ~StateIterator() = default;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual absl::Status status() const = 0;
};

// What a backend holds and how its cache fares, for metrics; -1 where a backend does not
// know. Estimates, not exact counts: disk backends answer from their statistics.
struct BackendUsage {
  int64_t entries = -1;  // keys over every table, timers included
  int64_t bytes = -1;
  // A write-back cache in front of the backend: reads answered from memory, reads that
  // went to the backend, entries evicted; cumulative.
  int64_t cache_hits = -1, cache_misses = -1, cache_evictions = -1;
};

class KeyedStateBackend {
 public:
  virtual ~KeyedStateBackend() = default;

  // Returns the table for `name`, creating it on first use. Names are stable across
  // job versions: they are how a savepoint finds the state again.
  virtual absl::StatusOr<TableId> RegisterTable(const std::string& name, TableKind kind = TableKind::kOrdered) = 0;

  // Reads the value under key; NotFound if absent.
  virtual absl::Status Get(TableId table, std::string_view key, std::string* value) = 0;
  virtual absl::Status Put(TableId table, std::string_view key, std::string_view value) = 0;
  // Appends one list element: value is stored as varint(len) + bytes after any existing.
  virtual absl::Status Append(TableId table, std::string_view key, std::string_view element) = 0;
  // Appends elements already encoded as Append stores them (varint(len) + bytes, one after
  // another) in one write: how a write-back cache hands over a batch of buffered appends.
  virtual absl::Status AppendEncoded(TableId table, std::string_view key, std::string_view elements);
  virtual absl::Status Delete(TableId table, std::string_view key) = 0;
  // Iterates keys >= prefix that start with prefix, in byte order.
  virtual std::unique_ptr<StateIterator> Scan(TableId table, std::string_view prefix) = 0;

  // The caller keeps its own write-back cache of the table's values (CachedValueState):
  // a cache inside the backend would only hold them twice, so it should pass the table
  // through. Backends without a cache ignore this.
  virtual void BypassCache(TableId table) {}

  // Declares that `table` holds event-time TTL framing in `layout`, so expired entries may
  // be reclaimed in the background. Backends without background reclaim ignore it; reads
  // filter expired values either way.
  virtual void SetTtl(TableId table, TtlLayout layout) {}
  // The task's watermark advanced to `wm` (after every event-time timer up to it fired):
  // raises ttl_watermark() and reclaims some entries that expired. Also called with the
  // watermark a snapshot recorded, when it is restored.
  virtual void AdvanceTtlWatermark(int64_t wm) { RaiseTtlWatermark(wm); }
  // Event-time TTL never reads an entry with expiry <= this as present. Any thread.
  int64_t ttl_watermark() const { return ttl_watermark_.load(std::memory_order_acquire); }

  // Number of keys (approximate for disk backends); for metrics and tests.
  virtual int64_t ApproximateKeys(TableId table) = 0;

  // The registered tables, by TableId.
  virtual std::vector<TableInfo> Tables() const = 0;

  // Sampled by the task about once a second (and when it finishes); cheap, no side
  // effects (nothing is written back or flushed).
  virtual BackendUsage Usage() { return {}; }

  // Writes a consistent snapshot of every table into `dir` (created by the call; must not
  // exist) and returns the files written, relative to `dir`. Runs on the task thread
  // between records, so it sees exactly the state at the checkpoint barrier.
  virtual absl::StatusOr<std::vector<std::string>> Snapshot(const std::string& dir) = 0;

  virtual std::string_view name() const = 0;

 protected:
  // True when wm raised the TTL watermark.
  bool RaiseTtlWatermark(int64_t wm) {
    int64_t cur = ttl_watermark_.load(std::memory_order_relaxed);
    while (wm > cur) {
      if (ttl_watermark_.compare_exchange_weak(cur, wm, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

 private:
  std::atomic<int64_t> ttl_watermark_{std::numeric_limits<int64_t>::min()};
};

// Copies into `target` every entry of the snapshot in `dir` (written by a backend named
// `backend`, "heap" or "rocksdb") whose key group is in [kg_first, kg_last]: how a task
// restores its share of a checkpoint taken at any parallelism.
absl::Status RestoreSnapshot(const std::string& dir, std::string_view backend, int kg_first, int kg_last,
                             KeyedStateBackend* target);

// Decodes a list written by Append: calls fn(element) for each element; false on
// malformed data.
template <typename Fn>
bool ForEachListElement(std::string_view list, Fn&& fn);

}  // namespace kappa::state

#include "kappa/state/serializer.h"

namespace kappa::state {

template <typename Fn>
bool ForEachListElement(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    uint64_t n;
    if (!kappa::internal::ReadVarint(&list, &n) || list.size() < n) return false;
    fn(list.substr(0, n));
    list.remove_prefix(n);
  }
  return true;
}

inline TtlVerdict JudgeTtl(TtlLayout layout, std::string_view value, int64_t wm, std::string* kept) {
  int64_t expiry = 0;
  if (layout == TtlLayout::kValue) {
    if (!ReadTtlExpiry(value, &expiry)) return TtlVerdict::kKeep;
    return expiry <= wm ? TtlVerdict::kDrop : TtlVerdict::kKeep;
  }
  if (layout != TtlLayout::kListElements) return TtlVerdict::kKeep;
  size_t expired = 0, total = 0;
  bool framed = true;
  bool ok = ForEachListElement(value, [&](std::string_view e) {
    ++total;
    if (!ReadTtlExpiry(e, &expiry)) {
      framed = false;
    } else if (expiry <= wm) {
      ++expired;
    }
  });
  if (!ok || !framed || expired == 0) return TtlVerdict::kKeep;
  if (expired == total) return TtlVerdict::kDrop;
  kept->clear();
  ForEachListElement(value, [&](std::string_view e) {
    ReadTtlExpiry(e, &expiry);
    if (expiry <= wm) return;
    kappa::internal::WriteVarint(e.size(), kept);
    kept->append(e);
  });
  return TtlVerdict::kRewrite;
}

inline absl::Status KeyedStateBackend::AppendEncoded(TableId table, std::string_view key, std::string_view elements) {
  absl::Status status;
  bool ok = ForEachListElement(elements, [&](std::string_view e) {
    if (status.ok()) status = Append(table, key, e);
  });
  if (!ok) return absl::InvalidArgumentError("malformed list elements");
  return status;
}

}  // namespace kappa::state

#endif  // KAPPA_STATE_BACKEND_H_
