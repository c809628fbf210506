// Event-time state TTL: the framing and its judgement, the handles' reads and writes, and
// the background reclaim of each backend (heap sweep, RocksDB compaction filter, the
// write-back cache), with the TTL watermark carried through snapshots.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/caching_backend.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/keyed_state.h"
#include "kappa/state/rocksdb_backend.h"

namespace kappa::state {
namespace {

std::string Framed(int64_t expiry, std::string_view value) {
  std::string out;
  WriteExpiry(expiry, &out);
  out.append(value);
  return out;
}

std::string List(const std::vector<std::pair<int64_t, std::string>>& elements) {
  std::string out;
  for (const auto& [expiry, v] : elements) {
    std::string e = Framed(expiry, v);
    kappa::internal::WriteVarint(e.size(), &out);
    out.append(e);
  }
  return out;
}

TEST(JudgeTtlTest, AValueIsDroppedOnceTheWatermarkReachesItsExpiry) {
  std::string kept;
  EXPECT_EQ(JudgeTtl(TtlLayout::kValue, Framed(100, "v"), 99, &kept), TtlVerdict::kKeep);
  EXPECT_EQ(JudgeTtl(TtlLayout::kValue, Framed(100, "v"), 100, &kept), TtlVerdict::kDrop);
  EXPECT_EQ(JudgeTtl(TtlLayout::kValue, "short", 1000, &kept), TtlVerdict::kKeep) << "no framing: reads report it";
  EXPECT_EQ(JudgeTtl(TtlLayout::kNone, Framed(100, "v"), 1000, &kept), TtlVerdict::kKeep);
}

TEST(JudgeTtlTest, AListLosesItsExpiredElementsInOrderAndGoesWhenAllExpired) {
  std::string kept;
  std::string list = List({{300, "a"}, {100, "b"}, {400, "c"}, {200, "d"}});
  EXPECT_EQ(JudgeTtl(TtlLayout::kListElements, list, 99, &kept), TtlVerdict::kKeep);
  ASSERT_EQ(JudgeTtl(TtlLayout::kListElements, list, 200, &kept), TtlVerdict::kRewrite);
  EXPECT_EQ(kept, List({{300, "a"}, {400, "c"}}));
  EXPECT_EQ(JudgeTtl(TtlLayout::kListElements, list, 400, &kept), TtlVerdict::kDrop);
  EXPECT_EQ(JudgeTtl(TtlLayout::kListElements, std::string("\x05x"), 400, &kept), TtlVerdict::kKeep)
      << "a malformed list is kept";
}

class EventTimeTtlTest : public ::testing::Test {
 protected:
  void SetUp() override { key_.Set("k", 1); }
  TableId Table(const std::string& name, TableKind kind = TableKind::kPoint) {
    return *backend_->RegisterTable(name, kind);
  }
  std::unique_ptr<HeapBackend> backend_ = HeapBackend::Create();
  KeyContext key_;
};

TEST_F(EventTimeTtlTest, AValueExpiresTtlAfterTheEventTimeOfItsWrite) {
  ValueState<int64_t> v(backend_.get(), Table("v"), &key_, Ttl::EventTime(absl::Seconds(1)));
  key_.SetEventTime(5000, 5000);
  v.Update(7);
  key_.SetEventTime(5999, 5999);
  EXPECT_EQ(v.Value(), 7);
  key_.SetEventTime(3000, 6000);  // a late record, judged by its partition's watermark
  EXPECT_FALSE(v.Value().has_value());
}

TEST_F(EventTimeTtlTest, ALateWriteMayBeBornExpired) {
  ValueState<int64_t> v(backend_.get(), Table("v"), &key_, Ttl::EventTime(absl::Seconds(1)));
  key_.SetEventTime(1000, 2500);
  v.Update(1);
  EXPECT_FALSE(v.Value().has_value()) << "written at 1000, expires at 2000, read at 2500";
}

TEST_F(EventTimeTtlTest, TheBackendsTtlWatermarkIsAFloorForEveryRead) {
  ValueState<int64_t> v(backend_.get(), Table("v"), &key_, Ttl::EventTime(absl::Seconds(1)));
  key_.SetEventTime(5000, 5000);
  v.Update(7);
  backend_->AdvanceTtlWatermark(6000);
  key_.SetEventTime(5500, 5500);
  EXPECT_FALSE(v.Value().has_value()) << "what a reclaim may have dropped never reads as present";
}

TEST_F(EventTimeTtlTest, ListElementsAndMapEntriesExpireOneByOne) {
  ListState<int64_t> list(backend_.get(), Table("l"), &key_, Ttl::EventTime(absl::Seconds(1)));
  MapState<std::string, int64_t> map(backend_.get(), Table("m", TableKind::kOrdered), &key_,
                                     Ttl::EventTime(absl::Seconds(1)));
  for (int64_t t : {1000, 2000, 3000}) {
    key_.SetEventTime(t, t);
    list.Add(t);
    map.Put(std::to_string(t), t);
  }
  key_.SetEventTime(3500, 3500);
  EXPECT_THAT(list.Get(), ::testing::ElementsAre(3000));
  EXPECT_EQ(map.Entries(), (std::vector<std::pair<std::string, int64_t>>{{"3000", 3000}}));
  EXPECT_FALSE(map.Get("2000").has_value());
  key_.SetEventTime(4000, 4000);
  EXPECT_TRUE(list.IsEmpty());
  EXPECT_TRUE(map.IsEmpty());
}

TEST_F(EventTimeTtlTest, ProcessingTimeTtlIgnoresEventTime) {
  ManualClock clock(0);
  StateTtl ttl = Ttl::ProcessingTime(absl::Seconds(1));
  ttl.clock = &clock;
  ValueState<int64_t> v(backend_.get(), Table("v"), &key_, ttl);
  key_.SetEventTime(5000, 5000);
  v.Update(7);
  key_.SetEventTime(1'000'000, 1'000'000);
  backend_->AdvanceTtlWatermark(1'000'000);
  EXPECT_EQ(v.Value(), 7);
  clock.Advance(1000);
  EXPECT_FALSE(v.Value().has_value());
}

// Counts the entries a backend really holds (ApproximateKeys is an estimate on RocksDB).
int64_t CountEntries(KeyedStateBackend* backend, TableId table) {
  int64_t n = 0;
  for (auto it = backend->Scan(table, {}); it->Valid(); it->Next()) ++n;
  return n;
}

TEST(HeapSweepTest, UnreadExpiredKeysLeaveAsTheWatermarkAdvances) {
  auto backend = HeapBackend::Create();
  TableId t = *backend->RegisterTable("v", TableKind::kPoint);
  backend->SetTtl(t, TtlLayout::kValue);
  KeyContext key;
  ValueState<int64_t> v(backend.get(), t, &key, Ttl::EventTime(absl::Milliseconds(100)));
  for (int64_t i = 0; i < 1000; ++i) {
    key.Set("key" + std::to_string(i), 1);
    key.SetEventTime(i, i);
    v.Update(i);
  }
  EXPECT_EQ(backend->ApproximateKeys(t), 1000);
  backend->AdvanceTtlWatermark(599);  // expiries 100..599 are due
  EXPECT_EQ(backend->ApproximateKeys(t), 500);
  backend->AdvanceTtlWatermark(2000);
  EXPECT_EQ(backend->ApproximateKeys(t), 0);
  EXPECT_EQ(backend->ttl_queue_size(), 0u);
}

TEST(HeapSweepTest, EachAdvanceLooksAtABoundedNumberOfKeys) {
  auto backend = HeapBackend::Create();
  TableId t = *backend->RegisterTable("v", TableKind::kPoint);
  backend->SetTtl(t, TtlLayout::kValue);
  const int64_t n = HeapBackend::kSweepBudget * 2 + 10;
  for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(backend->Put(t, "key" + std::to_string(i), Framed(100, "v")).ok());
  backend->AdvanceTtlWatermark(100);
  EXPECT_EQ(backend->ApproximateKeys(t), n - static_cast<int64_t>(HeapBackend::kSweepBudget));
  backend->AdvanceTtlWatermark(101);
  backend->AdvanceTtlWatermark(102);
  EXPECT_EQ(backend->ApproximateKeys(t), 0);
}

TEST(HeapSweepTest, AKeyWrittenAgainWaitsForItsNewExpiry) {
  auto backend = HeapBackend::Create();
  TableId t = *backend->RegisterTable("v", TableKind::kPoint);
  backend->SetTtl(t, TtlLayout::kValue);
  ASSERT_TRUE(backend->Put(t, "k", Framed(100, "old")).ok());
  ASSERT_TRUE(backend->Put(t, "k", Framed(1000, "new")).ok());
  backend->AdvanceTtlWatermark(500);
  std::string value;
  ASSERT_TRUE(backend->Get(t, "k", &value).ok());
  EXPECT_EQ(value, Framed(1000, "new"));
  backend->AdvanceTtlWatermark(1000);
  EXPECT_TRUE(absl::IsNotFound(backend->Get(t, "k", &value)));
}

TEST(HeapSweepTest, ListsKeepTheirLiveElementsAndEntriesRestoredBeforeSetTtlAreSwept) {
  auto backend = HeapBackend::Create();
  TableId t = *backend->RegisterTable("l", TableKind::kPoint);
  // As a restore writes them: before the operator declared the table.
  ASSERT_TRUE(backend->Put(t, "a", List({{100, "x"}, {300, "y"}})).ok());
  ASSERT_TRUE(backend->Put(t, "b", List({{100, "z"}})).ok());
  backend->AdvanceTtlWatermark(200);
  EXPECT_EQ(backend->ApproximateKeys(t), 2) << "not declared yet: nothing is reclaimed";
  backend->SetTtl(t, TtlLayout::kListElements);
  backend->AdvanceTtlWatermark(201);
  std::string value;
  ASSERT_TRUE(backend->Get(t, "a", &value).ok());
  EXPECT_EQ(value, List({{300, "y"}}));
  EXPECT_TRUE(absl::IsNotFound(backend->Get(t, "b", &value)));
}

class RocksDbTtlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ttl_test_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<RocksDbBackend> Open(const std::string& sub) {
    auto b = RocksDbBackend::Open(dir_ + "/" + sub, resources_);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? std::move(*b) : nullptr;
  }
  std::string dir_;
  std::shared_ptr<RocksDbResources> resources_ =
      RocksDbResources::Create({.block_cache_bytes = 8 << 20, .write_buffer_bytes = 8 << 20});
};

TEST_F(RocksDbTtlTest, CompactionDropsExpiredValuesListElementsAndOperands) {
  auto backend = Open("db");
  TableId v = *backend->RegisterTable("v", TableKind::kPoint);
  TableId l = *backend->RegisterTable("l", TableKind::kPoint);
  TableId plain = *backend->RegisterTable("plain", TableKind::kPoint);
  backend->SetTtl(v, TtlLayout::kValue);
  backend->SetTtl(l, TtlLayout::kListElements);
  for (int i = 0; i < 1000; ++i) {
    std::string k = "key" + std::to_string(i);
    ASSERT_TRUE(backend->Put(v, k, Framed(i, "value")).ok());
    ASSERT_TRUE(backend->Put(plain, k, Framed(i, "value")).ok());
  }
  ASSERT_TRUE(backend->Append(l, "list", Framed(100, "a")).ok());
  ASSERT_TRUE(backend->Append(l, "list", Framed(900, "b")).ok());
  ASSERT_TRUE(backend->Append(l, "gone", Framed(100, "c")).ok());
  ASSERT_TRUE(backend->Compact().ok());  // merges the appends into values
  ASSERT_TRUE(backend->Append(l, "list", Framed(150, "d")).ok());  // an operand on top

  backend->AdvanceTtlWatermark(499);
  ASSERT_TRUE(backend->Compact().ok());
  EXPECT_EQ(CountEntries(backend.get(), v), 500) << "expiries 0..499 are gone, unread";
  EXPECT_EQ(CountEntries(backend.get(), plain), 1000) << "a table without TTL keeps everything";
  std::string value;
  ASSERT_TRUE(backend->Get(l, "list", &value).ok());
  EXPECT_EQ(value, List({{900, "b"}}));
  EXPECT_TRUE(absl::IsNotFound(backend->Get(l, "gone", &value)));
}

TEST_F(RocksDbTtlTest, TheTtlWatermarkTravelsWithSnapshotsAndRestoresAsAFloor) {
  auto backend = Open("db");
  TableId v = *backend->RegisterTable("v", TableKind::kPoint);
  backend->SetTtl(v, TtlLayout::kValue);
  KeyContext key;
  key.Set("k", 3);
  ValueState<int64_t> state(backend.get(), v, &key, Ttl::EventTime(absl::Seconds(1)));
  key.SetEventTime(1000, 1000);
  state.Update(1);
  backend->AdvanceTtlWatermark(2500);  // 1's expiry (2000) passed; not compacted yet
  auto files = backend->Snapshot(dir_ + "/snap");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ::testing::Contains("TTL_WATERMARK"));

