// The backend contract, checked against every backend: heap and RocksDB must be
// indistinguishable to operators.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/keyed_state.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::state {
namespace {

using ::testing::ElementsAre;

std::string FreshDir(const std::string& name) {
  static std::atomic<int> n{0};
  std::string dir = ::testing::TempDir() + "/kappa_backend_" + name + "_" + std::to_string(getpid()) + "_" +
                    std::to_string(n++);
  std::filesystem::remove_all(dir);
  return dir;
}

struct BackendFactory {
  std::string name;
  std::function<std::unique_ptr<KeyedStateBackend>()> make;
};

class BackendTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override { backend_ = GetParam().make(); }
  std::vector<std::string> Keys(TableId t, std::string_view prefix) {
    std::vector<std::string> out;
    for (auto it = backend_->Scan(t, prefix); it->Valid(); it->Next()) out.emplace_back(it->key());
    return out;
  }
  std::unique_ptr<KeyedStateBackend> backend_;
};

TEST_P(BackendTest, GetOfMissingKeyIsNotFound) {
  TableId t = *backend_->RegisterTable("t");
  std::string v;
  EXPECT_TRUE(absl::IsNotFound(backend_->Get(t, "nope", &v)));
}

TEST_P(BackendTest, PutGetOverwriteDelete) {
  TableId t = *backend_->RegisterTable("t", TableKind::kPoint);
  std::string v;
  ASSERT_TRUE(backend_->Put(t, "k", "one").ok());
  ASSERT_TRUE(backend_->Get(t, "k", &v).ok());
  EXPECT_EQ(v, "one");
  ASSERT_TRUE(backend_->Put(t, "k", std::string("t\0o", 3)).ok());
  ASSERT_TRUE(backend_->Get(t, "k", &v).ok());
  EXPECT_EQ(v, std::string("t\0o", 3));
  ASSERT_TRUE(backend_->Delete(t, "k").ok());
  EXPECT_TRUE(absl::IsNotFound(backend_->Get(t, "k", &v)));
  EXPECT_TRUE(backend_->Delete(t, "k").ok()) << "deleting a missing key is fine";
}

TEST_P(BackendTest, AppendBuildsAListInOrder) {
  TableId t = *backend_->RegisterTable("l", TableKind::kPoint);
  for (std::string e : {std::string("a"), std::string(), std::string("ccc"), std::string(300, 'x')}) {
    ASSERT_TRUE(backend_->Append(t, "k", e).ok());
  }
  std::string v;
  ASSERT_TRUE(backend_->Get(t, "k", &v).ok());
  std::vector<std::string> elems;
  ASSERT_TRUE(ForEachListElement(v, [&](std::string_view e) { elems.emplace_back(e); }));
  EXPECT_THAT(elems, ElementsAre("a", "", "ccc", std::string(300, 'x')));
}

TEST_P(BackendTest, ScanReturnsKeysWithPrefixInByteOrder) {
  for (TableKind kind : {TableKind::kOrdered, TableKind::kPoint}) {
    TableId t = *backend_->RegisterTable(kind == TableKind::kOrdered ? "o" : "p", kind);
    for (std::string k : {std::string("ab\xff", 3), std::string("ab\0", 3), std::string("ab"), std::string("abc"),
                          std::string("b"), std::string("aa")}) {
      ASSERT_TRUE(backend_->Put(t, k, "v").ok());
    }
    EXPECT_THAT(Keys(t, "ab"), ElementsAre("ab", std::string("ab\0", 3), "abc", std::string("ab\xff", 3)));
    EXPECT_EQ(Keys(t, "").size(), 6u);
    EXPECT_TRUE(Keys(t, "zz").empty());
  }
}

