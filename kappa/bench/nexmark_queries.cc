// The Nexmark queries (DESIGN.md §7) as jobs over the public API (kappa/api/job.h,
// kappa/app/job_registry.h and the Nexmark event model: what kappa/kappa.h and
// kappa/nexmark.h give a user, included here layer by layer).
//
// Shapes, in Kappa's operators:
//   q0, q1, q2  filter + map, fused into the source's task.
//   q3          persons (filtered by state) and auctions (filtered by category) in a
//               regular inner join keyed by person id / seller: no time condition, either
//               arrival order.
//   q4          auctions and bids connected by auction id: a KeyedCoProcessFunction keeps
//               each auction's highest valid bid and emits it when the watermark passes
//               the auction's end; then per category a running average (upsert rows).
//   q5          bids counted per auction in sliding windows, then the maximum per window.
//   q7          the highest bids per tumbling window, in two stages (per auction, then
//               per window) so that no task sees every bid of a window.
//   q8          sellers per tumbling window (one record per seller and window) window-
//               joined with the persons who registered in that window.
//   q11         bids per bidder in session windows.
//
// Output structs name their fields as the contract does (dateTime, window_start), so
// some member names are not snake_case: KAPPA_JSON uses the member name as JSON name.
#include "kappa/bench/nexmark_queries.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kappa/api/job.h"
#include "kappa/app/job_registry.h"
#include "kappa/connectors/nexmark/codec.h"
#include "kappa/connectors/nexmark/event.h"

namespace kappa::bench {

// q0, q7: a bid as the contract prints it.
struct NexmarkBid {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t dateTime = 0;
  std::string extra;
};

// q1: a bid with its price converted (dollars to euros, × 0.908).
struct ConvertedBid {
  int64_t auction = 0;
  int64_t bidder = 0;
  double price = 0;
  int64_t dateTime = 0;
  std::string extra;
};

// q2
struct AuctionPrice {
  int64_t auction = 0;
  int64_t price = 0;
};

// q3: the seller's name, city and state, and the auction's id.
struct NameCityStateId {
  std::string name;
  std::string city;
  std::string state;
  int64_t id = 0;
};

// q3 join inputs: what the join keeps of a seller and of a category-10 auction.
struct Seller {
  int64_t id = 0;
  std::string name;
  std::string city;
  std::string state;
};
struct AuctionOfSeller {
  int64_t id = 0;
  int64_t seller = 0;
};

// q4 join inputs: what it needs of an auction (kept in state while open) and of a bid.
struct AuctionTerms {
  int64_t id = 0;
  int64_t category = 0;
  int64_t date_time = 0;
  int64_t expires = 0;
};
struct BidPrice {
  int64_t auction = 0;
  int64_t date_time = 0;
  int64_t price = 0;
};

// q4: an auction's highest valid bid, emitted when the auction closes.
struct CategoryPrice {
  int64_t category = 0;
  int64_t price = 0;
};

// q4 output: upsert keyed by category.
struct CategoryAverage {
  int64_t category = 0;
  double avg = 0;
};

// q4 state: running sum and count of closed auctions' highest bids.
struct SumCount {
  int64_t sum = 0;
  int64_t count = 0;
};

// q5
struct AuctionCount {
  int64_t auction = 0;
  int64_t num = 0;
  int64_t window_start = 0;
  int64_t window_end = 0;
};

// q7 between stages: a bid with the highest price of its auction in a window.
struct WindowBid {
  int64_t window_start = 0;
  nexmark::Bid bid;
};

// q8 inputs of the join and output.
struct NewPerson {
  int64_t id = 0;
  std::string name;
};
struct SellerWindow {
  int64_t seller = 0;
  int64_t window_start = 0;
};
struct IdNameStart {
  int64_t id = 0;
  std::string name;
  int64_t starttime = 0;
};

// q11
struct BidsPerSession {
  int64_t bidder = 0;
  int64_t bid_count = 0;
  int64_t starttime = 0;
  int64_t endtime = 0;
};

}  // namespace kappa::bench

