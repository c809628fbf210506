#include "kappa/connectors/file_source.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/line_reader.h"
#include "kappa/base/status.h"
#include "kappa/connectors/internal/schemes.h"

namespace kappa::connectors {
namespace {

class FileReader final : public RawPartitionReader {
 public:
  FileReader(std::string path, std::unique_ptr<LineReader> reader, int64_t end, int64_t history_end)
      : path_(std::move(path)), reader_(std::move(reader)), end_(end), history_end_(history_end) {}

  absl::StatusOr<ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) override {
    if (end_ != kNoEnd && offset() >= end_) return ReadStatus::kEnd;
    KAPPA_ASSIGN_OR_RETURN(LineReader::Result r, reader_->Read(max_records, &batch_));
    if (r == LineReader::Result::kEnd) return ReadStatus::kEnd;
    // A followed file's current size is its high-water mark (lag in bytes): looked up when
    // the reader caught up with it and every 16th read, not per record.
    if (end_ == kNoEnd && (r == LineReader::Result::kWouldBlock || ++reads_ % 16 == 0)) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(path_, ec);
      if (!ec) size_ = static_cast<int64_t>(size);
    }
    if (r == LineReader::Result::kWouldBlock) return ReadStatus::kWouldBlock;
    for (size_t i = 0; i < batch_.size(); ++i) {
      if (end_ != kNoEnd && batch_.offset(i) >= end_) return ReadStatus::kEnd;
      std::string_view line = batch_.line(i);
      offset_ = batch_.end_offset(i);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
      out->push_back(RawRecord{.bytes = line,
                               .offset = batch_.offset(i),
                               .next_offset = offset_,
                               .padded_capacity = batch_.padded_capacity(i)});
    }
    return ReadStatus::kRecords;
  }
  int64_t offset() const override { return offset_ >= 0 ? offset_ : reader_->offset(); }
  int64_t end_offset() const override { return end_; }
  int64_t high_water() const override {
    if (end_ != kNoEnd) return end_;
    return size_ < 0 ? kNoEnd : std::max(size_, offset());
  }
  void RestoreEndOffset(int64_t end) override { end_ = end; }
  int64_t history_end() const override { return history_end_; }

 private:
  const std::string path_;
  std::unique_ptr<LineReader> reader_;
  int64_t end_;
  const int64_t history_end_;
  LineBatch batch_;
  int64_t offset_ = -1;  // end of the last line returned; -1 before the first
  int64_t size_ = -1;    // the followed file's size when last looked up; -1 not yet
  int64_t reads_ = 0;
};

class FileSourceImpl final : public RawSourceConnector {
 public:
  FileSourceImpl(std::string path, bool follow, Position start, std::optional<Position> end, bool note_history_end)
      : path_(std::move(path)),
        follow_(follow),
        start_(std::move(start)),
        end_(std::move(end)),
        note_history_end_(note_history_end) {}

  absl::StatusOr<int> NumPartitions() override {
    std::lock_guard<std::mutex> lock(mu_);
    return ListFiles();
  }

  absl::StatusOr<int64_t> StartOffset(int partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.empty()) KAPPA_RETURN_IF_ERROR(ListFiles().status());
    switch (start_.kind) {
      case Position::Kind::kLatest:
        return FileSize(partition);
      case Position::Kind::kOffsets: {
        auto it = start_.offsets.find(partition);
        return it == start_.offsets.end() ? 0 : it->second;
      }
      default:
        return 0;
    }
  }

  absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int partition, int64_t offset) override {
    std::string file;
    int64_t end = RawPartitionReader::kNoEnd;
    int64_t history_end = RawPartitionReader::kNoEnd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (files_.empty()) KAPPA_RETURN_IF_ERROR(ListFiles().status());
      if (partition < 0 || partition >= static_cast<int>(files_.size())) {
        return absl::OutOfRangeError(absl::StrCat("file source ", path_, " has no partition ", partition));
      }
      file = files_[partition];
      if (end_ && end_->kind == Position::Kind::kEnd) {
        KAPPA_ASSIGN_OR_RETURN(end, FileSize(partition));
      } else if (end_ && end_->kind == Position::Kind::kOffsets) {
        auto it = end_->offsets.find(partition);
        if (it != end_->offsets.end()) end = it->second;
      } else if (!end_ && note_history_end_) {
        KAPPA_ASSIGN_OR_RETURN(history_end, FileSize(partition));
      }
    }
    KAPPA_ASSIGN_OR_RETURN(auto reader, LineReader::Open(file, offset, follow_));
    return std::unique_ptr<RawPartitionReader>(new FileReader(file, std::move(reader), end, history_end));
  }

  std::string description() const override { return "file:" + path_; }

 private:
  absl::StatusOr<int> ListFiles() {
    KAPPA_ASSIGN_OR_RETURN(files_, ListPartitionFiles(path_));
    return static_cast<int>(files_.size());
  }
  absl::StatusOr<int64_t> FileSize(int partition) const {
    std::error_code ec;
    auto size = std::filesystem::file_size(files_[partition], ec);
    if (ec) return absl::NotFoundError(absl::StrCat(files_[partition], ": ", ec.message()));
    return static_cast<int64_t>(size);
  }

  const std::string path_;
  const bool follow_;
  const Position start_;
  const std::optional<Position> end_;
  const bool note_history_end_;
  std::mutex mu_;  // source instances open their partitions concurrently
  std::vector<std::string> files_;
};

}  // namespace

std::shared_ptr<RawSourceConnector> NewFileSource(std::string path, bool follow, Position start,
                                                  std::optional<Position> end, bool note_history_end) {
  return std::make_shared<FileSourceImpl>(std::move(path), follow, std::move(start), std::move(end),
                                          note_history_end);
}

namespace internal {

absl::StatusOr<OpenedSource> OpenFileSource(const Uri& uri, const SourceOptions& options) {
  if (uri.path.empty()) return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': file: needs a path"));
  KAPPA_ASSIGN_OR_RETURN(SourceBounds bounds, ParseSourceBounds(uri, options));
  KAPPA_ASSIGN_OR_RETURN(bool follow, BoolParam(uri, "follow", options.follow));
  if (bounds.start.kind == Position::Kind::kCommitted ||
      (bounds.end && bounds.end->kind == Position::Kind::kCommitted)) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': a file has no committed offsets"));
  }
  OpenedSource opened;
  opened.raw = NewFileSource(uri.path, follow, bounds.start, bounds.end, options.note_history_end);
  KAPPA_RETURN_IF_ERROR(opened.raw->NumPartitions().status());  // fail fast on a missing path
  return opened;
}

}  // namespace internal
}  // namespace kappa::connectors
