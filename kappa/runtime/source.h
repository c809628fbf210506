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
// Checkpoints keep each partition's maximum event time and idle flag with its offset; a
// restore resumes W_p from them (wherever the partition is read now), so the records late
// before a restore are late after it.
// An instance's watermark is the minimum over its partitions that have not ended and are
// not idle; a partition is idle after `idle_timeout` of processing time without records.
#ifndef KAPPA_RUNTIME_SOURCE_H_
#define KAPPA_RUNTIME_SOURCE_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/progress.h"
#include "kappa/base/log.h"
#include "kappa/base/status.h"
#include "kappa/runtime/task.h"
#include "kappa/runtime/trace.h"

namespace kappa {

// How a source derives event time and watermarks from its records. A plain value: build
// it on the thread that builds the job; each source operator keeps its own copy.
//
//   auto strategy = kappa::WatermarkStrategy<Click>::BoundedOutOfOrderness(absl::Seconds(5))
//                       .WithTimestamp(&Click::ts)   // or [](const Click& c) { return c.ts; }
//                       .WithIdleness(absl::Seconds(30));  // milliseconds as integers work too
//
// The builders return a new strategy and work on a temporary (chained, as above) and on a
// variable alike (`strategy.WithIdleness(0)` leaves `strategy` as it was).
template <typename T>
struct WatermarkStrategy {
  Timestamp out_of_orderness_ms = 0;
  Timestamp idle_timeout_ms = 0;  // 0: partitions never go idle
  std::function<Timestamp(const T&)> timestamp;
  // Event-time range (replay by time): records with timestamps outside [from, to) are
  // skipped at the source. A partition ends at its first record at or after
  // to + out_of_orderness: no record of the range can follow it within the bound.
  Timestamp range_from = kMinTimestamp;
  Timestamp range_to = kMaxTimestamp;

  static WatermarkStrategy BoundedOutOfOrderness(Timestamp ms) {
    WatermarkStrategy s;
    s.out_of_orderness_ms = ms;
    return s;
  }
  // The bound as a duration, like window sizes: BoundedOutOfOrderness(absl::Seconds(5)).
  static WatermarkStrategy BoundedOutOfOrderness(absl::Duration bound) {
    return BoundedOutOfOrderness(absl::ToInt64Milliseconds(bound));
  }
  // A partition without records for `ms` of processing time stops holding back the
  // watermark (0: never).
  WatermarkStrategy WithIdleness(Timestamp ms) const& { return WatermarkStrategy(*this).WithIdleness(ms); }
  WatermarkStrategy WithIdleness(Timestamp ms) && {
    idle_timeout_ms = ms;
    return std::move(*this);
  }
  WatermarkStrategy WithIdleness(absl::Duration timeout) const& {
    return WithIdleness(absl::ToInt64Milliseconds(timeout));
  }
  WatermarkStrategy WithIdleness(absl::Duration timeout) && {
    return std::move(*this).WithIdleness(absl::ToInt64Milliseconds(timeout));
  }
  // The timestamp extractor: fn(const T&) -> epoch milliseconds, or a member pointer
  // such as &Click::ts.
  template <typename Fn>
  WatermarkStrategy WithTimestamp(Fn fn) const& {
    return WatermarkStrategy(*this).WithTimestamp(std::move(fn));
  }
  template <typename Fn>
  WatermarkStrategy WithTimestamp(Fn fn) && {
    static_assert(std::is_invocable_r_v<Timestamp, Fn&, const T&>,
                  "WithTimestamp takes fn(const T&) -> int64_t epoch milliseconds, or a member pointer &T::ts");
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
  // Tracing only, during ctx.Emit: the offset of the record being emitted (what --trace
  // filters on). The default suits readers whose offsets count records.
  virtual int64_t record_offset() const { return offset() - 1; }
  // Where a bounded reader stops (exclusive), or kNoEnd. The end is resolved once, when a
  // run first opens the partition (e.g. Kafka high watermarks at start), and is kept in
  // checkpoints so that a restarted replay stops exactly where the first run would have.
  virtual int64_t end_offset() const { return kNoEnd; }
  virtual void RestoreEndOffset(int64_t end) {}
  // A reader without an end that follows new input after replaying history (`replay
  // --then-follow`): the partition's end when it was opened, where its history ends; the
  // run is caught up once every partition has read up to it. kNoEnd otherwise.
  virtual int64_t history_end() const { return kNoEnd; }
  // The partition's current end, for monitoring (lag = high_water - offset): Kafka's
  // high-water mark as last fetched, a bounded reader's end; kNoEnd when unknown. Called
  // after every read; must be cheap (no request to a broker).
  virtual int64_t high_water() const { return end_offset(); }

  static constexpr int64_t kNoEnd = -1;
};

template <typename T>
class SourceConnector {
 public:
  virtual ~SourceConnector() = default;
  // Number of partitions; called once per source instance at start.
  virtual absl::StatusOr<int> NumPartitions() = 0;
  virtual absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int partition, int64_t offset) = 0;
  virtual std::string description() const = 0;