namespace ke = kappa::bench;

KAPPA_JSON(ke::NexmarkBid, auction, bidder, price, dateTime, extra);
KAPPA_JSON(ke::ConvertedBid, auction, bidder, price, dateTime, extra);
KAPPA_JSON(ke::AuctionPrice, auction, price);
KAPPA_JSON(ke::NameCityStateId, name, city, state, id);
KAPPA_JSON(ke::CategoryAverage, category, avg);
KAPPA_JSON(ke::AuctionCount, auction, num, window_start, window_end);
KAPPA_JSON(ke::IdNameStart, id, name, starttime);
KAPPA_JSON(ke::BidsPerSession, bidder, bid_count, starttime, endtime);

KAPPA_SERIALIZABLE(ke::Seller, &ke::Seller::id, &ke::Seller::name, &ke::Seller::city, &ke::Seller::state);
KAPPA_SERIALIZABLE(ke::AuctionOfSeller, &ke::AuctionOfSeller::id, &ke::AuctionOfSeller::seller);
KAPPA_SERIALIZABLE(ke::AuctionTerms, &ke::AuctionTerms::id, &ke::AuctionTerms::category, &ke::AuctionTerms::date_time,
                   &ke::AuctionTerms::expires);
KAPPA_SERIALIZABLE(ke::SumCount, &ke::SumCount::sum, &ke::SumCount::count);
KAPPA_SERIALIZABLE(ke::AuctionCount, &ke::AuctionCount::auction, &ke::AuctionCount::num,
                   &ke::AuctionCount::window_start, &ke::AuctionCount::window_end);
KAPPA_SERIALIZABLE(ke::WindowBid, &ke::WindowBid::window_start, &ke::WindowBid::bid);
KAPPA_SERIALIZABLE(ke::NewPerson, &ke::NewPerson::id, &ke::NewPerson::name);
KAPPA_SERIALIZABLE(ke::SellerWindow, &ke::SellerWindow::seller, &ke::SellerWindow::window_start);

