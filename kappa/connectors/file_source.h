// The file log as a source: `file:PATH` — JSON lines, one partition per file (a file, or
// the sorted non-hidden files of a directory). Offsets are byte positions, so a reader can
// start anywhere a previous line ended (recovery, replay). With `follow` the reader keeps
// tailing files that are still being written and the source never ends.
//
//   auto src = std::make_shared<kappa::connectors::FileSource<Click>>("clicks/", false);
//   auto clicks = job->Source<Click>("clicks", src, strategy);
//
// A line that does not decode as T goes to the job's errors output with its file
// (partition) and offset; the rest of the input is unaffected.
//
// Bounds (replay): `start` (earliest, latest = the size at start, or offsets:P=O with byte
// offsets at line starts) and `end` (end = each file's size when the run first opened it,
// or offsets:P=O). A replay by event time (ts:MS) is a filter in the source operator
// (WatermarkStrategy::range_from/range_to), which reads the file from the beginning.
#ifndef KAPPA_CONNECTORS_FILE_SOURCE_H_
#define KAPPA_CONNECTORS_FILE_SOURCE_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/line_reader.h"
#include "kappa/connectors/uri.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/source.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"

namespace kappa::connectors {

template <typename T>
class FileSource final : public SourceConnector<T> {
 public:
  FileSource(std::string path, bool follow) : path_(std::move(path)), follow_(follow) {}
  FileSource(std::string path, bool follow, Position start, std::optional<Position> end)
      : path_(std::move(path)), follow_(follow), start_(std::move(start)), end_(std::move(end)) {}

  absl::StatusOr<int64_t> StartOffset(int partition) override {
    if (files_.empty()) KAPPA_RETURN_IF_ERROR(NumPartitions().status());
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

  absl::StatusOr<int> NumPartitions() override {
    KAPPA_ASSIGN_OR_RETURN(files_, ListPartitionFiles(path_));
    return static_cast<int>(files_.size());
  }

  absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int partition, int64_t offset) override {
    if (files_.empty()) KAPPA_RETURN_IF_ERROR(NumPartitions().status());
    if (partition < 0 || partition >= static_cast<int>(files_.size())) {
      return absl::OutOfRangeError(absl::StrCat("file source ", path_, " has no partition ", partition));
    }
    KAPPA_ASSIGN_OR_RETURN(auto reader, LineReader::Open(files_[partition], offset, follow_));
    int64_t end = PartitionReader<T>::kNoEnd;
    if (end_ && end_->kind == Position::Kind::kEnd) {
      KAPPA_ASSIGN_OR_RETURN(end, FileSize(partition));
    } else if (end_ && end_->kind == Position::Kind::kOffsets) {
      auto it = end_->offsets.find(partition);
      if (it != end_->offsets.end()) end = it->second;
    }
    return std::unique_ptr<PartitionReader<T>>(new Reader(std::move(reader), end));
  }

  std::string description() const override { return "file:" + path_; }

 private:
  class Reader final : public PartitionReader<T> {
   public:
    Reader(std::unique_ptr<LineReader> reader, int64_t end) : reader_(std::move(reader)), end_(end) {}

    absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<T>& ctx) override {
      if (end_ != PartitionReader<T>::kNoEnd && offset() >= end_) return ReadStatus::kEnd;
      KAPPA_ASSIGN_OR_RETURN(LineReader::Result r, reader_->Read(max_records, &batch_));
      if (r == LineReader::Result::kEnd) return ReadStatus::kEnd;
      if (r == LineReader::Result::kWouldBlock) return ReadStatus::kWouldBlock;
      for (size_t i = 0; i < batch_.size(); ++i) {
        if (end_ != PartitionReader<T>::kNoEnd && batch_.offset(i) >= end_) return ReadStatus::kEnd;
        std::string_view line = batch_.line(i);
        offset_ = batch_.end_offset(i);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
        T value{};
        absl::Status s = codec_.Decode(line, batch_.padded_capacity(i), &value);
        if (!s.ok()) {
          ctx.ReportBadRecord(batch_.offset(i), StdView(s.message()), line);
          continue;
        }
        ctx.Emit(std::move(value));
      }
      return ReadStatus::kRecords;
    }
    int64_t offset() const override { return offset_ >= 0 ? offset_ : reader_->offset(); }
    int64_t end_offset() const override { return end_; }
    void RestoreEndOffset(int64_t end) override { end_ = end; }

   private:
    std::unique_ptr<LineReader> reader_;
    int64_t end_;
    LineBatch batch_;
    JsonCodec<T> codec_;
    int64_t offset_ = -1;
  };

  absl::StatusOr<int64_t> FileSize(int partition) const {
    std::error_code ec;
    auto size = std::filesystem::file_size(files_[partition], ec);
    if (ec) return absl::NotFoundError(absl::StrCat(files_[partition], ": ", ec.message()));
    return static_cast<int64_t>(size);
  }

  std::string path_;
  bool follow_;
  Position start_;
  std::optional<Position> end_;
  std::vector<std::string> files_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_FILE_SOURCE_H_
