#include "kappa/base/line_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kappa {
namespace file_internal {

// A read buffer: `capacity` bytes of data followed by LineBatch::kLinePadding readable
// bytes, so that every line in it has its padding even at the very end.
struct Chunk {
  explicit Chunk(size_t capacity_in)
      : capacity(capacity_in), data(new char[capacity_in + LineBatch::kLinePadding]) {
    std::memset(data.get() + capacity, 0, LineBatch::kLinePadding);
  }
  const size_t capacity;
  const std::unique_ptr<char[]> data;
};

}  // namespace file_internal

namespace {

using file_internal::Chunk;

// True if `chunk` is referenced by nobody but `expected_owners` holders. A batch on
// another thread drops its reference with an acq_rel decrement; the acquire fence makes
// that thread's reads of the buffer happen before our writes to it.
//
// ThreadSanitizer does not model fences (GCC refuses them under -fsanitize=thread), so it
// would see every reuse as a race with the batch's reads. Under it a chunk is never
// reused: each buffer is fresh and handed over through the allocator, which it models.
bool HeldOnlyBy(const std::shared_ptr<Chunk>& chunk, long expected_owners) {
#if defined(__SANITIZE_THREAD__)
  return false;
#else
  if (chunk.use_count() != expected_owners) return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
#endif
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return absl::StrCat(dir, "/", name);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListPartitionFiles(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "file log '", path,
          "' does not exist: give an existing JSON-lines file or a directory of them"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("cannot access file log '", path, "'"));
  }
  if (S_ISREG(st.st_mode)) return std::vector<std::string>{path};
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("file log '", path, "' is neither a regular file nor a directory"));
  }

  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    const int err = errno;
    return absl::ErrnoToStatus(
        err, absl::StrCat("cannot list file log directory '", path, "' (check its permissions)"));
  }
  std::vector<std::string> names;
  absl::Status status;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (const int err = errno; err != 0) {
        status =
            absl::ErrnoToStatus(err, absl::StrCat("cannot list file log directory '", path, "'"));
      }
      break;
    }
    if (entry->d_name[0] == '.') continue;  // hidden files, "." and ".."
    // d_type may be DT_UNKNOWN and does not follow symlinks: stat the entry itself.
    struct stat entry_st;
    if (::fstatat(::dirfd(dir), entry->d_name, &entry_st, 0) != 0) {
      const int err = errno;
      if (err == ENOENT) continue;  // removed meanwhile, or a dangling symlink
      status = absl::ErrnoToStatus(
          err, absl::StrCat("cannot access '", JoinPath(path, entry->d_name), "'"));
      break;
    }
    if (S_ISREG(entry_st.st_mode)) names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  if (!status.ok()) return status;
  if (names.empty()) {
    return absl::NotFoundError(
        absl::StrCat("file log directory '", path,
                     "' holds no partition files: put JSON-lines files (not hidden) in it"));
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> files;
  files.reserve(names.size());
  for (const std::string& name : names) files.push_back(JoinPath(path, name));
  return files;
}

void LineBatch::Clear() {
  lines_.clear();
  chunks_.clear();
}

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path,
                                                             int64_t offset, bool follow) {
  return Open(path, offset, follow, Options());
}

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path,
                                                             int64_t offset, bool follow,
                                                             const Options& options) {
  if (options.chunk_size == 0 || options.max_line_bytes == 0 ||
      options.max_line_bytes > (size_t{1} << 31)) {
    return absl::InvalidArgumentError(
        "LineReader options: chunk_size must be > 0 and max_line_bytes in (0, 2 GiB]");
  }
  if (offset < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("negative offset ", offset, " for file log partition '", path, "'"));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(
        err, absl::StrCat("cannot open file log partition '", path, "' for reading"));
  }
  auto fail = [fd](absl::Status status) {
    ::close(fd);
    return status;
  };
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    return fail(absl::ErrnoToStatus(err, absl::StrCat("cannot stat '", path, "'")));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "file log partition '", path, "' is not a regular file",
        S_ISDIR(st.st_mode) ? " but a directory (list its partition files first)" : "")));
  }
  if (offset > st.st_size) {
    return fail(absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is beyond the end of '", path, "' (", st.st_size,
                     " bytes): the file is shorter than the position to resume from; was it "
                     "truncated or replaced?")));
  }
  // Resuming mid-line would return a torn line as if it were a record. The end of the
  // file is also a valid resume position (after an unterminated last line).
  if (offset > 0 && offset < st.st_size) {
    char before;
    ssize_t n;
    do {
      n = ::pread(fd, &before, 1, offset - 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int err = errno;
      return fail(absl::ErrnoToStatus(err, absl::StrCat("cannot read '", path, "'")));
    }
    if (n == 1 && before != '\n') {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("offset ", offset, " in '", path,
                       "' is not the start of a line; resume only from a line's end offset")));
    }
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // advisory: a failure is harmless
  return std::unique_ptr<LineReader>(new LineReader(path, fd, offset, follow, options));
}

