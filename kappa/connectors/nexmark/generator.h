// A deterministic Nexmark event generator (the `gen:nexmark` source).
//
// Follows the reference generator (Apache Beam's nexmark `sources.generator`, and the
// nexmark/nexmark Flink port for bid channel and url): every 50 consecutive event
// numbers hold 1 person, 3 auctions and 46 bids, in that order; ids are dense and
// start at 1000; bids and auctions favour a few "hot" auctions, bidders and sellers.
// Event number e's content is a pure function of (seed, e), so a partition can be
// rewound to any offset and regenerate exactly what it produced before: the generator
// is a replayable source.
//
//   absl::StatusOr<GeneratorConfig> config =
//       GeneratorConfig::FromQuery("events=1000000&seed=7", &partitions);
//   Generator gen(*config, /*partition=*/0, /*num_partitions=*/1);
//   Event event;
//   while (gen.HasNext()) {
//     gen.NextInto(&event);  // reuses event's strings: no allocation per event
//     ...
//   }
//
// Differences from the reference, on purpose:
//   - Randomness is SplitMix64 keyed by (seed, event number) instead of
//     java.util.Random(event id): same distributions, different concrete values.
//   - No id "leads": the reference lets a bid name an auction or person up to 10 ids
//     beyond the last one generated; here every bid, auction seller and bidder refers
//     to a person or auction whose event number is smaller, so joins over a bounded
//     run are complete. The hot bidder is clamped the same way.
//   - dateTime is base_time + floor(e * 1000 / rate) for a fixed rate (no rate shapes,
//     no out-of-order groups): dateTime is non-decreasing in e, unless late events are
//     asked for.
//
// Late events (`late=FRACTION&late_ms=MIN:MAX`, e.g. late=0.2&late_ms=5000:20000): event
// e is late with probability FRACTION, and then its dateTime is moved back by a delay
// uniform in [MIN, MAX] ms (integers). Both draws come from a stream of their own keyed by
// (seed, e), so whether e is late, by how much, and everything else about e stay a pure
// function of (seed, e); the rest of the event (ids, prices, an auction's expires) is
// what it would be without lateness. With a watermark bound below MIN, every late event
// is behind its partition's watermark: exactly what windows drop as late.
//   - Strings (names, descriptions, extra) are slices of fixed random-letter blocks
//     rather than drawn letter by letter, which keeps NextInto fast; lengths follow
//     the reference.
#ifndef KAPPA_CONNECTORS_NEXMARK_GENERATOR_H_
#define KAPPA_CONNECTORS_NEXMARK_GENERATOR_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "kappa/connectors/nexmark/event.h"
#include "kappa/base/time.h"

namespace kappa::nexmark {

// The shape of the stream, with the reference's names and values.
inline constexpr int64_t kPersonProportion = 1;
inline constexpr int64_t kAuctionProportion = 3;
inline constexpr int64_t kBidProportion = 46;
inline constexpr int64_t kProportionDenominator =
    kPersonProportion + kAuctionProportion + kBidProportion;  // 50

inline constexpr int64_t kFirstPersonId = 1000;
inline constexpr int64_t kFirstAuctionId = 1000;
inline constexpr int64_t kFirstCategoryId = 10;
inline constexpr int64_t kNumCategories = 5;

// A bid goes to the hot auction with probability 1 - 1/kHotAuctionRatio, is made by
// the hot bidder with probability 1 - 1/kHotBidderRatio; an auction is sold by the hot
// seller with probability 1 - 1/kHotSellerRatio (the reference's hotAuctionRatio,
// hotBiddersRatio, hotSellersRatio).
inline constexpr int64_t kHotAuctionRatio = 2;
inline constexpr int64_t kHotBidderRatio = 4;
inline constexpr int64_t kHotSellerRatio = 4;
// The hot auction is the first of the current batch of kHotBatch auction ids; the hot
// seller is the first and the hot bidder the second person of the current batch of
// kHotBatch person ids (the reference's model-level HOT_*_RATIO = 100).
inline constexpr int64_t kHotBatch = 100;

// Non-hot picks are uniform over the last kNumInFlightAuctions + 1 auctions and the
// last kNumActivePeople people.
inline constexpr int64_t kNumInFlightAuctions = 100;
inline constexpr int64_t kNumActivePeople = 1000;

// Average event sizes the `extra` padding aims at, counted as the reference does
// (8 bytes per number plus string lengths; bid channel and url not counted).
inline constexpr int kAvgPersonByteSize = 200;
inline constexpr int kAvgAuctionByteSize = 500;
inline constexpr int kAvgBidByteSize = 100;

struct GeneratorConfig {
  uint64_t seed = 0;
  // Total events over all partitions; 0 = unbounded.
  int64_t events = 0;
  // Events per second of event time; sets the dateTime spacing. Must be > 0.
  double rate = 10'000'000;
  // dateTime of event 0 (a fixed date, so output is reproducible).
  Timestamp base_time = 1'700'000'000'000;
  // Paced: the source emits no event before its dateTime in wall-clock time, so events
  // arrive at `rate` per second and event time ≈ arrival time (latency measurements).
  // The Generator itself ignores it; the gen:nexmark source reader waits.
  bool pace = false;
  // Late events: the fraction of events whose dateTime is moved back, by a delay uniform
  // in [late_min_ms, late_max_ms]. 0: none.
  double late_fraction = 0;
  int64_t late_min_ms = 0;
  int64_t late_max_ms = 0;

