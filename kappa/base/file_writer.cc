#include "kappa/base/file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kappa {
namespace {

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileWriter>> FileWriter::Open(const std::string& path, Mode mode) {
  if (path.empty()) return absl::InvalidArgumentError("FileWriter: empty path");
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == Mode::kTruncate ? O_TRUNC : O_APPEND);
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("cannot create '", path, "': directory '",
                                              ParentDir(path),
                                              "' does not exist (create it first)"));
    }
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open '", path, "' for writing"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("cannot stat '", path, "'"));
  }
  return std::unique_ptr<FileWriter>(
      new FileWriter(path, fd, /*owns_fd=*/true, /*syncable=*/S_ISREG(st.st_mode)));
}

absl::StatusOr<std::unique_ptr<FileWriter>> FileWriter::Stdout() {
  struct stat st;
  if (::fstat(STDOUT_FILENO, &st) != 0) {
    return absl::ErrnoToStatus(errno, "standard output is not usable");
  }
  return std::unique_ptr<FileWriter>(new FileWriter("<stdout>", STDOUT_FILENO, /*owns_fd=*/false,
                                                    /*syncable=*/S_ISREG(st.st_mode)));
}

absl::StatusOr<std::unique_ptr<FileWriter>> FileWriter::Stderr() {
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) {
    return absl::ErrnoToStatus(errno, "standard error is not usable");
  }
  return std::unique_ptr<FileWriter>(new FileWriter("<stderr>", STDERR_FILENO, /*owns_fd=*/false,
                                                    /*syncable=*/S_ISREG(st.st_mode)));
}

FileWriter::FileWriter(std::string path, int fd, bool owns_fd, bool syncable)
    : path_(std::move(path)), fd_(fd), owns_fd_(owns_fd), syncable_(syncable) {
  buffer_.reserve(kBufferSize);
}

FileWriter::~FileWriter() {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked().IgnoreError();  // callers that care call Close() and check it
}

absl::Status FileWriter::Append(std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat("append to closed '", path_, "'"));
  }
  if (!status_.ok()) return status_;
  if (buffer_.size() + data.size() > kBufferSize) {
    if (absl::Status status = FlushLocked(); !status.ok()) return status;
  }
  if (data.size() >= kBufferSize) {
    if (absl::Status status = WriteLocked(data); !status.ok()) return status;
  } else {
    buffer_.append(data);
  }
  bytes_written_.fetch_add(static_cast<int64_t>(data.size()), std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status FileWriter::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return close_status_;
  return FlushLocked();
}

absl::Status FileWriter::Sync() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat("sync of closed '", path_, "'"));
  }
  if (absl::Status status = FlushLocked(); !status.ok()) return status;
  if (!syncable_) return absl::OkStatus();
  int rc;
  do {
    rc = ::fdatasync(fd_);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // After a failed fsync the kernel may have dropped the dirty pages: the data is not
    // known to be anywhere, so the writer stays failed.
    const int err = errno;
    status_ = absl::ErrnoToStatus(err, absl::StrCat("cannot sync '", path_, "'"));
    return status_;
  }
  return absl::OkStatus();
}

absl::Status FileWriter::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  return CloseLocked();
}

absl::Status FileWriter::CloseLocked() {
  if (closed_) return close_status_;
  closed_ = true;
  close_status_ = FlushLocked();
  if (owns_fd_ && ::close(fd_) != 0 && close_status_.ok()) {
    // close(2) may report a deferred write error (NFS); the fd is gone either way.
    const int err = errno;
    close_status_ = absl::ErrnoToStatus(err, absl::StrCat("cannot close '", path_, "'"));
  }
  return close_status_;
}

absl::Status FileWriter::FlushLocked() {
  if (!status_.ok()) return status_;
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status status = WriteLocked(buffer_);
  buffer_.clear();
  return status;
}

absl::Status FileWriter::WriteLocked(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      status_ = absl::ErrnoToStatus(err, absl::StrCat("cannot write to '", path_, "'"));
      return status_;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status CreateDirectories(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("cannot create a directory: empty path");
  // Absolute paths start from "/". (Built with push_back: GCC 12 warns falsely on
  // assigning a one-character literal here, -Wrestrict.)
  std::string prefix;
  prefix.reserve(path.size());
  size_t pos = 0;
  if (path[0] == '/') {
    prefix.push_back('/');
    pos = 1;
  }
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    const std::string_view component(path.data() + pos, slash - pos);
    pos = slash + 1;
    if (component.empty()) continue;  // "a//b", trailing '/'
    if (!prefix.empty() && prefix.back() != '/') prefix.push_back('/');
    prefix.append(component);
    if (component == "." || component == "..") continue;
    if (::mkdir(prefix.c_str(), 0755) == 0) continue;
    const int err = errno;
    struct stat st;
    if (err == EEXIST || err == EACCES || err == EROFS) {
      // An existing component: fine if it is a directory (possibly created concurrently,
      // or in a place we could not write to but need not).
      if (::stat(prefix.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) continue;
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot create directory '", path, "': '", prefix, "' exists and is not a directory"));
      }
    }
    return absl::ErrnoToStatus(err, absl::StrCat("cannot create directory '", prefix, "'"));
  }
  return absl::OkStatus();
}

}  // namespace kappa
