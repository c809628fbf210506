// Reading the file log: the partition files behind a `file:PATH` URI and a sequential
// reader that returns complete JSON lines in batches, by byte offset.
//
// A file log partition is an append-only file of '\n'-terminated lines. Its offsets are
// byte positions: every line returned carries the offset of its first byte and the
// offset just past its '\n' (its end offset). A consumer checkpoints the end offset of
// the last line it processed and later reopens the file there.
//
//   KAPPA_ASSIGN_OR_RETURN(std::vector<std::string> files, ListPartitionFiles(path));
//   KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<LineReader> reader,
//                          LineReader::Open(files[0], /*offset=*/0, /*follow=*/false));
//   LineBatch batch;
//   while (true) {
//     KAPPA_ASSIGN_OR_RETURN(LineReader::Result result, reader->Read(1024, &batch));
//     if (result != LineReader::Result::kLines) break;  // kEnd (or kWouldBlock if following)
//     for (size_t i = 0; i < batch.size(); ++i) {
//       auto doc = parser.iterate(batch.line(i).data(), batch.line(i).size(),
//                                 batch.padded_capacity(i));
//       ...
//     }
//   }
//   int64_t resume_at = reader->offset();
#ifndef KAPPA_BASE_LINE_READER_H_
#define KAPPA_BASE_LINE_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kappa {

// The partition files behind a `file:` path, in partition order:
//  - a regular file            → {path};
//  - a directory               → its regular, non-hidden files (names not starting with
//                                '.'; symlinks to regular files count), sorted bytewise by
//                                name and returned as "path/name"; subdirectories are skipped.
// Errors (one line naming the path and what to do): NotFound for a missing path or a
// directory without partition files, PermissionDenied for an unreadable one,
// InvalidArgument for anything that is neither a regular file nor a directory.
absl::StatusOr<std::vector<std::string>> ListPartitionFiles(const std::string& path);

namespace file_internal {
struct Chunk;
}  // namespace file_internal

// A batch of complete lines read from one partition file by LineReader::Read.
//
// Lines are views into read buffers that the batch shares with the reader: a batch stays
// valid, with all its lines, until it is cleared, refilled or destroyed — independently of
// the reader, which may be destroyed or read on. The reader never writes to a buffer
// that another batch still holds (padding included), so a batch may be parsed on another
// thread while the reader reads on. A kept batch pins its buffers (about one chunk each),
// so keep few. Passing the same batch to every Read lets the reader reuse its buffers (no
// allocation per batch or per line).
//
// Every line is followed by at least kLinePadding readable bytes (the rest of the buffer,
// of unspecified content), so simdjson can parse it in place:
// parser.iterate(line(i).data(), line(i).size(), padded_capacity(i)).
//
// Not thread-safe; a batch may be handed to another thread as a whole.
class LineBatch {
 public:
  static constexpr size_t kLinePadding = 64;

  size_t size() const { return lines_.size(); }
  bool empty() const { return lines_.empty(); }

  // The line without its trailing '\n' and without a '\r' just before it.
  std::string_view line(size_t i) const { return std::string_view(lines_[i].data, lines_[i].size); }
  // Readable bytes starting at line(i).data(): at least line(i).size() + kLinePadding.
  size_t padded_capacity(size_t i) const {
    return static_cast<size_t>(lines_[i].limit - lines_[i].data);
  }
  // Byte offset of the line's first byte in the file.
  int64_t offset(size_t i) const { return lines_[i].offset; }
  // Byte offset just past the line's '\n' (the position to resume from after this line).
  // For an unterminated last line returned at the end of a file that is not followed,
  // this is the file size.
  int64_t end_offset(size_t i) const { return lines_[i].offset + lines_[i].end_delta; }

  // Drops all lines and the batch's references to read buffers (keeps the capacity of
  // its own bookkeeping).
  void Clear();

 private:
  friend class LineReader;

  struct Line {
    const char* data;
    const char* limit;  // end of the readable bytes (buffer end + padding)
    int64_t offset;
    uint32_t size;
    uint32_t end_delta;  // end_offset - offset
  };