namespace kappa::bench {
namespace {

using nexmark::Auction;
using nexmark::Bid;
using nexmark::Event;
using nexmark::Person;

constexpr Timestamp kDefaultOutOfOrdernessMs = 4000;

Stream<Event> Events(JobContext& ctx) {
  auto strategy = WatermarkStrategy<Event>::BoundedOutOfOrderness(ctx.out_of_orderness_ms(kDefaultOutOfOrdernessMs))
                      .WithTimestamp([](const Event& e) { return e.date_time(); });
  return ctx.Source<Event>("events", std::move(strategy));
}

Stream<Bid> Bids(Stream<Event> events) {
  return events.Filter([](const Event& e) { return e.is_bid(); }, "bids")
      .Map([](Event&& e) { return std::move(e.bid()); }, "bid");
}

NexmarkBid ToRow(const Bid& b) { return NexmarkBid{b.auction, b.bidder, b.price, b.date_time, b.extra}; }
NexmarkBid MoveToRow(Bid&& b) {
  return NexmarkBid{b.auction, b.bidder, b.price, b.date_time, std::move(b.extra)};
}

// Window aggregate that keeps every input with the highest score (ties: all of them).
template <typename T, typename Score>
struct AllWithMax {
  Score score;
  std::vector<T> Create() const { return {}; }
  void Add(std::vector<T>& acc, const T& v) const {
    if (!acc.empty() && score(v) < score(acc.front())) return;
    if (!acc.empty() && score(acc.front()) < score(v)) acc.clear();
    acc.push_back(v);
  }
  std::vector<T> Result(const std::vector<T>& acc) const { return acc; }
};
template <typename T, typename Score>
AllWithMax<T, Score> MaxBy(Score score) {
  return AllWithMax<T, Score>{std::move(score)};
}

void BuildQ0(JobContext& ctx) { ctx.Sink(Bids(Events(ctx)).Map(MoveToRow, "q0"), "output"); }

void BuildQ1(JobContext& ctx) {
  auto rows = Bids(Events(ctx))
                  .Map(
                      [](Bid&& b) {
                        return ConvertedBid{b.auction, b.bidder, b.price * 0.908, b.date_time, std::move(b.extra)};
                      },
                      "currency-conversion");
  ctx.Sink(rows, "output");
}

void BuildQ2(JobContext& ctx) {
  auto rows = Bids(Events(ctx))
                  .Filter([](const Bid& b) { return b.auction % 123 == 0; }, "selection")
                  .Map([](const Bid& b) { return AuctionPrice{b.auction, b.price}; }, "q2");
  ctx.Sink(rows, "output");
}

// q3, as Nexmark defines it: an inner join of category-10 auctions with their sellers in
// OR, ID or CA, with no time condition. Both sides are kept for good (no TTL), so an
// auction joins its seller in either arrival order and whatever the timestamps; the
// price is state that grows with the sellers and with category-10 auctions whose seller
// is not one of them (Flink's q3 has the same). Inner joins emit only +I changes: the
// rows are written as plain NameCityStateId.
void BuildQ3(JobContext& ctx) {
  Stream<Event> events = Events(ctx);
  auto sellers = events
                     .Filter(
                         [](const Event& e) {
                           if (!e.is_person()) return false;
                           const std::string& state = e.person().state;
                           return state == "OR" || state == "ID" || state == "CA";
                         },
                         "sellers-in-or-id-ca")
                     .Map(
                         [](Event&& e) {
                           Person& p = e.person();
                           return Seller{p.id, std::move(p.name), std::move(p.city), std::move(p.state)};
                         },
                         "seller");
  auto auctions =
      events.Filter([](const Event& e) { return e.is_auction() && e.auction().category == 10; }, "category-10")
          .Map([](Event&& e) { return AuctionOfSeller{e.auction().id, e.auction().seller}; }, "auction");
  auto rows = sellers.KeyBy([](const Seller& s) { return s.id; })
                  .Join(auctions.KeyBy([](const AuctionOfSeller& a) { return a.seller; }))
                  .Regular(JoinMode::kInner)
                  .Apply([](const Seller* s, const AuctionOfSeller* a) {
                    return NameCityStateId{s->name, s->city, s->state, a->id};
                  },
                         "join-sellers")
                  .Map([](Change<NameCityStateId>&& c) { return std::move(c.row); }, "rows");
  ctx.Sink(rows, "output");
}

// q4, first stage: per auction id, the auction (first input) and its bids (second input).
// Keeps the highest price among bids with auction.dateTime ≤ bid.dateTime ≤ expires and
// emits (category, price) when the watermark passes expires, then forgets the auction.
//
// Determinism: the closing timer fires at expires + 1, once every partition's watermark
// is past expires, so a bid that still could count but arrives after it is late for its
// own partition. Late bids and late auctions are therefore dropped always (ctx.IsLate()
// depends only on the record's partition), never only when the timer happened to fire
// first: replays and any parallelism give the same answer.
//
// Bids that arrive before their auction wait in a list with a timer at bid.dateTime + 1.
// When it fires without the auction, the bid is dropped. Safe, because a bid only counts
// for an auction with auction.dateTime ≤ bid.dateTime: once every partition's watermark
// is past the bid's dateTime, such an auction could only arrive late — and late auctions
// are dropped. So bids of auctions that never arrive (or of auctions already closed) are
// gone about one out-of-orderness after their dateTime.
class MaxBidPerAuction final : public KeyedCoProcessFunction<int64_t, AuctionTerms, BidPrice, CategoryPrice> {
 public:
  void Open(RuntimeContext& ctx) override {
    auction_ = ctx.GetValueState<AuctionTerms>("auction");
    max_price_ = ctx.GetValueState<int64_t>("max-price");
    early_bids_ = ctx.GetListState<std::pair<Timestamp, int64_t>>("early-bids");
  }

