// Connectors of bytes: sources and sinks that know nothing of a job's record type, and the
// typed adapters that put them behind SourceConnector<T> and SinkConnector<T>.
//
// A connector that reads or writes JSON lines (the file log, Kafka values, stdout) is
// written once against these interfaces, in a .cc file, instead of once per record type
// in a header: the connector registry (registry.h) holds non-template factories of them,
// and a job's record type meets its bytes only in JsonSource<T> / JsonSink<T>, which
// decode and encode with JsonCodec<T>.
//
//   std::shared_ptr<RawSourceConnector> raw = ...;   // e.g. from OpenSource("file:log/", {})
//   auto clicks = std::make_shared<JsonSource<Click>>(raw);   // a SourceConnector<Click>
//
// Sources: a RawPartitionReader returns records in batches (no virtual call per record),
// each with its offset and resume position, so JsonSource<T> reports a record that does
// not decode to the errors output with its partition and offset, exactly as a typed
// reader would. Everything else of SourceConnector<T> (partitions, start offsets, bounded
// ends kept in checkpoints, opening all partitions of an instance at once) has its
// counterpart here and is passed through unchanged.
//
// Sinks: JsonSink<T>'s writers encode records as JSON lines into a batch (with each
// record's event time) and hand the batch to the RawSinkWriter when it is full, on
// Flush(), on a checkpoint barrier (before PreCommit) and on Close(). The exactly-once
// hooks (EnableExactlyOnce, Recover, Commit, TakeFinalPending) are the raw connector's.
// A sink that needs no values (discard:) says so and gets event times alone, unencoded.
//
// Threads: as for the typed interfaces (source.h, sink.h): a reader or writer is used by
// its task's thread only; connectors are shared by the instances of one source or sink.
#ifndef KAPPA_CONNECTORS_RAW_H_
#define KAPPA_CONNECTORS_RAW_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "kappa/base/json_codec.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "kappa/base/time.h"
#include "kappa/runtime/sink.h"
#include "kappa/runtime/source.h"

namespace kappa::connectors {

// No timestamp of the connector's own (a file line), as RawRecord::timestamp.
inline constexpr Timestamp kNoTimestamp = kMinTimestamp;

// One record as a source read it.
struct RawRecord {
  std::string_view bytes;  // a JSON line without its '\n', a Kafka message value
  int64_t offset = 0;      // where the record starts (errors name it)
  int64_t next_offset = 0;  // the resume position just after it
  // Readable bytes at bytes.data(), at least bytes.size(); with enough padding beyond the
  // record (simdjson's 64 bytes) the codec parses it in place instead of copying it.
  size_t padded_capacity = 0;
  Timestamp timestamp = kNoTimestamp;  // the connector's own (Kafka's message timestamp)
};

// Reads one partition. Called on its source task's thread only.
class RawPartitionReader {
 public:
  static constexpr int64_t kNoEnd = -1;  // as PartitionReader<T>::kNoEnd

  virtual ~RawPartitionReader() = default;
  // Appends up to max_records records to *out (which the caller clears); their bytes stay
  // valid until the next Read(). Input that holds no record (a blank line) counts towards
  // max_records and is skipped. kEnd may come with the last records before the end.
  virtual absl::StatusOr<ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) = 0;
  // The resume position after everything the last Read() consumed.
  virtual int64_t offset() const = 0;
  // As PartitionReader<T>::end_offset() / RestoreEndOffset().
  virtual int64_t end_offset() const { return kNoEnd; }
  virtual void RestoreEndOffset(int64_t end) {}
  // As PartitionReader<T>::high_water().
  virtual int64_t high_water() const { return end_offset(); }
  // As PartitionReader<T>::history_end().
  virtual int64_t history_end() const { return kNoEnd; }
};

// Partitioned input of bytes; the counterpart of SourceConnector<T> (see source.h for
// the contract of each call). Shared by the instances of one source: NumPartitions,
// StartOffset, Open and OpenAll may be called from their task threads concurrently.
class RawSourceConnector {
 public:
  virtual ~RawSourceConnector() = default;
  virtual absl::StatusOr<int> NumPartitions() = 0;
  virtual absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int partition, int64_t offset) = 0;
  virtual std::string description() const = 0;
  virtual absl::StatusOr<int64_t> StartOffset(int partition) { return 0; }
  virtual absl::StatusOr<std::vector<std::unique_ptr<RawPartitionReader>>> OpenAll(
      const std::vector<std::pair<int, int64_t>>& partitions);
};

