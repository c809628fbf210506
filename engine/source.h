// Sources: connectors that read partitions, and the operator that turns what they read
// into timestamped records with per-partition watermarks.
//
// A SourceConnector<T> describes partitioned input (files of a file log, Kafka
// partitions, generator shards) and opens a PartitionReader<T> at any offset, which is
// what makes every source rewindable: recovery and replay open readers at stored or
// requested offsets. Readers decode into T; a line that fails to decode is reported to
// the job's `errors` output with its partition and offset, and reading continues.
//
// SourceOperator<T> assigns partitions round-robin to the source's parallel instances
// (partition p → instance p % parallelism), keeps one watermark per partition
// (W_p = max event time seen in p − out-of-orderness) and stamps each record with
// pwm = W_p just before it, the value every lateness decision uses (DESIGN §3).
// An instance's watermark is the minimum over its partitions that have not ended and are
// not idle; a partition is idle after `idle_timeout` of processing time without records.
#ifndef KAPPA_ENGINE_SOURCE_H_
#define KAPPA_ENGINE_SOURCE_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/exchange.h"
#include "engine/operator.h"
#include "engine/status.h"
#include "engine/task.h"

namespace kappa {

// How a source derives event time and watermarks from its records.
template <typename T>
struct WatermarkStrategy {
  Timestamp out_of_orderness_ms = 0;
  Timestamp idle_timeout_ms = 0;  // 0: partitions never go idle
  std::function<Timestamp(const T&)> timestamp;

  static WatermarkStrategy BoundedOutOfOrderness(Timestamp ms) {
    WatermarkStrategy s;
    s.out_of_orderness_ms = ms;
    return s;
  }
  WatermarkStrategy WithIdleness(Timestamp ms) && {
    idle_timeout_ms = ms;
    return std::move(*this);
  }
  WatermarkStrategy WithTimestamp(std::function<Timestamp(const T&)> fn) && {
    timestamp = std::move(fn);
    return std::move(*this);
  }
};

// What a partition reader emits into.
template <typename T>
class SourceContext {
 public:
  virtual ~SourceContext() = default;
  virtual void Emit(T&& value) = 0;
  // A record at `offset` could not be decoded; it is skipped.
  virtual void ReportBadRecord(int64_t offset, std::string_view error, std::string_view raw) = 0;
};

enum class ReadStatus { kRecords, kWouldBlock, kEnd };

template <typename T>
class PartitionReader {
 public:
  virtual ~PartitionReader() = default;
  // Emits up to max_records records into ctx.
  virtual absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<T>& ctx) = 0;
  // Resume position after the last record read (what a checkpoint stores).
  virtual int64_t offset() const = 0;
};

template <typename T>
class SourceConnector {
 public:
  virtual ~SourceConnector() = default;
  // Number of partitions; called once per source instance at start.
  virtual absl::StatusOr<int> NumPartitions() = 0;
  virtual absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int partition, int64_t offset) = 0;
  virtual std::string description() const = 0;
};

namespace runtime {

template <typename T>
class SourceOperator final : public OperatorBase, public SourceDriver, public WithOutput<T> {
 public:
  SourceOperator(std::shared_ptr<SourceConnector<T>> connector, WatermarkStrategy<T> strategy)
      : connector_(std::move(connector)), strategy_(std::move(strategy)) {}

  absl::Status Open(OperatorContext* ctx) override {
    ctx_ = ctx;
    KAPPA_ASSIGN_OR_RETURN(int n, connector_->NumPartitions());
    // On restore, every partition resumes at the offset the checkpoint recorded.
    std::map<int, int64_t> restored;
    if (const checkpoint::Manifest* m = ctx->restored()) {
      for (const auto& s : m->sources()) {
        if (s.operator_uid() != ctx->uid()) continue;
        for (const auto& p : s.partitions()) restored[p.partition()] = p.offset();
      }
    }
    for (int p = ctx->subtask(); p < n; p += ctx->parallelism()) {
      auto at = restored.find(p);
      int64_t offset = at == restored.end() ? 0 : at->second;
      auto reader_or = connector_->Open(p, offset);
      if (!reader_or.ok()) {
        return absl::Status(reader_or.status().code(),
                            absl::StrCat(connector_->description(), " partition ", p, " at offset ", offset, ": ",
                                         reader_or.status().message()));
      }
      auto reader = std::move(*reader_or);
      parts_.push_back(Partition{p, std::move(reader)});
      parts_.back().last_active = ctx->clock()->NowMillis();
    }
    if (!this->out_) this->out_ = Discard<T>::Instance();
    return absl::OkStatus();
  }