  for (std::string_view into : {"heap", "rocksdb"}) {
    std::unique_ptr<KeyedStateBackend> restored;
    if (into == "heap") {
      restored = HeapBackend::Create();
    } else {
      restored = Open("restored");
    }
    ASSERT_TRUE(RestoreSnapshot(dir_ + "/snap", "rocksdb", 0, 100, restored.get()).ok());
    EXPECT_EQ(restored->ttl_watermark(), 2500) << into;
    TableId rv = *restored->RegisterTable("v", TableKind::kPoint);
    ValueState<int64_t> again(restored.get(), rv, &key, Ttl::EventTime(absl::Seconds(1)));
    key.SetEventTime(kMinTimestamp, kMinTimestamp);  // a partition whose watermark restarted
    EXPECT_FALSE(again.Value().has_value()) << into << ": expired before the snapshot, expired after it";
  }
}

TEST_F(RocksDbTtlTest, HeapSnapshotsCarryTheTtlWatermarkToo) {
  auto heap = HeapBackend::Create();
  TableId v = *heap->RegisterTable("v", TableKind::kPoint);
  auto plain = heap->Snapshot(dir_ + "/before");
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(*plain, ::testing::ElementsAre("state.bin")) << "no TTL table, no watermark file";
  heap->SetTtl(v, TtlLayout::kValue);
  heap->AdvanceTtlWatermark(777);
  ASSERT_TRUE(heap->Snapshot(dir_ + "/snap").ok());
  auto restored = Open("restored");
  ASSERT_TRUE(RestoreSnapshot(dir_ + "/snap", "heap", 0, 100, restored.get()).ok());
  EXPECT_EQ(restored->ttl_watermark(), 777);
}