// Encoded records for a RawSinkWriter: each record's bytes followed by '\n', one after
// the other in `lines` (so a file sink appends `lines` in one piece), and per record
// where its bytes are and its event time. For a sink that wants no values `lines` is
// empty and every record has size 0.
struct RawSinkBatch {
  struct Entry {
    size_t begin = 0;  // in lines
    size_t size = 0;   // without the '\n'
    Timestamp ts = 0;  // the record's event time
  };
  std::string lines;
  std::vector<Entry> records;

  std::string_view bytes(size_t i) const { return std::string_view(lines).substr(records[i].begin, records[i].size); }
  size_t size() const { return records.size(); }
  bool empty() const { return records.empty(); }
  void clear() {
    lines.clear();
    records.clear();
  }
};

// Writes one sink instance's output; the counterpart of SinkWriter<T>. Called on its
// sink task's thread only.
class RawSinkWriter {
 public:
  virtual ~RawSinkWriter() = default;
  // A non-empty batch of records.
  virtual absl::Status Write(const RawSinkBatch& batch) = 0;
  virtual absl::Status Flush() = 0;
  virtual absl::Status Close() = 0;
  virtual absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) {
    KAPPA_RETURN_IF_ERROR(Flush());
    return std::vector<checkpoint::PendingFile>{};
  }
};

// Output of bytes; the counterpart of SinkConnector<T> (see sink.h for the contract of
// each call, the exactly-once ones in particular). Shared by the sink's instances.
class RawSinkConnector {
 public:
  virtual ~RawSinkConnector() = default;
  virtual absl::StatusOr<std::unique_ptr<RawSinkWriter>> CreateWriter(int subtask, int parallelism) = 0;
  virtual std::string description() const = 0;
  // False: the sink looks only at event times (discard:), and records are not encoded.
  virtual bool wants_values() const { return true; }

  // Defaults as SinkConnector<T>'s: no exactly-once; Commit publishes pending files.
  virtual absl::Status EnableExactlyOnce(const ExactlyOnceContext& context);
  virtual absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) {
    return absl::OkStatus();
  }
  virtual std::vector<checkpoint::PendingFile> TakeFinalPending() { return {}; }
  virtual absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending);
  // After the run, once every writer is closed: release what the instances shared (the
  // one file of file:PATH, stdout's buffer). The first error fails the run.
  virtual absl::Status Finish() { return absl::OkStatus(); }
};

// A RawSourceConnector read as records of type T, decoded with JsonCodec<T>.
template <typename T>
class JsonSource : public SourceConnector<T> {
 public:
  explicit JsonSource(std::shared_ptr<RawSourceConnector> raw) : raw_(std::move(raw)) {}

  absl::StatusOr<int> NumPartitions() override { return raw_->NumPartitions(); }
  absl::StatusOr<int64_t> StartOffset(int partition) override { return raw_->StartOffset(partition); }
  std::string description() const override { return raw_->description(); }

  absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int partition, int64_t offset) override {
    KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<RawPartitionReader> reader, raw_->Open(partition, offset));
    return std::unique_ptr<PartitionReader<T>>(new Reader(std::move(reader)));
  }
  absl::StatusOr<std::vector<std::unique_ptr<PartitionReader<T>>>> OpenAll(
      const std::vector<std::pair<int, int64_t>>& partitions) override {
    KAPPA_ASSIGN_OR_RETURN(auto raw_readers, raw_->OpenAll(partitions));
    std::vector<std::unique_ptr<PartitionReader<T>>> readers;
    readers.reserve(raw_readers.size());
    for (auto& r : raw_readers) readers.push_back(std::unique_ptr<PartitionReader<T>>(new Reader(std::move(r))));
    return readers;
  }

  const std::shared_ptr<RawSourceConnector>& raw() const { return raw_; }

 private:
  class Reader final : public PartitionReader<T> {
   public:
    explicit Reader(std::unique_ptr<RawPartitionReader> raw) : raw_(std::move(raw)) {}

    absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<T>& ctx) override {
      records_.clear();
      KAPPA_ASSIGN_OR_RETURN(ReadStatus status, raw_->Read(max_records, &records_));
      for (const RawRecord& r : records_) {
        // What a timestamp extractor failing on this record reports as its offset.
        offset_ = r.next_offset;
        T value{};
        absl::Status s = codec_.Decode(r.bytes, r.padded_capacity, &value);
        if (!s.ok()) {
          ctx.ReportBadRecord(r.offset, StdView(s.message()), r.bytes);
          continue;
        }
        ctx.Emit(std::move(value));
      }
      offset_ = -1;
      return status;
    }
    int64_t offset() const override { return offset_ >= 0 ? offset_ : raw_->offset(); }
    int64_t end_offset() const override { return raw_->end_offset(); }
    void RestoreEndOffset(int64_t end) override { raw_->RestoreEndOffset(end); }
    int64_t high_water() const override { return raw_->high_water(); }
    int64_t history_end() const override { return raw_->history_end(); }

   private:
    std::unique_ptr<RawPartitionReader> raw_;
    std::vector<RawRecord> records_;
    JsonCodec<T> codec_;
    int64_t offset_ = -1;  // while records of a batch are emitted: the resume position after the current one
  };

  std::shared_ptr<RawSourceConnector> raw_;
};

