#include "kappa/state/keyed_state.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/heap_backend.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/serializer.h"

namespace kappa {
namespace {

using ::kappa::state::HeapBackend;
using ::kappa::state::KeyContext;
using ::kappa::state::KeyedStateBackend;
using ::kappa::state::StateIterator;
using ::kappa::state::TableId;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Runs fn and returns the status of the StateError it throws; OK if it throws nothing.
template <typename Fn>
absl::Status StatusOfStateError(Fn&& fn) {
  try {
    fn();
  } catch (const StateError& e) {
    return e.status();
  }
  return absl::OkStatus();
}

// A backend whose writes fail as if the disk were full; reads go to a heap backend.
class DiskFullBackend : public KeyedStateBackend {
 public:
  absl::StatusOr<TableId> RegisterTable(const std::string& name, state::TableKind kind = state::TableKind::kOrdered) override {
    return heap_->RegisterTable(name, kind);
  }
  absl::Status Get(TableId table, std::string_view key, std::string* value) override {
    if (!get_status_.ok()) return get_status_;
    return heap_->Get(table, key, value);
  }
  absl::Status Put(TableId, std::string_view, std::string_view) override {
    return absl::ResourceExhaustedError("disk full");
  }
  absl::Status Append(TableId, std::string_view, std::string_view) override {
    return absl::ResourceExhaustedError("disk full");
  }
  absl::Status Delete(TableId table, std::string_view key) override { return heap_->Delete(table, key); }
  std::unique_ptr<StateIterator> Scan(TableId table, std::string_view prefix) override {
    return heap_->Scan(table, prefix);
  }
  int64_t ApproximateKeys(TableId table) override { return heap_->ApproximateKeys(table); }
  std::vector<state::TableInfo> Tables() const override { return heap_->Tables(); }
  absl::StatusOr<std::vector<std::string>> Snapshot(const std::string&) override {
    return absl::ResourceExhaustedError("disk full");
  }
  std::string_view name() const override { return "disk-full"; }

  void FailGets(absl::Status status) { get_status_ = std::move(status); }

 private:
  std::unique_ptr<HeapBackend> heap_ = HeapBackend::Create();
  absl::Status get_status_;
};

class KeyedStateTest : public ::testing::Test {
 protected:
  void SetUp() override { backend_ = HeapBackend::Create(); }

  // Scopes all handles to `key`, serialized and assigned its key group as the runtime does.
  void SetKey(const std::string& key) {
    std::string bytes = SerializeToString(key);
    key_.Set(bytes, state::KeyGroupFor(bytes, state::kDefaultMaxParallelism));
  }

  TableId Table(const std::string& name) {
    absl::StatusOr<TableId> t = backend_->RegisterTable(name);
    EXPECT_TRUE(t.ok()) << t.status();
    return *t;
  }
  template <typename V>
  ValueState<V> MakeValueState(const std::string& name) {
    return ValueState<V>(backend_.get(), Table(name), &key_);
  }
  template <typename V>
  ListState<V> MakeListState(const std::string& name) {
    return ListState<V>(backend_.get(), Table(name), &key_);
  }
  template <typename UK, typename UV>
  MapState<UK, UV> MakeMapState(const std::string& name) {
    return MapState<UK, UV>(backend_.get(), Table(name), &key_);
  }

  // The only key stored in table `name`.
  std::string OnlyStoredKey(const std::string& name) {
    auto it = backend_->Scan(Table(name), "");
    EXPECT_TRUE(it->Valid());
    if (!it->Valid()) return "";
    std::string key(it->key());
    it->Next();
    EXPECT_FALSE(it->Valid()) << "more than one key in table " << name;
    return key;
  }

