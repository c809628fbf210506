// hot-auctions: for every tumbling 10-second window, the auctions that received the most
// bids (all of them on a tie). Two keyed window stages: count bids per auction and
// window, then pick the maximum per window. The window length is a job parameter.
//
//   kappa run hot-auctions --source file:log/ --sink stdout: [--param window=10s]
//   {"window_start":1700000000000,"window_end":1700000010000,"auction":1007,"bids":412}
#include <algorithm>

#include "kappa/kappa.h"
#include "kappa/nexmark.h"
#include "examples/jobs.h"

namespace kappa::examples {

struct AuctionBids {
  int64_t window_start = 0;
  int64_t window_end = 0;
  int64_t auction = 0;
  int64_t bids = 0;
};

}  // namespace kappa::examples

KAPPA_JSON(kappa::examples::AuctionBids, window_start, window_end, auction, bids);
KAPPA_SERIALIZABLE(kappa::examples::AuctionBids, &kappa::examples::AuctionBids::window_start,
                   &kappa::examples::AuctionBids::window_end, &kappa::examples::AuctionBids::auction,
                   &kappa::examples::AuctionBids::bids);

namespace kappa::examples {

using nexmark::Event;

void BuildHotAuctions(JobContext& ctx) {
  const absl::Duration window = ctx.params().GetDuration("window", absl::Seconds(10));
  auto strategy = WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(4000))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  Stream<Event> events = ctx.Source<Event>("events", std::move(strategy));

  Stream<AuctionBids> per_auction =
      events.Filter([](const Event& e) { return e.is_bid(); }, "bids")
          .Map([](const Event& e) { return e.bid().auction; }, "auction")
          .KeyBy([](const int64_t& auction) { return auction; })
          .Window(Tumbling(window))
          .Aggregate(
              Count(),
              [](const int64_t& auction, const TimeWindow& w, int64_t&& n) {
                return AuctionBids{w.start, w.end, auction, n};
              },
              "count-bids");

  Stream<AuctionBids> hottest =
      per_auction.KeyBy([](const AuctionBids& a) { return a.window_start; })
          .Window(Tumbling(window))
          .Process<AuctionBids>(
              [](const int64_t&, const TimeWindow&, std::vector<AuctionBids>& all, Collector<AuctionBids>& out) {
                int64_t most = 0;
                for (const auto& a : all) most = std::max(most, a.bids);
                for (const auto& a : all) {
                  if (a.bids == most) out.Collect(a);
                }
              },
              "max-per-window");
  ctx.Sink(hottest, "output");
}

void RegisterExampleJobs(JobRegistry* registry) {
  registry->Register({"hot-auctions", "per tumbling 10 s window (--param window=10s), the auctions with the most bids",
                      BuildHotAuctions});
  // nexmark-copy and nexmark-qN: the library's, through the public opt-in header.
  nexmark::RegisterQueries(registry);
  RegisterEnrichJob(registry);
}

}  // namespace kappa::examples