// Records of type T written to a RawSinkConnector as JSON lines (JsonCodec<T>).
template <typename T>
class JsonSink : public SinkConnector<T> {
 public:
  explicit JsonSink(std::shared_ptr<RawSinkConnector> raw) : raw_(std::move(raw)) {}

  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int subtask, int parallelism) override {
    KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<RawSinkWriter> writer, raw_->CreateWriter(subtask, parallelism));
    return std::unique_ptr<SinkWriter<T>>(new Writer(std::move(writer), raw_->wants_values()));
  }
  std::string description() const override { return raw_->description(); }
  absl::Status EnableExactlyOnce(const ExactlyOnceContext& context) override {
    return raw_->EnableExactlyOnce(context);
  }
  absl::Status Recover(const std::vector<checkpoint::PendingFile>& pending, int64_t restored) override {
    return raw_->Recover(pending, restored);
  }
  std::vector<checkpoint::PendingFile> TakeFinalPending() override { return raw_->TakeFinalPending(); }
  absl::Status Commit(const std::vector<checkpoint::PendingFile>& pending) override { return raw_->Commit(pending); }

  // After the run (see RawSinkConnector::Finish).
  absl::Status Finish() { return raw_->Finish(); }
  const std::shared_ptr<RawSinkConnector>& raw() const { return raw_; }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    Writer(std::unique_ptr<RawSinkWriter> raw, bool values) : raw_(std::move(raw)), values_(values) {}

    absl::Status Write(const Record<T>& r) override {
      RawSinkBatch::Entry e{.begin = batch_.lines.size(), .size = 0, .ts = r.ts};
      if (values_) {
        codec_.Encode(r.value, &batch_.lines);
        e.size = batch_.lines.size() - e.begin;
        batch_.lines.push_back('\n');
      }
      batch_.records.push_back(e);
      if (batch_.lines.size() >= kMaxBatchBytes || batch_.records.size() >= kMaxBatchRecords) return Deliver();
      return absl::OkStatus();
    }
    absl::Status Flush() override {
      KAPPA_RETURN_IF_ERROR(Deliver());
      return raw_->Flush();
    }
    absl::StatusOr<std::vector<checkpoint::PendingFile>> PreCommit(int64_t id) override {
      KAPPA_RETURN_IF_ERROR(Deliver());
      return raw_->PreCommit(id);
    }
    absl::Status Close() override {
      KAPPA_RETURN_IF_ERROR(Deliver());
      return raw_->Close();
    }

   private:
    // What a batch holds at most before it goes to the raw writer: what the JSON lines
    // writers buffered before (64 KiB), and a bound for sinks that take no values.
    static constexpr size_t kMaxBatchBytes = 64 << 10;
    static constexpr size_t kMaxBatchRecords = 4096;

    absl::Status Deliver() {
      if (batch_.empty()) return absl::OkStatus();
      absl::Status s = raw_->Write(batch_);
      batch_.clear();
      return s;
    }

    std::unique_ptr<RawSinkWriter> raw_;
    const bool values_;
    JsonCodec<T> codec_;
    RawSinkBatch batch_;
  };

  std::shared_ptr<RawSinkConnector> raw_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_RAW_H_
