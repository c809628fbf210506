// The Nexmark generator as a source: `gen:nexmark?events=N&rate=R&seed=S&partitions=P`.
//
// Partition p of P generates the events whose number e has e % P == p; an offset is the
// number of events a partition has produced, so the source rewinds exactly (an event's
// content depends only on the seed and its number). Bounded when events=N is given.
// Jobs whose records are not nexmark::Event read the generator through JSON (each event
// encoded as DESIGN §7 and decoded with the job's JsonCodec).
//
// With `pace=true` a reader emits no event before its dateTime in wall-clock time: while
// the next event is due in the future, Read() returns kWouldBlock and the source task
// polls again later. Together with base_time = now (the default under pace) events arrive
// at `rate` per second and event time ≈ arrival time, which is what latency measurements
// (`kappa bench nexmark --rate R`) need.
//
// NexmarkEventsGenerated() counts the events every reader of the process has emitted, for
// progress reports of long benchmark runs.
#ifndef KAPPA_CONNECTORS_NEXMARK_SOURCE_H_
#define KAPPA_CONNECTORS_NEXMARK_SOURCE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "kappa/connectors/nexmark/codec.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/source.h"

namespace kappa::connectors {

namespace internal {
inline std::atomic<int64_t> nexmark_events_generated{0};
}  // namespace internal

// Events emitted by every gen:nexmark reader in this process so far. Thread-safe.
inline int64_t NexmarkEventsGenerated() {
  return internal::nexmark_events_generated.load(std::memory_order_relaxed);
}

template <typename T = nexmark::Event>
class NexmarkSource final : public SourceConnector<T> {
 public:
  NexmarkSource(nexmark::GeneratorConfig config, int partitions) : config_(config), partitions_(partitions) {}

  absl::StatusOr<int> NumPartitions() override { return partitions_; }
  absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int partition, int64_t offset) override {
    auto r = std::make_unique<Reader>(config_, partition, partitions_);
    r->Seek(offset);
    return std::unique_ptr<PartitionReader<T>>(std::move(r));
  }
  std::string description() const override { return "gen:nexmark"; }

 private:
  class Reader final : public PartitionReader<T> {
   public:
    Reader(const nexmark::GeneratorConfig& c, int p, int n) : config_(c), gen_(c, p, n) {}
    void Seek(int64_t offset) { gen_.Seek(offset); }
    absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<T>& ctx) override {
      if (!gen_.HasNext()) return ReadStatus::kEnd;
      Timestamp now = kMaxTimestamp;
      if (config_.pace) {
        now = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
      }
      size_t i = 0;
      for (; i < max_records && gen_.HasNext(); ++i) {
        if (config_.pace && nexmark::EventTimestamp(config_, gen_.next_event_number()) > now) break;
        if constexpr (std::is_same_v<T, nexmark::Event>) {
          nexmark::Event e;
          gen_.NextInto(&e);
          ctx.Emit(std::move(e));
        } else {
          int64_t at = gen_.position();
          gen_.NextInto(&event_);
          line_.clear();
          nexmark::AppendJson(event_, &line_);
          T value{};
          absl::Status s = codec_.Decode(line_, 0, &value);
          if (!s.ok()) {
            ctx.ReportBadRecord(at, StdView(s.message()), line_);
            continue;
          }
          ctx.Emit(std::move(value));
        }
      }
      internal::nexmark_events_generated.fetch_add(static_cast<int64_t>(i), std::memory_order_relaxed);
      return i == 0 ? ReadStatus::kWouldBlock : ReadStatus::kRecords;
    }
    int64_t offset() const override { return gen_.position(); }

   private:
    nexmark::GeneratorConfig config_;
    nexmark::Generator gen_;
    nexmark::Event event_;
    std::string line_;
    JsonCodec<T> codec_;
  };

  nexmark::GeneratorConfig config_;
  int partitions_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_NEXMARK_SOURCE_H_