  // Where a partition starts when no checkpoint names an offset: the connector's
  // configured start (the beginning of a file; earliest, latest, committed, a timestamp
  // or an explicit offset for Kafka).
  virtual absl::StatusOr<int64_t> StartOffset(int partition) { return 0; }
  // Opens all partitions one source instance reads, each at its offset. Connectors that
  // share a client between partitions (one Kafka consumer per instance) override this.
  virtual absl::StatusOr<std::vector<std::unique_ptr<PartitionReader<T>>>> OpenAll(
      const std::vector<std::pair<int, int64_t>>& partitions) {
    std::vector<std::unique_ptr<PartitionReader<T>>> readers;
    for (const auto& [partition, offset] : partitions) {
      auto reader = Open(partition, offset);
      if (!reader.ok()) {
        return absl::Status(reader.status().code(), absl::StrCat("partition ", partition, " at offset ", offset,
                                                                 ": ", reader.status().message()));
      }
      readers.push_back(std::move(*reader));
    }
    return readers;
  }
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
    // On restore, every partition resumes at the offset the checkpoint recorded (and keeps
    // the end the first run resolved); others start where the connector is configured to.
    std::map<int, checkpoint::PartitionPosition> restored;
    if (const checkpoint::RestoredState* r = ctx->restored()) {
      for (const checkpoint::PartitionPosition& p : r->SourcePartitions(ctx->uid())) restored[p.partition] = p;
    }
    // Outside a run (a test harness) the positions go to the operator's own board.
    SourceProgress* board = ctx->progress() != nullptr ? ctx->progress() : &own_progress_;
    std::vector<std::pair<int, int64_t>> opens;
    for (int p = ctx->subtask(); p < n; p += ctx->parallelism()) {
      auto at = restored.find(p);
      int64_t offset;
      if (at != restored.end()) {
        offset = at->second.offset;
      } else {
        auto start = connector_->StartOffset(p);
        if (!start.ok()) {
          return absl::Status(start.status().code(), absl::StrCat(connector_->description(), " partition ", p, ": ",
                                                                  start.status().message()));
        }
        offset = *start;
      }
      opens.emplace_back(p, offset);
    }
    auto readers = connector_->OpenAll(opens);
    if (!readers.ok()) {
      return absl::Status(readers.status().code(),
                          absl::StrCat(connector_->description(), ": ", readers.status().message()));
    }
    for (size_t i = 0; i < opens.size(); ++i) {
      Partition part{opens[i].first, std::move((*readers)[i])};
      auto at = restored.find(part.id);
      if (at != restored.end() && at->second.end_offset) {
        const int64_t end = *at->second.end_offset;
        part.reader->RestoreEndOffset(end);
        part.ended = end != PartitionReader<T>::kNoEnd && at->second.offset >= end;
      }
      part.last_active = ctx->clock()->NowMillis();
      // Event time resumes where the checkpoint left it: W_p = max event time - bound, so
      // a record late before the restore is late after it (DESIGN §3).
      if (at != restored.end() && at->second.max_event_time) {
        part.max_ts = *at->second.max_event_time;
        part.watermark = WatermarkOf(part.max_ts);
        part.idle = at->second.idle && strategy_.idle_timeout_ms > 0;
      }
      part.progress = board->Register(connector_->description(), part.id, part.reader->offset(),
                                      part.reader->end_offset());
      part.progress->finished = part.ended;
      part.history_end = part.reader->history_end();
      part.progress->history_end = part.history_end;
      if (LogEnabled(LogLevel::kDebug)) {
        LogDebug(absl::StrCat(connector_->description(), " partition ", part.id, ": opened at offset ",
                              part.reader->offset(), at != restored.end() ? " (restored)" : "",
                              part.reader->end_offset() != PartitionReader<T>::kNoEnd
                                  ? absl::StrCat(", ends at ", part.reader->end_offset())
                                  : std::string(),
                              part.history_end != PartitionReader<T>::kNoEnd
                                  ? absl::StrCat(", history ends at ", part.history_end)
                                  : std::string()));
      }
      MarkCaughtUp(part);
      part.progress->watermark = part.watermark;
      part.progress->idle = part.idle;
      part.progress->high_water = part.reader->high_water();
      parts_.push_back(std::move(part));
    }
    if (!this->out_) this->out_ = Discard<T>::Instance();
    trace_ = ctx->trace();
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
    size_t seen = 0;  // records read, including those outside the event-time range
    for (size_t n = 0; n < parts_.size() && poll.records < max_records; ++n) {
      Partition& p = parts_[(next_ + n) % parts_.size()];
      if (p.ended) continue;
      size_t emitted = 0, seen_here = 0;
      absl::StatusOr<ReadStatus> read = trace_ == nullptr
                                            ? ReadWith(emitter_, p, max_records - poll.records, &emitted, &seen_here)
                                            : ReadWith(traced_emitter_, p, max_records - poll.records, &emitted,
                                                       &seen_here);
      KAPPA_ASSIGN_OR_RETURN(ReadStatus rs, std::move(read));
      poll.records += emitted;
      seen += seen_here;
      if (seen_here > 0) {
        p.last_active = now;
        p.idle = false;
      }
      if (rs == ReadStatus::kEnd) p.ended = true;
      p.progress->offset.store(p.reader->offset(), std::memory_order_relaxed);
      p.progress->high_water.store(p.reader->high_water(), std::memory_order_relaxed);
      p.progress->records.fetch_add(emitted, std::memory_order_relaxed);
      if (p.ended) p.progress->finished.store(true, std::memory_order_relaxed);
      if (p.history_end != PartitionReader<T>::kNoEnd) MarkCaughtUp(p);
    }
    next_ = parts_.empty() ? 0 : (next_ + 1) % parts_.size();