  std::unique_ptr<HeapBackend> backend_;
  KeyContext key_;
};

TEST_F(KeyedStateTest, DefaultHandleIsInvalid) {
  ValueState<int64_t> unset;
  EXPECT_FALSE(unset.valid());
  EXPECT_TRUE(MakeValueState<int64_t>("count").valid());
}

// ---- ValueState ----

TEST_F(KeyedStateTest, ValueIsAbsentBeforeFirstUpdate) {
  SetKey("A");
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  EXPECT_EQ(count.Value(), std::nullopt);
  EXPECT_EQ(count.ValueOr(-1), -1);
}

TEST_F(KeyedStateTest, ValueReturnsLastUpdate) {
  SetKey("A");
  ValueState<std::string> last = MakeValueState<std::string>("last");
  last.Update("first");
  last.Update(std::string("se\0cond", 7));
  EXPECT_THAT(last.Value(), Optional(std::string("se\0cond", 7)));
  EXPECT_EQ(last.ValueOr("fallback"), std::string("se\0cond", 7));
}

TEST_F(KeyedStateTest, ValueStateIsScopedByKey) {
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  SetKey("A");
  count.Update(10);
  SetKey("B");
  EXPECT_EQ(count.Value(), std::nullopt);
  count.Update(20);
  SetKey("A");
  EXPECT_THAT(count.Value(), Optional(10));
  SetKey("B");
  EXPECT_THAT(count.Value(), Optional(20));
}

TEST_F(KeyedStateTest, ValueStateIsScopedByNamespace) {
  SetKey("A");
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  count.Update(1);
  count.SetNamespace(SerializeToString(int64_t{1000}));
  EXPECT_EQ(count.Value(), std::nullopt);
  count.Update(2);
  count.SetNamespace(SerializeToString(int64_t{2000}));
  EXPECT_EQ(count.Value(), std::nullopt);
  count.SetNamespace(SerializeToString(int64_t{1000}));
  EXPECT_THAT(count.Value(), Optional(2));
  count.SetNamespace("");
  EXPECT_THAT(count.Value(), Optional(1));
}

TEST_F(KeyedStateTest, ValueClearRemovesOnlyCurrentKeysValue) {
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  SetKey("A");
  count.Update(1);
  SetKey("B");
  count.Update(2);
  SetKey("A");
  count.Clear();
  EXPECT_EQ(count.Value(), std::nullopt);
  SetKey("B");
  EXPECT_THAT(count.Value(), Optional(2));
}

TEST_F(KeyedStateTest, StatesWithDifferentNamesAreIndependent) {
  SetKey("A");
  ValueState<int64_t> a = MakeValueState<int64_t>("a");
  ValueState<int64_t> b = MakeValueState<int64_t>("b");
  a.Update(1);
  EXPECT_EQ(b.Value(), std::nullopt);
  // Two handles on the same name share the state.
  EXPECT_THAT(MakeValueState<int64_t>("a").Value(), Optional(1));
}

TEST_F(KeyedStateTest, ValueStateHoldsSerializableStructs) {
  using Session = std::pair<std::string, std::vector<int64_t>>;
  SetKey("A");
  ValueState<Session> session = MakeValueState<Session>("session");
  session.Update({"s1", {1, 2, 3}});
  EXPECT_THAT(session.Value(), Optional(Session{"s1", {1, 2, 3}}));
}

// ---- Key groups in the stored key ----

TEST_F(KeyedStateTest, StoredKeyStartsWithBigEndianKeyGroupThenKeyBytes) {
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  key_.Set("key", 0x0102);
  count.Update(1);
  EXPECT_TRUE(OnlyStoredKey("count").starts_with(std::string("\x01\x02" "key")));
}

TEST_F(KeyedStateTest, KeyGroupIsPartOfTheStateKey) {
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  const std::string bytes = SerializeToString(std::string("same key"));
  key_.Set(bytes, 3);
  count.Update(3);
  key_.Set(bytes, 4);
  EXPECT_EQ(count.Value(), std::nullopt);
  count.Update(4);
  key_.Set(bytes, 3);
  EXPECT_THAT(count.Value(), Optional(3));
  key_.Set(bytes, 4);
  EXPECT_THAT(count.Value(), Optional(4));
  EXPECT_EQ(backend_->ApproximateKeys(Table("count")), 2);
}

// ---- ListState ----

TEST_F(KeyedStateTest, ListIsEmptyBeforeFirstAdd) {
  SetKey("A");
  ListState<std::string> list = MakeListState<std::string>("list");
  EXPECT_TRUE(list.IsEmpty());
  EXPECT_THAT(list.Get(), IsEmpty());
}

TEST_F(KeyedStateTest, ListGetReturnsElementsInInsertionOrder) {
  SetKey("A");
  ListState<std::string> list = MakeListState<std::string>("list");
  list.Add("c");
  list.Add("");
  list.Add(std::string(300, 'a'));
  list.Add("b");
  EXPECT_FALSE(list.IsEmpty());
  EXPECT_THAT(list.Get(), ElementsAre("c", "", std::string(300, 'a'), "b"));
}

TEST_F(KeyedStateTest, ListForEachVisitsElementsInOrder) {
  SetKey("A");
  ListState<int64_t> list = MakeListState<int64_t>("list");
  for (int64_t v : {5, -1, 3}) list.Add(v);
  std::vector<int64_t> seen;
  list.ForEach([&](int64_t&& v) { seen.push_back(v); });
  EXPECT_THAT(seen, ElementsAre(5, -1, 3));
}

TEST_F(KeyedStateTest, ListUpdateReplacesContents) {
  SetKey("A");
  ListState<int64_t> list = MakeListState<int64_t>("list");
  list.Add(1);
  list.Add(2);
  list.Update({7, 8, 9});
  EXPECT_THAT(list.Get(), ElementsAre(7, 8, 9));
  list.Update({});
  EXPECT_TRUE(list.IsEmpty());
  EXPECT_THAT(list.Get(), IsEmpty());
}

TEST_F(KeyedStateTest, ListClearEmptiesOnlyCurrentKeysList) {
  ListState<int64_t> list = MakeListState<int64_t>("list");
  SetKey("A");
  list.Add(1);
  SetKey("B");
  list.Add(2);
  SetKey("A");
  list.Clear();
  EXPECT_TRUE(list.IsEmpty());
  SetKey("B");
  EXPECT_THAT(list.Get(), ElementsAre(2));
}

TEST_F(KeyedStateTest, ListStateIsScopedByKeyAndNamespace) {
  ListState<int64_t> list = MakeListState<int64_t>("list");
  SetKey("A");
  list.Add(1);
  list.SetNamespace(SerializeToString(int64_t{60}));
  list.Add(2);
  SetKey("B");
  EXPECT_TRUE(list.IsEmpty());
  list.Add(3);
  SetKey("A");
  EXPECT_THAT(list.Get(), ElementsAre(2));
  list.SetNamespace("");
  EXPECT_THAT(list.Get(), ElementsAre(1));
}

// ---- MapState ----

TEST_F(KeyedStateTest, MapPutGetContainsRemove) {
  SetKey("A");
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  EXPECT_EQ(map.Get("x"), std::nullopt);
  EXPECT_FALSE(map.Contains("x"));

  map.Put("x", 1);
  map.Put("y", 2);
  map.Put("x", 10);
  EXPECT_THAT(map.Get("x"), Optional(10));
  EXPECT_TRUE(map.Contains("y"));

  map.Remove("x");
  EXPECT_FALSE(map.Contains("x"));
  EXPECT_THAT(map.Get("y"), Optional(2));
  map.Remove("never there");
  EXPECT_THAT(map.Entries(), ElementsAre(Pair("y", 2)));
}

TEST_F(KeyedStateTest, MapEntriesAreInKeyByteOrder) {
  SetKey("A");
  MapState<std::string, std::string> map = MakeMapState<std::string, std::string>("map");
  map.Put("c", "3");
  map.Put("a", "1");
  map.Put("b", "2");
  EXPECT_THAT(map.Entries(), ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("c", "3")));
}

TEST_F(KeyedStateTest, MapEntriesDecodeKeysOfDifferentLengths) {
  SetKey("A");
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  map.Put("", 0);
  map.Put("a", 1);
  map.Put("ab", 2);
  map.Put(std::string(200, 'z'), 3);
  EXPECT_THAT(map.Entries(),
              UnorderedElementsAre(Pair("", 0), Pair("a", 1), Pair("ab", 2), Pair(std::string(200, 'z'), 3)));
}

TEST_F(KeyedStateTest, MapForEachVisitsEveryEntry) {
  SetKey("A");
  MapState<int64_t, std::string> map = MakeMapState<int64_t, std::string>("map");
  map.Put(1, "one");
  map.Put(2, "two");
  std::vector<std::pair<int64_t, std::string>> seen;
  map.ForEach([&](const int64_t& k, std::string&& v) { seen.emplace_back(k, std::move(v)); });
  EXPECT_THAT(seen, UnorderedElementsAre(Pair(1, "one"), Pair(2, "two")));
}

TEST_F(KeyedStateTest, MapIsEmptyTracksContents) {
  SetKey("A");
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  EXPECT_TRUE(map.IsEmpty());
  map.Put("x", 1);
  EXPECT_FALSE(map.IsEmpty());
  map.Remove("x");
  EXPECT_TRUE(map.IsEmpty());
}

TEST_F(KeyedStateTest, MapClearForOneKeyLeavesOtherKeysMapIntact) {
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  SetKey("A");
  map.Put("x", 1);
  map.Put("y", 2);
  SetKey("B");
  map.Put("x", 3);
  SetKey("A");
  map.Clear();
  EXPECT_TRUE(map.IsEmpty());
  EXPECT_THAT(map.Entries(), IsEmpty());
  SetKey("B");
  EXPECT_THAT(map.Entries(), ElementsAre(Pair("x", 3)));
}

TEST_F(KeyedStateTest, MapOfKeyDoesNotSeeMapOfKeyWhoseRawBytesExtendIt) {
  // Serialized keys are prefix-free, so in one key group the map of "a" must not pick up
  // entries of "ab" through the prefix scan.
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  key_.Set(SerializeToString(std::string("ab")), 5);
  map.Put("x", 2);
  key_.Set(SerializeToString(std::string("a")), 5);
  EXPECT_TRUE(map.IsEmpty());
  EXPECT_THAT(map.Entries(), IsEmpty());
  map.Clear();
  key_.Set(SerializeToString(std::string("ab")), 5);
  EXPECT_THAT(map.Get("x"), Optional(2));
}

TEST_F(KeyedStateTest, MapStateIsScopedByNamespace) {
  SetKey("A");
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  map.SetNamespace(SerializeToString(int64_t{1000}));
  map.Put("x", 1);
  map.SetNamespace(SerializeToString(int64_t{2000}));
  EXPECT_TRUE(map.IsEmpty());
  map.Put("y", 2);
  map.Clear();
  map.SetNamespace(SerializeToString(int64_t{1000}));
  EXPECT_THAT(map.Entries(), ElementsAre(Pair("x", 1)));
}

TEST_F(KeyedStateTest, MapInEmptyNamespaceDoesNotSeeOtherNamespaces) {
  // The empty namespace (user state) is a byte prefix of every other namespace; the stored
  // key must still keep them apart for the prefix scans behind Entries/IsEmpty/Clear.
  SetKey("A");
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  map.SetNamespace(SerializeToString(int64_t{1000}));
  map.Put("windowed", 1);
  map.SetNamespace("");
  EXPECT_TRUE(map.IsEmpty());
  EXPECT_THAT(map.Entries(), IsEmpty());
  map.Put("global", 2);
  map.Clear();
  map.SetNamespace(SerializeToString(int64_t{1000}));
  EXPECT_THAT(map.Entries(), ElementsAre(Pair("windowed", 1)));
}

// ---- Errors ----

TEST(StateErrorTest, CarriesStatusAndMessage) {
  StateError error(absl::DataLossError("bad bytes"));
  EXPECT_EQ(error.status(), absl::DataLossError("bad bytes"));
  EXPECT_STREQ(error.what(), "bad bytes");
}

class FailingBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = *backend_.RegisterTable("t");
    key_.Set(SerializeToString(std::string("A")), 1);
  }
  DiskFullBackend backend_;
  KeyContext key_;
  TableId table_ = -1;
};

