#include "kappa/state/caching_backend.h"

#include <algorithm>
#include <utility>

#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "kappa/state/serializer.h"

namespace kappa::state {
namespace {

// Bytes an entry costs beyond its key and value: the slot, the two string headers, the
// flags, allocator rounding. An estimate; it only has to keep the bound honest for small
// values.
constexpr size_t kEntryOverhead = 64;

size_t EntryBytes(std::string_view key, const std::string& value) { return key.size() + value.size() + kEntryOverhead; }

class FailedIterator : public StateIterator {
 public:
  explicit FailedIterator(absl::Status status) : status_(std::move(status)) {}
  bool Valid() const override { return false; }
  void Next() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

}  // namespace

// The backend's entries under a prefix merged with the cached ones: a cached entry
// replaces the backend's under the same key, and a cached absence hides it. Cached entries
// of ordered tables always hold whole values (appends load them first).
class CachingBackend::MergedIterator : public StateIterator {
 public:
  using Ordered = absl::btree_map<std::string, Entry, std::less<>>;
  MergedIterator(CachingBackend* owner, const Ordered& cached, std::string_view prefix,
                 std::unique_ptr<StateIterator> stored)
      : owner_(owner),
        it_(cached.lower_bound(prefix)),
        end_(cached.end()),
        prefix_(prefix),
        stored_(std::move(stored)) {
    ++owner_->open_scans_;
    Settle();
  }
  ~MergedIterator() override { --owner_->open_scans_; }

  bool Valid() const override { return from_ != From::kNone; }
  void Next() override {
    if (from_ == From::kCache) {
      if (stored_->Valid() && stored_->key() == std::string_view(it_->first)) stored_->Next();
      ++it_;
    } else {
      stored_->Next();
    }
    Settle();
  }
  std::string_view key() const override {
    return from_ == From::kCache ? std::string_view(it_->first) : stored_->key();
  }
  std::string_view value() const override {
    return from_ == From::kCache ? std::string_view(it_->second.value) : stored_->value();
  }
  absl::Status status() const override { return stored_->status(); }

 private:
  enum class From { kNone, kCache, kStored };
  bool CacheValid() const { return it_ != end_ && std::string_view(it_->first).starts_with(prefix_); }
  void Settle() {
    while (true) {
      const bool cache = CacheValid();
      const bool stored = stored_->Valid();
      if (!cache && !stored) {
        from_ = From::kNone;
        return;
      }
      if (!cache || (stored && stored_->key() < std::string_view(it_->first))) {
        from_ = From::kStored;
        return;
      }
      if (it_->second.present) {
        from_ = From::kCache;
        return;
      }
      // Absent in the cache: hides the backend's entry under the same key, if any.
      if (stored && stored_->key() == std::string_view(it_->first)) stored_->Next();
      ++it_;
    }
  }