    Timestamp wm = kMaxTimestamp;
    bool any_active = false;
    for (Partition& p : parts_) {
      if (p.ended) {
        p.progress->idle.store(false, std::memory_order_relaxed);
        p.progress->watermark.store(p.watermark, std::memory_order_relaxed);
        continue;
      }
      ++live;
      if (!p.idle && strategy_.idle_timeout_ms > 0 && now - p.last_active >= strategy_.idle_timeout_ms) {
        p.idle = true;
      }
      p.progress->idle.store(p.idle, std::memory_order_relaxed);
      p.progress->watermark.store(p.watermark, std::memory_order_relaxed);
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
    poll.would_block = seen == 0;
    return poll;
  }

  absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot* out) override {
    checkpoint::SourcePositions positions;
    positions.operator_uid = ctx_->uid();
    for (const Partition& p : parts_) {
      checkpoint::PartitionPosition& po = positions.partitions.emplace_back();
      po.partition = p.id;
      po.offset = p.reader->offset();
      // A partition the event-time range ended is finished: its end is where it stopped.
      int64_t end = p.ended_by_time ? po.offset : p.reader->end_offset();
      if (end != PartitionReader<T>::kNoEnd) po.end_offset = end;
      if (p.max_ts != kMinTimestamp) po.max_event_time = p.max_ts;
      po.idle = p.idle;
    }
    out->sources.push_back(std::move(positions));
    return absl::OkStatus();
  }

 private:
  Timestamp WatermarkOf(Timestamp max_ts) const {
    const Timestamp b = strategy_.out_of_orderness_ms;
    return max_ts < kMinTimestamp + b ? kMinTimestamp : max_ts - b;
  }

  struct Partition {
    int id;
    std::unique_ptr<PartitionReader<T>> reader;
    Timestamp watermark = kMinTimestamp;
    Timestamp max_ts = kMinTimestamp;
    Timestamp last_active = 0;
    bool ended = false;
    bool ended_by_time = false;
    bool idle = false;
    int64_t history_end = PartitionReader<T>::kNoEnd;  // following after a replay: see history_end()
    bool caught_up = false;
    int64_t history_records = 0;
    SourceProgress::Partition* progress = nullptr;
  };

  // The first time a following partition's position reaches the end its history had.
  void MarkCaughtUp(Partition& p) const {
    if (p.history_end == PartitionReader<T>::kNoEnd || p.caught_up || p.reader->offset() < p.history_end) return;
    p.caught_up = true;
    p.progress->history_records.store(p.history_records, std::memory_order_relaxed);
    p.progress->caught_up_ms.store(std::max<Timestamp>(1, ctx_->clock()->NowMillis()), std::memory_order_release);
  }

