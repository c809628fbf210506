#include "kappa/base/line_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/file_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

using ::kappa::testing::AppendStringToFile;
using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::WriteStringToFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Result = LineReader::Result;

struct Line {
  std::string text;
  int64_t offset;
  int64_t end_offset;
  bool operator==(const Line&) const = default;
};

void PrintTo(const Line& line, std::ostream* os) {
  *os << "{\"" << line.text << "\", " << line.offset << ", " << line.end_offset << "}";
}

void AppendBatch(const LineBatch& batch, std::vector<Line>* lines) {
  for (size_t i = 0; i < batch.size(); ++i) {
    lines->push_back(Line{std::string(batch.line(i)), batch.offset(i), batch.end_offset(i)});
  }
}

// Reads until the reader reports something other than kLines; returns that result.
Result ReadAll(LineReader& reader, size_t max_lines, std::vector<Line>* lines) {
  LineBatch batch;
  while (true) {
    absl::StatusOr<Result> result = reader.Read(max_lines, &batch);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return Result::kEnd;
    if (*result != Result::kLines) {
      EXPECT_EQ(batch.size(), 0u);
      return *result;
    }
    EXPECT_GE(batch.size(), 1u);
    EXPECT_LE(batch.size(), max_lines);
    AppendBatch(batch, lines);
  }
}

// The lines of `content` as the reader should return them (without '\n' and a '\r'
// before it; an unterminated tail counts when `final_tail` is set).
std::vector<Line> ExpectedLines(const std::string& content, bool final_tail) {
  std::vector<Line> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t newline = content.find('\n', start);
    if (newline == std::string::npos && !final_tail) break;
    size_t end = newline == std::string::npos ? content.size() : newline;
    size_t next = newline == std::string::npos ? content.size() : newline + 1;
    size_t size = end - start;
    if (size > 0 && content[end - 1] == '\r') --size;
    lines.push_back(
        Line{content.substr(start, size), static_cast<int64_t>(start), static_cast<int64_t>(next)});
    start = next;
  }
  return lines;
}

std::unique_ptr<LineReader> OpenOrDie(const std::string& path, int64_t offset, bool follow,
                                      LineReader::Options options = {}) {
  absl::StatusOr<std::unique_ptr<LineReader>> reader =
      LineReader::Open(path, offset, follow, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? std::move(*reader) : nullptr;
}

TEST(LineReaderTest, ReadsAllLinesWithOffsets) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "a\nbb\n\nccc\n");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kEnd);
  EXPECT_THAT(lines,
              ElementsAre(Line{"a", 0, 2}, Line{"bb", 2, 5}, Line{"", 5, 6}, Line{"ccc", 6, 10}));
  EXPECT_EQ(reader->offset(), 10);
  EXPECT_EQ(reader->path(), path);
}

TEST(LineReaderTest, EndIsReportedAgainAfterEnd) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "a\n");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  ASSERT_EQ(*reader->Read(10, &batch), Result::kLines);
  EXPECT_EQ(*reader->Read(10, &batch), Result::kEnd);
  EXPECT_EQ(*reader->Read(10, &batch), Result::kEnd);
  EXPECT_EQ(batch.size(), 0u);
}

TEST(LineReaderTest, ResumingFromEndOffsetYieldsExactlyTheRemainingLines) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  const std::string content = "first\n{\"x\":1}\n\nlast line\r\nno newline";
  WriteStringToFile(path, content);
  const std::vector<Line> all = ExpectedLines(content, /*final_tail=*/true);
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("resume after line ", i));
    auto reader = OpenOrDie(path, all[i].end_offset, /*follow=*/false);
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->offset(), all[i].end_offset);
    std::vector<Line> rest;
    EXPECT_EQ(ReadAll(*reader, 2, &rest), Result::kEnd);
    EXPECT_EQ(rest, std::vector<Line>(all.begin() + i + 1, all.end()));
  }
}

TEST(LineReaderTest, RespectsMaxLines) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "1\n2\n3\n4\n5\n");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  std::vector<size_t> sizes;
  std::vector<int64_t> offsets;
  while (*reader->Read(2, &batch) == Result::kLines) {
    sizes.push_back(batch.size());
    offsets.push_back(reader->offset());
  }
  EXPECT_THAT(sizes, ElementsAre(2, 2, 1));
  EXPECT_THAT(offsets, ElementsAre(4, 8, 10));
}