TEST_F(RocksDbTtlTest, TheCacheNeitherWritesBackNorKeepsExpiredEntries) {
  auto cache = CachingBackend::Create(Open("db"), 1 << 20);
  auto* rocks = static_cast<RocksDbBackend*>(cache->inner());
  TableId v = *cache->RegisterTable("v", TableKind::kPoint);
  TableId l = *cache->RegisterTable("l", TableKind::kPoint);
  cache->SetTtl(v, TtlLayout::kValue);
  cache->SetTtl(l, TtlLayout::kListElements);

  // Written back while alive, then cached clean; expires later.
  ASSERT_TRUE(cache->Put(v, "clean", Framed(300, "x")).ok());
  ASSERT_TRUE(cache->Flush().ok());
  std::string value;
  ASSERT_TRUE(cache->Get(v, "clean", &value).ok());
  // Changed in the cache only, and expired before any write-back.
  ASSERT_TRUE(cache->Put(v, "dirty", Framed(100, "y")).ok());
  ASSERT_TRUE(cache->Append(l, "list", Framed(100, "a")).ok());
  ASSERT_TRUE(cache->Append(l, "list", Framed(900, "b")).ok());
  const size_t cached_before = cache->cached_bytes();

  cache->AdvanceTtlWatermark(500);
  EXPECT_EQ(rocks->ttl_watermark(), 500) << "forwarded to the backend, whose compactions reclaim";
  ASSERT_TRUE(cache->Flush().ok());
  EXPECT_LT(cache->cached_bytes(), cached_before) << "expired entries left the cache";
  EXPECT_TRUE(absl::IsNotFound(rocks->Get(v, "dirty", &value))) << "an expired change is never written back";
  ASSERT_TRUE(rocks->Get(l, "list", &value).ok());
  EXPECT_EQ(value, List({{900, "b"}})) << "only live appended elements are written back";
  ASSERT_TRUE(rocks->Compact().ok());
  EXPECT_EQ(CountEntries(rocks, v), 0);
  EXPECT_TRUE(absl::IsNotFound(cache->Get(v, "clean", &value))) << "not brought back from the cache";
}

}  // namespace
}  // namespace kappa::state