TEST_F(FailingBackendTest, ValueUpdateThrowsStateErrorWithBackendStatus) {
  ValueState<int64_t> count(&backend_, table_, &key_);
  EXPECT_EQ(StatusOfStateError([&] { count.Update(1); }), absl::ResourceExhaustedError("disk full"));
  EXPECT_EQ(count.Value(), std::nullopt);
}

TEST_F(FailingBackendTest, ListAddThrowsStateErrorWithBackendStatus) {
  ListState<std::string> list(&backend_, table_, &key_);
  EXPECT_EQ(StatusOfStateError([&] { list.Add("x"); }), absl::ResourceExhaustedError("disk full"));
  EXPECT_EQ(StatusOfStateError([&] { list.Update({"x"}); }), absl::ResourceExhaustedError("disk full"));
  EXPECT_TRUE(list.IsEmpty());
}

TEST_F(FailingBackendTest, MapPutThrowsStateErrorWithBackendStatus) {
  MapState<std::string, int64_t> map(&backend_, table_, &key_);
  EXPECT_EQ(StatusOfStateError([&] { map.Put("x", 1); }), absl::ResourceExhaustedError("disk full"));
  EXPECT_TRUE(map.IsEmpty());
}

TEST_F(FailingBackendTest, ReadErrorOtherThanNotFoundThrows) {
  backend_.FailGets(absl::UnavailableError("io error"));
  ValueState<int64_t> count(&backend_, table_, &key_);
  ListState<int64_t> list(&backend_, table_, &key_);
  MapState<int64_t, int64_t> map(&backend_, table_, &key_);
  EXPECT_EQ(StatusOfStateError([&] { count.Value(); }), absl::UnavailableError("io error"));
  EXPECT_EQ(StatusOfStateError([&] { list.Get(); }), absl::UnavailableError("io error"));
  EXPECT_EQ(StatusOfStateError([&] { map.Get(1); }), absl::UnavailableError("io error"));
}