TEST_P(BackendTest, TablesAreIsolatedAndRegistrationIsIdempotent) {
  TableId a = *backend_->RegisterTable("a");
  TableId b = *backend_->RegisterTable("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(*backend_->RegisterTable("a"), a);
  ASSERT_TRUE(backend_->Put(a, "k", "in a").ok());
  std::string v;
  EXPECT_TRUE(absl::IsNotFound(backend_->Get(b, "k", &v)));
}

TEST_P(BackendTest, TypedStateWorksOnTheBackend) {
  KeyContext key;
  ValueState<int64_t> count(backend_.get(), *backend_->RegisterTable("count", TableKind::kPoint), &key);
  ListState<std::string> names(backend_.get(), *backend_->RegisterTable("names", TableKind::kPoint), &key);
  MapState<int64_t, std::string> map(backend_.get(), *backend_->RegisterTable("map"), &key);
  key.Set("alice", 3);
  count.Update(5);
  names.Add("x");
  names.Add("y");
  map.Put(2, "two");
  map.Put(1, "one");
  key.Set("bob", 7);
  EXPECT_FALSE(count.Value().has_value());
  EXPECT_TRUE(names.IsEmpty());
  EXPECT_TRUE(map.IsEmpty());
  key.Set("alice", 3);
  EXPECT_EQ(count.Value(), 5);
  EXPECT_THAT(names.Get(), ElementsAre("x", "y"));
  EXPECT_EQ(map.Entries().size(), 2u);
  map.Clear();
  EXPECT_TRUE(map.IsEmpty());
}

std::shared_ptr<RocksDbResources> SharedResources() {
  static auto r = RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
  return r;
}

std::unique_ptr<KeyedStateBackend> OpenRocksDb(const std::string& name) {
  auto b = RocksDbBackend::Open(FreshDir(name), SharedResources());
  EXPECT_TRUE(b.ok()) << b.status();
  return std::move(*b);
}

// RocksDB behind the write-back cache, as runs use it: with room for everything (writes
// reach RocksDB only on Snapshot), and with room for almost nothing (every few calls write
// back and evict).
std::unique_ptr<KeyedStateBackend> OpenCachedRocksDb(const std::string& name, size_t capacity_bytes) {
  return CachingBackend::Create(OpenRocksDb(name), capacity_bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BackendTest,
    ::testing::Values(BackendFactory{"heap", [] { return std::unique_ptr<KeyedStateBackend>(HeapBackend::Create()); }},
                      BackendFactory{"rocksdb", [] { return OpenRocksDb("conf"); }},
                      BackendFactory{"rocksdb_cached", [] { return OpenCachedRocksDb("conf", 64 << 20); }},
                      BackendFactory{"rocksdb_tiny_cache", [] { return OpenCachedRocksDb("conf", 200); }}),
    [](const auto& info) { return info.param.name; });

TEST(RocksDbBackendTest, StateIsOnDiskAndSurvivesReopen) {
  std::string dir = FreshDir("reopen");
  {
    auto b = RocksDbBackend::Open(dir, SharedResources());
    ASSERT_TRUE(b.ok()) << b.status();
    TableId t = *(*b)->RegisterTable("window-contents");
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE((*b)->Put(t, "key" + std::to_string(i), "v").ok());
    ASSERT_TRUE((*b)->Append(t, "list", "e1").ok());
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/CURRENT"));
  auto b = RocksDbBackend::Open(dir, SharedResources());
  ASSERT_TRUE(b.ok()) << b.status();
  TableId t = *(*b)->RegisterTable("window-contents");
  std::string v;
  EXPECT_TRUE((*b)->Get(t, "key999", &v).ok()) << "memtable contents are flushed on close";
  ASSERT_TRUE((*b)->Append(t, "list", "e2").ok());
  ASSERT_TRUE((*b)->Get(t, "list", &v).ok());
  std::vector<std::string> elems;
  ForEachListElement(v, [&](std::string_view e) { elems.emplace_back(e); });
  EXPECT_THAT(elems, ElementsAre("e1", "e2"));
}

// Each snapshot flushes the memtable, so the list ends up as operands spread over several
// files (flushes merge a key's operands partially; compactions and reads merge them fully).
TEST(RocksDbBackendTest, ListAppendedAcrossFlushesReadsBackInOrder) {
  std::string dir = FreshDir("list-flushes");
  std::vector<std::string> want;
  {
    auto b = RocksDbBackend::Open(dir, SharedResources());
    ASSERT_TRUE(b.ok()) << b.status();
    TableId t = *(*b)->RegisterTable("window-contents", TableKind::kPoint);
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 100; ++i) {
        want.push_back(std::to_string(round) + "-" + std::to_string(i));
        ASSERT_TRUE((*b)->Append(t, "list", want.back()).ok());
      }
      ASSERT_TRUE((*b)->Snapshot(FreshDir("list-flushes-chk")).ok());
    }
  }
  auto b = RocksDbBackend::Open(dir, SharedResources());
  ASSERT_TRUE(b.ok()) << b.status();
  TableId t = *(*b)->RegisterTable("window-contents", TableKind::kPoint);
  std::string v;
  ASSERT_TRUE((*b)->Get(t, "list", &v).ok());
  std::vector<std::string> elems;
  ASSERT_TRUE(ForEachListElement(v, [&](std::string_view e) { elems.emplace_back(e); }));
  EXPECT_EQ(elems, want);
}

TEST(RocksDbBackendTest, UnwritableStateDirectoryIsAClearError) {
  if (geteuid() == 0) {
    // root ignores permissions; use a path under a regular file instead.
    std::string file = FreshDir("file");
    { std::ofstream(file) << "x"; }
    auto b = RocksDbBackend::Open(file + "/state", SharedResources());
    ASSERT_FALSE(b.ok());
    EXPECT_THAT(std::string(b.status().message()), ::testing::HasSubstr(file + "/state"));
    return;
  }
  std::string dir = FreshDir("ro");
  std::filesystem::create_directories(dir);
  chmod(dir.c_str(), 0555);
  auto b = RocksDbBackend::Open(dir + "/task", SharedResources());
  chmod(dir.c_str(), 0755);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), ::testing::HasSubstr(dir + "/task"));
}

}  // namespace
}  // namespace kappa::state

