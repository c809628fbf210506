// The write-back cache: what it keeps from the backend until a snapshot or eviction, and a
// randomized check that every snapshot holds exactly what the calls so far wrote.
#include "kappa/state/caching_backend.h"

#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::state {
namespace {

using ::testing::ElementsAre;

std::string FreshDir(const std::string& name) {
  static int n = 0;
  std::string dir = ::testing::TempDir() + "/kappa_cache_" + name + "_" + std::to_string(getpid()) + "_" +
                    std::to_string(n++);
  std::filesystem::remove_all(dir);
  return dir;
}

std::shared_ptr<RocksDbResources> SharedResources() {
  static auto r = RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  return r;
}

std::unique_ptr<CachingBackend> CachedRocksDb(size_t capacity_bytes) {
  auto rocks = RocksDbBackend::Open(FreshDir("db"), SharedResources());
  EXPECT_TRUE(rocks.ok()) << rocks.status();
  return CachingBackend::Create(std::move(*rocks), capacity_bytes);
}

// A table key in key group 1 (snapshots are restored by key group).
std::string K(std::string_view name) { return std::string("\0\1", 2) + std::string(name); }

std::vector<std::string> Elements(std::string_view list) {
  std::vector<std::string> out;
  EXPECT_TRUE(ForEachListElement(list, [&](std::string_view e) { out.emplace_back(e); }));
  return out;
}

std::optional<std::string> GetFrom(KeyedStateBackend* b, TableId t, std::string_view key) {
  std::string v;
  absl::Status s = b->Get(t, key, &v);
  if (absl::IsNotFound(s)) return std::nullopt;
  EXPECT_TRUE(s.ok()) << s;
  return v;
}

// Restores a snapshot of `b` into a fresh heap backend, as a restart would.
std::unique_ptr<HeapBackend> SnapshotAndRestore(KeyedStateBackend* b) {
  std::string dir = FreshDir("snap");
  auto files = b->Snapshot(dir);
  EXPECT_TRUE(files.ok()) << files.status();
  auto restored = HeapBackend::Create();
  absl::Status s = RestoreSnapshot(dir, b->name(), 0, 127, restored.get());
  EXPECT_TRUE(s.ok()) << s;
  return restored;
}

TEST(CachingBackendTest, WritesReachTheBackendOnlyWithTheSnapshot) {
  auto cache = CachedRocksDb(64 << 20);
  TableId t = *cache->RegisterTable("values", TableKind::kPoint);
  ASSERT_TRUE(cache->Put(t, K("a"), "1").ok());
  ASSERT_TRUE(cache->Append(t, K("list"), "x").ok());
  EXPECT_EQ(GetFrom(cache.get(), t, K("a")), "1");
  EXPECT_EQ(GetFrom(cache->inner(), t, K("a")), std::nullopt) << "still only in the cache";
  EXPECT_EQ(GetFrom(cache->inner(), t, K("list")), std::nullopt);

  auto restored = SnapshotAndRestore(cache.get());
  TableId r = *restored->RegisterTable("values", TableKind::kPoint);
  EXPECT_EQ(GetFrom(restored.get(), r, K("a")), "1");
  EXPECT_THAT(Elements(*GetFrom(restored.get(), r, K("list"))), ElementsAre("x"));
  EXPECT_EQ(GetFrom(cache->inner(), t, K("a")), "1") << "written back by the snapshot";
}

TEST(CachingBackendTest, AppendsGoOnTopOfWhatTheBackendHeldWithoutReadingIt) {
  auto rocks = RocksDbBackend::Open(FreshDir("db"), SharedResources());
  ASSERT_TRUE(rocks.ok());
  TableId t = *(*rocks)->RegisterTable("lists", TableKind::kPoint);
  ASSERT_TRUE((*rocks)->Append(t, K("k"), "old1").ok());
  ASSERT_TRUE((*rocks)->Append(t, K("k"), "old2").ok());
  auto cache = CachingBackend::Create(std::move(*rocks), 64 << 20);
  ASSERT_EQ(*cache->RegisterTable("lists", TableKind::kPoint), t);
  ASSERT_TRUE(cache->Append(t, K("k"), "new1").ok());
  ASSERT_TRUE(cache->Append(t, K("k"), "new2").ok());
  EXPECT_THAT(Elements(*GetFrom(cache->inner(), t, K("k"))), ElementsAre("old1", "old2")) << "appends are buffered";
  // A snapshot right away writes the buffered appends as one merge.
  auto restored = SnapshotAndRestore(cache.get());
  EXPECT_THAT(Elements(*GetFrom(restored.get(), *restored->RegisterTable("lists", TableKind::kPoint), K("k"))),
              ElementsAre("old1", "old2", "new1", "new2"));
  // Reading loads the base once; later appends extend the cached list.
  ASSERT_TRUE(cache->Append(t, K("k"), "new3").ok());
  EXPECT_THAT(Elements(*GetFrom(cache.get(), t, K("k"))), ElementsAre("old1", "old2", "new1", "new2", "new3"));
  ASSERT_TRUE(cache->Append(t, K("k"), "new4").ok());
  restored = SnapshotAndRestore(cache.get());
  EXPECT_THAT(Elements(*GetFrom(restored.get(), *restored->RegisterTable("lists", TableKind::kPoint), K("k"))),
              ElementsAre("old1", "old2", "new1", "new2", "new3", "new4"));
}

TEST(CachingBackendTest, DeletingAKeyOnlyTheBackendHeldRemovesItFromTheSnapshot) {
  auto cache = CachedRocksDb(64 << 20);
  TableId t = *cache->RegisterTable("values", TableKind::kPoint);
  TableId m = *cache->RegisterTable("map", TableKind::kOrdered);
  ASSERT_TRUE(cache->Put(t, K("gone"), "v").ok());
  ASSERT_TRUE(cache->Put(m, K("gone"), "v").ok());
  ASSERT_TRUE(cache->Append(t, K("list"), "e").ok());
  auto before = SnapshotAndRestore(cache.get());  // now in RocksDB
  ASSERT_EQ(before->ApproximateKeys(*before->RegisterTable("values", TableKind::kPoint)), 2);
  ASSERT_TRUE(cache->Delete(t, K("gone")).ok());
  ASSERT_TRUE(cache->Delete(m, K("gone")).ok());
  ASSERT_TRUE(cache->Delete(t, K("list")).ok());
  EXPECT_EQ(GetFrom(cache.get(), t, K("gone")), std::nullopt);
  EXPECT_EQ(GetFrom(cache->inner(), t, K("gone")), "v");
  auto restored = SnapshotAndRestore(cache.get());
  EXPECT_EQ(restored->ApproximateKeys(*restored->RegisterTable("values", TableKind::kPoint)), 0);
  EXPECT_EQ(restored->ApproximateKeys(*restored->RegisterTable("map", TableKind::kOrdered)), 0);
}

TEST(CachingBackendTest, ScanMergesCachedChangesWithTheBackendInKeyOrder) {
  auto cache = CachedRocksDb(64 << 20);
  TableId m = *cache->RegisterTable("map", TableKind::kOrdered);
  for (const char* k : {"p/a", "p/c", "p/e", "q/a"}) ASSERT_TRUE(cache->Put(m, K(k), "old").ok());
  SnapshotAndRestore(cache.get());
  ASSERT_TRUE(cache->Put(m, K("p/b"), "new").ok());
  ASSERT_TRUE(cache->Delete(m, K("p/c")).ok());
  ASSERT_TRUE(cache->Put(m, K("p/e"), "new").ok());
  ASSERT_TRUE(cache->Put(m, K("p/f"), "new").ok());
  std::vector<std::string> seen;
  for (auto it = cache->Scan(m, K("p/")); it->Valid(); it->Next()) {
    seen.push_back(std::string(it->key().substr(2)) + "=" + std::string(it->value()));
    // Reads while the scan is open do not disturb it.
    EXPECT_EQ(GetFrom(cache.get(), m, K("q/a")), "old");
    EXPECT_EQ(GetFrom(cache.get(), m, K("p/zz")), std::nullopt);
  }
  EXPECT_THAT(seen, ElementsAre("p/a=old", "p/b=new", "p/e=new", "p/f=new"));
}

TEST(CachingBackendTest, FullCacheWritesBackAndEvictsButKeepsItsBound) {
  auto cache = CachedRocksDb(4096);
  TableId t = *cache->RegisterTable("values", TableKind::kPoint);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(cache->Put(t, "key" + std::to_string(i), std::string(20, 'v')).ok());
    ASSERT_LE(cache->cached_bytes(), cache->capacity_bytes() + 200);
  }
  EXPECT_GT(cache->evictions(), 0);
  EXPECT_GT(cache->write_backs(), 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(GetFrom(cache.get(), t, "key" + std::to_string(i)), std::string(20, 'v'));
}

// A backend whose writes fail, as on a full disk; reads go to a heap backend.
class FailingWrites : public KeyedStateBackend {
 public:
  static std::unique_ptr<FailingWrites> Create() { return std::make_unique<FailingWrites>(); }
  absl::StatusOr<TableId> RegisterTable(const std::string& name, TableKind kind) override {
    return heap_->RegisterTable(name, kind);
  }
  absl::Status Get(TableId t, std::string_view key, std::string* value) override { return heap_->Get(t, key, value); }
  absl::Status Put(TableId, std::string_view, std::string_view) override { return Full(); }
  absl::Status Append(TableId, std::string_view, std::string_view) override { return Full(); }
  absl::Status Delete(TableId, std::string_view) override { return Full(); }
  std::unique_ptr<StateIterator> Scan(TableId t, std::string_view prefix) override { return heap_->Scan(t, prefix); }
  int64_t ApproximateKeys(TableId t) override { return heap_->ApproximateKeys(t); }
  std::vector<TableInfo> Tables() const override { return heap_->Tables(); }
  absl::StatusOr<std::vector<std::string>> Snapshot(const std::string&) override { return Full(); }
  std::string_view name() const override { return "failing"; }

