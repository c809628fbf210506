// What travels between operators: records, batches of records, and control messages.
//
// Record<T> carries the user's value, its event timestamp and `pwm`, the watermark of the
// record's source partition just before it (DESIGN §3). Lateness is judged against pwm,
// never against a task's combined watermark, so a replay of the same offsets makes exactly
// the same records late as the live run did. Records produced by timers (window results,
// join results) are never late: their pwm is kMinTimestamp.
//
// Between tasks records move in batches (the unit of queueing, backpressure and barrier
// alignment); inside a task's fused chain they move one at a time through Output<T>.
#ifndef KAPPA_RUNTIME_RECORD_H_
#define KAPPA_RUNTIME_RECORD_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "kappa/base/time.h"

namespace kappa {

template <typename T>
struct Record {
  T value;
  Timestamp ts = 0;
  Timestamp pwm = kMinTimestamp;
};

// Receives records inside a fused chain. Implemented by operators' inputs, exchanges and
// sinks; called on the owning task's thread only.
template <typename T>
class Output {
 public:
  virtual ~Output() = default;
  virtual void Emit(Record<T>&& record) = 0;
};

namespace runtime {

class BatchBase {
 public:
  virtual ~BatchBase() = default;
  virtual size_t size() const = 0;
  // When (steady-clock ns) the input behind the batch's first record entered the job, for
  // the ingestion-time latency at sinks; carried per batch, not per record.
  int64_t ingestion_ns = 0;
};

template <typename T>
class Batch final : public BatchBase {
 public:
  size_t size() const override { return records.size(); }
  std::vector<Record<T>> records;
};

enum class MessageKind : uint8_t {
  kBatch,        // batch: records
  kWatermark,    // value: the sender's watermark
  kIdle,         // the sender has no active input; ignore its watermark until it speaks again
  kActive,       // the sender is active again
  kBarrier,      // value: checkpoint id
  kEndOfStream,  // the sender will send nothing more
};

struct Message {
  MessageKind kind = MessageKind::kBatch;
  int64_t value = 0;
  std::unique_ptr<BatchBase> batch;

  static Message Watermark(Timestamp wm) { return {MessageKind::kWatermark, wm, nullptr}; }
  static Message Control(MessageKind kind, int64_t value = 0) { return {kind, value, nullptr}; }
};

}  // namespace runtime
}  // namespace kappa

#endif  // KAPPA_RUNTIME_RECORD_H_