TEST_F(KeyedStateTest, CorruptValueThrowsDataLoss) {
  SetKey("A");
  ValueState<int64_t> count = MakeValueState<int64_t>("count");
  count.Update(42);
  ASSERT_TRUE(backend_->Put(Table("count"), OnlyStoredKey("count"), "junk").ok());  // 4 bytes, not 8
  absl::Status status = StatusOfStateError([&] { count.Value(); });
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
}

TEST_F(KeyedStateTest, ValueWithTrailingBytesThrowsDataLoss) {
  SetKey("A");
  ValueState<int32_t> count = MakeValueState<int32_t>("count");
  count.Update(1);
  ASSERT_TRUE(backend_->Put(Table("count"), OnlyStoredKey("count"), SerializeToString(int64_t{1})).ok());
  EXPECT_TRUE(absl::IsDataLoss(StatusOfStateError([&] { count.Value(); })));
}

TEST_F(KeyedStateTest, CorruptListThrowsDataLoss) {
  SetKey("A");
  ListState<std::string> list = MakeListState<std::string>("list");
  list.Add("x");
  const std::string key = OnlyStoredKey("list");

  // An element whose length runs past the end of the list.
  ASSERT_TRUE(backend_->Put(Table("list"), key, "\x05" "ab").ok());
  EXPECT_TRUE(absl::IsDataLoss(StatusOfStateError([&] { list.Get(); })));

  // A well-framed element that is not a serialized string.
  ASSERT_TRUE(backend_->Put(Table("list"), key, "\x01" "\x09").ok());
  EXPECT_TRUE(absl::IsDataLoss(StatusOfStateError([&] { list.Get(); })));
}

