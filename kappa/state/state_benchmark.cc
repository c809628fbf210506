// State backend micro-benchmarks: what keyed state, checkpoints and restores cost on each
// backend, each beside the same work done directly on RocksDB or in a hash map, measured in
// the same run (DESIGN §8): the ratio, not either figure alone, carries the claim.
//
//   BM_ValueStateGetPut/<backend>/<keys>  ValueState<int64_t> read-modify-write per record,
//                                         uniform random keys, key set via KeyContext
//   BM_RawRocksDbGetPut/<keys>            the same Get + Put on a rocksdb::DB of our own,
//                                         same options and key bytes, WAL off
//   BM_RawHashMap/<keys>                  ++counts[key] on absl::flat_hash_map<int64_t, int64_t>
//   BM_ListStateAppend/<backend>/<keys>   ListState<int64_t>::Add per record
//   BM_RawRocksDbMerge/<keys>             a raw Merge with the same append operator
//   BM_ListStateRead/<backend>/<n>        ListState<int64_t>::Get of one list of n appends
//   BM_RawRocksDbListRead/<op>/<n>        the same with DB::Get, with the one-pass append
//                                         operator and with the old pairwise one
//   BM_Checkpoint/<variant>/<keys>        first (full) and incremental (after updating 1% of
//                                         keys) RocksDB snapshots, the same through a raw
//                                         rocksdb::Checkpoint, and the heap snapshot
//   BM_CheckpointWriteFsync/<keys>        writing and fsyncing the heap snapshot's bytes
//   BM_Restore/<from>_to_<to>_<share>/<keys>  RestoreSnapshot into a fresh backend, full key
//                                         range and one third of the key groups (1 → 3)
//   BM_Restore/raw_*/<keys>               the same restore done by hand on RocksDB
//
// State lives under /tmp/kappa-statebench-<pid>, removed when the run ends. The per-record benchmarks
// populate every key before timing (reads always hit) and keep that state across Google
// Benchmark's trial runs; afterwards they replay the seeded key sequence and compare a
// sample of stored values against it, so a backend that loses writes is an error, not a
// time. Checkpoint and restore benchmarks run a fixed number of iterations with manual
// timing around the one call measured, and wait for RocksDB's background flushes and
// compactions before each (so byte counts are reproducible). Their counters: bytes_total
// (size of the checkpoint directory), bytes_new (bytes in files that do not share an inode
// with the previous checkpoint: what an incremental upload would send), files,
// files_shared.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "kappa/base/status.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_buffer_manager.h"
#include "kappa/state/backend.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/keyed_state.h"
#include "kappa/state/rocksdb_backend.h"
#include "kappa/state/serializer.h"

namespace kappa::bench {
namespace {

namespace fs = std::filesystem;
using state::KeyedStateBackend;
using state::TableId;

constexpr int kMaxParallelism = state::kDefaultMaxParallelism;
constexpr uint64_t kSeed = 0x5eedULL;
constexpr char kTable[] = "op/count";  // as RuntimeContext names tables: operator prefix / state
constexpr int kSampledKeys = 256;      // values compared against the replayed sequence

// kRocksDbCached: RocksDB behind the write-back cache runs use (state/caching_backend.h),
// with the budget one stateful task of a default run gets when it is the only one.
enum class Backend { kHeap, kRocksDb, kRocksDbCached };
constexpr size_t kCacheBytes = size_t{256} << 20;

// ---------------------------------------------------------------------------------------
// Shared plumbing.

// splitmix64: a fast, seeded key sequence shared by the engine and baseline loops.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by multiply-shift.
  int64_t Uniform(int64_t n) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(Next()) * static_cast<uint64_t>(n)) >> 64);
  }

 private:
  uint64_t s_;
};

// Sets the current key as a keyed operator does (operators/keyed.h, KeyScope::SetFromKey).
void SetKey(int64_t key, std::string* buf, state::KeyContext* ctx) {
  buf->clear();
  Serializer<int64_t>::Write(key, buf);
  ctx->Set(*buf, state::KeyGroupFor(*buf, kMaxParallelism));
}

// The bytes the backend stores for ValueState/ListState key `key` in the empty namespace:
// [key group, 2 bytes big-endian][int64 key, native][varint(0)]. The raw baselines use the
// same bytes so the two stores hold identical data.
constexpr size_t kRawKeySize = 11;
void EncodeRawKey(int64_t key, char* out) {
  char bytes[8];
  std::memcpy(bytes, &key, sizeof(key));
  int kg = state::KeyGroupFor(std::string_view(bytes, 8), kMaxParallelism);
  out[0] = static_cast<char>((kg >> 8) & 0xff);
  out[1] = static_cast<char>(kg & 0xff);
  std::memcpy(out + 2, bytes, 8);
  out[10] = 0;
}

// SkipWithError keeps the pointer, not a copy: the message must outlive the run.
void Fail(benchmark::State& state, const std::string& message) {
  static std::string stored;
  stored = message;
  state.SkipWithError(stored.c_str());
}
bool Check(benchmark::State& state, const absl::Status& status) {
  if (!status.ok()) Fail(state, status.ToString());
  return status.ok();
}

double Seconds(std::chrono::steady_clock::time_point from) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
}

// Scratch space for the whole process: /tmp/kappa-statebench-<pid>, plus the prepared
// state of the benchmark running now. Google Benchmark calls a benchmark function once per
// trial iteration count; the state is kept across those calls and dropped when another
// benchmark asks, so at most one large state is alive at a time. main clears it.
class Workspace {
 public:
  struct Env {
    virtual ~Env() = default;
  };

  static Workspace& Get() {
    static Workspace workspace;
    return workspace;
  }
  // Closes the kept state and removes the directory. Called from main: at static
  // destruction RocksDB's own statics (its periodic task scheduler) may be gone already.
  void Clear() {
    env_.reset();
    env_id_.clear();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A path under the root that does not exist yet.
  std::string NewPath(const std::string& name) { return absl::StrCat(root_, "/", name, "-", next_++); }

  template <typename T>
  T* GetEnv(const std::string& id, const std::function<std::unique_ptr<T>()>& make) {
    if (env_id_ != id) {
      env_.reset();  // free the previous benchmark's state before building the next
      env_ = make();
      env_id_ = id;
    }
    return static_cast<T*>(env_.get());
  }

 private:
  Workspace() : root_(absl::StrCat("/tmp/kappa-statebench-", getpid())) {
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::create_directories(root_, ec);
  }
  std::string root_;
  int next_ = 0;
  std::string env_id_;
  std::unique_ptr<Env> env_;
};

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Same as rocksdb_backend.cc's AppendOperator: operands are varint(len) + bytes already,
// and a merge concatenates them all in one pass.
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

// The same append as a pairwise AssociativeMergeOperator, as the backend had it before: each
// operand copies the list built so far, so reading n appends copies O(n^2) bytes. Kept as a
// baseline for BM_ListStateRead, to show what the one-pass operator saves.
class PairwiseAppendOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    new_value->clear();
    if (existing != nullptr) new_value->assign(existing->data(), existing->size());
    new_value->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "kappa.append"; }
};