 private:
  static absl::Status Full() { return absl::ResourceExhaustedError("No space left on device"); }
  std::unique_ptr<HeapBackend> heap_ = HeapBackend::Create();
};

TEST(CachingBackendTest, AFailedWriteBackIsReportedBySnapshotAndEviction) {
  auto cache = CachingBackend::Create(FailingWrites::Create(), 64 << 20);
  TableId t = *cache->RegisterTable("values", TableKind::kPoint);
  ASSERT_TRUE(cache->Put(t, "k", "v").ok()) << "only cached so far";
  EXPECT_TRUE(absl::IsResourceExhausted(cache->Snapshot(FreshDir("snap")).status()));

  auto small = CachingBackend::Create(FailingWrites::Create(), 512);
  TableId s = *small->RegisterTable("values", TableKind::kPoint);
  absl::Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) status = small->Put(s, "key" + std::to_string(i), "v");
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
}

// Random calls against a model; a tiny cache writes back and evicts all the time. Every few
// hundred calls the backend is snapshotted and restored into a fresh heap backend, which
// must hold exactly the model.
TEST(CachingBackendTest, RandomCallsMatchAModelAndEverySnapshotHoldsExactlyIt) {
  for (size_t capacity : {size_t{300}, size_t{4096}, size_t{64} << 20}) {
    SCOPED_TRACE(capacity);
    auto cache = CachedRocksDb(capacity);
    TableId tables[2] = {*cache->RegisterTable("point", TableKind::kPoint),
                         *cache->RegisterTable("ordered", TableKind::kOrdered)};
    std::map<std::string, std::string> model[2];
    std::mt19937 rng(42);
    auto key = [&] {
      // Key group first (two bytes), as the backends expect.
      int k = static_cast<int>(rng() % 40);
      return std::string{static_cast<char>(0), static_cast<char>(k % 128)} + "k" + std::to_string(k);
    };
    for (int step = 0; step < 3000; ++step) {
      int ti = static_cast<int>(rng() % 2);
      TableId t = tables[ti];
      std::string k = key();
      switch (rng() % 6) {
        case 0:
        case 1: {
          std::string v = "v" + std::to_string(step);
          ASSERT_TRUE(cache->Put(t, k, v).ok());
          model[ti][k] = v;
          break;
        }
        case 2: {
          std::string e = "e" + std::to_string(step);
          ASSERT_TRUE(cache->Append(t, k, e).ok());
          kappa::internal::WriteVarint(e.size(), &model[ti][k]);
          model[ti][k] += e;
          break;
        }
        case 3:
          ASSERT_TRUE(cache->Delete(t, k).ok());
          model[ti].erase(k);
          break;
        case 4: {
          auto it = model[ti].find(k);
          ASSERT_EQ(GetFrom(cache.get(), t, k),
                    it == model[ti].end() ? std::nullopt : std::optional<std::string>(it->second))
              << "step " << step;
          break;
        }
        case 5: {
          std::map<std::string, std::string> seen;
          for (auto it = cache->Scan(t, std::string(1, '\0')); it->Valid(); it->Next()) {
            seen[std::string(it->key())] = std::string(it->value());
          }
          ASSERT_EQ(seen, model[ti]) << "step " << step;
          break;
        }
      }
      if (step % 400 == 399) {
        auto restored = SnapshotAndRestore(cache.get());
        for (int i = 0; i < 2; ++i) {
          TableId r = *restored->RegisterTable(i == 0 ? "point" : "ordered", i == 0 ? TableKind::kPoint
                                                                                    : TableKind::kOrdered);
          std::map<std::string, std::string> got;
          for (auto it = restored->Scan(r, {}); it->Valid(); it->Next()) {
            got[std::string(it->key())] = std::string(it->value());
          }
          ASSERT_EQ(got, model[i]) << "snapshot at step " << step;
        }
      }
    }
    if (capacity < 1000) {
      EXPECT_GT(cache->evictions(), 10);
    }
    if (capacity > 1000000) {
      EXPECT_EQ(cache->evictions(), 0);
    }
  }
}

}  // namespace
}  // namespace kappa::state