TEST_F(KeyedStateTest, CorruptMapValueThrowsDataLoss) {
  SetKey("A");
  MapState<std::string, int64_t> map = MakeMapState<std::string, int64_t>("map");
  map.Put("x", 1);
  ASSERT_TRUE(backend_->Put(Table("map"), OnlyStoredKey("map"), "bad").ok());
  EXPECT_TRUE(absl::IsDataLoss(StatusOfStateError([&] { map.Get("x"); })));
  EXPECT_TRUE(absl::IsDataLoss(StatusOfStateError([&] { map.Entries(); })));
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

class MoreStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = state::HeapBackend::Create();
    key_.Set("k", 1);
  }
  state::TableId Table(const std::string& name) { return *backend_->RegisterTable(name, state::TableKind::kPoint); }
  std::unique_ptr<state::HeapBackend> backend_;
  state::KeyContext key_;
  ManualClock clock_{1000};
};

TEST_F(MoreStateTest, ValueWithTtlExpiresAfterItsLastWrite) {
  ValueState<int64_t> v(backend_.get(), Table("ttl"), &key_, StateTtl{500, &clock_});
  v.Update(7);
  clock_.Advance(499);
  EXPECT_EQ(v.Value(), 7);
  v.Update(8);  // writing restarts the clock
  clock_.Advance(499);
  EXPECT_EQ(v.Value(), 8);
  clock_.Advance(1);
  EXPECT_FALSE(v.Value().has_value());
  EXPECT_EQ(backend_->ApproximateKeys(Table("ttl")), 0) << "an expired value is removed when read";
}

