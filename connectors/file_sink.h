// JSON lines sinks: `file:PATH` (one file shared by all sink instances), `file:DIR/`
// (a directory: instance i writes DIR/part-<i>.jsonl, itself a readable file log), and
// `stdout:`. Each instance encodes whole lines into a local buffer and appends it in one
// piece, so lines of different instances never interleave.
#ifndef KAPPA_CONNECTORS_FILE_SINK_H_
#define KAPPA_CONNECTORS_FILE_SINK_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "connectors/file/file_writer.h"
#include "engine/json_codec.h"
#include "engine/sink.h"
#include "engine/status.h"

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

template <typename T>
class FileSink final : public SinkConnector<T> {
 public:
  enum class Kind { kFile, kDirectory, kStdout };
  FileSink(std::string path, Kind kind) : path_(std::move(path)), kind_(kind) {}

  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int subtask, int parallelism) override {
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
  std::mutex mu_;
  std::shared_ptr<FileWriter> shared_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_FILE_SINK_H_