LineReader::LineReader(std::string path, int fd, int64_t offset, bool follow,
                       const Options& options)
    : path_(std::move(path)),
      fd_(fd),
      follow_(follow),
      options_(options),
      offset_(offset),
      read_pos_(offset) {}

LineReader::~LineReader() { ::close(fd_); }

std::shared_ptr<Chunk> LineReader::TakeChunk(size_t min_capacity) {
  // Reuse the spare unless a batch still holds it or its size is far off (a buffer grown
  // for one long line is not kept forever).
  if (spare_ != nullptr && spare_->capacity >= min_capacity &&
      spare_->capacity <= 4 * min_capacity && HeldOnlyBy(spare_, 1)) {
    return std::move(spare_);
  }
  return std::make_shared<Chunk>(min_capacity);
}

absl::Status LineReader::MakeRoom(const LineBatch& out) {
  const bool held_by_out =
      chunk_ != nullptr && !out.chunks_.empty() && out.chunks_.back() == chunk_;
  const long owners = 1 + (held_by_out ? 1 : 0);
  if (chunk_ != nullptr) {
    const size_t room = chunk_->capacity - end_;
    const size_t min_room = std::max<size_t>(chunk_->capacity / 4, 1);
    // Appending after end_ is safe while only this call's batch holds the buffer: its
    // lines end at or before end_. Another holder may be reading the padding after end_
    // on another thread, so then the reader moves to another buffer.
    if (room >= min_room && HeldOnlyBy(chunk_, owners)) return absl::OkStatus();
  }

  const size_t partial = end_ - begin_;
  size_t capacity = options_.chunk_size;
  while (capacity < partial + std::max<size_t>(capacity / 4, 1)) capacity *= 2;

  if (chunk_ != nullptr && chunk_->capacity >= capacity && chunk_->capacity <= 4 * capacity &&
      HeldOnlyBy(chunk_, 1)) {
    // Only the reader holds the buffer (not even `out`): compact in place.
    std::memmove(chunk_->data.get(), chunk_->data.get() + begin_, partial);
  } else {
    std::shared_ptr<Chunk> next = TakeChunk(capacity);
    if (chunk_ != nullptr) {
      std::memcpy(next->data.get(), chunk_->data.get() + begin_, partial);
      if (chunk_->capacity <= 4 * options_.chunk_size) spare_ = std::move(chunk_);
    }
    chunk_ = std::move(next);
  }
  scanned_ = std::max(scanned_, begin_) - begin_;
  begin_ = 0;
  end_ = partial;
  return absl::OkStatus();
}

void LineReader::AddLine(LineBatch* out, size_t start, size_t size, size_t consumed) {
  if (out->chunks_.empty() || out->chunks_.back() != chunk_) out->chunks_.push_back(chunk_);
  const char* base = chunk_->data.get();
  out->lines_.push_back(
      LineBatch::Line{base + start, base + chunk_->capacity + LineBatch::kLinePadding, offset_,
                      static_cast<uint32_t>(size), static_cast<uint32_t>(consumed)});
  begin_ = start + consumed;
  offset_ += static_cast<int64_t>(consumed);
}