TEST_F(MoreStateTest, ReducingStateFoldsEveryAdd) {
  ReducingState<int64_t, std::plus<>> total(ValueState<int64_t>(backend_.get(), Table("sum"), &key_), std::plus<>());
  EXPECT_FALSE(total.Get().has_value());
  total.Add(5);
  total.Add(7);
  EXPECT_EQ(total.Get(), 12);
  key_.Set("other", 2);
  EXPECT_FALSE(total.Get().has_value()) << "scoped to the current key";
  key_.Set("k", 1);
  total.Clear();
  EXPECT_FALSE(total.Get().has_value());
}

struct Average {
  std::pair<int64_t, int64_t> Create() { return {0, 0}; }
  void Add(std::pair<int64_t, int64_t>& acc, const int64_t& v) {
    acc.first += v;
    ++acc.second;
  }
  double Result(const std::pair<int64_t, int64_t>& acc) { return static_cast<double>(acc.first) / acc.second; }
};

TEST_F(MoreStateTest, AggregatingStateKeepsAnAccumulatorAndReadsAResult) {
  AggregatingState<int64_t, Average> avg(ValueState<std::pair<int64_t, int64_t>>(backend_.get(), Table("avg"), &key_),
                                         Average());
  avg.Add(1);
  avg.Add(2);
  avg.Add(6);
  EXPECT_DOUBLE_EQ(*avg.Get(), 3.0);
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

class CachedValueStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = state::HeapBackend::Create();
    table_ = *backend_->RegisterTable("acc", state::TableKind::kPoint);
    state_ = CachedValueState<int64_t>(backend_.get(), table_, &key_);
    key_.Set("a", 1);
  }
  int64_t InBackend() { return backend_->ApproximateKeys(table_); }
  std::unique_ptr<state::HeapBackend> backend_;
  state::TableId table_;
  state::KeyContext key_;
  CachedValueState<int64_t> state_;
};