// A RocksDB instance opened directly, with the options RocksDbBackend::Open and
// FamilyOptions (rocksdb_backend.cc) use and a cache and write-buffer budget of the same
// size, and one column family for the state table: the baselines' storage is the backend's.
class RawDb {
 public:
  static absl::StatusOr<std::unique_ptr<RawDb>> Open(const std::string& dir, const state::RocksDbOptions& sizes,
                                                      std::shared_ptr<rocksdb::MergeOperator> merge = nullptr) {
    auto raw = std::unique_ptr<RawDb>(new RawDb());
    raw->cache_ = rocksdb::NewLRUCache(sizes.block_cache_bytes);
    raw->write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(sizes.write_buffer_bytes, raw->cache_);
    rocksdb::DBOptions db;
    db.create_if_missing = true;
    db.create_missing_column_families = true;
    db.write_buffer_manager = raw->write_buffers_;
    db.max_background_jobs = 2;
    db.max_open_files = 256;
    db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    db.keep_log_file_num = 2;

    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = raw->cache_;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.cache_index_and_filter_blocks = true;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf.merge_operator = merge != nullptr ? std::move(merge) : std::make_shared<AppendOperator>();
    cf.write_buffer_size = size_t{32} << 20;
    cf.compression = rocksdb::kLZ4Compression;
    cf.bottommost_compression = rocksdb::kZSTD;

    std::vector<std::string> families;
    if (!rocksdb::DB::ListColumnFamilies(db, dir, &families).ok()) families = {rocksdb::kDefaultColumnFamilyName};
    if (std::find(families.begin(), families.end(), kTable) == families.end()) families.push_back(kTable);
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& f : families) descriptors.emplace_back(f, cf);
    rocksdb::Status s = rocksdb::DB::Open(db, dir, descriptors, &raw->handles_, &raw->db_);
    if (!s.ok()) return state::FromRocksDb(s, dir);
    for (size_t i = 0; i < families.size(); ++i) {
      if (families[i] == kTable) raw->cf_ = raw->handles_[i];
    }
    return raw;
  }
  ~RawDb() {
    if (db_ == nullptr) return;
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
    delete db_;
  }
  rocksdb::DB* db() { return db_; }
  rocksdb::ColumnFamilyHandle* cf() { return cf_; }

 private:
  RawDb() = default;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* cf_ = nullptr;
};

rocksdb::WriteOptions NoWal() {
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  return w;
}

