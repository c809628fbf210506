// The Nexmark generator as a source: `gen:nexmark?events=N&rate=R&seed=S&partitions=P`.
//
// Partition p of P generates the events whose number e has e % P == p; an offset is the
// number of events a partition has produced, so the source rewinds exactly (an event's
// content depends only on the seed and its number). Bounded when events=N is given.
// A job reading nexmark::Event gets the events as they are generated
// (NexmarkSource<nexmark::Event>); jobs of other record types read the generator through
// JSON (each event encoded as DESIGN §7 and decoded with the job's JsonCodec).
//
// With `pace=true` a reader emits no event before its dateTime in wall-clock time: while
// the next event is due in the future, Read() returns kWouldBlock and the source task
// polls again later. Together with base_time = now (the default under pace) events arrive
// at `rate` per second and event time ≈ arrival time, which is what latency measurements
// (`kappa bench nexmark --rate R`) need.

#ifndef KAPPA_CONNECTORS_NEXMARK_SOURCE_H_
#define KAPPA_CONNECTORS_NEXMARK_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "kappa/connectors/nexmark/event.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/raw.h"

namespace kappa::connectors {

// The generator's events as JSON lines.
std::shared_ptr<RawSourceConnector> NewNexmarkJsonSource(nexmark::GeneratorConfig config, int partitions);

template <typename T = nexmark::Event>
class NexmarkSource final : public JsonSource<T> {
 public:
  NexmarkSource(nexmark::GeneratorConfig config, int partitions)
      : JsonSource<T>(NewNexmarkJsonSource(config, partitions)) {}
};

// The events themselves, with no JSON in between: what the Nexmark queries and
// `kappa bench nexmark` read.
template <>
class NexmarkSource<nexmark::Event> final : public SourceConnector<nexmark::Event> {
 public:
  NexmarkSource(nexmark::GeneratorConfig config, int partitions) : config_(config), partitions_(partitions) {}

  absl::StatusOr<int> NumPartitions() override { return partitions_; }
  absl::StatusOr<std::unique_ptr<PartitionReader<nexmark::Event>>> Open(int partition, int64_t offset) override;
  std::string description() const override { return "gen:nexmark"; }

 private:
  nexmark::GeneratorConfig config_;
  int partitions_;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_NEXMARK_SOURCE_H_