absl::Status LineReader::TakeBufferedLines(size_t max_lines, LineBatch* out) {
  // The per-line loop of the reader: state lives in locals and is written back once.
  const char* const base = chunk_->data.get();
  const char* const end = base + end_;
  const char* const limit = base + chunk_->capacity + LineBatch::kLinePadding;
  const char* begin = base + begin_;
  const char* from = base + std::max(begin_, scanned_);
  int64_t offset = offset_;
  bool held = !out->chunks_.empty() && out->chunks_.back() == chunk_;
  bool too_long = false;
  for (size_t room = max_lines - out->size(); room > 0; --room) {
    const char* newline = static_cast<const char*>(std::memchr(from, '\n', end - from));
    if (newline == nullptr) {
      from = end;
      break;
    }
    size_t size = static_cast<size_t>(newline - begin);
    if (size > options_.max_line_bytes) {
      too_long = true;
      break;
    }
    if (!held) {
      out->chunks_.push_back(chunk_);
      held = true;
    }
    const size_t consumed = size + 1;
    if (size > 0 && newline[-1] == '\r') --size;
    out->lines_.push_back(LineBatch::Line{begin, limit, offset, static_cast<uint32_t>(size),
                                          static_cast<uint32_t>(consumed)});
    offset += static_cast<int64_t>(consumed);
    begin = newline + 1;
    from = begin;
  }
  begin_ = static_cast<size_t>(begin - base);
  scanned_ = static_cast<size_t>(from - base);
  offset_ = offset;
  return too_long ? LineTooLong() : absl::OkStatus();
}

absl::Status LineReader::LineTooLong() const {
  return absl::ResourceExhaustedError(absl::StrCat("line at offset ", offset_, " in '", path_,
                                                   "' is longer than ", options_.max_line_bytes,
                                                   " bytes; is this a JSON-lines file?"));
}

absl::StatusOr<LineReader::Result> LineReader::Read(size_t max_lines, LineBatch* out) {
  out->Clear();
  if (!error_.ok()) return error_;
  if (max_lines == 0) {
    return absl::InvalidArgumentError(absl::StrCat("Read of '", path_, "' asked for 0 lines"));
  }
  if (at_end_) return Result::kEnd;

  while (true) {
    if (chunk_ != nullptr) {
      if (absl::Status status = TakeBufferedLines(max_lines, out); !status.ok()) {
        return error_ = status;
      }
      if (out->size() == max_lines) return Result::kLines;
      if (end_ - begin_ > options_.max_line_bytes) return error_ = LineTooLong();
    }

    if (absl::Status status = MakeRoom(*out); !status.ok()) return error_ = status;
    char* dest = chunk_->data.get() + end_;
    ssize_t n = ::pread(fd_, dest, chunk_->capacity - end_, read_pos_);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return error_ = absl::ErrnoToStatus(
                 err, absl::StrCat("cannot read '", path_, "' at offset ", read_pos_));
    }
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      read_pos_ += n;
      // The padding of the last line may lie in the unwritten rest of the buffer; give
      // it defined contents (for MSan and valgrind; simdjson ignores its value).
      std::memset(chunk_->data.get() + end_, 0,
                  std::min(LineBatch::kLinePadding, chunk_->capacity - end_));
      continue;
    }

    // End of the data written so far. A file log is append-only: a file shorter than
    // what was already read has been truncated or rewritten, and its offsets mean
    // nothing any more.
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      return error_ = absl::ErrnoToStatus(err, absl::StrCat("cannot stat '", path_, "'"));
    }
    if (st.st_size < read_pos_) {
      return error_ =
                 absl::DataLossError(absl::StrCat("'", path_, "' was truncated to ", st.st_size,
                                                  " bytes while being read at offset ", read_pos_,
                                                  "; file log partitions must be append-only"));
    }
    if (follow_) return out->empty() ? Result::kWouldBlock : Result::kLines;

    // Not following: an unterminated last line is still a line.
    if (end_ > begin_) {
      size_t size = end_ - begin_;
      const size_t consumed = size;
      if (chunk_->data[end_ - 1] == '\r') --size;
      AddLine(out, begin_, size, consumed);
    }
    at_end_ = true;
    return out->empty() ? Result::kEnd : Result::kLines;
  }
}

}  // namespace kappa
