#include "kappa/connectors/file_sink.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/status.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/connectors/internal/schemes.h"

namespace kappa::connectors {
namespace {

// Appends each batch to a file that it may share with other instances (file:PATH,
// stdout:), or owns (a part file of file:DIR/ without checkpoints).
class LinesWriter final : public RawSinkWriter {
 public:
  LinesWriter(std::shared_ptr<FileWriter> out, bool owns_close) : out_(std::move(out)), owns_close_(owns_close) {}
  absl::Status Write(const RawSinkBatch& batch) override { return out_->Append(batch.lines); }
  absl::Status Flush() override { return out_->Flush(); }
  absl::Status Close() override {
    KAPPA_RETURN_IF_ERROR(Flush());
    return owns_close_ ? out_->Close() : absl::OkStatus();
  }

 private:
  std::shared_ptr<FileWriter> out_;
  bool owns_close_;
};

// An exactly-once instance of file:DIR/: hidden files, sealed on barriers (see file_sink.h).
class TransactionalWriter final : public RawSinkWriter {
 public:
  TransactionalWriter(std::string dir, int subtask, std::string run,
                      std::function<void(std::string hidden, int subtask)> on_final)
      : dir_(std::move(dir)), subtask_(subtask), run_(std::move(run)), on_final_(std::move(on_final)) {}

  absl::Status Write(const RawSinkBatch& batch) override {
    if (!file_) {
      hidden_ = absl::StrFormat("%s/.part-%03d-%s-%d.inprogress", dir_, subtask_, run_, seq_++);
      KAPPA_ASSIGN_OR_RETURN(file_, FileWriter::Open(hidden_, FileWriter::Mode::kTruncate));
    }
    return file_->Append(batch.lines);
  }
  absl::Status Flush() override { return file_ ? file_->Flush() : absl::OkStatus(); }
  absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) override {
    if (!file_) return std::vector<checkpoint::PendingFile>{};
    KAPPA_RETURN_IF_ERROR(Seal());
    return std::vector<checkpoint::PendingFile>{{hidden_, checkpoint::PublishedPartName(dir_, id, subtask_)}};
  }
  absl::Status Close() override {
    if (!file_) return absl::OkStatus();
    KAPPA_RETURN_IF_ERROR(Seal());
    on_final_(hidden_, subtask_);
    return absl::OkStatus();
  }

 private:
  absl::Status Seal() {
    KAPPA_RETURN_IF_ERROR(file_->Sync());
    KAPPA_RETURN_IF_ERROR(file_->Close());
    file_.reset();
    return absl::OkStatus();
  }

  std::string dir_;
  int subtask_;
  std::string run_;
  std::function<void(std::string, int)> on_final_;
  std::unique_ptr<FileWriter> file_;
  std::string hidden_;
  int seq_ = 0;
};

class FileSinkImpl final : public RawSinkConnector {
 public:
  using Kind = FileSinkKind;
  FileSinkImpl(std::string path, Kind kind) : path_(std::move(path)), kind_(kind) {}

  absl::Status EnableExactlyOnce(const ExactlyOnceContext& context) override {
    if (kind_ != Kind::kDirectory) {
      return absl::FailedPreconditionError(absl::StrCat(
          description(), " cannot be written exactly once; with checkpoints use a directory sink file:DIR/"));
    }
    exactly_once_ = true;
    check_owner_ = context.check_owner;
    return absl::OkStatus();
  }
  // A run that lost its checkpoint directory to a newer run publishes nothing more: the
  // newer run publishes (or withdraws) what the directory's checkpoints listed.
  absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending) override {
    if (check_owner_) KAPPA_RETURN_IF_ERROR(check_owner_());
    return checkpoint::PublishPending(pending);
  }
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) override {
    if (check_owner_) KAPPA_RETURN_IF_ERROR(check_owner_());
    KAPPA_RETURN_IF_ERROR(CreateDirectories(path_));
    KAPPA_RETURN_IF_ERROR(checkpoint::PublishPending(pending));
    KAPPA_RETURN_IF_ERROR(checkpoint::RemoveAbandonedParts(path_));
    return restored >= 0 ? checkpoint::WithdrawPartsAfter(path_, restored) : absl::OkStatus();
  }
  std::vector<checkpoint::PendingFile> TakeFinalPending() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(final_);
  }

  absl::StatusOr<std::unique_ptr<RawSinkWriter>> CreateWriter(int subtask, int parallelism) override {
    if (kind_ == Kind::kDirectory && exactly_once_) {
      KAPPA_RETURN_IF_ERROR(CreateDirectories(path_));
      static const std::string run = absl::StrFormat("%d%d", getpid(), absl::ToUnixMillis(absl::Now()) % 100000);
      return std::unique_ptr<RawSinkWriter>(
          new TransactionalWriter(path_, subtask, run, [this](std::string hidden, int i) {
            std::lock_guard<std::mutex> lock(mu_);
            final_.push_back({std::move(hidden), absl::StrFormat("%s/part-final-%03d.jsonl", path_, i)});
          }));
    }
    if (kind_ == Kind::kDirectory) {
      KAPPA_RETURN_IF_ERROR(CreateDirectories(path_));
      std::string file = absl::StrFormat("%s/part-%05d.jsonl", path_, subtask);
      KAPPA_ASSIGN_OR_RETURN(auto w, FileWriter::Open(file, FileWriter::Mode::kTruncate));
      return std::unique_ptr<RawSinkWriter>(new LinesWriter(std::shared_ptr<FileWriter>(std::move(w)), true));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!shared_) {
      if (kind_ == Kind::kStdout) {
        KAPPA_ASSIGN_OR_RETURN(auto w, FileWriter::Stdout());
        shared_ = std::move(w);
      } else {
        KAPPA_ASSIGN_OR_RETURN(auto w, FileWriter::Open(path_, FileWriter::Mode::kTruncate));
        shared_ = std::move(w);
      }
    }
    return std::unique_ptr<RawSinkWriter>(new LinesWriter(shared_, false));
  }
  std::string description() const override { return kind_ == Kind::kStdout ? "stdout:" : "file:" + path_; }

  // Closes the shared file (single-file and stdout sinks) after the run.
  absl::Status Finish() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shared_) return absl::OkStatus();
    return kind_ == Kind::kStdout ? shared_->Flush() : shared_->Close();
  }

 private:
  std::string path_;
  Kind kind_;
  bool exactly_once_ = false;
  std::function<absl::Status()> check_owner_;  // ExactlyOnceContext::check_owner
  std::mutex mu_;
  std::shared_ptr<FileWriter> shared_;
  std::vector<checkpoint::PendingFile> final_;
};

}  // namespace

std::shared_ptr<RawSinkConnector> NewFileSink(std::string path, FileSinkKind kind) {
  return std::make_shared<FileSinkImpl>(std::move(path), kind);
}

namespace internal {

absl::StatusOr<OpenedSink> OpenFileSink(const Uri& uri, const SinkOptions&) {
  if (uri.path.empty()) return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': file: needs a path"));
  std::error_code ec;
  bool dir = uri.path.back() == '/' || std::filesystem::is_directory(uri.path, ec);
  std::string path = uri.path;
  while (dir && path.size() > 1 && path.back() == '/') path.pop_back();
  return OpenedSink(NewFileSink(path, dir ? FileSinkKind::kDirectory : FileSinkKind::kFile));
}

absl::StatusOr<OpenedSink> OpenStdoutSink(const Uri&, const SinkOptions&) {
  return OpenedSink(NewFileSink("", FileSinkKind::kStdout));
}

}  // namespace internal
}  // namespace kappa::connectors
