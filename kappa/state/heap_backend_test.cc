#include "kappa/state/heap_backend.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kappa/state/backend.h"
#include "kappa/state/key_groups.h"
#include "kappa/state/serializer.h"

namespace kappa::state {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class HeapBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = HeapBackend::Create();
    absl::StatusOr<TableId> table = backend_->RegisterTable("t");
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *table;
  }

  // All (key, value) pairs a Scan of `prefix` yields, in iteration order.
  std::vector<std::pair<std::string, std::string>> ScanAll(TableId table, std::string_view prefix) {
    std::vector<std::pair<std::string, std::string>> out;
    auto it = backend_->Scan(table, prefix);
    for (; it->Valid(); it->Next()) out.emplace_back(std::string(it->key()), std::string(it->value()));
    EXPECT_TRUE(it->status().ok()) << it->status();
    return out;
  }

  std::vector<std::string> ScanKeys(TableId table, std::string_view prefix) {
    std::vector<std::string> keys;
    for (auto& [k, v] : ScanAll(table, prefix)) keys.push_back(k);
    return keys;
  }

  std::unique_ptr<HeapBackend> backend_;
  TableId table_ = -1;
};

TEST_F(HeapBackendTest, GetOfMissingKeyReturnsNotFound) {
  std::string value = "untouched";
  absl::Status s = backend_->Get(table_, "missing", &value);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

TEST_F(HeapBackendTest, GetReturnsWhatPutStored) {
  const std::string binary_value("v\0\xff", 3);
  ASSERT_TRUE(backend_->Put(table_, "k", binary_value).ok());
  std::string value;
  ASSERT_TRUE(backend_->Get(table_, "k", &value).ok());
  EXPECT_EQ(value, binary_value);
}

TEST_F(HeapBackendTest, PutOverwritesExistingValue) {
  ASSERT_TRUE(backend_->Put(table_, "k", "first value").ok());
  ASSERT_TRUE(backend_->Put(table_, "k", "2").ok());
  std::string value;
  ASSERT_TRUE(backend_->Get(table_, "k", &value).ok());
  EXPECT_EQ(value, "2");
  EXPECT_EQ(backend_->ApproximateKeys(table_), 1);
}

TEST_F(HeapBackendTest, PutOfEmptyValueIsFoundNotMissing) {
  ASSERT_TRUE(backend_->Put(table_, "k", "").ok());
  std::string value = "stale";
  ASSERT_TRUE(backend_->Get(table_, "k", &value).ok());
  EXPECT_EQ(value, "");
}

TEST_F(HeapBackendTest, DeleteRemovesOnlyThatKey) {
  ASSERT_TRUE(backend_->Put(table_, "a", "1").ok());
  ASSERT_TRUE(backend_->Put(table_, "b", "2").ok());
  ASSERT_TRUE(backend_->Delete(table_, "a").ok());
  std::string value;
  EXPECT_TRUE(absl::IsNotFound(backend_->Get(table_, "a", &value)));
  ASSERT_TRUE(backend_->Get(table_, "b", &value).ok());
  EXPECT_EQ(value, "2");
  EXPECT_EQ(backend_->ApproximateKeys(table_), 1);
}

TEST_F(HeapBackendTest, DeleteOfMissingKeySucceeds) {
  EXPECT_TRUE(backend_->Delete(table_, "never written").ok());
  EXPECT_EQ(backend_->ApproximateKeys(table_), 0);
}

TEST_F(HeapBackendTest, AppendBuildsListDecodedInOrder) {
  const std::string long_element(200, 'L');  // two-byte length prefix
  const std::vector<std::string> elements{"first", "", std::string("\0", 1), long_element, ""};
  for (const std::string& e : elements) ASSERT_TRUE(backend_->Append(table_, "list", e).ok());

  std::string list;
  ASSERT_TRUE(backend_->Get(table_, "list", &list).ok());
  std::vector<std::string> decoded;
  EXPECT_TRUE(ForEachListElement(list, [&](std::string_view e) { decoded.emplace_back(e); }));
  EXPECT_EQ(decoded, elements);
}

TEST_F(HeapBackendTest, AppendStoresVarintLengthThenBytes) {
  ASSERT_TRUE(backend_->Append(table_, "list", "ab").ok());
  ASSERT_TRUE(backend_->Append(table_, "list", "").ok());
  std::string list;
  ASSERT_TRUE(backend_->Get(table_, "list", &list).ok());
  EXPECT_EQ(list, std::string("\x02" "ab" "\x00", 4));
}

TEST(ForEachListElementTest, EmptyListHasNoElements) {
  int calls = 0;
  EXPECT_TRUE(ForEachListElement("", [&](std::string_view) { ++calls; }));
  EXPECT_EQ(calls, 0);
}

TEST(ForEachListElementTest, TruncatedElementIsMalformed) {
  std::vector<std::string> decoded;
  // One good element, then a length of 5 with only 2 bytes behind it.
  EXPECT_FALSE(ForEachListElement(std::string("\x01" "a" "\x05" "bc"),
                                  [&](std::string_view e) { decoded.emplace_back(e); }));
  EXPECT_THAT(decoded, ElementsAre("a"));
  EXPECT_FALSE(ForEachListElement(std::string("\x80"), [](std::string_view) {}));
}

TEST_F(HeapBackendTest, ScanReturnsKeysWithPrefixInByteOrder) {
  const std::string prefix = "ab";
  const std::vector<std::string> inserted{
      "b",   "ab\xff\xff", "abc", std::string("ab\0", 3), "aa\xff", "ab\x80", "a", "ab",
      "ac",  "ab\x7f",     "\xff", std::string("ab\0\0", 4), "ab\x01", "ab\xff", "aa", std::string("a\0", 2)};
  for (const std::string& k : inserted) ASSERT_TRUE(backend_->Put(table_, k, "v:" + k).ok());

  // Bytes compare unsigned: 0x00 first, 0xff last; the prefix itself is included.
  EXPECT_THAT(ScanKeys(table_, prefix),
              ElementsAre("ab", std::string("ab\0", 3), std::string("ab\0\0", 4), "ab\x01", "abc", "ab\x7f",
                          "ab\x80", "ab\xff", "ab\xff\xff"));
}

TEST_F(HeapBackendTest, ScanYieldsTheValueOfEachKey) {
  ASSERT_TRUE(backend_->Put(table_, "p1", "one").ok());
  ASSERT_TRUE(backend_->Put(table_, "p2", "two").ok());
  ASSERT_TRUE(backend_->Put(table_, "q", "other").ok());
  EXPECT_THAT(ScanAll(table_, "p"), ElementsAre(std::pair<std::string, std::string>("p1", "one"),
                                                std::pair<std::string, std::string>("p2", "two")));
}

TEST_F(HeapBackendTest, ScanWithBinaryPrefixHandlesNulAndFfBytes) {
  const std::vector<std::string> keys{std::string("\0", 1), std::string("\0\0", 2), std::string("\0\xff", 2),
                                      "\x01",               "\xfe\xff",             "\xff",
                                      std::string("\xff\0", 2), "\xff\xff"};
  for (const std::string& k : keys) ASSERT_TRUE(backend_->Put(table_, k, "").ok());

  EXPECT_THAT(ScanKeys(table_, std::string("\0", 1)),
              ElementsAre(std::string("\0", 1), std::string("\0\0", 2), std::string("\0\xff", 2)));
  EXPECT_THAT(ScanKeys(table_, "\xff"), ElementsAre("\xff", std::string("\xff\0", 2), "\xff\xff"));
}

TEST_F(HeapBackendTest, ScanWithEmptyPrefixReturnsWholeTable) {
  ASSERT_TRUE(backend_->Put(table_, "z", "").ok());
  ASSERT_TRUE(backend_->Put(table_, "a", "").ok());
  EXPECT_THAT(ScanKeys(table_, ""), ElementsAre("a", "z"));
}

TEST_F(HeapBackendTest, ScanWithNoMatchIsImmediatelyInvalid) {
  ASSERT_TRUE(backend_->Put(table_, "a", "").ok());
  ASSERT_TRUE(backend_->Put(table_, "c", "").ok());
  auto it = backend_->Scan(table_, "b");
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_THAT(ScanKeys(table_, "zzz"), IsEmpty());
}

TEST_F(HeapBackendTest, TablesAreIsolated) {
  absl::StatusOr<TableId> other = backend_->RegisterTable("other");
  ASSERT_TRUE(other.ok());
  ASSERT_NE(*other, table_);

  ASSERT_TRUE(backend_->Put(table_, "k", "in t").ok());
  ASSERT_TRUE(backend_->Put(*other, "k", "in other").ok());
  ASSERT_TRUE(backend_->Append(*other, "list", "x").ok());

  std::string value;
  ASSERT_TRUE(backend_->Get(table_, "k", &value).ok());
  EXPECT_EQ(value, "in t");
  EXPECT_TRUE(absl::IsNotFound(backend_->Get(table_, "list", &value)));
  EXPECT_THAT(ScanKeys(table_, ""), ElementsAre("k"));
  EXPECT_EQ(backend_->ApproximateKeys(table_), 1);
  EXPECT_EQ(backend_->ApproximateKeys(*other), 2);

  ASSERT_TRUE(backend_->Delete(table_, "k").ok());
  ASSERT_TRUE(backend_->Get(*other, "k", &value).ok());
  EXPECT_EQ(value, "in other");
}

TEST_F(HeapBackendTest, RegisterTableIsIdempotentByName) {
  ASSERT_TRUE(backend_->Put(table_, "k", "v").ok());
  absl::StatusOr<TableId> again = backend_->RegisterTable("t");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, table_);

  std::string value;
  ASSERT_TRUE(backend_->Get(*again, "k", &value).ok());
  EXPECT_EQ(value, "v");

  absl::StatusOr<TableId> other = backend_->RegisterTable("u");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, table_);
  EXPECT_EQ(*backend_->RegisterTable("u"), *other);
  EXPECT_EQ(*backend_->RegisterTable("t"), table_);
}

