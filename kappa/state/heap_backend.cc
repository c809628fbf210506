#include "kappa/state/heap_backend.h"

#include <algorithm>
#include <limits>

#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "kappa/state/internal/snapshot.h"

namespace kappa::state {
namespace {

using Ordered = absl::btree_map<std::string, std::string, std::less<>>;

constexpr int64_t kMaxExpiry = std::numeric_limits<int64_t>::max();

class OrderedIterator : public StateIterator {
 public:
  OrderedIterator(const Ordered& table, std::string_view prefix)
      : it_(table.lower_bound(prefix)), end_(table.end()), prefix_(prefix) {}
  bool Valid() const override { return it_ != end_ && std::string_view(it_->first).starts_with(prefix_); }
  void Next() override { ++it_; }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  Ordered::const_iterator it_;
  Ordered::const_iterator end_;
  std::string prefix_;
};

// Scan of a hash table: the matching entries, sorted.
class SortedIterator : public StateIterator {
 public:
  explicit SortedIterator(std::vector<std::pair<std::string_view, std::string_view>> entries)
      : entries_(std::move(entries)) {
    std::sort(entries_.begin(), entries_.end());
  }
  bool Valid() const override { return i_ < entries_.size(); }
  void Next() override { ++i_; }
  std::string_view key() const override { return entries_[i_].first; }
  std::string_view value() const override { return entries_[i_].second; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> entries_;
  size_t i_ = 0;
};

}  // namespace

std::unique_ptr<HeapBackend> HeapBackend::Create() { return std::unique_ptr<HeapBackend>(new HeapBackend()); }

absl::StatusOr<TableId> HeapBackend::RegisterTable(const std::string& name, TableKind kind) {
  auto [it, inserted] = ids_.try_emplace(name, static_cast<TableId>(tables_.size()));
  if (inserted) {
    tables_.push_back(std::make_unique<Table>());
    tables_.back()->name = name;
    tables_.back()->kind = kind;
  }
  return it->second;
}

std::string* HeapBackend::Find(Table& t, std::string_view key) {
  if (t.kind == TableKind::kPoint) {
    auto it = t.point.find(AbslView(key));
    return it == t.point.end() ? nullptr : &it->second;
  }
  auto it = t.ordered.find(key);
  return it == t.ordered.end() ? nullptr : &it->second;
}

absl::Status HeapBackend::Get(TableId table, std::string_view key, std::string* value) {
  std::string* v = Find(*tables_[table], key);
  if (v == nullptr) return absl::NotFoundError("");
  value->assign(*v);
  return absl::OkStatus();
}

absl::Status HeapBackend::Put(TableId table, std::string_view key, std::string_view value) {
  Table& t = *tables_[table];
  if (t.ttl != TtlLayout::kNone) EnqueueValue(table, key, value);
  if (t.kind == TableKind::kPoint) {
    auto [it, inserted] = t.point.try_emplace(AbslView(key));
    it->second.assign(value);
  } else {
    auto it = t.ordered.lower_bound(key);
    if (it == t.ordered.end() || it->first != key) it = t.ordered.emplace_hint(it, std::string(key), std::string());
    it->second.assign(value);
  }
  return absl::OkStatus();
}

std::string* HeapBackend::FindOrAdd(Table& t, std::string_view key) {
  if (t.kind == TableKind::kPoint) return &t.point.try_emplace(AbslView(key)).first->second;
  auto it = t.ordered.lower_bound(key);
  if (it == t.ordered.end() || it->first != key) it = t.ordered.emplace_hint(it, std::string(key), std::string());
  return &it->second;
}

absl::Status HeapBackend::Append(TableId table, std::string_view key, std::string_view element) {
  int64_t expiry;
  if (tables_[table]->ttl == TtlLayout::kListElements && ReadTtlExpiry(element, &expiry)) {
    Enqueue(table, key, expiry);
  }
  std::string* v = FindOrAdd(*tables_[table], key);
  kappa::internal::WriteVarint(element.size(), v);
  v->append(element);
  return absl::OkStatus();
}

absl::Status HeapBackend::AppendEncoded(TableId table, std::string_view key, std::string_view elements) {
  if (tables_[table]->ttl != TtlLayout::kNone) EnqueueValue(table, key, elements);
  FindOrAdd(*tables_[table], key)->append(elements);
  return absl::OkStatus();
}

absl::Status HeapBackend::Delete(TableId table, std::string_view key) {
  Table& t = *tables_[table];
  if (t.kind == TableKind::kPoint) {
    auto it = t.point.find(AbslView(key));
    if (it != t.point.end()) t.point.erase(it);
  } else {
    auto it = t.ordered.find(key);
    if (it != t.ordered.end()) t.ordered.erase(it);
  }
  return absl::OkStatus();
}

std::unique_ptr<StateIterator> HeapBackend::Scan(TableId table, std::string_view prefix) {
  const Table& t = *tables_[table];
  if (t.kind != TableKind::kPoint) return std::make_unique<OrderedIterator>(t.ordered, prefix);
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (const auto& [k, v] : t.point) {
    if (std::string_view(k).starts_with(prefix)) entries.emplace_back(k, v);
  }
  return std::make_unique<SortedIterator>(std::move(entries));
}

std::vector<TableInfo> HeapBackend::Tables() const {
  std::vector<TableInfo> out;
  for (const auto& t : tables_) out.push_back({t->name, t->kind});
  return out;
}

void HeapBackend::Enqueue(TableId id, std::string_view key, int64_t expiry) {
  Table& t = *tables_[id];
  auto [it, inserted] = t.queued.try_emplace(AbslView(key), expiry);
  if (!inserted) {
    if (expiry >= it->second) return;  // popped at the earlier time, then re-queued if need be
    queue_.erase(std::make_tuple(it->second, id, std::string(key)));
    it->second = expiry;
  }
  queue_.emplace(expiry, id, std::string(key));
}

namespace {
// The earliest expiry in a whole value (kValue) or list (kListElements); false if none.
bool EarliestExpiry(TtlLayout layout, std::string_view value, int64_t* earliest) {
  int64_t expiry;
  if (layout == TtlLayout::kValue) return ReadTtlExpiry(value, earliest);
  *earliest = kMaxExpiry;
  bool any = false;
  ForEachListElement(value, [&](std::string_view e) {
    if (ReadTtlExpiry(e, &expiry) && expiry <= *earliest) {
      *earliest = expiry;
      any = true;
    }
  });
  return any;
}
}  // namespace

void HeapBackend::EnqueueValue(TableId id, std::string_view key, std::string_view value) {
  int64_t earliest;
  if (EarliestExpiry(tables_[id]->ttl, value, &earliest)) Enqueue(id, key, earliest);
}

void HeapBackend::SetTtl(TableId table, TtlLayout layout) {
  Table& t = *tables_[table];
  if (t.ttl == layout) return;
  t.ttl = layout;
  has_ttl_ = true;
  // Entries restored before the table was declared wait for the sweep too.
  for (const auto& [k, v] : t.point) EnqueueValue(table, k, v);
  for (const auto& [k, v] : t.ordered) EnqueueValue(table, k, v);
}

void HeapBackend::AdvanceTtlWatermark(int64_t wm) {
  RaiseTtlWatermark(wm);
  Sweep(ttl_watermark(), kSweepBudget);
}

void HeapBackend::Sweep(int64_t wm, size_t budget) {
  std::string kept;
  for (; budget > 0 && !queue_.empty() && std::get<0>(*queue_.begin()) <= wm; --budget) {
    auto node = queue_.extract(queue_.begin());
    auto& [expiry, id, key] = node.value();
    Table& t = *tables_[id];
    t.queued.erase(key);
    std::string* value = Find(t, key);
    if (value == nullptr) continue;  // deleted since
    switch (JudgeTtl(t.ttl, *value, wm, &kept)) {
      case TtlVerdict::kDrop:
        (void)Delete(id, key);
        break;
      case TtlVerdict::kRewrite:
        value->swap(kept);
        EnqueueValue(id, key, *value);
        break;
      case TtlVerdict::kKeep: {
        // Written again since it was queued: wait for the new expiry. (Values without
        // framing, or malformed, have nothing to wait for.)
        int64_t next;
        if (EarliestExpiry(t.ttl, *value, &next) && next > wm) Enqueue(id, key, next);
        break;
      }
    }
  }
}

absl::StatusOr<std::vector<std::string>> HeapBackend::Snapshot(const std::string& dir) {
  std::string out = kHeapSnapshotMagic;
  kappa::internal::WriteVarint(tables_.size(), &out);
  for (const auto& t : tables_) {
    Serializer<std::string>::Write(t->name, &out);
    out.push_back(static_cast<char>(t->kind));
    auto put = [&out](const std::string& k, const std::string& v) {
      Serializer<std::string>::Write(k, &out);
      Serializer<std::string>::Write(v, &out);
    };
    if (t->kind == TableKind::kPoint) {
      kappa::internal::WriteVarint(t->point.size(), &out);
      for (const auto& [k, v] : t->point) put(k, v);
    } else {
      kappa::internal::WriteVarint(t->ordered.size(), &out);
      for (const auto& [k, v] : t->ordered) put(k, v);
    }
  }
  KAPPA_RETURN_IF_ERROR(WriteSnapshotFile(dir, "state.bin", out));
  if (!has_ttl_) return std::vector<std::string>{"state.bin"};
  KAPPA_RETURN_IF_ERROR(WriteSnapshotFile(dir, kTtlWatermarkFile, std::to_string(ttl_watermark())));
  return std::vector<std::string>{"state.bin", kTtlWatermarkFile};
}

int64_t HeapBackend::ApproximateKeys(TableId table) {
  const Table& t = *tables_[table];
  return static_cast<int64_t>(t.kind == TableKind::kPoint ? t.point.size() : t.ordered.size());
}

// Bytes are an estimate, as RocksDB's are: each table's entry count times the mean key and
// value size of its first (up to) 1024 entries, so a sample costs the same for any size of
// state. Container overhead is not counted.
BackendUsage HeapBackend::Usage() {
  constexpr size_t kSample = 1024;
  BackendUsage u;
  u.entries = 0;
  u.bytes = 0;
  for (const auto& t : tables_) {
    if (t == nullptr) continue;
    const size_t n = t->point.size() + t->ordered.size();
    u.entries += static_cast<int64_t>(n);
    size_t sampled = 0, sampled_bytes = 0;
    auto sample = [&](const auto& map) {
      for (auto it = map.begin(); it != map.end() && sampled < kSample; ++it, ++sampled) {
        sampled_bytes += it->first.size() + it->second.size();
      }
    };
    sample(t->point);
    sample(t->ordered);
    if (sampled > 0) u.bytes += static_cast<int64_t>(static_cast<double>(sampled_bytes) / sampled * n);
  }
  return u;
}

}  // namespace kappa::state