namespace kappa::state {
namespace {

// Fills a backend with value, list, map and timer entries spread over all key groups.
void Fill(KeyedStateBackend* b) {
  TableId v = *b->RegisterTable("op/count", TableKind::kPoint);
  TableId l = *b->RegisterTable("op/list", TableKind::kPoint);
  TableId m = *b->RegisterTable("op/map", TableKind::kOrdered);
  TableId t = *b->RegisterTable("op/timers/event", TableKind::kTimers);
  for (int kg = 0; kg < 128; ++kg) {
    std::string key = {static_cast<char>(kg >> 8), static_cast<char>(kg & 0xff), 'k'};
    ASSERT_TRUE(b->Put(v, key, "v" + std::to_string(kg)).ok());
    ASSERT_TRUE(b->Append(l, key, "a").ok());
    ASSERT_TRUE(b->Append(l, key, "b").ok());
    ASSERT_TRUE(b->Put(m, key + "x", "m").ok());
    // Timer keys: 8 bytes of time, then the key group.
    std::string timer(8, static_cast<char>(kg % 3));
    timer += key;
    ASSERT_TRUE(b->Put(t, timer, "").ok());
  }
}

int Count(KeyedStateBackend* b, const std::string& table, TableKind kind) {
  TableId id = *b->RegisterTable(table, kind);
  int n = 0;
  for (auto it = b->Scan(id, {}); it->Valid(); it->Next()) ++n;
  return n;
}

class SnapshotTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<KeyedStateBackend> Make(const std::string& kind) {
    if (kind == "heap") return HeapBackend::Create();
    if (kind == "rocksdb_cached") return OpenCachedRocksDb("snap", 64 << 20);
    if (kind == "rocksdb_tiny_cache") return OpenCachedRocksDb("snap", 200);
    return OpenRocksDb("snap");
  }
};

TEST_P(SnapshotTest, RestoringEveryKeyGroupRangeReassemblesTheWholeState) {
  auto source = Make(GetParam());
  Fill(source.get());
  std::string dir = FreshDir("snapdir");
  auto files = source->Snapshot(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_FALSE(files->empty());
  // Restore into three targets of a different parallelism (and the other backend kind).
  int total_values = 0, total_timers = 0;
  for (int i = 0; i < 3; ++i) {
    KeyGroupRange r = KeyGroupRange::ForOperator(128, 3, i);
    auto target = Make(GetParam() == "heap" ? "rocksdb" : "heap");
    ASSERT_TRUE(RestoreSnapshot(dir, source->name(), r.first, r.last, target.get()).ok());
    int values = Count(target.get(), "op/count", TableKind::kPoint);
    EXPECT_EQ(values, r.size());
    total_values += values;
    total_timers += Count(target.get(), "op/timers/event", TableKind::kTimers);
    // Every restored key belongs to the range, timers included.
    TableId t = *target->RegisterTable("op/timers/event", TableKind::kTimers);
    for (auto it = target->Scan(t, {}); it->Valid(); it->Next()) {
      EXPECT_TRUE(r.Contains(KeyGroupOfKey(TableKind::kTimers, it->key())));
    }
    TableId l = *target->RegisterTable("op/list", TableKind::kPoint);
    std::string list;
    std::string key = {static_cast<char>(r.first >> 8), static_cast<char>(r.first & 0xff), 'k'};
    ASSERT_TRUE(target->Get(l, key, &list).ok());
    std::vector<std::string> elems;
    ForEachListElement(list, [&](std::string_view e) { elems.emplace_back(e); });
    EXPECT_THAT(elems, ElementsAre("a", "b"));
  }
  EXPECT_EQ(total_values, 128);
  EXPECT_EQ(total_timers, 128);
}

TEST_P(SnapshotTest, SnapshotIsUnaffectedByLaterWrites) {
  auto source = Make(GetParam());
  Fill(source.get());
  std::string dir = FreshDir("snapdir");
  ASSERT_TRUE(source->Snapshot(dir).ok());
  TableId v = *source->RegisterTable("op/count", TableKind::kPoint);
  ASSERT_TRUE(source->Put(v, std::string("\0\0k", 3), "changed").ok());
  auto target = Make("heap");
  ASSERT_TRUE(RestoreSnapshot(dir, source->name(), 0, 127, target.get()).ok());
  std::string value;
  ASSERT_TRUE(target->Get(*target->RegisterTable("op/count", TableKind::kPoint), std::string("\0\0k", 3), &value).ok());
  EXPECT_EQ(value, "v0");
}

TEST(SnapshotRestoreTest, TruncatedHeapSnapshotIsDataLoss) {
  auto source = HeapBackend::Create();
  Fill(source.get());
  std::string dir = FreshDir("trunc");
  ASSERT_TRUE(source->Snapshot(dir).ok());
  std::filesystem::resize_file(dir + "/state.bin", std::filesystem::file_size(dir + "/state.bin") / 2);
  auto target = HeapBackend::Create();
  absl::Status s = RestoreSnapshot(dir, "heap", 0, 127, target.get());
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

INSTANTIATE_TEST_SUITE_P(Backends, SnapshotTest,
                         ::testing::Values("heap", "rocksdb", "rocksdb_cached", "rocksdb_tiny_cache"));

}  // namespace
}  // namespace kappa::state