  void ProcessElement1(const AuctionTerms& a, Context& ctx, Collector<CategoryPrice>&) override {
    if (ctx.IsLate()) return;
    auction_.Update(a);
    std::optional<int64_t> max;
    early_bids_.ForEach([&](std::pair<Timestamp, int64_t>&& b) {
      if (Counts(a, b.first) && (!max || b.second > *max)) max = b.second;
    });
    early_bids_.Clear();
    if (max) max_price_.Update(*max);
    ctx.RegisterEventTimeTimer(a.expires + 1);
  }

  void ProcessElement2(const BidPrice& b, Context& ctx, Collector<CategoryPrice>&) override {
    if (ctx.IsLate()) return;
    if (std::optional<AuctionTerms> open = auction_.Value()) {
      if (!Counts(*open, b.date_time)) return;
      std::optional<int64_t> max = max_price_.Value();
      if (!max || b.price > *max) max_price_.Update(b.price);
      return;
    }
    early_bids_.Add({b.date_time, b.price});
    ctx.RegisterEventTimeTimer(b.date_time + 1);
  }

  void OnTimer(Timestamp t, Context&, Collector<CategoryPrice>& out) override {
    if (std::optional<AuctionTerms> open = auction_.Value()) {
      if (t <= open->expires) return;  // an early bid's timer; the auction is still open
      if (std::optional<int64_t> max = max_price_.Value()) out.Collect({open->category, *max});
      auction_.Clear();
      max_price_.Clear();
      return;
    }
    std::vector<std::pair<Timestamp, int64_t>> keep;
    early_bids_.ForEach([&](std::pair<Timestamp, int64_t>&& b) {
      if (b.first >= t) keep.push_back(b);
    });
    if (keep.empty()) {
      early_bids_.Clear();
    } else {
      early_bids_.Update(keep);
    }
  }

 private:
  static bool Counts(const AuctionTerms& a, Timestamp bid_time) {
    return a.date_time <= bid_time && bid_time <= a.expires;
  }

  ValueState<AuctionTerms> auction_;
  ValueState<int64_t> max_price_;
  ListState<std::pair<Timestamp, int64_t>> early_bids_;
};

// q4, second stage: per category, the running average of closed auctions' highest bids.
class AveragePerCategory final : public KeyedProcessFunction<int64_t, CategoryPrice, CategoryAverage> {
 public:
  void Open(RuntimeContext& ctx) override { sum_count_ = ctx.GetValueState<SumCount>("sum-count"); }
  void ProcessElement(const CategoryPrice& c, Context&, Collector<CategoryAverage>& out) override {
    SumCount s = sum_count_.ValueOr({});
    s.sum += c.price;
    s.count += 1;
    sum_count_.Update(s);
    out.Collect({c.category, static_cast<double>(s.sum) / static_cast<double>(s.count)});
  }