  // Parses the query part of `gen:nexmark?events=N&rate=R&seed=S` (keys: events,
  // rate, seed, base_time, partitions, pace, late, late_ms; a leading '?' is accepted).
  // late=FRACTION in [0, 1] needs late_ms=MIN:MAX with 0 <= MIN <= MAX, and the other
  // way round. Missing keys
  // keep their defaults, except that pace=true without base_time sets base_time to the
  // current wall-clock time (the run starts now); `*partitions` (may be null) is set to 1
  // unless given. An unknown key, a repeated key or a bad value gives InvalidArgument
  // naming the key.
  static absl::StatusOr<GeneratorConfig> FromQuery(std::string_view query, int* partitions);
};

// dateTime of global event number e: base_time + floor(e * 1000 / rate), before any
// late delay.
Timestamp EventTimestamp(const GeneratorConfig& config, int64_t event_number);

// How far back event number e's dateTime is moved (0 unless it is a late event).
int64_t LateDelay(const GeneratorConfig& config, int64_t event_number);

// Generates one partition of the stream.
//
// Partition p of n produces the events whose global event number e satisfies
// e % n == p, in increasing e; together the n partitions produce exactly the events of
// one partition. position() is the partition's offset, to be stored in a checkpoint
// and handed back to Seek() on restore.
//
// Not thread-safe: a Generator belongs to the source task that drives it. Different
// Generators (e.g. one per partition) may run on different threads.
class Generator {
 public:
  // Precondition: 0 <= partition < num_partitions, config.rate > 0.
  explicit Generator(const GeneratorConfig& config, int partition = 0, int num_partitions = 1);

  // False once a bounded config's events are exhausted for this partition.
  bool HasNext() const { return limit_ < 0 || position_ < limit_; }

  // Precondition: HasNext().
  Event Next();

  // Same as Next(), writing into *e and reusing its string capacity (and that of
  // alternatives it held before): the hot path allocates nothing once warm.
  void NextInto(Event* e);

  // Events this partition has produced so far (its offset).
  int64_t position() const { return position_; }

  // The next event will be this partition's position-th (0-based). Precondition:
  // position >= 0. Seeking past the end of a bounded partition makes HasNext() false.
  void Seek(int64_t position) { position_ = position; }

  // Global event number of the next event.
  int64_t next_event_number() const { return partition_ + position_ * num_partitions_; }

  // Events this partition produces in all, or -1 if unbounded.
  int64_t limit() const { return limit_; }

  // The pure function behind it all: event number e's content depends only on
  // (config.seed, config.rate, config.base_time, e).
  static Event EventAt(const GeneratorConfig& config, int64_t event_number);

 private:
  GeneratorConfig config_;
  uint64_t seed_key_;
  int64_t partition_;
  int64_t num_partitions_;
  int64_t limit_;
  int64_t position_ = 0;
  EventRecycler recycler_;
};

}  // namespace kappa::nexmark

#endif  // KAPPA_CONNECTORS_NEXMARK_GENERATOR_H_