TEST(LineReaderTest, ZeroMaxLinesIsAnError) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "1\n");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  EXPECT_EQ(reader->Read(0, &batch).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LineReaderTest, StripsCrlfButKeepsOtherCarriageReturns) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "a\r\n\r\nb\rc\n\r\r\nend\r");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kEnd);
  EXPECT_THAT(lines, ElementsAre(Line{"a", 0, 3}, Line{"", 3, 5}, Line{"b\rc", 5, 9},
                                 Line{"\r", 9, 12}, Line{"end", 12, 16}));
}

TEST(LineReaderTest, ReturnsEmptyLines) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "\n\nx\n\n");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kEnd);
  EXPECT_THAT(lines, ElementsAre(Line{"", 0, 1}, Line{"", 1, 2}, Line{"x", 2, 4}, Line{"", 4, 5}));
}

TEST(LineReaderTest, EmptyFileEndsImmediately) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  EXPECT_EQ(*reader->Read(10, &batch), Result::kEnd);
  EXPECT_EQ(reader->offset(), 0);
}

TEST(LineReaderTest, ReturnsUnterminatedLastLineWhenNotFollowing) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "a\nbc");
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kEnd);
  EXPECT_THAT(lines, ElementsAre(Line{"a", 0, 2}, Line{"bc", 2, 4}));
  EXPECT_EQ(reader->offset(), 4);
}

TEST(LineReaderTest, HoldsUnterminatedLastLineUntilItsNewlineWhenFollowing) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "a\nb");
  auto reader = OpenOrDie(path, 0, /*follow=*/true);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kWouldBlock);
  EXPECT_THAT(lines, ElementsAre(Line{"a", 0, 2}));
  EXPECT_EQ(reader->offset(), 2);

  AppendStringToFile(path, "cd");  // still no newline
  lines.clear();
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kWouldBlock);
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(reader->offset(), 2);

  AppendStringToFile(path, "\ne\n");
  EXPECT_EQ(ReadAll(*reader, 100, &lines), Result::kWouldBlock);
  EXPECT_THAT(lines, ElementsAre(Line{"bcd", 2, 6}, Line{"e", 6, 8}));
  EXPECT_EQ(reader->offset(), 8);
}

TEST(LineReaderTest, FollowingPicksUpAppendedLines) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "");
  auto reader = OpenOrDie(path, 0, /*follow=*/true);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  EXPECT_EQ(*reader->Read(10, &batch), Result::kWouldBlock);

  AppendStringToFile(path, "x\n");
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 10, &lines), Result::kWouldBlock);
  EXPECT_THAT(lines, ElementsAre(Line{"x", 0, 2}));

  AppendStringToFile(path, "y\nz\n");
  lines.clear();
  EXPECT_EQ(ReadAll(*reader, 10, &lines), Result::kWouldBlock);
  EXPECT_THAT(lines, ElementsAre(Line{"y", 2, 4}, Line{"z", 4, 6}));
  EXPECT_EQ(*reader->Read(10, &batch), Result::kWouldBlock);
}

TEST(LineReaderTest, FollowingFromTheEndOfAFileSeesOnlyNewLines) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "old\n");
  auto reader = OpenOrDie(path, 4, /*follow=*/true);
  ASSERT_NE(reader, nullptr);
  AppendStringToFile(path, "new\n");
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 10, &lines), Result::kWouldBlock);
  EXPECT_THAT(lines, ElementsAre(Line{"new", 4, 8}));
}

TEST(LineReaderTest, TruncationWhileFollowingIsAnError) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "line one\nline two\n");
  auto reader = OpenOrDie(path, 0, /*follow=*/true);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  ASSERT_EQ(ReadAll(*reader, 10, &lines), Result::kWouldBlock);
  ASSERT_EQ(::truncate(path.c_str(), 4), 0);
  LineBatch batch;
  absl::StatusOr<Result> result = reader->Read(10, &batch);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().ToString(), HasSubstr("truncated"));
  EXPECT_THAT(result.status().ToString(), HasSubstr(path));
  // The reader stays failed: its offsets no longer describe the file.
  AppendStringToFile(path, "more bytes than before\n");
  EXPECT_FALSE(reader->Read(10, &batch).ok());
}

