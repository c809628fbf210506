// A job binary of a user's own whose output depends on every decision of event-time state
// TTL, for state_ttl_test.cc: `bidder-activity` keys Nexmark bids by bidder and keeps,
// each with Ttl::EventTime(--param ttl, 1 s by default), the bidder's bid count (a value),
// the auctions they bid on (a list) and their last price per auction (a map). Every bid
// emits what the state held when it arrived. (No timers: which records of a key come
// before a timer fires depends on timing, and this output must depend on TTL alone.)
#include <cstdint>
#include <memory>
#include <optional>

#include "kappa/kappa.h"
#include "kappa/nexmark.h"

namespace ttl_job {

struct Activity {
  int64_t bidder = 0;
  int64_t ts = 0;
  int64_t count = 0;       // bids of the bidder whose count has not expired, this one included
  int64_t auctions = 0;    // unexpired list elements, this one included
  int64_t last_price = -1;  // the bidder's unexpired last price for this auction, or -1
};

}  // namespace ttl_job

KAPPA_JSON(ttl_job::Activity, bidder, ts, count, auctions, last_price);
KAPPA_SERIALIZABLE(ttl_job::Activity, &ttl_job::Activity::bidder, &ttl_job::Activity::ts,
                   &ttl_job::Activity::count, &ttl_job::Activity::auctions, &ttl_job::Activity::last_price);

namespace ttl_job {

using kappa::nexmark::Event;

class BidderActivity : public kappa::KeyedProcessFunction<int64_t, Event, Activity> {
 public:
  explicit BidderActivity(absl::Duration ttl) : ttl_(ttl) {}

  void Open(kappa::RuntimeContext& ctx) override {
    count_ = ctx.GetValueState<int64_t>("count", kappa::Ttl::EventTime(ttl_));
    auctions_ = ctx.GetListState<int64_t>("auctions", kappa::Ttl::EventTime(ttl_));
    prices_ = ctx.GetMapState<int64_t, int64_t>("prices", kappa::Ttl::EventTime(ttl_));
  }

  void ProcessElement(const Event& e, Context& ctx, kappa::Collector<Activity>& out) override {
    const auto& bid = e.bid();
    std::optional<int64_t> count = count_.Value();
    count_.Update(count.value_or(0) + 1);
    auctions_.Add(bid.auction);
    int64_t listed = 0;
    auctions_.ForEach([&](int64_t&&) { ++listed; });
    std::optional<int64_t> price = prices_.Get(bid.auction);
    prices_.Put(bid.auction, bid.price);
    out.Collect(Activity{bid.bidder, ctx.timestamp(), count.value_or(0) + 1, listed, price.value_or(-1)});
  }

 private:
  absl::Duration ttl_;
  kappa::ValueState<int64_t> count_;
  kappa::ListState<int64_t> auctions_;
  kappa::MapState<int64_t, int64_t> prices_;
};

void BuildBidderActivity(kappa::JobContext& ctx) {
  const absl::Duration ttl = ctx.params().GetDuration("ttl", absl::Seconds(1));
  auto strategy = kappa::WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(4000))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  ctx.Sink(ctx.Source<Event>("events", std::move(strategy))
               .Filter([](const Event& e) { return e.is_bid(); }, "bids")
               .KeyBy([](const Event& e) { return e.bid().bidder; })
               .Process(std::make_unique<BidderActivity>(ttl), "bidder-activity"),
           "output");
}

}  // namespace ttl_job

int main(int argc, char** argv) {
  kappa::JobRegistry registry;
  registry.Register({"bidder-activity", "per-bidder state with event-time TTL (state_ttl_test)",
                     ttl_job::BuildBidderActivity});
  return kappa::cli::Main(argc, argv, registry);
}
