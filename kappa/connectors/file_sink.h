// JSON lines sinks: `file:PATH` (one file shared by all sink instances), `file:DIR/`
// (a directory: instance i writes DIR/part-<i>.jsonl, itself a readable file log), and
// `stdout:`. Each instance encodes whole lines into a local buffer and appends it in one
// piece, so lines of different instances never interleave.
//
// Exactly-once (a directory sink in a job with checkpoints): each instance writes a
// hidden file DIR/.part-<i>-<run>-<seq>.inprogress; on checkpoint barrier n it syncs and
// closes it, and when checkpoint n completes the file is renamed to
// DIR/part-<n>-<i>.jsonl. Readers of DIR (file sources skip dot-files) only ever see
// output of completed checkpoints, so a crash at any moment followed by a restore from
// the last checkpoint neither loses nor duplicates a line.
#ifndef KAPPA_CONNECTORS_FILE_SINK_H_
#define KAPPA_CONNECTORS_FILE_SINK_H_

#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <functional>
#include <vector>
#include "absl/time/clock.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/sink.h"
#include "kappa/base/status.h"

namespace kappa::connectors {

template <typename T>
class JsonLinesWriter final : public SinkWriter<T> {
 public:
  explicit JsonLinesWriter(std::shared_ptr<FileWriter> out, bool owns_close)
      : out_(std::move(out)), owns_close_(owns_close) {}
  absl::Status Write(const Record<T>& r) override {
    codec_.Encode(r.value, &buf_);
    buf_.push_back('\n');
    if (buf_.size() >= (64 << 10)) return Drain();
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    KAPPA_RETURN_IF_ERROR(Drain());
    return out_->Flush();
  }
  absl::Status Close() override {
    KAPPA_RETURN_IF_ERROR(Flush());
    return owns_close_ ? out_->Close() : absl::OkStatus();
  }

 private:
  absl::Status Drain() {
    if (buf_.empty()) return absl::OkStatus();
    absl::Status s = out_->Append(buf_);
    buf_.clear();
    return s;
  }
  std::shared_ptr<FileWriter> out_;
  bool owns_close_;
  JsonCodec<T> codec_;
  std::string buf_;
};

using checkpoint::PublishedPartName;
using checkpoint::PublishPending;
using checkpoint::RemoveAbandonedParts;

template <typename T>
class TransactionalJsonWriter final : public SinkWriter<T> {
 public:
  TransactionalJsonWriter(std::string dir, int subtask, std::string run,
                          std::function<void(std::string hidden, int subtask)> on_final)
      : dir_(std::move(dir)), subtask_(subtask), run_(std::move(run)), on_final_(std::move(on_final)) {}

  absl::Status Write(const Record<T>& r) override {
    if (!file_) {
      hidden_ = absl::StrFormat("%s/.part-%03d-%s-%d.inprogress", dir_, subtask_, run_, seq_++);
      KAPPA_ASSIGN_OR_RETURN(file_, FileWriter::Open(hidden_, FileWriter::Mode::kTruncate));
    }
    codec_.Encode(r.value, &buf_);
    buf_.push_back('\n');
    if (buf_.size() >= (64 << 10)) return Drain();
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    KAPPA_RETURN_IF_ERROR(Drain());
    return file_ ? file_->Flush() : absl::OkStatus();
  }
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
  absl::Status Drain() {
    if (buf_.empty() || !file_) return absl::OkStatus();
    absl::Status s = file_->Append(buf_);
    buf_.clear();
    return s;
  }
  absl::Status Seal() {
    KAPPA_RETURN_IF_ERROR(Drain());
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
  JsonCodec<T> codec_;
  std::string buf_;
};

template <typename T>
class FileSink final : public SinkConnector<T> {
 public:
  enum class Kind { kFile, kDirectory, kStdout };
  FileSink(std::string path, Kind kind) : path_(std::move(path)), kind_(kind) {}

  absl::Status EnableExactlyOnce(const ExactlyOnceContext&) override {
    if (kind_ != Kind::kDirectory) {
      return absl::FailedPreconditionError(absl::StrCat(
          description(), " cannot be written exactly once; with checkpoints use a directory sink file:DIR/"));
    }
    exactly_once_ = true;
    return absl::OkStatus();
  }
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) override {
    KAPPA_RETURN_IF_ERROR(CreateDirectories(path_));
    KAPPA_RETURN_IF_ERROR(checkpoint::PublishPending(pending));
    KAPPA_RETURN_IF_ERROR(checkpoint::RemoveAbandonedParts(path_));
    return restored >= 0 ? checkpoint::WithdrawPartsAfter(path_, restored) : absl::OkStatus();
  }
  std::vector<checkpoint::PendingFile> TakeFinalPending() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(final_);
  }

  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int subtask, int parallelism) override {
    if (kind_ == Kind::kDirectory && exactly_once_) {
      KAPPA_RETURN_IF_ERROR(CreateDirectories(path_));
      static const std::string run = absl::StrFormat("%d%d", getpid(), absl::ToUnixMillis(absl::Now()) % 100000);
      return std::unique_ptr<SinkWriter<T>>(new TransactionalJsonWriter<T>(
          path_, subtask, run, [this](std::string hidden, int i) {
            std::lock_guard<std::mutex> lock(mu_);
            final_.push_back({std::move(hidden), absl::StrFormat("%s/part-final-%03d.jsonl", path_, i)});
          }));
    }
    if (kind_ == Kind::kDirectory) {
      KAPPA_RETURN_IF_ERROR(CreateDirectories(path_));
      std::string file = absl::StrFormat("%s/part-%05d.jsonl", path_, subtask);
      KAPPA_ASSIGN_OR_RETURN(auto w, FileWriter::Open(file, FileWriter::Mode::kTruncate));
      return std::unique_ptr<SinkWriter<T>>(new JsonLinesWriter<T>(std::shared_ptr<FileWriter>(std::move(w)), true));
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
    return std::unique_ptr<SinkWriter<T>>(new JsonLinesWriter<T>(shared_, false));
  }
  std::string description() const override { return kind_ == Kind::kStdout ? "stdout:" : "file:" + path_; }

  // Closes the shared file (single-file and stdout sinks) after the run.
  absl::Status Finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shared_) return absl::OkStatus();
    return kind_ == Kind::kStdout ? shared_->Flush() : shared_->Close();
  }

 private:
  std::string path_;
  Kind kind_;
  bool exactly_once_ = false;
  std::mutex mu_;
  std::shared_ptr<FileWriter> shared_;
  std::vector<checkpoint::PendingFile> final_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_FILE_SINK_H_
