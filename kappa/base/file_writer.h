// Writing the file log: a buffered, thread-safe appender for one file (or standard
// output), and mkdir -p.
//
//   KAPPA_RETURN_IF_ERROR(CreateDirectories("out"));
//   KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<FileWriter> writer,
//                          FileWriter::Open("out/part-0.jsonl", FileWriter::Mode::kTruncate));
//   KAPPA_RETURN_IF_ERROR(writer->Append("{\"a\":1}\n{\"a\":2}\n"));
//   KAPPA_RETURN_IF_ERROR(writer->Sync());   // durable, e.g. before a checkpoint commits
//   KAPPA_RETURN_IF_ERROR(writer->Close());  // the destructor closes too, but cannot report
#ifndef KAPPA_BASE_FILE_WRITER_H_
#define KAPPA_BASE_FILE_WRITER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kappa {

// Appends whole buffers to one file.
//
// Thread-safe: several sink tasks may share one writer. Each Append is written
// contiguously — the buffers of different callers never interleave — so a caller that
// appends whole lines gets whole lines in the file. Appends are buffered (kBufferSize) and
// reach the OS on Flush, Sync, Close or when the buffer fills; a buffer at least that
// large goes to the OS directly.
//
// Errors (ENOSPC, EIO, ...) are returned, naming the path, by the call that hits them and
// by every later call: after a failed write the file's tail is unknown, so the writer
// stays failed. Close (or the destructor) flushes; only Close reports.
class FileWriter {
 public:
  enum class Mode {
    kTruncate,  // create or empty the file
    kAppend,    // create the file or append to its end
  };

  static constexpr size_t kBufferSize = size_t{256} << 10;

  // Opens `path` for writing (mode 0644 when created). The parent directory must exist
  // (see CreateDirectories): a missing one is a NotFound error that names it.
  static absl::StatusOr<std::unique_ptr<FileWriter>> Open(const std::string& path, Mode mode);
  // A writer to standard output (fd 1); path() is "<stdout>". Close flushes but leaves fd 1
  // open. Create one per process: two writers to fd 1 would interleave their flushes.
  static absl::StatusOr<std::unique_ptr<FileWriter>> Stdout();
  // The same for standard error (fd 2; path() is "<stderr>"). Writes share fd 2's file
  // offset with everything else the process prints there, unlike a reopened /dev/stderr,
  // which has its own offset and overwrites them when stderr is redirected to a file.
  static absl::StatusOr<std::unique_ptr<FileWriter>> Stderr();

  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Appends `data` as one contiguous piece. FailedPrecondition after Close.
  absl::Status Append(std::string_view data);
  // Writes the buffered data to the OS (not to the disk: see Sync).
  absl::Status Flush();
  // Flush, then fdatasync (skipped for standard output and other non-regular files,
  // which cannot be synced).
  absl::Status Sync();
  // Flush, then close the file. Idempotent: later calls return the first call's result.
  absl::Status Close();

  // Bytes accepted by Append so far (buffered or written), from any thread.
  int64_t bytes_written() const { return bytes_written_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }

 private:
  FileWriter(std::string path, int fd, bool owns_fd, bool syncable);

  // The *Locked methods require mu_.
  absl::Status FlushLocked();
  // Writes all of `data`, retrying short writes; records a failure in status_.
  absl::Status WriteLocked(std::string_view data);
  absl::Status CloseLocked();

  const std::string path_;
  const int fd_;
  const bool owns_fd_;   // false for standard output
  const bool syncable_;  // a regular file: fdatasync applies

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for ThreadSanitizer,
  // which then cannot see absl::Mutex synchronize; it does see pthread mutexes.
  std::mutex mu_;
  // Guarded by mu_:
  std::string buffer_;
  absl::Status status_;  // first write error, sticky
  bool closed_ = false;
  absl::Status close_status_;
  std::atomic<int64_t> bytes_written_{0};
};

// Creates a directory and its missing parents, like mkdir -p (mode 0755). OK if it already
// exists as a directory; FailedPrecondition naming the component if one of them exists but
// is not a directory.
absl::Status CreateDirectories(const std::string& path);

}  // namespace kappa

#endif  // KAPPA_BASE_FILE_WRITER_H_
