#include "kappa/base/file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/file_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa {
namespace {

using ::kappa::testing::ReadFileToString;
using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::WriteStringToFile;
using ::testing::HasSubstr;

std::unique_ptr<FileWriter> OpenOrDie(const std::string& path, FileWriter::Mode mode) {
  absl::StatusOr<std::unique_ptr<FileWriter>> writer = FileWriter::Open(path, mode);
  EXPECT_TRUE(writer.ok()) << writer.status();
  return writer.ok() ? std::move(*writer) : nullptr;
}

TEST(FileWriterTest, AppendIsBufferedUntilFlush) {
  ScopedTempDir dir;
  const std::string path = dir.Path("out.jsonl");
  auto writer = OpenOrDie(path, FileWriter::Mode::kTruncate);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append("{\"a\":1}\n").ok());
  ASSERT_TRUE(writer->Append("{\"a\":2}\n").ok());
  EXPECT_EQ(writer->bytes_written(), 16);
  EXPECT_EQ(ReadFileToString(path), "");
  ASSERT_TRUE(writer->Flush().ok());
  EXPECT_EQ(ReadFileToString(path), "{\"a\":1}\n{\"a\":2}\n");
  ASSERT_TRUE(writer->Sync().ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_EQ(writer->path(), path);
}

TEST(FileWriterTest, LargeAppendGoesStraightThroughInOrder) {
  ScopedTempDir dir;
  const std::string path = dir.Path("out");
  auto writer = OpenOrDie(path, FileWriter::Mode::kTruncate);
  ASSERT_NE(writer, nullptr);
  const std::string big(FileWriter::kBufferSize + 10, 'b');
  ASSERT_TRUE(writer->Append("head\n").ok());
  ASSERT_TRUE(writer->Append(big).ok());
  EXPECT_EQ(ReadFileToString(path), "head\n" + big);  // written, not buffered
  ASSERT_TRUE(writer->Append("tail\n").ok());
  ASSERT_TRUE(writer->Close().ok());
  EXPECT_EQ(ReadFileToString(path), "head\n" + big + "tail\n");
}

TEST(FileWriterTest, TruncateModeEmptiesAndAppendModeKeepsExistingContent) {
  ScopedTempDir dir;
  const std::string path = dir.Path("out");
  WriteStringToFile(path, "old\n");
  auto appender = OpenOrDie(path, FileWriter::Mode::kAppend);
  ASSERT_NE(appender, nullptr);
  ASSERT_TRUE(appender->Append("new\n").ok());
  ASSERT_TRUE(appender->Close().ok());
  EXPECT_EQ(ReadFileToString(path), "old\nnew\n");

  auto truncater = OpenOrDie(path, FileWriter::Mode::kTruncate);
  ASSERT_NE(truncater, nullptr);
  EXPECT_EQ(ReadFileToString(path), "");
  ASSERT_TRUE(truncater->Append("fresh\n").ok());
  ASSERT_TRUE(truncater->Close().ok());
  EXPECT_EQ(ReadFileToString(path), "fresh\n");
}

TEST(FileWriterTest, DestructorFlushes) {
  ScopedTempDir dir;
  const std::string path = dir.Path("out");
  {
    auto writer = OpenOrDie(path, FileWriter::Mode::kTruncate);
    ASSERT_NE(writer, nullptr);
    ASSERT_TRUE(writer->Append("kept\n").ok());
  }
  EXPECT_EQ(ReadFileToString(path), "kept\n");
}

TEST(FileWriterTest, CloseIsIdempotentAndAppendAfterCloseFails) {
  ScopedTempDir dir;
  const std::string path = dir.Path("out");
  auto writer = OpenOrDie(path, FileWriter::Mode::kTruncate);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append("x\n").ok());
  EXPECT_TRUE(writer->Close().ok());
  EXPECT_TRUE(writer->Close().ok());
  absl::Status status = writer->Append("y\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.ToString(), HasSubstr(path));
  EXPECT_EQ(ReadFileToString(path), "x\n");
}

// Four tasks append three-line buffers of varied sizes (some larger than the buffer, so
// both the buffered and the direct path race): every buffer must land whole, once.
TEST(FileWriterTest, ConcurrentAppendsLandWholeAndExactlyOnce) {
  ScopedTempDir dir;
  const std::string path = dir.Path("out");
  auto writer = OpenOrDie(path, FileWriter::Mode::kTruncate);
  ASSERT_NE(writer, nullptr);
  constexpr int kThreads = 4;
  constexpr int kAppends = 5000;
  auto piece = [](int thread, int i) {
    const size_t filler = (i % 997 == 0) ? FileWriter::kBufferSize / 3 : i % 50;
    std::string out;
    for (char part : {'a', 'b', 'c'}) {
      absl::StrAppend(&out, "t", thread, "-", i, "-", std::string(1, part), "-",
                      std::string(filler, 'x'), "\n");
    }
    return out;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) ASSERT_TRUE(writer->Append(piece(t, i)).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(writer->Close().ok());

  const std::string content = ReadFileToString(path);
  EXPECT_EQ(static_cast<int64_t>(content.size()), writer->bytes_written());
  std::map<std::string, int> seen;
  size_t pos = 0;
  while (pos < content.size()) {
    // A piece is three consecutive lines: a, b, c of the same (thread, i).
    size_t end = pos;
    for (int line = 0; line < 3; ++line) {
      end = content.find('\n', end);
      ASSERT_NE(end, std::string::npos);
      ++end;
    }
    ++seen[content.substr(pos, end - pos)];
    pos = end;
  }
  ASSERT_EQ(seen.size(), size_t{kThreads * kAppends});
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kAppends; ++i) {
      auto it = seen.find(piece(t, i));
      ASSERT_NE(it, seen.end()) << "missing or torn: thread " << t << " append " << i;
      EXPECT_EQ(it->second, 1);
    }
  }
}