TEST_F(HeapBackendTest, NameIsHeap) { EXPECT_EQ(backend_->name(), "heap"); }

// Key groups decide which task owns a key and which key groups a checkpoint file holds.
// The hash must never change: a changed hash would send restored state to the wrong task.
TEST(KeyGroupsTest, StableHashMatchesPinnedValues) {
  // Computed once from the current implementation (little-endian hosts). If this fails,
  // the hash changed and existing checkpoints can no longer be restored.
  EXPECT_EQ(StableHash(""), 0x9ca066f1a4ab2eeaULL);
  EXPECT_EQ(StableHash("a"), 0xe00e9b4c0df901d2ULL);
  EXPECT_EQ(StableHash("hello world"), 0x0ce03922c07b110eULL);
  EXPECT_EQ(StableHash("0123456789abcdef!"), 0x29e50721aad7779bULL);  // two blocks + tail
  EXPECT_EQ(KeyGroupFor("a", kDefaultMaxParallelism), 82);
}

TEST(KeyGroupsTest, StableHashIsDeterministicAndSensitiveToEveryByte) {
  const std::string key = "some key bytes longer than eight";
  EXPECT_EQ(StableHash(key), StableHash(std::string(key)));
  for (size_t i = 0; i < key.size(); ++i) {
    std::string changed = key;
    changed[i] ^= 1;
    EXPECT_NE(StableHash(changed), StableHash(key)) << "byte " << i;
  }
  // Trailing zero bytes are not ignored.
  EXPECT_NE(StableHash("a"), StableHash(std::string("a\0", 2)));
  EXPECT_NE(StableHash(""), StableHash(std::string("\0", 1)));
}