// Random lines read with tiny to large buffers and various batch sizes: lines cross
// buffer boundaries at every position and many are longer than the buffer.
TEST(LineReaderTest, LinesSpanningBufferBoundariesReadIntact) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  std::mt19937 rng(42);
  std::string content;
  for (int i = 0; i < 400; ++i) {
    const int size = std::uniform_int_distribution<int>(0, 60)(rng);
    for (int j = 0; j < size; ++j) content.push_back(static_cast<char>('a' + (i + j) % 26));
    if (i % 7 == 0) content.push_back('\r');
    content.push_back('\n');
  }
  content += "tail";
  WriteStringToFile(path, content);

  for (bool follow : {false, true}) {
    const std::vector<Line> expected = ExpectedLines(content, /*final_tail=*/!follow);
    for (size_t chunk_size : {1, 2, 3, 7, 16, 61, 64, 4096}) {
      for (size_t max_lines : {1, 3, 1000}) {
        SCOPED_TRACE(
            absl::StrCat("follow=", follow, " chunk_size=", chunk_size, " max_lines=", max_lines));
        LineReader::Options options;
        options.chunk_size = chunk_size;
        auto reader = OpenOrDie(path, 0, follow, options);
        ASSERT_NE(reader, nullptr);
        std::vector<Line> lines;
        EXPECT_EQ(ReadAll(*reader, max_lines, &lines), follow ? Result::kWouldBlock : Result::kEnd);
        EXPECT_EQ(lines, expected);
      }
    }
  }
}

TEST(LineReaderTest, ReadsLineLargerThanTheDefaultChunk) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  const std::string big(3 * (size_t{1} << 20) + 123, 'x');
  const std::string content = absl::StrCat("small\n", big, "\nafter\n");
  WriteStringToFile(path, content);
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  std::vector<Line> lines;
  EXPECT_EQ(ReadAll(*reader, 1, &lines), Result::kEnd);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].text, big);
  EXPECT_EQ(lines[1].offset, 6);
  EXPECT_EQ(lines[2], (Line{"after", static_cast<int64_t>(7 + big.size()),
                            static_cast<int64_t>(13 + big.size())}));
}

// Every line is followed by kLinePadding readable bytes. Touching all of them catches a
// short buffer under ASan (-DKAPPA_SANITIZE=ON); the size check catches it everywhere.
TEST(LineReaderTest, EveryLineHasReadablePadding) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  std::string content;
  for (int i = 0; i < 200; ++i) content += std::string(i % 37, 'p') + "\n";
  content += "unterminated";
  WriteStringToFile(path, content);
  for (size_t chunk_size : {1, 5, 32, 64, 100, 1 << 20}) {
    SCOPED_TRACE(absl::StrCat("chunk_size=", chunk_size));
    LineReader::Options options;
    options.chunk_size = chunk_size;
    auto reader = OpenOrDie(path, 0, /*follow=*/false, options);
    ASSERT_NE(reader, nullptr);
    LineBatch batch;
    size_t lines = 0;
    while (*reader->Read(7, &batch) == Result::kLines) {
      for (size_t i = 0; i < batch.size(); ++i, ++lines) {
        ASSERT_GE(batch.padded_capacity(i), batch.line(i).size() + LineBatch::kLinePadding);
        const volatile char* bytes = batch.line(i).data();
        unsigned sum = 0;
        for (size_t j = 0; j < batch.padded_capacity(i); ++j) sum += bytes[j];
        (void)sum;
      }
    }
    EXPECT_EQ(lines, 201u);
  }
}

TEST(LineReaderTest, BatchStaysValidWhileTheReaderReadsOnAndAfterItIsDestroyed) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  std::string content;
  for (int i = 0; i < 1000; ++i) content += absl::StrCat("line-", i, "\n");
  WriteStringToFile(path, content);
  LineReader::Options options;
  options.chunk_size = 64;  // many buffer switches and compactions
  auto reader = OpenOrDie(path, 0, /*follow=*/false, options);
  ASSERT_NE(reader, nullptr);

  LineBatch kept;
  ASSERT_EQ(*reader->Read(3, &kept), Result::kLines);
  LineBatch copy = kept;
  std::vector<Line> rest;
  EXPECT_EQ(ReadAll(*reader, 5, &rest), Result::kEnd);
  EXPECT_EQ(rest.size(), 997u);
  reader.reset();

  for (const LineBatch* batch : {&kept, &copy}) {
    ASSERT_EQ(batch->size(), 3u);
    EXPECT_EQ(batch->line(0), "line-0");
    EXPECT_EQ(batch->line(1), "line-1");
    EXPECT_EQ(batch->line(2), "line-2");
  }
}