TEST_F(CachedValueStateTest, UpdatesStayInTheCacheUntilFlush) {
  EXPECT_EQ(state_.Find(), nullptr);
  state_.Put(1);
  ++*state_.Find();
  state_.MarkDirty();
  EXPECT_EQ(InBackend(), 0);
  state_.Flush();
  ASSERT_EQ(InBackend(), 1);
  ValueState<int64_t> plain(backend_.get(), table_, &key_);
  EXPECT_EQ(plain.Value(), 2);
}

TEST_F(CachedValueStateTest, ValueCreatedAndClearedBetweenFlushesNeverReachesTheBackend) {
  state_.Put(5);
  state_.Clear();
  state_.Flush();
  EXPECT_EQ(InBackend(), 0);
  EXPECT_EQ(state_.Find(), nullptr);
}

TEST_F(CachedValueStateTest, ClearOfAFlushedValueDeletesItAtTheNextFlush) {
  state_.Put(5);
  state_.Flush();
  state_.Clear();
  EXPECT_EQ(InBackend(), 1);
  state_.Flush();
  EXPECT_EQ(InBackend(), 0);
  EXPECT_EQ(state_.Find(), nullptr);
}

TEST_F(CachedValueStateTest, ReadsWhatTheBackendAlreadyHeld) {
  ValueState<int64_t> plain(backend_.get(), table_, &key_);
  plain.Update(41);
  ASSERT_NE(state_.Find(), nullptr);
  EXPECT_EQ(*state_.Find(), 41);
}

TEST_F(CachedValueStateTest, AFullCacheWritesBackAndKeepsEveryValue) {
  state_.set_capacity(2);
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < 5; ++k) {
      key_.Set("k" + std::to_string(k), k);
      int64_t* v = state_.Find();
      if (v == nullptr) v = &state_.Put(0);
      *v += k;
      state_.MarkDirty();
    }
  }
  state_.Flush();
  ValueState<int64_t> plain(backend_.get(), table_, &key_);
  for (int k = 0; k < 5; ++k) {
    key_.Set("k" + std::to_string(k), k);
    EXPECT_EQ(plain.Value(), 3 * k) << k;
  }
}

}  // namespace
}  // namespace kappa

namespace kappa {
namespace {

TEST(StateTtlTest, ListElementsExpireOneByOne) {
  auto backend = state::HeapBackend::Create();
  state::KeyContext key;
  key.Set("k", 1);
  ManualClock clock(0);
  ListState<int64_t> list(backend.get(), *backend->RegisterTable("l", state::TableKind::kPoint), &key,
                          StateTtl{100, &clock});
  list.Add(1);
  clock.Advance(60);
  list.Add(2);
  EXPECT_EQ(list.Get(), (std::vector<int64_t>{1, 2}));
  clock.Advance(40);  // the first element is 100 ms old now
  EXPECT_EQ(list.Get(), (std::vector<int64_t>{2}));
  EXPECT_FALSE(list.IsEmpty());
  clock.Advance(60);
  EXPECT_TRUE(list.Get().empty());
  EXPECT_TRUE(list.IsEmpty());
}

TEST(StateTtlTest, MapEntriesExpireAfterTheirLastPut) {
  auto backend = state::HeapBackend::Create();
  state::KeyContext key;
  key.Set("k", 1);
  ManualClock clock(0);
  MapState<std::string, int64_t> map(backend.get(), *backend->RegisterTable("m"), &key, StateTtl{100, &clock});
  map.Put("a", 1);
  clock.Advance(50);
  map.Put("b", 2);
  map.Put("a", 3);  // refreshed
  clock.Advance(60);
  EXPECT_EQ(map.Get("a"), 3);
  EXPECT_EQ(map.Entries().size(), 2u);
  clock.Advance(50);
  EXPECT_FALSE(map.Get("b").has_value());
  EXPECT_FALSE(map.Get("a").has_value());
  EXPECT_TRUE(map.IsEmpty());
}

}  // namespace
}  // namespace kappa
