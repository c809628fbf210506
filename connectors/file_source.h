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
#ifndef KAPPA_CONNECTORS_FILE_SOURCE_H_
#define KAPPA_CONNECTORS_FILE_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/file/line_reader.h"
#include "engine/json_codec.h"
#include "engine/source.h"
#include "engine/status.h"
#include "engine/strings.h"

namespace kappa::connectors {

template <typename T>
class FileSource final : public SourceConnector<T> {
 public:
  FileSource(std::string path, bool follow) : path_(std::move(path)), follow_(follow) {}

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
    return std::unique_ptr<PartitionReader<T>>(new Reader(std::move(reader)));
  }

  std::string description() const override { return "file:" + path_; }

 private:
  class Reader final : public PartitionReader<T> {
   public:
    explicit Reader(std::unique_ptr<LineReader> reader) : reader_(std::move(reader)) {}

    absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<T>& ctx) override {
      KAPPA_ASSIGN_OR_RETURN(LineReader::Result r, reader_->Read(max_records, &batch_));
      if (r == LineReader::Result::kEnd) return ReadStatus::kEnd;
      if (r == LineReader::Result::kWouldBlock) return ReadStatus::kWouldBlock;
      for (size_t i = 0; i < batch_.size(); ++i) {
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

   private:
    std::unique_ptr<LineReader> reader_;
    LineBatch batch_;
    JsonCodec<T> codec_;
    int64_t offset_ = -1;
  };

  std::string path_;
  bool follow_;
  std::vector<std::string> files_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_FILE_SOURCE_H_