// A batch kept (e.g. handed to a parsing thread) must not see its bytes, padding
// included, change while the reader reads on into the same or other buffers.
TEST(LineReaderTest, KeptBatchBytesIncludingPaddingAreNeverOverwritten) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "");
  LineReader::Options options;
  options.chunk_size = 256;
  auto reader = OpenOrDie(path, 0, /*follow=*/true, options);
  ASSERT_NE(reader, nullptr);
  std::vector<LineBatch> kept;
  std::vector<std::string> snapshots;
  auto snapshot = [](const LineBatch& batch) {
    std::string bytes;
    for (size_t i = 0; i < batch.size(); ++i) {
      bytes.append(batch.line(i).data(), batch.padded_capacity(i));
    }
    return bytes;
  };
  for (int round = 0; round < 50; ++round) {
    AppendStringToFile(path, absl::StrCat("{\"round\":", round, "}\n{\"more\":true}\n"));
    LineBatch batch;
    ASSERT_EQ(*reader->Read(1, &batch), Result::kLines);
    snapshots.push_back(snapshot(batch));
    kept.push_back(std::move(batch));
  }
  std::vector<Line> rest;
  EXPECT_EQ(ReadAll(*reader, 3, &rest), Result::kWouldBlock);
  EXPECT_EQ(rest.size(), 50u);
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(snapshot(kept[i]), snapshots[i]) << "batch " << i;
  }
}

// The source-task pattern: one thread reads, another parses the batches it hands over.
// Checks contents here; run under TSan it also checks that no buffer is shared unsafely.
TEST(LineReaderTest, BatchesCanBeConsumedOnAnotherThread) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  std::string content;
  constexpr int kLines = 20000;
  for (int i = 0; i < kLines; ++i) absl::StrAppend(&content, "{\"i\":", i, "}\n");
  WriteStringToFile(path, content);
  LineReader::Options options;
  options.chunk_size = 200;
  auto reader = OpenOrDie(path, 0, /*follow=*/false, options);
  ASSERT_NE(reader, nullptr);

  std::mutex mu;
  std::condition_variable ready;
  std::deque<LineBatch> queue;
  bool done = false;
  std::thread consumer([&] {
    int next = 0;
    while (true) {
      LineBatch batch;
      {
        std::unique_lock<std::mutex> lock(mu);
        ready.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) break;
        batch = std::move(queue.front());
        queue.pop_front();
      }
      for (size_t i = 0; i < batch.size(); ++i, ++next) {
        EXPECT_EQ(batch.line(i), absl::StrCat("{\"i\":", next, "}"));
        const volatile char* bytes = batch.line(i).data();
        unsigned sum = 0;
        for (size_t j = 0; j < batch.padded_capacity(i); ++j) sum += bytes[j];
        (void)sum;
      }
    }
    EXPECT_EQ(next, kLines);
  });
  LineBatch batch;
  absl::StatusOr<Result> result;
  while ((result = reader->Read(5, &batch)).ok() && *result == Result::kLines) {
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(std::move(batch));
    ready.notify_one();
  }
  EXPECT_TRUE(result.ok()) << result.status();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    ready.notify_one();
  }
  consumer.join();
}

TEST(LineReaderTest, LineLongerThanTheLimitIsAnErrorNamingFileAndOffset) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "ok\n0123456789\n01234567890\n");
  LineReader::Options options;
  options.chunk_size = 4;
  options.max_line_bytes = 10;
  auto reader = OpenOrDie(path, 0, /*follow=*/false, options);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  ASSERT_EQ(*reader->Read(1, &batch), Result::kLines);
  ASSERT_EQ(*reader->Read(1, &batch), Result::kLines);  // exactly at the limit
  EXPECT_EQ(batch.line(0), "0123456789");
  absl::StatusOr<Result> result = reader->Read(1, &batch);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().ToString(), HasSubstr(path));
  EXPECT_THAT(result.status().ToString(), HasSubstr("offset 14"));
}

// The default limit is 64 MiB: a 65 MiB file without a newline (sparse, so cheap) fails
// instead of growing the buffer without bound.
TEST(LineReaderTest, DefaultLimitRejectsA65MiBLine) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "");
  ASSERT_EQ(::truncate(path.c_str(), int64_t{65} << 20), 0);
  auto reader = OpenOrDie(path, 0, /*follow=*/false);
  ASSERT_NE(reader, nullptr);
  LineBatch batch;
  absl::StatusOr<Result> result = reader->Read(10, &batch);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(result.status().ToString(), HasSubstr("offset 0"));
  EXPECT_THAT(result.status().ToString(), HasSubstr(path));
}

