#include "kappa/state/rocksdb_backend.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kappa/base/strings.h"
#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_buffer_manager.h"
#include "kappa/state/serializer.h"
#include "kappa/state/internal/snapshot.h"
#include "kappa/base/status.h"
#include <algorithm>
#include <limits>

namespace kappa::state {
namespace {

// List appends: every operand is already varint(len) + bytes, so merging concatenates.
// All operands are concatenated in one pass into a buffer of the final size. (Merging them
// pairwise, as AssociativeMergeOperator does, copies the growing list once per operand:
// reading a list of n appends, or flushing them, was O(n^2) bytes.)
class AppendOperator : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    Concat(in.existing_value, in.operand_list, &out->new_value);
    return true;
  }
  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& operands, std::string* new_value,
                         rocksdb::Logger*) const override {
    Concat(nullptr, operands, new_value);
    return true;
  }
  const char* Name() const override { return "kappa.append"; }

 private:
  template <typename Operands>
  static void Concat(const rocksdb::Slice* existing, const Operands& operands, std::string* out) {
    size_t size = existing != nullptr ? existing->size() : 0;
    for (const rocksdb::Slice& op : operands) size += op.size();
    out->clear();
    out->reserve(size);
    if (existing != nullptr) out->append(existing->data(), existing->size());
    for (const rocksdb::Slice& op : operands) out->append(op.data(), op.size());
  }
};

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

class RocksIterator : public StateIterator {
 public:
  RocksIterator(rocksdb::Iterator* it, std::string_view prefix) : it_(it), prefix_(prefix) {
    it_->Seek(ToSlice(prefix_));
  }
  bool Valid() const override { return it_->Valid() && it_->key().starts_with(ToSlice(prefix_)); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return {it_->key().data(), it_->key().size()}; }
  std::string_view value() const override { return {it_->value().data(), it_->value().size()}; }
  absl::Status status() const override { return FromRocksDb(it_->status(), "state scan"); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
  std::string prefix_;
};

// Drops what event-time TTL has expired by the TTL watermark at the compaction's start:
// whole values (kValue), lists whose every element expired (else the list is rewritten
// without them), and append operands whose every element expired (partly expired operands
// wait until they are merged into a value). Safe for restores: a checkpoint's files are
// never compacted again, and a snapshot records a TTL watermark no smaller than any a
// compaction before it used.
class TtlCompactionFilter : public rocksdb::CompactionFilter {
 public:
  TtlCompactionFilter(TtlLayout layout, int64_t wm) : layout_(layout), wm_(wm) {}
  Decision FilterV2(int, const rocksdb::Slice&, ValueType type, const rocksdb::Slice& value, std::string* new_value,
                    std::string*) const override {
    if (type == ValueType::kBlobIndex) return Decision::kKeep;
    switch (JudgeTtl(layout_, std::string_view(value.data(), value.size()), wm_, new_value)) {
      case TtlVerdict::kDrop:
        return Decision::kRemove;
      case TtlVerdict::kRewrite:
        return type == ValueType::kValue ? Decision::kChangeValue : Decision::kKeep;
      case TtlVerdict::kKeep:
        break;
    }
    return Decision::kKeep;
  }
  const char* Name() const override { return "kappa.event-time-ttl"; }

 private:
  TtlLayout layout_;
  int64_t wm_;
};

}  // namespace

// What the compaction filters of one instance need, read on RocksDB's threads.
struct RocksDbBackend::TtlShared {
  std::atomic<int64_t> watermark{std::numeric_limits<int64_t>::min()};
  std::mutex mu;
  absl::flat_hash_map<uint32_t, TtlLayout> layouts;  // by column family id
};

namespace {

class TtlFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  explicit TtlFilterFactory(std::shared_ptr<RocksDbBackend::TtlShared> shared) : shared_(std::move(shared)) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override {
    TtlLayout layout;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      auto it = shared_->layouts.find(context.column_family_id);
      if (it == shared_->layouts.end()) return nullptr;  // not (yet) declared: keep everything
      layout = it->second;
    }
    return std::make_unique<TtlCompactionFilter>(layout, shared_->watermark.load(std::memory_order_acquire));
  }
  const char* Name() const override { return "kappa.event-time-ttl"; }

 private:
  std::shared_ptr<RocksDbBackend::TtlShared> shared_;
};

rocksdb::ColumnFamilyOptions FamilyOptions(const RocksDbResources& r, std::shared_ptr<RocksDbBackend::TtlShared> ttl) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = r.block_cache();
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.merge_operator = std::make_shared<AppendOperator>();
  cf.compaction_filter_factory = std::make_shared<TtlFilterFactory>(std::move(ttl));
  cf.write_buffer_size = size_t{32} << 20;
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  return cf;
}

}  // namespace

absl::Status FromRocksDb(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(context, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNoSpace() || s.IsMemoryLimit()) return absl::ResourceExhaustedError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::InternalError(msg);
}

std::shared_ptr<RocksDbResources> RocksDbResources::Create(const RocksDbOptions& options) {
  auto r = std::shared_ptr<RocksDbResources>(new RocksDbResources());
  r->block_cache_ = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Memtables are charged to the block cache, so cache + memtables stay within one budget.
  r->write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes, r->block_cache_);
  return r;
}