  CachingBackend* owner_;
  Ordered::const_iterator it_;
  Ordered::const_iterator end_;
  std::string prefix_;
  std::unique_ptr<StateIterator> stored_;
  From from_ = From::kNone;
};

std::unique_ptr<CachingBackend> CachingBackend::Create(std::unique_ptr<KeyedStateBackend> inner,
                                                       size_t capacity_bytes) {
  return std::unique_ptr<CachingBackend>(new CachingBackend(std::move(inner), capacity_bytes));
}

absl::StatusOr<TableId> CachingBackend::RegisterTable(const std::string& name, TableKind kind) {
  KAPPA_ASSIGN_OR_RETURN(TableId id, inner_->RegisterTable(name, kind));
  if (static_cast<size_t>(id) >= tables_.size()) tables_.resize(id + 1);
  if (tables_[id] == nullptr) {
    tables_[id] = std::make_unique<Table>();
    tables_[id]->kind = kind;
    auto it = inner_->Scan(id, {});
    tables_[id]->inner_empty = !it->Valid() && it->status().ok();
  } else if (tables_[id]->kind != kind) {
    // Registered again as another kind (a restored table learning its use): start over.
    KAPPA_RETURN_IF_ERROR(FlushTable(id));
    Table& t = *tables_[id];
    for (const auto& [k, e] : t.point) bytes_ -= EntryBytes(k, e.value);
    for (const auto& [k, e] : t.ordered) bytes_ -= EntryBytes(k, e.value);
    t.point.clear();
    t.ordered.clear();
    t.kind = kind;
  }
  return id;
}

CachingBackend::Entry* CachingBackend::Find(Table& t, std::string_view key) {
  if (t.kind == TableKind::kPoint) {
    auto it = t.point.find(AbslView(key));
    return it == t.point.end() ? nullptr : &it->second;
  }
  auto it = t.ordered.find(key);
  return it == t.ordered.end() ? nullptr : &it->second;
}

CachingBackend::Entry& CachingBackend::Add(Table& t, std::string_view key) {
  bytes_ += EntryBytes(key, {});
  Entry* e;
  if (t.kind == TableKind::kPoint) {
    e = &t.point.try_emplace(AbslView(key)).first->second;
  } else {
    auto it = t.ordered.lower_bound(key);
    e = &t.ordered.emplace_hint(it, std::string(key), Entry())->second;
  }
  if (t.inner_empty) e->stored = Stored::kAbsent;
  return *e;
}

void CachingBackend::Erase(Table& t, std::string_view key) {
  if (t.kind == TableKind::kPoint) {
    auto it = t.point.find(AbslView(key));
    bytes_ -= EntryBytes(key, it->second.value);
    t.point.erase(it);
  } else {
    auto it = t.ordered.find(key);
    bytes_ -= EntryBytes(key, it->second.value);
    t.ordered.erase(it);
  }
}

void CachingBackend::SetValue(Entry& e, std::string_view value) {
  bytes_ = bytes_ - e.value.size() + value.size();
  e.value.assign(value);
}

// Turns pending appends into the whole value: the backend's value, then the appends.
absl::Status CachingBackend::Complete(TableId id, std::string_view key, Entry& e) {
  ++misses_;
  std::string whole;
  absl::Status s = inner_->Get(id, key, &whole);
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  e.stored = s.ok() ? Stored::kPresent : Stored::kAbsent;
  bytes_ += whole.size();
  whole.append(e.value);
  e.value = std::move(whole);
  e.known = true;
  e.present = true;
  return absl::OkStatus();
}

absl::Status CachingBackend::Get(TableId id, std::string_view key, std::string* value) {
  Table& t = *tables_[id];
  if (!t.cached()) return inner_->Get(id, key, value);
  Entry* e = Find(t, key);
  if (e == nullptr && t.inner_empty) {
    ++hits_;
    return absl::NotFoundError("");
  }
  if (e == nullptr) {
    ++misses_;
    absl::Status s = inner_->Get(id, key, value);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    // While a scan is open, adding to an ordered table would move its entries.
    if (t.kind == TableKind::kPoint || open_scans_ == 0) {
      Entry& added = Add(t, key);
      added.stored = s.ok() ? Stored::kPresent : Stored::kAbsent;
      added.present = s.ok();
      if (s.ok()) SetValue(added, *value);
      KAPPA_RETURN_IF_ERROR(MaybeEvict());
    }
    return s;
  }
  e->referenced = true;
  if (e->known) ++hits_;
  if (!e->known) KAPPA_RETURN_IF_ERROR(Complete(id, key, *e));
  if (!e->present) return absl::NotFoundError("");
  value->assign(e->value);
  return MaybeEvict();
}

absl::Status CachingBackend::Put(TableId id, std::string_view key, std::string_view value) {
  Table& t = *tables_[id];
  if (!t.cached()) return inner_->Put(id, key, value);
  Entry* e = Find(t, key);
  if (e == nullptr) e = &Add(t, key);
  SetValue(*e, value);
  e->known = true;
  e->present = true;
  e->replace = true;
  e->pending = 0;
  e->referenced = true;
  return MaybeEvict();
}

absl::Status CachingBackend::Append(TableId id, std::string_view key, std::string_view element) {
  scratch_.clear();
  kappa::internal::WriteVarint(element.size(), &scratch_);
  scratch_.append(element);
  return AppendEncoded(id, key, scratch_);
}

absl::Status CachingBackend::AppendEncoded(TableId id, std::string_view key, std::string_view elements) {
  Table& t = *tables_[id];
  if (!t.cached()) return inner_->AppendEncoded(id, key, elements);
  Entry* e = Find(t, key);
  if (e == nullptr) {
    e = &Add(t, key);
    // Unless the backend is known to hold nothing, the appends go on top of its value.
    e->known = e->stored == Stored::kAbsent;
  }
  // A scan of an ordered table shows cached values as they are: keep them whole.
  if (!e->known && t.kind != TableKind::kPoint) KAPPA_RETURN_IF_ERROR(Complete(id, key, *e));
  if (e->known && !e->present) {
    SetValue(*e, {});
    e->present = true;
  }
  bytes_ += elements.size();
  e->value.append(elements);
  // Replaced values are written whole; otherwise only the new tail is.
  if (!e->replace) e->pending += elements.size();
  e->referenced = true;
  return MaybeEvict();
}

absl::Status CachingBackend::Delete(TableId id, std::string_view key) {
  Table& t = *tables_[id];
  if (!t.cached()) return inner_->Delete(id, key);
  Entry* e = Find(t, key);
  if (e != nullptr && e->stored == Stored::kAbsent) {
    Erase(t, key);  // nothing to delete in the backend
    return absl::OkStatus();
  }
  if (e == nullptr && t.inner_empty) return absl::OkStatus();
  if (e == nullptr) e = &Add(t, key);
  SetValue(*e, {});
  e->known = true;
  e->present = false;
  e->pending = 0;
  e->replace = true;
  e->referenced = true;
  return MaybeEvict();
}

std::unique_ptr<StateIterator> CachingBackend::Scan(TableId id, std::string_view prefix) {
  Table& t = *tables_[id];
  if (!t.cached()) return inner_->Scan(id, prefix);
  if (t.kind == TableKind::kPoint) {
    // Point tables are rarely scanned (tests, tools): hand the changes over and let the
    // backend answer.
    absl::Status s = FlushTable(id);
    if (!s.ok()) return std::make_unique<FailedIterator>(std::move(s));
    return inner_->Scan(id, prefix);
  }
  return std::make_unique<MergedIterator>(this, t.ordered, prefix, inner_->Scan(id, prefix));
}

void CachingBackend::BypassCache(TableId id) {
  Table& t = *tables_[id];
  if (!t.cached()) return;
  // A write-back failure here would surface nowhere; the entries then stay cached (and
  // keep being served) until the next flush, which reports it.
  if (!FlushTable(id).ok()) return;
  for (const auto& [k, e] : t.point) bytes_ -= EntryBytes(k, e.value);
  for (const auto& [k, e] : t.ordered) bytes_ -= EntryBytes(k, e.value);
  t.point.clear();
  t.ordered.clear();
  t.bypass = true;
}

int64_t CachingBackend::ApproximateKeys(TableId id) {
  if (tables_[id]->cached()) (void)FlushTable(id);
  return inner_->ApproximateKeys(id);
}

absl::StatusOr<std::vector<std::string>> CachingBackend::Snapshot(const std::string& dir) {
  KAPPA_RETURN_IF_ERROR(Flush());
  return inner_->Snapshot(dir);
}

void CachingBackend::SetTtl(TableId id, TtlLayout layout) {
  tables_[id]->ttl = layout;
  inner_->SetTtl(id, layout);
}

void CachingBackend::AdvanceTtlWatermark(int64_t wm) {
  RaiseTtlWatermark(wm);
  inner_->AdvanceTtlWatermark(wm);
}

void CachingBackend::DropExpired(const Table& t, Entry& e) {
  const int64_t wm = ttl_watermark();
  if (e.replace) {
    if (!e.present) return;
    switch (JudgeTtl(t.ttl, e.value, wm, &ttl_scratch_)) {
      case TtlVerdict::kDrop:
        SetValue(e, {});
        e.present = false;
        if (e.stored == Stored::kAbsent) e.replace = false;  // nothing to delete
        break;
      case TtlVerdict::kRewrite:
        SetValue(e, ttl_scratch_);
        break;
      case TtlVerdict::kKeep:
        break;
    }
    return;
  }
  // Appended elements on top of the backend's value: only those still alive go.
  const size_t base = e.value.size() - e.pending;
  switch (JudgeTtl(t.ttl, std::string_view(e.value).substr(base), wm, &ttl_scratch_)) {
    case TtlVerdict::kDrop:
      ttl_scratch_.clear();
      break;
    case TtlVerdict::kRewrite:
      break;
    case TtlVerdict::kKeep:
      return;
  }
  bytes_ = bytes_ - e.pending + ttl_scratch_.size();
  e.value.resize(base);
  e.value.append(ttl_scratch_);
  e.pending = ttl_scratch_.size();
}

bool CachingBackend::Expired(const Table& t, const Entry& e) {
  return t.ttl != TtlLayout::kNone && e.known && e.present && !e.dirty() &&
         JudgeTtl(t.ttl, e.value, ttl_watermark(), &ttl_scratch_) == TtlVerdict::kDrop;
}

absl::Status CachingBackend::WriteBack(TableId id, std::string_view key, Entry& e) {
  if (e.dirty() && tables_[id]->ttl != TtlLayout::kNone) DropExpired(*tables_[id], e);
  if (e.dirty()) tables_[id]->inner_empty = false;
  if (e.replace) {
    KAPPA_RETURN_IF_ERROR(e.present ? inner_->Put(id, key, e.value) : inner_->Delete(id, key));
    e.stored = e.present ? Stored::kPresent : Stored::kAbsent;
  } else if (e.pending > 0) {
    KAPPA_RETURN_IF_ERROR(
        inner_->AppendEncoded(id, key, std::string_view(e.value).substr(e.value.size() - e.pending)));
    e.stored = Stored::kPresent;
  } else {
    return absl::OkStatus();
  }
  ++write_backs_;
  e.replace = false;
  e.pending = 0;
  return absl::OkStatus();
}

absl::Status CachingBackend::FlushTable(TableId id) {
  Table& t = *tables_[id];
  if (!t.cached()) return absl::OkStatus();
  // Once written back, pending appends without their base are of no use, and absent keys
  // are worth little: both are dropped.
  for (auto it = t.point.begin(); it != t.point.end();) {
    Entry& e = it->second;
    if (e.dirty()) KAPPA_RETURN_IF_ERROR(WriteBack(id, it->first, e));
    if (!e.known || !e.present || Expired(t, e)) {
      bytes_ -= EntryBytes(it->first, e.value);
      t.point.erase(it++);
    } else {
      ++it;
    }
  }
  // Ordered tables may have scans open (ApproximateKeys, a point-table scan): entries stay.
  for (auto it = t.ordered.begin(); it != t.ordered.end();) {
    Entry& e = it->second;
    if (e.dirty()) KAPPA_RETURN_IF_ERROR(WriteBack(id, it->first, e));
    if (open_scans_ == 0 && Expired(t, e)) {
      bytes_ -= EntryBytes(it->first, e.value);
      it = t.ordered.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

absl::Status CachingBackend::Flush() {
  for (size_t id = 0; id < tables_.size(); ++id) {
    if (tables_[id] != nullptr) KAPPA_RETURN_IF_ERROR(FlushTable(static_cast<TableId>(id)));
  }
  return absl::OkStatus();
}

absl::Status CachingBackend::MaybeEvict() {
  if (bytes_ <= capacity_ || open_scans_ > 0) return absl::OkStatus();
  KAPPA_RETURN_IF_ERROR(Flush());
  Evict();
  return absl::OkStatus();
}

// Everything is written back: evict clean entries down to half the capacity, sparing an
// entry used since the last round once.
void CachingBackend::Evict() {
  ++evictions_;
  const size_t target = capacity_ / 2;
  const size_t n = tables_.size();
  for (int round = 0; round < 2 && bytes_ > target; ++round) {
    for (size_t i = 0; i < n && bytes_ > target; ++i) {
      Table* t = tables_[(evict_from_ + i) % n].get();
      if (t == nullptr) continue;
      for (auto it = t->point.begin(); it != t->point.end() && bytes_ > target;) {
        if (round == 0 && it->second.referenced) {
          it->second.referenced = false;
          ++it;
          continue;
        }
        bytes_ -= EntryBytes(it->first, it->second.value);
        ++evicted_entries_;
        t->point.erase(it++);
      }
      for (auto it = t->ordered.begin(); it != t->ordered.end() && bytes_ > target;) {
        if (round == 0 && it->second.referenced) {
          it->second.referenced = false;
          ++it;
          continue;
        }
        bytes_ -= EntryBytes(it->first, it->second.value);
        ++evicted_entries_;
        it = t->ordered.erase(it);
      }
    }
  }
  if (n > 0) evict_from_ = (evict_from_ + 1) % n;
}

BackendUsage CachingBackend::Usage() {
  BackendUsage u = inner_->Usage();
  int64_t cached = 0;
  for (const auto& t : tables_) {
    if (t != nullptr) cached += static_cast<int64_t>(t->point.size() + t->ordered.size());
  }
  u.entries = std::max(u.entries, cached);
  u.bytes = std::max(u.bytes, static_cast<int64_t>(bytes_));
  u.cache_hits = hits_;
  u.cache_misses = misses_;
  u.cache_evictions = evicted_entries_;
  return u;
}

}  // namespace kappa::state