 private:
  ValueState<SumCount> sum_count_;
};

void BuildQ4(JobContext& ctx) {
  Stream<Event> events = Events(ctx);
  auto auctions = events.Filter([](const Event& e) { return e.is_auction(); }, "auctions")
                      .Map(
                          [](const Event& e) {
                            const Auction& a = e.auction();
                            return AuctionTerms{a.id, a.category, a.date_time, a.expires};
                          },
                          "auction-terms");
  auto bids = events.Filter([](const Event& e) { return e.is_bid(); }, "bids")
                  .Map(
                      [](const Event& e) {
                        const Bid& b = e.bid();
                        return BidPrice{b.auction, b.date_time, b.price};
                      },
                      "bid-price");
  auto closed = auctions.KeyBy([](const AuctionTerms& a) { return a.id; })
                    .Connect(bids.KeyBy([](const BidPrice& b) { return b.auction; }))
                    .Process(std::make_unique<MaxBidPerAuction>(), "max-bid-per-auction");
  auto rows = closed.KeyBy([](const CategoryPrice& c) { return c.category; })
                  .Process(std::make_unique<AveragePerCategory>(), "average-per-category");
  ctx.Sink(rows, "output");
}

void BuildQ5(JobContext& ctx) {
  auto counts = Events(ctx)
                    .Filter([](const Event& e) { return e.is_bid(); }, "bids")
                    .Map([](const Event& e) { return e.bid().auction; }, "auction")
                    .KeyBy([](const int64_t& auction) { return auction; })
                    .Window(Sliding(absl::Seconds(10), absl::Seconds(2)))
                    .Aggregate(
                        Count(),
                        [](const int64_t& auction, const TimeWindow& w, int64_t&& n) {
                          return AuctionCount{auction, n, w.start, w.end};
                        },
                        "count-bids");
  // Every count of window w carries timestamp w.end - 1, so it lands in one 2 s window.
  auto hottest = counts.KeyBy([](const AuctionCount& c) { return std::make_pair(c.window_start, c.window_end); })
                     .Window(Tumbling(absl::Seconds(2)))
                     .Aggregate(
                         MaxBy<AuctionCount>([](const AuctionCount& c) { return c.num; }),
                         [](const std::pair<int64_t, int64_t>&, const TimeWindow&, std::vector<AuctionCount>&& top) {
                           return std::move(top);
                         },
                         "max-per-window")
                     .FlatMap<AuctionCount>(
                         [](const std::vector<AuctionCount>& top, Collector<AuctionCount>& out) {
                           for (const AuctionCount& c : top) out.Collect(c);
                         },
                         "unnest");
  ctx.Sink(hottest, "output");
}

void BuildQ7(JobContext& ctx) {
  // Stage 1, per auction and window: its highest bids. Stage 2, per window: the highest
  // of those. Both stages' records of window w carry timestamp w.end - 1.
  auto per_auction = Bids(Events(ctx))
                         .KeyBy([](const Bid& b) { return b.auction; })
                         .Window(Tumbling(absl::Seconds(10)))
                         .Aggregate(
                             MaxBy<Bid>([](const Bid& b) { return b.price; }),
                             [](const int64_t&, const TimeWindow& w, std::vector<Bid>&& top) {
                               std::vector<WindowBid> out;
                               for (Bid& b : top) out.push_back(WindowBid{w.start, std::move(b)});
                               return out;
                             },
                             "max-per-auction")
                         .FlatMap<WindowBid>(
                             [](const std::vector<WindowBid>& top, Collector<WindowBid>& out) {
                               for (const WindowBid& b : top) out.Collect(b);
                             },
                             "unnest-auction");
  auto highest = per_auction.KeyBy([](const WindowBid& b) { return b.window_start; })
                     .Window(Tumbling(absl::Seconds(10)))
                     .Aggregate(
                         MaxBy<WindowBid>([](const WindowBid& b) { return b.bid.price; }),
                         [](const int64_t&, const TimeWindow&, std::vector<WindowBid>&& top) { return std::move(top); },
                         "max-per-window")
                     .FlatMap<NexmarkBid>(
                         [](const std::vector<WindowBid>& top, Collector<NexmarkBid>& out) {
                           for (const WindowBid& b : top) out.Collect(ToRow(b.bid));
                         },
                         "q7");
  ctx.Sink(highest, "output");
}

void BuildQ8(JobContext& ctx) {
  Stream<Event> events = Events(ctx);
  auto persons = events.Filter([](const Event& e) { return e.is_person(); }, "persons")
                     .Map(
                         [](const Event& e) {
                           return NewPerson{e.person().id, e.person().name};
                         },
                         "new-person");
  // One record per (seller, window), however many auctions the seller opened in it, so
  // the join below gives one row per (person, window).
  auto sellers = events.Filter([](const Event& e) { return e.is_auction(); }, "auctions")
                     .Map([](const Event& e) { return e.auction().seller; }, "seller")
                     .KeyBy([](const int64_t& seller) { return seller; })
                     .Window(Tumbling(absl::Seconds(10)))
                     .Aggregate(
                         Count(),
                         [](const int64_t& seller, const TimeWindow& w, int64_t&&) {
                           return SellerWindow{seller, w.start};
                         },
                         "sellers-per-window");
  auto rows = persons.KeyBy([](const NewPerson& p) { return p.id; })
                  .Join(sellers.KeyBy([](const SellerWindow& s) { return s.seller; }))
                  .Window(Tumbling(absl::Seconds(10)))
                  .Apply(
                      [](const NewPerson& p, const SellerWindow& s) {
                        return IdNameStart{p.id, p.name, s.window_start};
                      },
                      "join-new-sellers");
  ctx.Sink(rows, "output");
}

void BuildQ11(JobContext& ctx) {
  auto rows = Events(ctx)
                  .Filter([](const Event& e) { return e.is_bid(); }, "bids")
                  .Map([](const Event& e) { return e.bid().bidder; }, "bidder")
                  .KeyBy([](const int64_t& bidder) { return bidder; })
                  .Window(Session(absl::Seconds(10)))
                  .Aggregate(
                      Count(),
                      [](const int64_t& bidder, const TimeWindow& w, int64_t&& n) {
                        // A session is [first bid, last bid + gap).
                        return BidsPerSession{bidder, n, w.start, w.end};
                      },
                      "bids-per-session");
  ctx.Sink(rows, "output");
}

// nexmark-copy: copies events from a source to a sink unchanged, e.g. to write the
// generator's events into a file log that other jobs (and replays) read.
void BuildNexmarkCopy(JobContext& ctx) {
  auto strategy = WatermarkStrategy<Event>::BoundedOutOfOrderness(0).WithTimestamp(
      [](const Event& e) { return e.date_time(); });
  ctx.Sink(ctx.Source<Event>("events", std::move(strategy)), "output");
}

void RegisterAll(JobRegistry* registry) {
  registry->Register({"nexmark-copy", "copies Nexmark events from --source to --sink (e.g. generator to file log)",
                      BuildNexmarkCopy});
  registry->Register({"nexmark-q0", "Nexmark q0: every bid (pass-through)", BuildQ0});
  registry->Register({"nexmark-q1", "Nexmark q1: every bid, price x 0.908", BuildQ1});
  registry->Register({"nexmark-q2", "Nexmark q2: bids on auctions whose id is a multiple of 123", BuildQ2});
  registry->Register({"nexmark-q3", "Nexmark q3: category-10 auctions of sellers in OR, ID, CA", BuildQ3});
  registry->Register({"nexmark-q4", "Nexmark q4: per category, average winning bid (upserts)", BuildQ4});
  registry->Register({"nexmark-q5", "Nexmark q5: per sliding 10 s/2 s window, the most-bid auctions", BuildQ5});
  registry->Register({"nexmark-q7", "Nexmark q7: per tumbling 10 s window, the highest bids", BuildQ7});
  registry->Register({"nexmark-q8", "Nexmark q8: persons who opened an auction in their first 10 s window", BuildQ8});
  registry->Register({"nexmark-q11", "Nexmark q11: bids per bidder session (gap 10 s)", BuildQ11});
}

}  // namespace
}  // namespace kappa::bench

namespace kappa::nexmark {

void RegisterQueries(JobRegistry* registry) { bench::RegisterAll(registry); }

}  // namespace kappa::nexmark

namespace kappa::bench {

const JobDefinition* FindNexmarkJob(const JobRegistry& registry, const std::string& name) {
  if (const JobDefinition* def = registry.Find(name)) return def;
  static const JobRegistry* const kBuiltIn = [] {
    auto* built_in = new JobRegistry();  // never destroyed: looked up until exit
    nexmark::RegisterQueries(built_in);
    return built_in;
  }();
  return kBuiltIn->Find(name);
}

}  // namespace kappa::bench