absl::StatusOr<std::unique_ptr<RocksDbBackend>> RocksDbBackend::Open(const std::string& dir,
                                                                     std::shared_ptr<RocksDbResources> resources) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create state directory ", dir, ": ", ec.message()));
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.write_buffer_manager = resources->write_buffers();
  db_options.max_background_jobs = 2;
  db_options.max_open_files = 256;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;

  std::vector<std::string> families;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, dir, &families);
  if (!listed.ok()) families = {rocksdb::kDefaultColumnFamilyName};
  auto ttl = std::make_shared<TtlShared>();
  rocksdb::ColumnFamilyOptions cf_options = FamilyOptions(*resources, ttl);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, cf_options);

  auto backend = std::unique_ptr<RocksDbBackend>(new RocksDbBackend());
  backend->dir_ = dir;
  backend->resources_ = std::move(resources);
  backend->ttl_ = std::move(ttl);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &backend->db_);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("cannot open state in ", dir));
  for (size_t i = 0; i < handles.size(); ++i) {
    if (families[i] == rocksdb::kDefaultColumnFamilyName) {
      backend->db_->DestroyColumnFamilyHandle(handles[i]);
      continue;
    }
    backend->ids_[families[i]] = static_cast<TableId>(backend->handles_.size());
    backend->handles_.push_back(handles[i]);
    backend->tables_.push_back({families[i], TableKind::kOrdered});
  }
  return backend;
}

RocksDbBackend::~RocksDbBackend() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  (void)db_->Close();
  delete db_;
}

absl::StatusOr<TableId> RocksDbBackend::RegisterTable(const std::string& name, TableKind kind) {
  auto it = ids_.find(name);
  if (it != ids_.end()) {
    tables_[it->second].kind = kind;  // reopened tables learn their kind on first use
    return it->second;
  }
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status s = db_->CreateColumnFamily(FamilyOptions(*resources_, ttl_), name, &handle);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("cannot create state table ", name, " in ", dir_));
  TableId id = static_cast<TableId>(handles_.size());
  handles_.push_back(handle);
  tables_.push_back({name, kind});
  ids_[name] = id;
  return id;
}

namespace {
rocksdb::WriteOptions NoWal() {
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  return w;
}
}  // namespace

absl::Status RocksDbBackend::Get(TableId table, std::string_view key, std::string* value) {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[table], ToSlice(key), value);
  if (s.IsNotFound()) return absl::NotFoundError("");
  return FromRocksDb(s, dir_);
}

absl::Status RocksDbBackend::Put(TableId table, std::string_view key, std::string_view value) {
  return FromRocksDb(db_->Put(NoWal(), handles_[table], ToSlice(key), ToSlice(value)), dir_);
}

absl::Status RocksDbBackend::Append(TableId table, std::string_view key, std::string_view element) {
  scratch_.clear();
  kappa::internal::WriteVarint(element.size(), &scratch_);
  scratch_.append(element);
  return FromRocksDb(db_->Merge(NoWal(), handles_[table], ToSlice(key), ToSlice(scratch_)), dir_);
}

absl::Status RocksDbBackend::AppendEncoded(TableId table, std::string_view key, std::string_view elements) {
  return FromRocksDb(db_->Merge(NoWal(), handles_[table], ToSlice(key), ToSlice(elements)), dir_);
}

absl::Status RocksDbBackend::Delete(TableId table, std::string_view key) {
  return FromRocksDb(db_->Delete(NoWal(), handles_[table], ToSlice(key)), dir_);
}

std::unique_ptr<StateIterator> RocksDbBackend::Scan(TableId table, std::string_view prefix) {
  return std::make_unique<RocksIterator>(db_->NewIterator(rocksdb::ReadOptions(), handles_[table]), prefix);
}

std::vector<TableInfo> RocksDbBackend::Tables() const { return tables_; }

absl::StatusOr<std::vector<std::string>> RocksDbBackend::Snapshot(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_, &raw);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("cannot snapshot ", dir_));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) return FromRocksDb(s, absl::StrCat("cannot write state snapshot to ", dir));
  KAPPA_RETURN_IF_ERROR(WriteSnapshotFile(dir, kTablesFile, EncodeTables(tables_)));
  if (has_ttl_) KAPPA_RETURN_IF_ERROR(WriteSnapshotFile(dir, kTtlWatermarkFile, std::to_string(ttl_watermark())));
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void RocksDbBackend::SetTtl(TableId table, TtlLayout layout) {
  std::lock_guard<std::mutex> lock(ttl_->mu);
  ttl_->layouts[handles_[table]->GetID()] = layout;
  has_ttl_ = true;
}

void RocksDbBackend::AdvanceTtlWatermark(int64_t wm) {
  if (RaiseTtlWatermark(wm)) ttl_->watermark.store(ttl_watermark(), std::memory_order_release);
}

absl::Status RocksDbBackend::Compact() {
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    KAPPA_RETURN_IF_ERROR(FromRocksDb(db_->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr),
                                      absl::StrCat("cannot compact ", dir_)));
  }
  return absl::OkStatus();
}

int64_t RocksDbBackend::ApproximateKeys(TableId table) {
  uint64_t n = 0;
  db_->GetIntProperty(handles_[table], "rocksdb.estimate-num-keys", &n);
  return static_cast<int64_t>(n);
}

BackendUsage RocksDbBackend::Usage() {
  BackendUsage u;
  u.entries = 0;
  u.bytes = 0;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    uint64_t keys = 0, live = 0, mem = 0;
    db_->GetIntProperty(h, "rocksdb.estimate-num-keys", &keys);
    db_->GetIntProperty(h, "rocksdb.estimate-live-data-size", &live);
    db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &mem);
    u.entries += static_cast<int64_t>(keys);
    u.bytes += static_cast<int64_t>(live + mem);
  }
  return u;
}

}  // namespace kappa::state
