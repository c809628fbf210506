// Tracing one event through a job (`kappa run --trace FILTER`).
//
// A TraceFilter selects source records by position (source, partition, offset range) or
// by key at a named keyed operator. A selected record is marked with a trace id, the
// position of the source record it came from ("events/2/18231"). Every operator that
// receives a marked record writes a TraceEvent, one JSON line, to the job's Tracer, and
// what it derives from a marked record is marked too:
// - inside a fused chain, a TraceTap<T> sits on every edge (only when tracing is on) and
//   sees each record that crosses it; while the task processes a marked record
//   (TaskTrace::current), everything emitted is part of that trace;
// - across tasks, the exchange writer puts the marks of a batch in a side vector
//   (BatchBase::marks, null for a batch without marked records) and the receiving task
//   processes a marked record on its own, inside its trace;
// - windows remember which trace last touched each (key, window) and fire its result
//   inside that trace (TracedInput).
//
// Off, there are no taps; what remains on the hot path is one null check per batch a task
// receives (the marks), one per partition read of a source and one per fired window.
//
// Implementation rules: a Tracer is shared by all tasks of a run and is thread-safe. A
// TaskTrace belongs to one task and is used only on that task's current thread.
#ifndef KAPPA_RUNTIME_TRACE_H_
#define KAPPA_RUNTIME_TRACE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/json_util.h"
#include "kappa/base/time.h"
#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/record.h"

namespace kappa::runtime {

// What --trace selects, e.g. "partition=2,offset=18231", "offset=100..120",
// "source=events,partition=0,offset=5" or "key=1007@count-bids".
struct TraceFilter {
  std::string source;          // source operator name; empty: any source
  int partition = -1;          // -1: any partition
  int64_t offset_first = -1;   // -1: any offset
  int64_t offset_last = -1;    // inclusive
  std::string key;             // with key_at: the key's text (a number, or a string without quotes)
  std::string key_at;          // the keyed operator (name or uid) whose key is compared

  // A one-line error naming what is wrong for a bad filter.
  static absl::StatusOr<TraceFilter> Parse(std::string_view text);
  bool by_key() const { return !key_at.empty(); }
  bool MatchesPosition(std::string_view source_name, int partition, int64_t offset) const;
  // Whether `text`, a key as JSON (DescribeRecord), is the filter's key.
  bool MatchesKey(std::string_view text) const;
};

// One line of the trace output.
struct TraceEvent {
  std::string_view kind;  // source, in, out, window, fire, sink, late
  std::string_view op;    // operator name
  std::string_view uid;
  int instance = 0;
  int32_t trace = -1;
  std::string_view record;  // JSON (or "<type>" when the type has no codec)
  bool has_ts = false;
  Timestamp ts = 0;         // the record's event time
  bool has_window = false;
  Timestamp window_start = 0, window_end = 0;
  bool has_timer = false;
  Timestamp timer = 0;      // the event-time timer a window registered
};

// Where a run's trace events go. Thread-safe; created by the caller (the CLI, a test) and
// passed to the run as ExecutionOptions::tracer.
class Tracer {
 public:
  // uri: "stderr:" (or empty), "stdout:", "file:PATH" or a plain path (truncated).
  static absl::StatusOr<std::unique_ptr<Tracer>> Create(TraceFilter filter, const std::string& uri);
  // For tests: keeps the lines in memory as well (lines()).
  Tracer(TraceFilter filter, std::unique_ptr<FileWriter> writer, bool keep_lines = false);

  const TraceFilter& filter() const { return filter_; }
  // The id of the trace that starts at this source position.
  int32_t Intern(std::string_view source, int partition, int64_t offset);
  // The id of a trace that starts at a key, without a known source position.
  int32_t InternKey(std::string_view key, std::string_view at);
  // "events/2/18231": source operator, partition, offset of the originating record.
  std::string Name(int32_t trace) const;
  void Write(const TraceEvent& e);
  int64_t events_written() const;
  std::vector<std::string> lines() const;
  absl::Status Flush();