  void ProcessBatch(int, BatchBase*) override {}
  OutputPtr InputAt(int) override { return {}; }
  void ConnectOutput(int port, OutputPtr out) override { this->SetMainOutput(out); }

  absl::StatusOr<SourcePoll> Poll(size_t max_records) override {
    SourcePoll poll;
    if (ctx_->stop_requested()) {
      poll.finished = true;
      poll.stopped = true;
      return poll;
    }
    Timestamp now = ctx_->clock()->NowMillis();
    size_t live = 0;
    for (size_t n = 0; n < parts_.size() && poll.records < max_records; ++n) {
      Partition& p = parts_[(next_ + n) % parts_.size()];
      if (p.ended) continue;
      emitter_.Reset(this, &p);
      KAPPA_ASSIGN_OR_RETURN(ReadStatus rs, p.reader->Read(max_records - poll.records, emitter_));
      poll.records += emitter_.emitted;
      if (emitter_.emitted > 0) {
        p.last_active = now;
        p.idle = false;
      }
      if (rs == ReadStatus::kEnd) p.ended = true;
    }
    next_ = parts_.empty() ? 0 : (next_ + 1) % parts_.size();

    Timestamp wm = kMaxTimestamp;
    bool any_active = false;
    for (Partition& p : parts_) {
      if (p.ended) continue;
      ++live;
      if (!p.idle && strategy_.idle_timeout_ms > 0 && now - p.last_active >= strategy_.idle_timeout_ms) {
        p.idle = true;
      }
      if (p.idle) continue;
      any_active = true;
      wm = std::min(wm, p.watermark);
    }
    if (live == 0) {
      poll.finished = true;
      return poll;
    }
    poll.idle = !any_active;
    poll.watermark = any_active ? wm : kMinTimestamp;
    poll.would_block = poll.records == 0;
    return poll;
  }

  absl::Status SnapshotState(int64_t, TaskSnapshot* out) override {
    checkpoint::SourceOffsets offsets;
    offsets.set_operator_uid(ctx_->uid());
    for (const Partition& p : parts_) {
      auto* po = offsets.add_partitions();
      po->set_partition(p.id);
      po->set_offset(p.reader->offset());
    }
    out->sources.push_back(std::move(offsets));
    return absl::OkStatus();
  }

 private:
  struct Partition {
    int id;
    std::unique_ptr<PartitionReader<T>> reader;
    Timestamp watermark = kMinTimestamp;
    Timestamp max_ts = kMinTimestamp;
    Timestamp last_active = 0;
    bool ended = false;
    bool idle = false;
  };

  class Emitter final : public SourceContext<T> {
   public:
    void Reset(SourceOperator* op, Partition* p) {
      op_ = op;
      p_ = p;
      emitted = 0;
    }
    void Emit(T&& value) override {
      Timestamp ts;
      try {
        ts = op_->strategy_.timestamp(value);
      } catch (const std::exception& e) {
        ReportBadRecord(p_->reader->offset(), absl::StrCat("timestamp extractor failed: ", e.what()),
                        DescribeRecord(value));
        return;
      }
      Timestamp pwm = p_->watermark;
      if (ts > p_->max_ts) {
        p_->max_ts = ts;
        Timestamp b = op_->strategy_.out_of_orderness_ms;
        p_->watermark = ts < kMinTimestamp + b ? kMinTimestamp : ts - b;
      }
      ++emitted;
      op_->out_->Emit(Record<T>{std::move(value), ts, pwm});
    }
    void ReportBadRecord(int64_t offset, std::string_view error, std::string_view raw) override {
      ErrorEvent e{.kind = "decode", .operator_name = op_->ctx_->operator_name(), .partition = p_->id,
                   .offset = offset, .error = std::string(error),
                   .record = std::string(raw.substr(0, 4096))};
      op_->ctx_->errors()->Report(e);
    }
    size_t emitted = 0;

   private:
    SourceOperator* op_ = nullptr;
    Partition* p_ = nullptr;
  };

  std::shared_ptr<SourceConnector<T>> connector_;
  WatermarkStrategy<T> strategy_;
  std::vector<Partition> parts_;
  size_t next_ = 0;
  Emitter emitter_;
};

}  // namespace runtime
}  // namespace kappa

#endif  // KAPPA_ENGINE_SOURCE_H_