  std::vector<Line> lines_;
  // Buffers the lines point into; shared with the reader, which reuses a buffer only
  // when no batch holds it any more.
  std::vector<std::shared_ptr<file_internal::Chunk>> chunks_;
};

// Reads one partition file sequentially from a byte offset, returning complete lines.
//
// Reads with pread(2) in large chunks (1 MiB by default, growing for longer lines), finds
// line ends with memchr and carries a partial line over to the next chunk; no allocation
// per line. Reading never blocks beyond the pread(2) of a regular file: at the end of the
// data Read reports kWouldBlock (following) or kEnd (not following).
//
// Not thread-safe: one owner thread calls Read; batches it filled may be used elsewhere.
class LineReader {
 public:
  enum class Result {
    kLines,       // *out holds at least one line
    kWouldBlock,  // following and no complete line available yet: call again later
    kEnd,         // not following and the whole file has been returned
  };

  struct Options {
    // Size of a read buffer (one pread(2) fills at most this much). A line longer than the
    // buffer grows it, up to max_line_bytes.
    size_t chunk_size = size_t{1} << 20;
    // A line (without its '\n') longer than this is an error: it protects memory from a
    // file that is not JSON lines.
    size_t max_line_bytes = size_t{64} << 20;
  };

  // Opens `path` (a regular file) to read from byte `offset`, which must be 0, the start
  // of a line (an end_offset previously returned; checked against the byte before it) or
  // the end of the file. follow=true: at the end of the file report kWouldBlock and pick up appended data
  // on later calls; follow=false: at the end of the file report kEnd.
  // Errors: NotFound / PermissionDenied from open, InvalidArgument for a negative offset,
  // a non-regular file or an offset inside a line, OutOfRange for an offset beyond the
  // end of the file.
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path, int64_t offset,
                                                          bool follow);
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path, int64_t offset,
                                                          bool follow, const Options& options);

  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Clears *out and fills it with up to max_lines (> 0) complete lines, as many as the
  // data already in the file allows. kLines means at least one line.
  //
  // An unterminated last line: with follow=false it is returned as a line at the end of
  // the file (files written without a final newline read completely); with follow=true it
  // is held back until its '\n' arrives.
  //
  // Errors (naming the file and the offset): a line longer than max_line_bytes, a read
  // error, or a file that shrank below the read position (truncated; a file log is
  // append-only). After an error the reader is unusable.
  absl::StatusOr<Result> Read(size_t max_lines, LineBatch* out);

  // Resume position: end_offset of the last line returned, or the open offset.
  int64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  LineReader(std::string path, int fd, int64_t offset, bool follow, const Options& options);

  // Makes room for at least one more read after the unconsumed bytes [begin_, end_),
  // moving them to the front of the current buffer or into another one.
  // `out` is the batch being filled by the current Read.
  absl::Status MakeRoom(const LineBatch& out);
  std::shared_ptr<file_internal::Chunk> TakeChunk(size_t min_capacity);
  // Moves the complete lines buffered in chunk_ to *out until it holds max_lines.
  absl::Status TakeBufferedLines(size_t max_lines, LineBatch* out);
  // Appends the line at [start, start + size) of chunk_ to *out and consumes `consumed`
  // bytes (the line and its terminator).
  void AddLine(LineBatch* out, size_t start, size_t size, size_t consumed);
  // The error for the line at offset_.
  absl::Status LineTooLong() const;

  const std::string path_;
  const int fd_;
  const bool follow_;
  const Options options_;

  std::shared_ptr<file_internal::Chunk> chunk_;  // current buffer
  std::shared_ptr<file_internal::Chunk> spare_;  // a previous buffer, reused when free
  size_t begin_ = 0;     // first unconsumed byte in chunk_; file offset offset_
  size_t end_ = 0;       // end of the data read into chunk_; file offset read_pos_
  size_t scanned_ = 0;   // [begin_, scanned_) is known to hold no '\n'
  int64_t offset_;       // resume position
  int64_t read_pos_;     // file offset of the next pread(2)
  bool at_end_ = false;  // not following and the end of the file was returned
  absl::Status error_;   // sticky
};

}  // namespace kappa

#endif  // KAPPA_BASE_LINE_READER_H_