 private:
  TraceFilter filter_;
  mutable std::mutex mu_;
  std::unique_ptr<FileWriter> writer_;
  bool keep_;
  std::vector<std::string> names_;
  std::vector<std::string> lines_;
  int64_t written_ = 0;
};

// Truncates a record's JSON text for a trace line.
std::string TraceRecordText(std::string text);

template <typename T>
std::string DescribeTraced(const T& v) {
  return TraceRecordText(TraceJson(v));
}

// A task's tracing state.
struct TaskTrace {
  Tracer* tracer = nullptr;
  int instance = 0;
  bool head_is_sink = false;  // marked batches reach a sink: their "in" is "sink"
  // The trace of the record being processed; -1: none.
  int32_t current = -1;
  // Source tasks: the position of the record the source is emitting.
  bool has_origin = false;
  std::string_view origin_source;
  int origin_partition = 0;
  int64_t origin_offset = 0;

  void Write(std::string_view kind, std::string_view op, std::string_view uid, std::string_view record,
             const Timestamp* ts = nullptr) {
    TraceEvent e{.kind = kind, .op = op, .uid = uid, .instance = instance, .trace = current, .record = record};
    if (ts != nullptr) {
      e.has_ts = true;
      e.ts = *ts;
    }
    tracer->Write(e);
  }
};

// A hop of a fused chain or the entry of an exchange, seen by a tap.
struct TapSpec {
  TaskTrace* trace = nullptr;
  std::string from_name, from_uid;
  std::string to_name, to_uid;
  bool from_source = false;  // the producer is a source: the tap starts traces by position
  bool to_sink = false;      // the consumer is a sink: its "in" is "sink"
  bool by_key = false;       // the edge feeds the keyed operator the key filter names
};

// Sits on one edge of a task while tracing is on: starts traces (source edges, the key
// filter's edge), writes "out" for the producer and "in" for the consumer of a marked
// record, and hands marked records to an exchange writer with their mark.
template <typename T>
class TraceTap final : public OutputNode, public Output<T> {
 public:
  // next: the consumer's input, or the exchange writer's output (writer non-null).
  // key_text: the record's key as JSON, on keyed edges.
  TraceTap(TapSpec spec, Output<T>* next, ExchangeWriter<T>* writer, std::function<std::string(const T&)> key_text)
      : spec_(std::move(spec)), next_(next), writer_(writer), key_text_(std::move(key_text)) {
    traced_input_ = writer_ == nullptr ? dynamic_cast<TracedInput<T>*>(next_) : nullptr;
  }
  OutputPtr output() override { return OutputPtr::Of<T>(this); }

  void Emit(Record<T>&& r) override {
    TaskTrace* t = spec_.trace;
    bool started = false;
    if (t->current < 0) {
      const TraceFilter& f = t->tracer->filter();
      if (spec_.from_source && !f.by_key() && t->has_origin &&
          f.MatchesPosition(t->origin_source, t->origin_partition, t->origin_offset)) {
        t->current = t->tracer->Intern(t->origin_source, t->origin_partition, t->origin_offset);
        started = true;
      } else if (spec_.by_key && key_text_ && f.MatchesKey(key_text_(r.value))) {
        t->current = t->has_origin ? t->tracer->Intern(t->origin_source, t->origin_partition, t->origin_offset)
                                   : t->tracer->InternKey(f.key, f.key_at);
        started = true;
      }
      if (!started) {
        Forward(std::move(r));
        return;
      }
    }
    const std::string text = DescribeTraced(r.value);
    t->Write(started && spec_.from_source ? "source" : "out", spec_.from_name, spec_.from_uid, text, &r.ts);
    if (writer_ != nullptr) {
      writer_->EmitMarked(std::move(r), t->current);
    } else {
      t->Write(spec_.to_sink ? "sink" : "in", spec_.to_name, spec_.to_uid, text, &r.ts);
      if (traced_input_ != nullptr) traced_input_->OnTracedRecord(r, t);
      next_->Emit(std::move(r));
    }
    if (started) t->current = -1;
  }

 private:
  void Forward(Record<T>&& r) {
    if (writer_ != nullptr) {
      writer_->Emit(std::move(r));
    } else {
      next_->Emit(std::move(r));
    }
  }

  TapSpec spec_;
  Output<T>* next_;
  ExchangeWriter<T>* writer_;
  TracedInput<T>* traced_input_ = nullptr;
  std::function<std::string(const T&)> key_text_;
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_TRACE_H_