TEST(FileWriterTest, NoSpaceIsReportedNamingThePath) {
  auto writer = OpenOrDie("/dev/full", FileWriter::Mode::kAppend);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Append("buffered\n").ok());
  absl::Status flushed = writer->Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_EQ(flushed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(flushed.ToString(), HasSubstr("/dev/full"));
  // The failure sticks: nothing after it can be trusted to have landed.
  absl::Status appended = writer->Append("more\n");
  EXPECT_FALSE(appended.ok());
  EXPECT_THAT(appended.ToString(), HasSubstr("/dev/full"));
  EXPECT_FALSE(writer->Sync().ok());
  EXPECT_FALSE(writer->Close().ok());
}

TEST(FileWriterTest, NoSpaceOnADirectWriteIsReportedByAppend) {
  auto writer = OpenOrDie("/dev/full", FileWriter::Mode::kTruncate);
  ASSERT_NE(writer, nullptr);
  absl::Status status = writer->Append(std::string(FileWriter::kBufferSize, 'z'));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.ToString(), HasSubstr("/dev/full"));
  EXPECT_EQ(writer->bytes_written(), 0);
}

TEST(FileWriterTest, OpeningInAMissingDirectoryFailsNamingIt) {
  ScopedTempDir dir;
  const std::string missing = dir.Path("no/such/dir");
  absl::StatusOr<std::unique_ptr<FileWriter>> writer =
      FileWriter::Open(missing + "/out.jsonl", FileWriter::Mode::kTruncate);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(writer.status().ToString(), HasSubstr(missing));
  EXPECT_THAT(writer.status().ToString(), HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(dir.Path("no")));  // nothing was created
}

TEST(FileWriterTest, StdoutWritesToFdOneAndLeavesItOpen) {
  ScopedTempDir dir;
  const std::string path = dir.Path("stdout");
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  ASSERT_GE(saved, 0);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
  ::close(fd);

  absl::Status appended, synced, closed;
  bool fd_one_open = false;
  std::string name;
  {
    absl::StatusOr<std::unique_ptr<FileWriter>> writer = FileWriter::Stdout();
    if (writer.ok()) {
      appended = (*writer)->Append("{\"to\":\"stdout\"}\n");
      synced = (*writer)->Sync();
      closed = (*writer)->Close();
      name = (*writer)->path();
    } else {
      appended = writer.status();
    }
    fd_one_open = ::fcntl(STDOUT_FILENO, F_GETFD) != -1;
  }
  ASSERT_EQ(::dup2(saved, STDOUT_FILENO), STDOUT_FILENO);  // restore before asserting
  ::close(saved);

  EXPECT_TRUE(appended.ok()) << appended;
  EXPECT_TRUE(synced.ok()) << synced;
  EXPECT_TRUE(closed.ok()) << closed;
  EXPECT_TRUE(fd_one_open);
  EXPECT_EQ(name, "<stdout>");
  EXPECT_EQ(ReadFileToString(path), "{\"to\":\"stdout\"}\n");
}

TEST(CreateDirectoriesTest, CreatesMissingParentsAndAcceptsExisting) {
  ScopedTempDir dir;
  const std::string nested = dir.Path("a/b//c/");
  ASSERT_TRUE(CreateDirectories(nested).ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir.Path("a/b/c")));
  EXPECT_TRUE(CreateDirectories(nested).ok());
  EXPECT_TRUE(CreateDirectories(dir.path()).ok());
}

TEST(CreateDirectoriesTest, ComponentThatIsAFileIsAClearError) {
  ScopedTempDir dir;
  WriteStringToFile(dir.Path("file"), "");
  absl::Status status = CreateDirectories(dir.Path("file/sub"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.ToString(), HasSubstr(dir.Path("file") + "' exists and is not a directory"));
  EXPECT_FALSE(CreateDirectories("").ok());
}

}  // namespace
}  // namespace kappa