TEST(LineReaderTest, OpeningBeyondTheEndIsOutOfRange) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "abc\n");
  absl::StatusOr<std::unique_ptr<LineReader>> reader = LineReader::Open(path, 5, false);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(reader.status().ToString(), HasSubstr(path));
  EXPECT_THAT(reader.status().ToString(), HasSubstr("offset 5"));
  // The end itself is a valid position.
  EXPECT_TRUE(LineReader::Open(path, 4, false).ok());
}

TEST(LineReaderTest, OpeningInsideALineIsRejected) {
  ScopedTempDir dir;
  const std::string path = dir.Path("p0");
  WriteStringToFile(path, "abc\ndef\n");
  absl::StatusOr<std::unique_ptr<LineReader>> reader = LineReader::Open(path, 2, false);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reader.status().ToString(), HasSubstr("not the start of a line"));
  EXPECT_FALSE(LineReader::Open(path, -1, false).ok());
}

TEST(LineReaderTest, OpeningAMissingFileOrADirectoryFailsNamingIt) {
  ScopedTempDir dir;
  absl::StatusOr<std::unique_ptr<LineReader>> missing =
      LineReader::Open(dir.Path("nope"), 0, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().ToString(), HasSubstr(dir.Path("nope")));

  absl::StatusOr<std::unique_ptr<LineReader>> directory = LineReader::Open(dir.path(), 0, false);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(directory.status().ToString(), HasSubstr("directory"));
}

TEST(ListPartitionFilesTest, RegularFileIsOnePartition) {
  ScopedTempDir dir;
  const std::string path = dir.Path("events.jsonl");
  WriteStringToFile(path, "{}\n");
  absl::StatusOr<std::vector<std::string>> files = ListPartitionFiles(path);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(path));
}

TEST(ListPartitionFilesTest, DirectoryFilesAreSortedByName) {
  ScopedTempDir dir;
  for (const char* name : {"part-2", "part-10", "b", "a", "part-1"}) {
    WriteStringToFile(dir.Path(name), "");
  }
  absl::StatusOr<std::vector<std::string>> files = ListPartitionFiles(dir.path());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(dir.Path("a"), dir.Path("b"), dir.Path("part-1"),
                                  dir.Path("part-10"), dir.Path("part-2")));

  // A trailing slash does not double up.
  absl::StatusOr<std::vector<std::string>> slashed = ListPartitionFiles(dir.path() + "/");
  ASSERT_TRUE(slashed.ok()) << slashed.status();
  EXPECT_EQ(slashed->front(), dir.Path("a"));
}

TEST(ListPartitionFilesTest, SkipsHiddenFilesAndSubdirectoriesButFollowsSymlinks) {
  ScopedTempDir dir;
  WriteStringToFile(dir.Path("p0"), "");
  WriteStringToFile(dir.Path(".hidden"), "");
  WriteStringToFile(dir.Path(".p1.tmp"), "");
  ASSERT_EQ(::mkdir(dir.Path("sub").c_str(), 0755), 0);
  WriteStringToFile(dir.Path("sub/p9"), "");
  ASSERT_EQ(::symlink(dir.Path("p0").c_str(), dir.Path("p1").c_str()), 0);
  ASSERT_EQ(::symlink(dir.Path("gone").c_str(), dir.Path("p2").c_str()), 0);  // dangling
  absl::StatusOr<std::vector<std::string>> files = ListPartitionFiles(dir.path());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(dir.Path("p0"), dir.Path("p1")));
}

TEST(ListPartitionFilesTest, MissingPathIsNotFoundNamingThePath) {
  ScopedTempDir dir;
  const std::string path = dir.Path("no-such-log");
  absl::StatusOr<std::vector<std::string>> files = ListPartitionFiles(path);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().ToString(), HasSubstr(path));
  EXPECT_THAT(files.status().ToString(), HasSubstr("does not exist"));
}

TEST(ListPartitionFilesTest, DirectoryWithoutPartitionsIsNotFound) {
  ScopedTempDir dir;
  WriteStringToFile(dir.Path(".only-hidden"), "");
  absl::StatusOr<std::vector<std::string>> files = ListPartitionFiles(dir.path());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().ToString(), HasSubstr(dir.path()));
}

TEST(ListPartitionFilesTest, OtherFileTypesAreInvalid) {
  ScopedTempDir dir;
  const std::string fifo = dir.Path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  absl::StatusOr<std::vector<std::string>> files = ListPartitionFiles(fifo);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(files.status().ToString(), HasSubstr(fifo));
}

}  // namespace
}  // namespace kappa
