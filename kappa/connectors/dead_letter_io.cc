#include "kappa/connectors/dead_letter_io.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/status.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors {
namespace {

class RedriveReader final : public RawPartitionReader {
 public:
  explicit RedriveReader(std::unique_ptr<RawPartitionReader> raw) : raw_(std::move(raw)) {}

  absl::StatusOr<ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) override {
    letters_.clear();
    KAPPA_ASSIGN_OR_RETURN(ReadStatus status, raw_->Read(max_records, &letters_));
    // Every record's text lives here until the next Read(): reserved once, so that no
    // string moves (a short string's bytes move with it).
    records_.clear();
    records_.reserve(letters_.size());
    for (RawRecord r : letters_) {
      absl::StatusOr<std::string> record = runtime::DeadLetterRecord(r.bytes);
      if (record.ok()) {
        records_.push_back(std::move(*record));
        r.bytes = records_.back();
        r.padded_capacity = r.bytes.size();
        r.timestamp = kNoTimestamp;  // the letter's message time is not the record's
      }
      out->push_back(r);
    }
    return status;
  }
  int64_t offset() const override { return raw_->offset(); }
  int64_t end_offset() const override { return raw_->end_offset(); }
  void RestoreEndOffset(int64_t end) override { raw_->RestoreEndOffset(end); }
  int64_t high_water() const override { return raw_->high_water(); }
  int64_t history_end() const override { return raw_->history_end(); }

 private:
  std::unique_ptr<RawPartitionReader> raw_;
  std::vector<RawRecord> letters_;
  std::vector<std::string> records_;
};

class Redrive final : public RawSourceConnector {
 public:
  explicit Redrive(std::shared_ptr<RawSourceConnector> raw) : raw_(std::move(raw)) {}

  absl::StatusOr<int> NumPartitions() override { return raw_->NumPartitions(); }
  absl::StatusOr<int64_t> StartOffset(int partition) override { return raw_->StartOffset(partition); }
  std::string description() const override { return raw_->description(); }
  absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int partition, int64_t offset) override {
    KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<RawPartitionReader> reader, raw_->Open(partition, offset));
    return std::unique_ptr<RawPartitionReader>(new RedriveReader(std::move(reader)));
  }
  absl::StatusOr<std::vector<std::unique_ptr<RawPartitionReader>>> OpenAll(
      const std::vector<std::pair<int, int64_t>>& partitions) override {
    KAPPA_ASSIGN_OR_RETURN(auto readers, raw_->OpenAll(partitions));
    for (auto& r : readers) r = std::unique_ptr<RawPartitionReader>(new RedriveReader(std::move(r)));
    return readers;
  }

 private:
  std::shared_ptr<RawSourceConnector> raw_;
};

}  // namespace

absl::StatusOr<SinkHandle<DeadLetterLine>> OpenDeadLetterSink(const std::string& uri, const SinkOptions& options) {
  auto usage = [&uri](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--dead-letter '", uri, "': ", why,
                                                   "; use file:DIR/ (a directory) or kafka://BOOTSTRAP/TOPIC"));
  };
  absl::StatusOr<Uri> parsed = ParseUri(uri);
  if (!parsed.ok()) return usage("not a URI");
  if (parsed->scheme == "file") {
    if (!parsed->path.ends_with('/')) return usage("a file dead-letter output is a directory, ending in '/'");
  } else if (parsed->scheme != "kafka") {
    return usage(absl::StrCat("unknown scheme '", parsed->scheme, "'"));
  }
  absl::StatusOr<SinkHandle<DeadLetterLine>> sink = MakeSink<DeadLetterLine>(uri, options);
  if (!sink.ok()) {
    return absl::Status(sink.status().code(), absl::StrCat("--dead-letter: ", sink.status().message()));
  }
  return sink;
}

std::shared_ptr<RawSourceConnector> RedriveSource(std::shared_ptr<RawSourceConnector> raw) {
  return std::make_shared<Redrive>(std::move(raw));
}

}  // namespace kappa::connectors
