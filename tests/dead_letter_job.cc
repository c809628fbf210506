// A job binary of a user's own for dead_letter_test.cc: `poison-bids` reads Nexmark events
// and writes every bid with its price; a bid whose bidder is a multiple of
// `--param poison-every` (7 by default; 0: none) is a poison record: the pricing function
// throws kappa::PermanentError for it, and it becomes a dead letter. With the cause fixed
// (`--param poison-every=0`), a redrive of those dead letters prices them.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "kappa/kappa.h"
#include "kappa/nexmark.h"

namespace dead_letter_job {

struct PricedBid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;
};

}  // namespace dead_letter_job

KAPPA_JSON(dead_letter_job::PricedBid, auction, bidder, price, date_time);

namespace dead_letter_job {

using kappa::nexmark::Event;

void BuildPoisonBids(kappa::JobContext& ctx) {
  const int64_t every = static_cast<int64_t>(ctx.params().GetDouble("poison-every", 7));
  auto strategy = kappa::WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(4000))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  ctx.Sink(ctx.Source<Event>("events", std::move(strategy))
               .Filter([](const Event& e) { return e.is_bid(); }, "bids")
               .Map(
                   [every](const Event& e) {
                     const auto& bid = e.bid();
                     if (every > 0 && bid.bidder % every == 0) {
                       throw kappa::PermanentError(absl::StrCat("poison bidder ", bid.bidder));
                     }
                     return PricedBid{bid.auction, bid.bidder, bid.price, bid.date_time};
                   },
                   "price"),
           "output");
}

}  // namespace dead_letter_job

int main(int argc, char** argv) {
  kappa::JobRegistry registry;
  registry.Register({"poison-bids", "prices bids; bids of poison bidders become dead letters (dead_letter_test)",
                     dead_letter_job::BuildPoisonBids});
  return kappa::cli::Main(argc, argv, registry);
}