TEST(KeyGroupsTest, KeyGroupForIsInRange) {
  for (int64_t k = -1000; k < 1000; ++k) {
    int g = KeyGroupFor(SerializeToString(k), kDefaultMaxParallelism);
    ASSERT_GE(g, 0);
    ASSERT_LT(g, kDefaultMaxParallelism);
  }
  for (int max : {1, 7, 1000}) {
    int g = KeyGroupFor("key", max);
    EXPECT_GE(g, 0);
    EXPECT_LT(g, max);
  }
}

TEST(KeyGroupsTest, KeyGroupsAreRoughlyUniformOverIntKeys) {
  constexpr int kKeys = 100000;
  std::vector<int> counts(kDefaultMaxParallelism, 0);
  for (int64_t k = 0; k < kKeys; ++k) ++counts[KeyGroupFor(SerializeToString(k), kDefaultMaxParallelism)];
  const double mean = static_cast<double>(kKeys) / kDefaultMaxParallelism;
  for (int g = 0; g < kDefaultMaxParallelism; ++g) {
    EXPECT_GE(counts[g], 0.7 * mean) << "key group " << g;
    EXPECT_LE(counts[g], 1.3 * mean) << "key group " << g;
  }
}

TEST(KeyGroupsTest, OperatorRangesPartitionAllKeyGroups) {
  for (int parallelism : {1, 2, 3, 4, 7, 128}) {
    SCOPED_TRACE(testing::Message() << "parallelism " << parallelism);
    int next = 0;
    for (int index = 0; index < parallelism; ++index) {
      KeyGroupRange range = KeyGroupRange::ForOperator(kDefaultMaxParallelism, parallelism, index);
      EXPECT_EQ(range.first, next) << "operator " << index << " is not contiguous with its predecessor";
      EXPECT_GE(range.size(), kDefaultMaxParallelism / parallelism);
      EXPECT_LE(range.size(), kDefaultMaxParallelism / parallelism + 1);
      next = range.last + 1;
    }
    EXPECT_EQ(next, kDefaultMaxParallelism);
  }
}

TEST(KeyGroupsTest, OperatorRangesAgreeWithOperatorIndexForKeyGroup) {
  for (int parallelism : {1, 2, 3, 4, 7, 128}) {
    for (int g = 0; g < kDefaultMaxParallelism; ++g) {
      int owner = OperatorIndexForKeyGroup(g, kDefaultMaxParallelism, parallelism);
      ASSERT_GE(owner, 0);
      ASSERT_LT(owner, parallelism);
      for (int index = 0; index < parallelism; ++index) {
        KeyGroupRange range = KeyGroupRange::ForOperator(kDefaultMaxParallelism, parallelism, index);
        EXPECT_EQ(range.Contains(g), index == owner)
            << "parallelism " << parallelism << " key group " << g << " operator " << index;
      }
    }
  }
}

TEST(KeyGroupsTest, EmptyRangeContainsNothing) {
  KeyGroupRange empty;
  EXPECT_EQ(empty.size(), 0);
  EXPECT_FALSE(empty.Contains(0));
}

}  // namespace
}  // namespace kappa::state