  // kTraced: tracing is on; each record's position is published to the task's trace
  // before it is emitted, for the taps that start traces.
  template <bool kTraced>
  class Emitter final : public SourceContext<T> {
   public:
    void Reset(SourceOperator* op, Partition* p) {
      op_ = op;
      p_ = p;
      emitted = 0;
      seen = 0;
    }
    void Emit(T&& value) override {
      ++seen;
      Timestamp ts;
      try {
        ts = op_->strategy_.timestamp(value);
      } catch (const std::exception& e) {
        ReportBadRecord(p_->reader->offset(), absl::StrCat("timestamp extractor failed: ", e.what()),
                        DescribeRecord(value));
        return;
      }
      if (ts < op_->strategy_.range_from || p_->ended) return;  // outside the replayed range
      if (ts >= op_->strategy_.range_to) {
        Timestamp b = op_->strategy_.out_of_orderness_ms;
        if (ts - b >= op_->strategy_.range_to) {
          p_->ended = true;
          p_->ended_by_time = true;
        }
        return;
      }
      Timestamp pwm = p_->watermark;
      if (ts > p_->max_ts) {
        p_->max_ts = ts;
        p_->watermark = op_->WatermarkOf(ts);
      }
      ++emitted;
      // Following after a replay: the records up to where the history ended.
      if (p_->history_end != PartitionReader<T>::kNoEnd && !p_->caught_up &&
          p_->reader->offset() <= p_->history_end) {
        ++p_->history_records;
      }
      if constexpr (kTraced) {
        TaskTrace* t = op_->trace_;
        t->has_origin = true;
        t->origin_source = op_->ctx_->operator_name();
        t->origin_partition = p_->id;
        t->origin_offset = p_->reader->record_offset();
        op_->out_->Emit(Record<T>{std::move(value), ts, pwm});
        t->has_origin = false;
      } else {
        op_->out_->Emit(Record<T>{std::move(value), ts, pwm});
      }
    }
    void ReportBadRecord(int64_t offset, std::string_view error, std::string_view raw) override {
      if (op_->ctx_->has_dead_letter_output()) {
        // The whole raw input, so that a redrive can decode it again.
        const int64_t now = op_->ctx_->clock()->NowMillis();
        DeadLetter letter{.record = std::string(raw), .record_is_json = false, .errors = {std::string(error)},
                          .attempts = 1, .first_failure_ms = now, .last_failure_ms = now,
                          .operator_name = op_->ctx_->uid(), .partition = p_->id, .offset = offset,
                          .ts = kMinTimestamp, .kind = "decode"};
        op_->ctx_->ReportDeadLetter(std::move(letter));
        return;
      }
      ErrorEvent e{.kind = "decode", .operator_name = op_->ctx_->operator_name(), .partition = p_->id,
                   .offset = offset, .error = std::string(error),
                   .record = std::string(raw.substr(0, 4096))};
      op_->ctx_->errors()->Report(e);
    }
    size_t emitted = 0;
    size_t seen = 0;

   private:
    SourceOperator* op_ = nullptr;
    Partition* p_ = nullptr;
  };

  template <typename E>
  absl::StatusOr<ReadStatus> ReadWith(E& e, Partition& p, size_t max_records, size_t* emitted, size_t* seen) {
    e.Reset(this, &p);
    OriginTracker* origin = ctx_->origin_tracker();
    if (origin != nullptr) {
      origin->Set(p.id, p.reader.get(),
                  [](const void* r) { return static_cast<const PartitionReader<T>*>(r)->record_offset(); });
    }
    absl::StatusOr<ReadStatus> rs = p.reader->Read(max_records, e);
    if (origin != nullptr) origin->Clear();
    *emitted = e.emitted;
    *seen = e.seen;
    return rs;
  }

  std::shared_ptr<SourceConnector<T>> connector_;
  WatermarkStrategy<T> strategy_;
  SourceProgress own_progress_;
  std::vector<Partition> parts_;
  size_t next_ = 0;
  Emitter<false> emitter_;
  Emitter<true> traced_emitter_;
  TaskTrace* trace_ = nullptr;
};

}  // namespace runtime
}  // namespace kappa

#endif  // KAPPA_RUNTIME_SOURCE_H_