// Waits until `db` has no flush or compaction pending or running, so what a checkpoint
// finds on disk does not depend on how far background work got.
void WaitForBackgroundWork(rocksdb::DB* db) {
  for (;;) {
    uint64_t pending = 0, compactions = 0, flushes = 0;
    db->GetAggregatedIntProperty("rocksdb.compaction-pending", &pending);
    db->GetAggregatedIntProperty("rocksdb.num-running-compactions", &compactions);
    db->GetAggregatedIntProperty("rocksdb.num-running-flushes", &flushes);
    uint64_t unflushed = 0;
    db->GetAggregatedIntProperty("rocksdb.num-immutable-mem-table", &unflushed);
    if (pending + compactions + flushes + unflushed == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

absl::StatusOr<std::unique_ptr<KeyedStateBackend>> MakeBackend(Backend kind, const std::string& dir) {
  if (kind == Backend::kHeap) return std::unique_ptr<KeyedStateBackend>(state::HeapBackend::Create());
  KAPPA_ASSIGN_OR_RETURN(auto rocks, state::RocksDbBackend::Open(dir, state::RocksDbResources::Create({})));
  if (kind == Backend::kRocksDbCached) return state::CachingBackend::Create(std::move(rocks), kCacheBytes);
  return std::unique_ptr<KeyedStateBackend>(std::move(rocks));
}

rocksdb::DB* DbOf(KeyedStateBackend* backend) {
  if (auto* cache = dynamic_cast<state::CachingBackend*>(backend)) backend = cache->inner();
  return static_cast<state::RocksDbBackend*>(backend)->db();
}

// ---------------------------------------------------------------------------------------
// 1. ValueState read-modify-write.

// The counts each key should hold after the run: replays the sequence the loop drew.
class Expected {
 public:
  explicit Expected(int64_t keys) : counts_(static_cast<size_t>(keys), 0) {}
  void Replay(Rng rng, int64_t draws) {
    const int64_t keys = static_cast<int64_t>(counts_.size());
    for (int64_t i = 0; i < draws; ++i) ++counts_[static_cast<size_t>(rng.Uniform(keys))];
  }
  int64_t count(int64_t key) const { return counts_[static_cast<size_t>(key)]; }
  // Keys to compare, spread over the key space.
  std::vector<int64_t> Sample() const {
    std::vector<int64_t> out;
    const int64_t keys = static_cast<int64_t>(counts_.size());
    for (int i = 0; i < kSampledKeys && i < keys; ++i) out.push_back(i * keys / std::min<int64_t>(kSampledKeys, keys));
    return out;
  }

 private:
  std::vector<int64_t> counts_;
};

struct CounterEnv : Workspace::Env {
  explicit CounterEnv(int64_t n) : keys(n), expected(n) {}
  ~CounterEnv() override {
    backend.reset();
    raw.reset();
    if (!dir.empty()) RemoveDir(dir);
  }
  int64_t keys;
  absl::Status status;
  std::string dir;
  std::unique_ptr<KeyedStateBackend> backend;  // engine runs
  TableId table = -1;
  std::unique_ptr<RawDb> raw;                  // raw RocksDB runs
  absl::flat_hash_map<int64_t, int64_t> map;   // raw hash-map runs
  Rng rng{kSeed};
  Expected expected;
};

// Every key holds 0 before the first timed record (values are counts since population).
std::unique_ptr<CounterEnv> MakeCounterEnv(int64_t keys, const std::function<absl::Status(CounterEnv*)>& fill) {
  auto env = std::make_unique<CounterEnv>(keys);
  env->status = fill(env.get());
  return env;
}

absl::Status FillBackend(CounterEnv* env, Backend kind, state::TableKind table_kind, bool zero_values) {
  env->dir = Workspace::Get().NewPath("values");
  KAPPA_ASSIGN_OR_RETURN(env->backend, MakeBackend(kind, env->dir));
  KAPPA_ASSIGN_OR_RETURN(env->table, env->backend->RegisterTable(kTable, table_kind));
  if (!zero_values) return absl::OkStatus();
  state::KeyContext ctx;
  std::string buf;
  ValueState<int64_t> value(env->backend.get(), env->table, &ctx);
  try {
    for (int64_t k = 0; k < env->keys; ++k) {
      SetKey(k, &buf, &ctx);
      value.Update(0);
    }
  } catch (const StateError& e) {
    return e.status();
  }
  // The raw baseline is filled with the same writes in the same order, so both start
  // from the same memtable and files once background work has finished.
  // Cached: every value starts in RocksDB (written back), and the cache as the writes left it.
  if (kind == Backend::kRocksDbCached) {
    KAPPA_RETURN_IF_ERROR(static_cast<state::CachingBackend*>(env->backend.get())->Flush());
  }
  if (kind != Backend::kHeap) WaitForBackgroundWork(DbOf(env->backend.get()));
  return absl::OkStatus();
}

absl::Status FillRaw(CounterEnv* env, bool zero_values) {
  env->dir = Workspace::Get().NewPath("raw-values");
  KAPPA_ASSIGN_OR_RETURN(env->raw, RawDb::Open(env->dir, {}));
  if (!zero_values) return absl::OkStatus();
  char key[kRawKeySize];
  const int64_t zero = 0;
  for (int64_t k = 0; k < env->keys; ++k) {
    EncodeRawKey(k, key);
    rocksdb::Status s = env->raw->db()->Put(NoWal(), env->raw->cf(), rocksdb::Slice(key, kRawKeySize),
                                            rocksdb::Slice(reinterpret_cast<const char*>(&zero), sizeof(zero)));
    if (!s.ok()) return state::FromRocksDb(s, "populate");
  }
  WaitForBackgroundWork(env->raw->db());
  return absl::OkStatus();
}

// Compares the sampled keys' stored counts with the replayed sequence.
bool VerifyCounts(benchmark::State& state, const CounterEnv& env, const std::function<int64_t(int64_t)>& stored) {
  for (int64_t k : env.expected.Sample()) {
    int64_t got = stored(k);
    if (got != env.expected.count(k)) {
      Fail(state, absl::StrCat("key ", k, " holds ", got, ", expected ", env.expected.count(k)));
      return false;
    }
  }
  return true;
}

void BM_ValueStateGetPut(benchmark::State& state, Backend kind) {
  const int64_t keys = state.range(0);
  auto* env = Workspace::Get().GetEnv<CounterEnv>(
      absl::StrCat("value/", static_cast<int>(kind), "/", keys), [&] {
        return MakeCounterEnv(keys, [&](CounterEnv* e) { return FillBackend(e, kind, state::TableKind::kPoint, true); });
      });
  if (!Check(state, env->status)) return;
  state::KeyContext ctx;
  std::string key_buf;
  ValueState<int64_t> count(env->backend.get(), env->table, &ctx);
  const Rng start = env->rng;
  Rng rng = start;
  try {
    for (auto _ : state) {
      SetKey(rng.Uniform(keys), &key_buf, &ctx);
      count.Update(count.ValueOr(0) + 1);
    }
  } catch (const StateError& e) {
    Fail(state, e.status().ToString());
    return;
  }
  env->rng = rng;
  env->expected.Replay(start, static_cast<int64_t>(state.iterations()));
  VerifyCounts(state, *env, [&](int64_t k) {
    SetKey(k, &key_buf, &ctx);
    return count.ValueOr(-1);
  });
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RawRocksDbGetPut(benchmark::State& state) {
  const int64_t keys = state.range(0);
  auto* env = Workspace::Get().GetEnv<CounterEnv>(absl::StrCat("raw-value/", keys), [&] {
    return MakeCounterEnv(keys, [&](CounterEnv* e) { return FillRaw(e, true); });
  });
  if (!Check(state, env->status)) return;
  rocksdb::DB* db = env->raw->db();
  rocksdb::ColumnFamilyHandle* cf = env->raw->cf();
  const rocksdb::WriteOptions write = NoWal();
  const rocksdb::ReadOptions read;
  char key[kRawKeySize];
  std::string value;
  const Rng start = env->rng;
  Rng rng = start;
  for (auto _ : state) {
    EncodeRawKey(rng.Uniform(keys), key);
    rocksdb::Slice k(key, kRawKeySize);
    int64_t n = 0;
    rocksdb::Status s = db->Get(read, cf, k, &value);
    if (s.ok() && value.size() == sizeof(n)) {
      std::memcpy(&n, value.data(), sizeof(n));
    } else if (!s.IsNotFound()) {
      Check(state, state::FromRocksDb(s.ok() ? rocksdb::Status::Corruption("bad value") : s, "get"));
      return;
    }
    ++n;
    s = db->Put(write, cf, k, rocksdb::Slice(reinterpret_cast<const char*>(&n), sizeof(n)));
    if (!s.ok()) {
      Check(state, state::FromRocksDb(s, "put"));
      return;
    }
  }
  env->rng = rng;
  env->expected.Replay(start, static_cast<int64_t>(state.iterations()));
  VerifyCounts(state, *env, [&](int64_t k) {
    EncodeRawKey(k, key);
    int64_t n = -1;
    if (db->Get(read, cf, rocksdb::Slice(key, kRawKeySize), &value).ok() && value.size() == sizeof(n)) {
      std::memcpy(&n, value.data(), sizeof(n));
    }
    return n;
  });
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RawHashMap(benchmark::State& state) {
  const int64_t keys = state.range(0);
  auto* env = Workspace::Get().GetEnv<CounterEnv>(absl::StrCat("raw-map/", keys), [&] {
    return MakeCounterEnv(keys, [&](CounterEnv* e) {
      for (int64_t k = 0; k < e->keys; ++k) e->map[k] = 0;
      return absl::OkStatus();
    });
  });
  auto& counts = env->map;
  const Rng start = env->rng;
  Rng rng = start;
  for (auto _ : state) ++counts[rng.Uniform(keys)];
  env->rng = rng;
  env->expected.Replay(start, static_cast<int64_t>(state.iterations()));
  VerifyCounts(state, *env, [&](int64_t k) {
    auto it = counts.find(k);
    return it == counts.end() ? int64_t{-1} : it->second;
  });
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ---------------------------------------------------------------------------------------
// 2. ListState append.

// Number of elements in an encoded list, or -1 if it is malformed.
int64_t CountElements(std::string_view list) {
  int64_t n = 0;
  return state::ForEachListElement(list, [&](std::string_view) { ++n; }) ? n : -1;
}

void BM_ListStateAppend(benchmark::State& state, Backend kind) {
  const int64_t keys = state.range(0);
  auto* env = Workspace::Get().GetEnv<CounterEnv>(
      absl::StrCat("list/", static_cast<int>(kind), "/", keys), [&] {
        return MakeCounterEnv(keys, [&](CounterEnv* e) { return FillBackend(e, kind, state::TableKind::kPoint, false); });
      });
  if (!Check(state, env->status)) return;
  state::KeyContext ctx;
  std::string key_buf;
  ListState<int64_t> list(env->backend.get(), env->table, &ctx);
  const Rng start = env->rng;
  Rng rng = start;
  int64_t element = 0;
  try {
    for (auto _ : state) {
      SetKey(rng.Uniform(keys), &key_buf, &ctx);
      list.Add(element++);
    }
  } catch (const StateError& e) {
    Fail(state, e.status().ToString());
    return;
  }
  env->rng = rng;
  env->expected.Replay(start, static_cast<int64_t>(state.iterations()));
  VerifyCounts(state, *env, [&](int64_t k) {
    SetKey(k, &key_buf, &ctx);
    return static_cast<int64_t>(list.Get().size());
  });
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RawRocksDbMerge(benchmark::State& state) {
  const int64_t keys = state.range(0);
  auto* env = Workspace::Get().GetEnv<CounterEnv>(absl::StrCat("raw-list/", keys), [&] {
    return MakeCounterEnv(keys, [&](CounterEnv* e) { return FillRaw(e, false); });
  });
  if (!Check(state, env->status)) return;
  rocksdb::DB* db = env->raw->db();
  rocksdb::ColumnFamilyHandle* cf = env->raw->cf();
  const rocksdb::WriteOptions write = NoWal();
  char key[kRawKeySize];
  char operand[1 + sizeof(int64_t)];
  operand[0] = sizeof(int64_t);  // varint(8)
  const Rng start = env->rng;
  Rng rng = start;
  int64_t element = 0;
  for (auto _ : state) {
    EncodeRawKey(rng.Uniform(keys), key);
    std::memcpy(operand + 1, &element, sizeof(element));
    ++element;
    rocksdb::Status s = db->Merge(write, cf, rocksdb::Slice(key, kRawKeySize), rocksdb::Slice(operand, sizeof(operand)));
    if (!s.ok()) {
      Check(state, state::FromRocksDb(s, "merge"));
      return;
    }
  }
  env->rng = rng;
  env->expected.Replay(start, static_cast<int64_t>(state.iterations()));
  std::string value;
  VerifyCounts(state, *env, [&](int64_t k) {
    EncodeRawKey(k, key);
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(key, kRawKeySize), &value);
    if (s.IsNotFound()) return int64_t{0};
    return s.ok() ? CountElements(value) : int64_t{-1};
  });
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Reading one list of n elements appended one at a time (still n merge operands in the
// memtable, as a window's recent contents are) and decoding it into a vector.
struct ListReadEnv : Workspace::Env {
  ~ListReadEnv() override {
    backend.reset();
    raw.reset();
    if (!dir.empty()) RemoveDir(dir);
  }
  absl::Status status;
  std::string dir;
  std::unique_ptr<KeyedStateBackend> backend;
  TableId table = -1;
  std::unique_ptr<RawDb> raw;
};

constexpr int64_t kListKey = 42;

std::unique_ptr<ListReadEnv> MakeListReadEnv(int64_t n, std::optional<Backend> kind, bool pairwise) {
  auto env = std::make_unique<ListReadEnv>();
  env->status = [&]() -> absl::Status {
    env->dir = Workspace::Get().NewPath("list-read");
    if (kind.has_value()) {
      KAPPA_ASSIGN_OR_RETURN(env->backend, MakeBackend(*kind, env->dir));
      KAPPA_ASSIGN_OR_RETURN(env->table, env->backend->RegisterTable(kTable, state::TableKind::kPoint));
      state::KeyContext ctx;
      std::string buf;
      SetKey(kListKey, &buf, &ctx);
      ListState<int64_t> list(env->backend.get(), env->table, &ctx);
      try {
        for (int64_t i = 0; i < n; ++i) list.Add(i);
      } catch (const StateError& e) {
        return e.status();
      }
      return absl::OkStatus();
    }
    std::shared_ptr<rocksdb::MergeOperator> op;
    if (pairwise) op = std::make_shared<PairwiseAppendOperator>();
    KAPPA_ASSIGN_OR_RETURN(env->raw, RawDb::Open(env->dir, {}, std::move(op)));
    char key[kRawKeySize];
    EncodeRawKey(kListKey, key);
    char operand[1 + sizeof(int64_t)];
    operand[0] = sizeof(int64_t);
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(operand + 1, &i, sizeof(i));
      KAPPA_RETURN_IF_ERROR(state::FromRocksDb(
          env->raw->db()->Merge(NoWal(), env->raw->cf(), rocksdb::Slice(key, kRawKeySize),
                                rocksdb::Slice(operand, sizeof(operand))),
          "merge"));
    }
    return absl::OkStatus();
  }();
  return env;
}

void BM_ListStateRead(benchmark::State& state, Backend kind) {
  const int64_t n = state.range(0);
  auto* env = Workspace::Get().GetEnv<ListReadEnv>(absl::StrCat("list-read/", static_cast<int>(kind), "/", n),
                                                   [&] { return MakeListReadEnv(n, kind, false); });
  if (!Check(state, env->status)) return;
  state::KeyContext ctx;
  std::string buf;
  SetKey(kListKey, &buf, &ctx);
  ListState<int64_t> list(env->backend.get(), env->table, &ctx);
  std::vector<int64_t> got;
  try {
    for (auto _ : state) {
      got = list.Get();
      benchmark::DoNotOptimize(std::as_const(got).data());
    }
  } catch (const StateError& e) {
    Fail(state, e.status().ToString());
    return;
  }
  if (static_cast<int64_t>(got.size()) != n || got.back() != n - 1) {
    Fail(state, absl::StrCat("read ", got.size(), " elements, expected ", n));
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

// The same read done directly: rocksdb::DB::Get, then decoding by hand. `pairwise` uses the
// pairwise append operator the backend had before.
void BM_RawRocksDbListRead(benchmark::State& state, bool pairwise) {
  const int64_t n = state.range(0);
  auto* env = Workspace::Get().GetEnv<ListReadEnv>(absl::StrCat("raw-list-read/", pairwise, "/", n),
                                                   [&] { return MakeListReadEnv(n, std::nullopt, pairwise); });
  if (!Check(state, env->status)) return;
  char key[kRawKeySize];
  EncodeRawKey(kListKey, key);
  std::string value;
  std::vector<int64_t> got;
  for (auto _ : state) {
    rocksdb::Status s = env->raw->db()->Get(rocksdb::ReadOptions(), env->raw->cf(), rocksdb::Slice(key, kRawKeySize), &value);
    if (!s.ok()) {
      Check(state, state::FromRocksDb(s, "get"));
      return;
    }
    got.clear();
    bool ok = state::ForEachListElement(value, [&](std::string_view e) {
      int64_t v = 0;
      if (e.size() == sizeof(v)) std::memcpy(&v, e.data(), sizeof(v));
      got.push_back(v);
    });
    if (!ok) {
      Fail(state, "malformed list");
      return;
    }
    benchmark::DoNotOptimize(std::as_const(got).data());
  }
  if (static_cast<int64_t>(got.size()) != n || got.back() != n - 1) {
    Fail(state, absl::StrCat("read ", got.size(), " elements, expected ", n));
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

// ---------------------------------------------------------------------------------------
// 3. Checkpoints.

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator==(const FileId& o) const { return dev == o.dev && ino == o.ino; }
  template <typename H>
  friend H AbslHashValue(H h, const FileId& f) {
    return H::combine(std::move(h), f.dev, f.ino);
  }
};

// Sizes of one checkpoint directory, and which of its files it shares (by inode, i.e.
// hard links) with the previous checkpoint's.
struct DirStats {
  int64_t bytes_total = 0;
  int64_t bytes_new = 0;
  int64_t files = 0;
  int64_t files_shared = 0;
  absl::flat_hash_set<FileId> inodes;
};

absl::StatusOr<DirStats> StatDir(const std::string& dir, const absl::flat_hash_set<FileId>* previous) {
  DirStats out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st;
    if (::stat(entry.path().c_str(), &st) != 0) return absl::UnavailableError(absl::StrCat("stat ", entry.path().string()));
    if (!S_ISREG(st.st_mode)) continue;
    FileId id{st.st_dev, st.st_ino};
    out.inodes.insert(id);
    ++out.files;
    out.bytes_total += st.st_size;
    if (previous != nullptr && previous->contains(id)) {
      ++out.files_shared;
    } else {
      out.bytes_new += st.st_size;
    }
  }
  if (ec) return absl::UnavailableError(absl::StrCat("list ", dir, ": ", ec.message()));
  return out;
}

// A store the checkpoint benchmarks fill, update and snapshot: a Kappa backend, or a raw
// RocksDB instance snapshotted with rocksdb::Checkpoint directly.
class Store {
 public:
  virtual ~Store() = default;
  virtual absl::Status Put(int64_t key, int64_t value) = 0;
  virtual absl::Status Snapshot(const std::string& dir) = 0;
  virtual rocksdb::DB* db() = 0;  // nullptr for the heap
};

class BackendStore : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Create(Backend kind, const std::string& dir) {
    auto store = std::unique_ptr<BackendStore>(new BackendStore());
    KAPPA_ASSIGN_OR_RETURN(store->backend_, MakeBackend(kind, dir));
    KAPPA_ASSIGN_OR_RETURN(store->table_, store->backend_->RegisterTable(kTable, state::TableKind::kPoint));
    store->value_ = ValueState<int64_t>(store->backend_.get(), store->table_, &store->ctx_);
    store->rocks_ = kind == Backend::kRocksDb ? static_cast<state::RocksDbBackend*>(store->backend_.get()) : nullptr;
    return std::unique_ptr<Store>(std::move(store));
  }
  absl::Status Put(int64_t key, int64_t value) override {
    SetKey(key, &buf_, &ctx_);
    try {
      value_.Update(value);
    } catch (const StateError& e) {
      return e.status();
    }
    return absl::OkStatus();
  }
  absl::Status Snapshot(const std::string& dir) override { return backend_->Snapshot(dir).status(); }
  rocksdb::DB* db() override { return rocks_ == nullptr ? nullptr : rocks_->db(); }

 private:
  BackendStore() = default;
  std::unique_ptr<KeyedStateBackend> backend_;
  state::RocksDbBackend* rocks_ = nullptr;
  TableId table_ = -1;
  state::KeyContext ctx_;
  std::string buf_;
  ValueState<int64_t> value_;
};

class RawStore : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Create(const std::string& dir) {
    auto store = std::unique_ptr<RawStore>(new RawStore());
    KAPPA_ASSIGN_OR_RETURN(store->raw_, RawDb::Open(dir, {}));
    return std::unique_ptr<Store>(std::move(store));
  }
  absl::Status Put(int64_t key, int64_t value) override {
    char k[kRawKeySize];
    EncodeRawKey(key, k);
    return state::FromRocksDb(raw_->db()->Put(NoWal(), raw_->cf(), rocksdb::Slice(k, kRawKeySize),
                                              rocksdb::Slice(reinterpret_cast<const char*>(&value), sizeof(value))),
                              "put");
  }
  absl::Status Snapshot(const std::string& dir) override {
    rocksdb::Checkpoint* raw = nullptr;
    KAPPA_RETURN_IF_ERROR(state::FromRocksDb(rocksdb::Checkpoint::Create(raw_->db(), &raw), "checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    return state::FromRocksDb(checkpoint->CreateCheckpoint(dir), dir);
  }
  rocksdb::DB* db() override { return raw_->db(); }

 private:
  RawStore() = default;
  std::unique_ptr<RawDb> raw_;
};

enum class CheckpointKind {
  kRocksDbFull,         // first snapshot of a freshly filled RocksDB backend
  kRawRocksDbFull,      // the same, raw rocksdb::Checkpoint
  kRocksDbIncremental,  // after updating 1% of keys since the previous snapshot
  kRawRocksDbIncremental,
  kHeap,                // heap snapshot after updating 1% of keys (always full)
};

absl::StatusOr<std::unique_ptr<Store>> MakeStore(CheckpointKind kind, const std::string& dir) {
  switch (kind) {
    case CheckpointKind::kRawRocksDbFull:
    case CheckpointKind::kRawRocksDbIncremental:
      return RawStore::Create(dir);
    case CheckpointKind::kHeap:
      return BackendStore::Create(Backend::kHeap, dir);
    default:
      return BackendStore::Create(Backend::kRocksDb, dir);
  }
}

absl::Status Fill(Store* store, int64_t keys) {
  for (int64_t k = 0; k < keys; ++k) KAPPA_RETURN_IF_ERROR(store->Put(k, k));
  return absl::OkStatus();
}

// Overwrites `fraction` of the keys, chosen at random, with new values.
absl::Status UpdateSome(Store* store, int64_t keys, double fraction, Rng& rng) {
  const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(keys) * fraction));
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = rng.Uniform(keys);
    KAPPA_RETURN_IF_ERROR(store->Put(k, k + static_cast<int64_t>(rng.Next() & 0xffff)));
  }
  return absl::OkStatus();
}

struct Totals {
  int64_t bytes_total = 0, bytes_new = 0, bytes_new_max = 0, files = 0, files_shared = 0;
  void Add(const DirStats& s) {
    bytes_total += s.bytes_total;
    bytes_new += s.bytes_new;
    bytes_new_max = std::max(bytes_new_max, s.bytes_new);
    files += s.files;
    files_shared += s.files_shared;
  }
  void Report(benchmark::State& state) const {
    using C = benchmark::Counter;
    state.counters["bytes_total"] = C(static_cast<double>(bytes_total), C::kAvgIterations, C::kIs1024);
    state.counters["bytes_new"] = C(static_cast<double>(bytes_new), C::kAvgIterations, C::kIs1024);
    state.counters["bytes_new_max"] = C(static_cast<double>(bytes_new_max), C::kDefaults, C::kIs1024);
    state.counters["files"] = C(static_cast<double>(files), C::kAvgIterations);
    state.counters["files_shared"] = C(static_cast<double>(files_shared), C::kAvgIterations);
  }
};

void BM_Checkpoint(benchmark::State& state, CheckpointKind kind) {
  const int64_t keys = state.range(0);
  Workspace& ws = Workspace::Get();
  const bool fresh_each_time = kind == CheckpointKind::kRocksDbFull || kind == CheckpointKind::kRawRocksDbFull;
  Rng rng(kSeed);
  Totals totals;
  std::string db_dir;
  std::unique_ptr<Store> store;
  std::string previous;  // the last checkpoint, whose inodes the next one is compared with
  absl::flat_hash_set<FileId> previous_inodes;
  std::string before_previous;

  auto open_and_fill = [&]() -> absl::Status {
    db_dir = ws.NewPath("checkpoint-db");
    KAPPA_ASSIGN_OR_RETURN(store, MakeStore(kind, db_dir));
    return Fill(store.get(), keys);
  };
  auto checkpoint = [&](bool timed) -> absl::Status {
    if (store->db() != nullptr) WaitForBackgroundWork(store->db());
    std::string dir = ws.NewPath("chk");
    auto t0 = std::chrono::steady_clock::now();
    KAPPA_RETURN_IF_ERROR(store->Snapshot(dir));
    if (timed) state.SetIterationTime(Seconds(t0));
    KAPPA_ASSIGN_OR_RETURN(DirStats stats, StatDir(dir, previous.empty() ? nullptr : &previous_inodes));
    if (timed) totals.Add(stats);
    // Retain the last two checkpoints, as a job retaining K=1 completed plus the one in flight.
    if (!before_previous.empty()) RemoveDir(before_previous);
    before_previous = previous;
    previous = dir;
    previous_inodes = std::move(stats.inodes);
    return absl::OkStatus();
  };
  auto clear_all = [&] {
    store.reset();
    for (const std::string& d : {db_dir, previous, before_previous}) {
      if (!d.empty()) RemoveDir(d);
    }
    previous.clear();
    before_previous.clear();
    previous_inodes.clear();
  };

  absl::Status status;
  if (!fresh_each_time) {
    status = open_and_fill();
    // The heap has nothing to share; the incremental kinds start from a first checkpoint.
    if (status.ok() && kind != CheckpointKind::kHeap) status = checkpoint(false);
  }
  for (auto _ : state) {
    if (!status.ok()) break;
    if (fresh_each_time) {
      clear_all();
      status = open_and_fill();
    } else {
      status = UpdateSome(store.get(), keys, 0.01, rng);
    }
    if (status.ok()) status = checkpoint(true);
    if (kind == CheckpointKind::kHeap && status.ok()) {
      RemoveDir(previous);  // heap snapshots share nothing: keep none
      previous.clear();
      previous_inodes.clear();
    }
  }
  clear_all();
  if (!Check(state, status)) return;
  totals.Report(state);
}

// What writing the heap snapshot costs in I/O alone: one file of the same size, written and
// fsynced, from a ready buffer.
void BM_CheckpointWriteFsync(benchmark::State& state) {
  const int64_t keys = state.range(0);
  Workspace& ws = Workspace::Get();
  // The heap snapshot's size for this many keys, measured once.
  int64_t size = 0;
  {
    auto store = BackendStore::Create(Backend::kHeap, "");
    if (!Check(state, store.status()) || !Check(state, Fill(store->get(), keys))) return;
    std::string dir = ws.NewPath("size");
    if (!Check(state, (*store)->Snapshot(dir))) return;
    auto stats = StatDir(dir, nullptr);
    if (!Check(state, stats.status())) return;
    size = stats->bytes_total;
    RemoveDir(dir);
  }
  std::string data(static_cast<size_t>(size), 'x');
  Totals totals;
  for (auto _ : state) {
    std::string dir = ws.NewPath("fsync");
    auto t0 = std::chrono::steady_clock::now();
    fs::create_directories(dir);
    std::string path = dir + "/state.bin";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;
    while (fd >= 0 && done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    bool ok = fd >= 0 && done == data.size() && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    state.SetIterationTime(Seconds(t0));
    if (!ok) {
      Fail(state, "cannot write " + path);
      return;
    }
    DirStats stats;
    stats.bytes_total = stats.bytes_new = size;
    stats.files = 1;
    totals.Add(stats);
    RemoveDir(dir);
  }
  totals.Report(state);
}

// ---------------------------------------------------------------------------------------
// 4. Restore.

// Snapshots of `keys` keys written once per size by each backend and kept for the process
// (on disk only), with the number of keys in the first third of the key groups.
struct RestoreSource {
  std::string rocksdb_dir;
  std::string heap_dir;
  int64_t keys_in_third = 0;
};

constexpr state::KeyGroupRange kAllGroups{0, kMaxParallelism - 1};
const state::KeyGroupRange kFirstThird = state::KeyGroupRange::ForOperator(kMaxParallelism, 3, 0);

absl::StatusOr<const RestoreSource*> GetRestoreSource(int64_t keys) {
  static std::map<int64_t, RestoreSource> sources;
  auto it = sources.find(keys);
  if (it != sources.end()) return &it->second;
  Workspace& ws = Workspace::Get();
  RestoreSource src;
  for (Backend kind : {Backend::kRocksDb, Backend::kHeap}) {
    std::string db_dir = ws.NewPath("restore-src-db");
    KAPPA_ASSIGN_OR_RETURN(auto store, BackendStore::Create(kind, db_dir));
    KAPPA_RETURN_IF_ERROR(Fill(store.get(), keys));
    std::string& dir = kind == Backend::kRocksDb ? src.rocksdb_dir : src.heap_dir;
    dir = ws.NewPath(kind == Backend::kRocksDb ? "restore-src-rocksdb" : "restore-src-heap");
    KAPPA_RETURN_IF_ERROR(store->Snapshot(dir));
    store.reset();
    RemoveDir(db_dir);  // the checkpoint holds its own links
  }
  char key[kRawKeySize];
  for (int64_t k = 0; k < keys; ++k) {
    EncodeRawKey(k, key);
    if (kFirstThird.Contains(state::KeyGroupOfKey(state::TableKind::kPoint, std::string_view(key, 2)))) {
      ++src.keys_in_third;
    }
  }
  return &(sources[keys] = src);
}

// Links SST files and copies the rest, as RestoreSnapshot does with its private copy.
absl::Status LinkCopy(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    fs::path target = fs::path(to) / entry.path().filename();
    if (entry.path().extension() == ".sst") {
      fs::create_hard_link(entry.path(), target, ec);
    } else {
      fs::copy_file(entry.path(), target, ec);
    }
    if (ec) return absl::UnavailableError(absl::StrCat("copy ", entry.path().string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

int64_t CountRaw(RawDb* raw) {
  std::unique_ptr<rocksdb::Iterator> it(raw->db()->NewIterator(rocksdb::ReadOptions(), raw->cf()));
  int64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  return n;
}

int64_t CountBackend(KeyedStateBackend* backend) {
  auto table = backend->RegisterTable(kTable, state::TableKind::kPoint);
  if (!table.ok()) return -1;
  if (backend->name() == "heap") return backend->ApproximateKeys(*table);
  int64_t n = 0;
  for (auto it = backend->Scan(*table, {}); it->Valid(); it->Next()) ++n;
  return n;
}

enum class RestoreKind {
  kRocksDbToHeap,
  kRocksDbToRocksDb,
  kHeapToHeap,
  kRawScanPut,      // raw: open a linked copy of the checkpoint, Put every entry into a fresh DB
  kRawLinkOpen,     // raw: link the checkpoint's files into the new instance and open it
  kRawScanHashMap,  // raw: open a linked copy, decode every entry into a flat_hash_map
};

absl::Status RawRestore(RestoreKind kind, const std::string& checkpoint, const std::string& target_dir,
                        RawDb* target, absl::flat_hash_map<int64_t, int64_t>* map) {
  if (kind == RestoreKind::kRawLinkOpen) return LinkCopy(checkpoint, target_dir);  // opened by the caller
  std::string copy = Workspace::Get().NewPath("raw-restore-copy");
  KAPPA_RETURN_IF_ERROR(LinkCopy(checkpoint, copy));
  {
    // The source gets the small budget RestoreSnapshot gives its source copy.
    KAPPA_ASSIGN_OR_RETURN(auto source, RawDb::Open(copy, {.block_cache_bytes = 8 << 20, .write_buffer_bytes = 4 << 20}));
    std::unique_ptr<rocksdb::Iterator> it(source->db()->NewIterator(rocksdb::ReadOptions(), source->cf()));
    const rocksdb::WriteOptions write = NoWal();
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (kind == RestoreKind::kRawScanPut) {
        KAPPA_RETURN_IF_ERROR(state::FromRocksDb(target->db()->Put(write, target->cf(), it->key(), it->value()), "put"));
      } else {
        int64_t k, v;
        if (it->key().size() != kRawKeySize || it->value().size() != sizeof(v)) return absl::DataLossError("entry");
        std::memcpy(&k, it->key().data() + 2, sizeof(k));
        std::memcpy(&v, it->value().data(), sizeof(v));
        (*map)[k] = v;
      }
    }
    KAPPA_RETURN_IF_ERROR(state::FromRocksDb(it->status(), "scan"));
  }
  RemoveDir(copy);
  return absl::OkStatus();
}

void BM_Restore(benchmark::State& state, RestoreKind kind, state::KeyGroupRange groups) {
  const int64_t keys = state.range(0);
  auto src = GetRestoreSource(keys);
  if (!Check(state, src.status())) return;
  const int64_t want = groups.size() == kMaxParallelism ? keys : (*src)->keys_in_third;
  Workspace& ws = Workspace::Get();
  for (auto _ : state) {
    std::string dir = ws.NewPath("restore-target");
    absl::Status status;
    int64_t restored = -1;
    if (kind == RestoreKind::kRocksDbToHeap || kind == RestoreKind::kRocksDbToRocksDb ||
        kind == RestoreKind::kHeapToHeap) {
      auto target = MakeBackend(kind == RestoreKind::kRocksDbToRocksDb ? Backend::kRocksDb : Backend::kHeap, dir);
      if (!Check(state, target.status())) return;
      const bool from_heap = kind == RestoreKind::kHeapToHeap;
      auto t0 = std::chrono::steady_clock::now();
      status = state::RestoreSnapshot(from_heap ? (*src)->heap_dir : (*src)->rocksdb_dir, from_heap ? "heap" : "rocksdb",
                                      groups.first, groups.last, target->get());
      state.SetIterationTime(Seconds(t0));
      if (status.ok()) restored = CountBackend(target->get());
    } else {
      absl::flat_hash_map<int64_t, int64_t> map;
      std::unique_ptr<RawDb> target;
      if (kind == RestoreKind::kRawScanPut) {
        auto opened = RawDb::Open(dir, {});
        if (!Check(state, opened.status())) return;
        target = *std::move(opened);
      }
      auto t0 = std::chrono::steady_clock::now();
      status = RawRestore(kind, (*src)->rocksdb_dir, dir, target.get(), &map);
      if (status.ok() && kind == RestoreKind::kRawLinkOpen) {
        auto opened = RawDb::Open(dir, {});
        status = opened.status();
        if (status.ok()) target = *std::move(opened);
      }
      state.SetIterationTime(Seconds(t0));
      if (status.ok()) restored = kind == RestoreKind::kRawScanHashMap ? static_cast<int64_t>(map.size()) : CountRaw(target.get());
    }
    RemoveDir(dir);
    if (!Check(state, status)) return;
    if (restored != want) {
      Fail(state, absl::StrCat("restored ", restored, " keys, expected ", want));
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * want);
}

// ---------------------------------------------------------------------------------------
// Registration. Sizes keep the whole binary under ~3 minutes on 2 shared cores.

void PerRecordKeys(benchmark::internal::Benchmark* b) { b->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20); }

BENCHMARK_CAPTURE(BM_ValueStateGetPut, heap, Backend::kHeap)->Apply(PerRecordKeys);
BENCHMARK(BM_RawHashMap)->Apply(PerRecordKeys);
BENCHMARK_CAPTURE(BM_ValueStateGetPut, rocksdb, Backend::kRocksDb)->Apply(PerRecordKeys);
BENCHMARK_CAPTURE(BM_ValueStateGetPut, rocksdb_cached, Backend::kRocksDbCached)->Apply(PerRecordKeys);
BENCHMARK(BM_RawRocksDbGetPut)->Apply(PerRecordKeys);

BENCHMARK_CAPTURE(BM_ListStateAppend, heap, Backend::kHeap)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK_CAPTURE(BM_ListStateAppend, rocksdb, Backend::kRocksDb)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK_CAPTURE(BM_ListStateAppend, rocksdb_cached, Backend::kRocksDbCached)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK(BM_RawRocksDbMerge)->Arg(1 << 10)->Arg(1 << 16);

BENCHMARK_CAPTURE(BM_ListStateRead, heap, Backend::kHeap)->Arg(1 << 10)->Arg(1 << 14)->Arg(1 << 17);
BENCHMARK_CAPTURE(BM_ListStateRead, rocksdb, Backend::kRocksDb)->Arg(1 << 10)->Arg(1 << 14)->Arg(1 << 17);
BENCHMARK_CAPTURE(BM_RawRocksDbListRead, one_pass, false)->Arg(1 << 10)->Arg(1 << 14)->Arg(1 << 17);
// Quadratic: 2^17 would take seconds per read.
BENCHMARK_CAPTURE(BM_RawRocksDbListRead, pairwise, true)->Arg(1 << 10)->Arg(1 << 14);

// Fewer iterations for larger states: each full-checkpoint iteration refills a fresh store.
#define KAPPA_CHECKPOINT_BENCH(name, kind, iters_small, iters_medium, iters_large)                                \
  BENCHMARK_CAPTURE(BM_Checkpoint, name, kind)->Arg(10'000)->Iterations(iters_small)->UseManualTime()->Unit(     \
      benchmark::kMillisecond);                                                                                   \
  BENCHMARK_CAPTURE(BM_Checkpoint, name, kind)->Arg(100'000)->Iterations(iters_medium)->UseManualTime()->Unit(   \
      benchmark::kMillisecond);                                                                                   \
  BENCHMARK_CAPTURE(BM_Checkpoint, name, kind)->Arg(1'000'000)->Iterations(iters_large)->UseManualTime()->Unit( \
      benchmark::kMillisecond)

KAPPA_CHECKPOINT_BENCH(rocksdb_full, CheckpointKind::kRocksDbFull, 10, 5, 2);
KAPPA_CHECKPOINT_BENCH(raw_rocksdb_full, CheckpointKind::kRawRocksDbFull, 10, 5, 2);
KAPPA_CHECKPOINT_BENCH(rocksdb_incremental, CheckpointKind::kRocksDbIncremental, 12, 12, 12);
KAPPA_CHECKPOINT_BENCH(raw_rocksdb_incremental, CheckpointKind::kRawRocksDbIncremental, 12, 12, 12);
KAPPA_CHECKPOINT_BENCH(heap, CheckpointKind::kHeap, 20, 10, 5);
BENCHMARK(BM_CheckpointWriteFsync)->Arg(10'000)->Iterations(20)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CheckpointWriteFsync)->Arg(100'000)->Iterations(10)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CheckpointWriteFsync)->Arg(1'000'000)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond);

// Restore benchmarks are registered per size, so each size's source snapshots are written
// once and every variant of that size reads the same ones.
[[maybe_unused]] const bool kRestoreRegistered = [] {
  struct Variant {
    const char* name;
    RestoreKind kind;
    state::KeyGroupRange groups;
  };
  const Variant variants[] = {
      {"rocksdb_to_rocksdb_all", RestoreKind::kRocksDbToRocksDb, kAllGroups},
      {"raw_rocksdb_scan_put_all", RestoreKind::kRawScanPut, kAllGroups},
      {"raw_rocksdb_link_open_all", RestoreKind::kRawLinkOpen, kAllGroups},
      {"rocksdb_to_rocksdb_third", RestoreKind::kRocksDbToRocksDb, kFirstThird},
      {"rocksdb_to_heap_all", RestoreKind::kRocksDbToHeap, kAllGroups},
      {"raw_rocksdb_scan_hashmap_all", RestoreKind::kRawScanHashMap, kAllGroups},
      {"rocksdb_to_heap_third", RestoreKind::kRocksDbToHeap, kFirstThird},
      {"heap_to_heap_all", RestoreKind::kHeapToHeap, kAllGroups},
      {"heap_to_heap_third", RestoreKind::kHeapToHeap, kFirstThird},
  };
  const std::pair<int64_t, int> sizes[] = {{10'000, 10}, {100'000, 5}, {1'000'000, 2}};
  for (const auto& [keys, iterations] : sizes) {
    for (const Variant& v : variants) {
      benchmark::RegisterBenchmark(absl::StrCat("BM_Restore/", v.name).c_str(), BM_Restore, v.kind, v.groups)
          ->Arg(keys)
          ->Iterations(iterations)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace kappa::bench

// Google Benchmark's main, plus closing the kept state before static destruction (this
// definition takes the place of the one in libbenchmark_main.a).
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  kappa::bench::Workspace::Get().Clear();
  return 0;
}
