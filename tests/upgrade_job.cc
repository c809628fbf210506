// A job binary of a user's own in two versions, for the upgrade test of
// kafka_exactly_once_test.cc: `bids-per-auction` counts the bids per auction and tumbling
// 10 s window. Version 2 (built with KAPPA_UPGRADE_JOB_VERSION=2) adds a stateless step
// after the window, which stamps each row with the version; the job name and the uid of
// its one stateful operator ("count-bids") stay the same, so version 2 restores version
// 1's savepoints (docs/operations.md, "Savepoints").
#include <cstdint>

#include "kappa/kappa.h"
#include "kappa/nexmark.h"

namespace upgrade_job {

struct AuctionBids {
  int64_t window_start = 0;
  int64_t window_end = 0;
  int64_t auction = 0;
  int64_t bids = 0;
  int64_t version = 1;
};

}  // namespace upgrade_job

KAPPA_JSON(upgrade_job::AuctionBids, window_start, window_end, auction, bids, version);
KAPPA_SERIALIZABLE(upgrade_job::AuctionBids, &upgrade_job::AuctionBids::window_start,
                   &upgrade_job::AuctionBids::window_end, &upgrade_job::AuctionBids::auction,
                   &upgrade_job::AuctionBids::bids, &upgrade_job::AuctionBids::version);

namespace upgrade_job {

using kappa::nexmark::Event;

void BuildBidsPerAuction(kappa::JobContext& ctx) {
  auto strategy = kappa::WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(4000))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  kappa::Stream<AuctionBids> counts =
      ctx.Source<Event>("events", std::move(strategy))
          .Filter([](const Event& e) { return e.is_bid(); }, "bids")
          .Map([](const Event& e) { return e.bid().auction; }, "auction")
          .KeyBy([](const int64_t& auction) { return auction; })
          .Window(kappa::Tumbling(absl::Seconds(10)))
          .Aggregate(
              kappa::Count(),
              [](const int64_t& auction, const kappa::TimeWindow& w, int64_t&& n) {
                return AuctionBids{w.start, w.end, auction, n, 1};
              },
              "count-bids");
#if KAPPA_UPGRADE_JOB_VERSION == 2
  counts = counts.Map(
      [](AuctionBids&& a) {
        a.version = 2;
        return a;
      },
      "stamp-version");
#endif
  ctx.Sink(counts, "output");
}

}  // namespace upgrade_job

int main(int argc, char** argv) {
  kappa::JobRegistry registry;
  registry.Register({"bids-per-auction", "bids per auction and tumbling 10 s window", upgrade_job::BuildBidsPerAuction});
  return kappa::cli::Main(argc, argv, registry);
}
