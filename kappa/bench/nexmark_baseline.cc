#include "kappa/bench/nexmark_baseline.h"

#include <algorithm>
#include <bit>
#include <deque>
#include <optional>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace kappa::bench {
namespace {

using nexmark::Auction;
using nexmark::Bid;
using nexmark::Event;
using nexmark::Person;

constexpr Timestamp kTenSeconds = 10'000;
constexpr Timestamp kTwoSeconds = 2'000;

// Mixes a few fields into one word for RowSink's checksum.
inline uint64_t Mix(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
  return (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL) ^ (c * 0x165667b19e3779f9ULL) ^
         (d * 0x27d4eb2f165667c5ULL);
}
inline uint64_t U(int64_t v) { return static_cast<uint64_t>(v); }

// Floor division for window starts (timestamps may be negative in principle).
inline Timestamp FloorTo(Timestamp t, Timestamp step) {
  Timestamp q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
}

// q0: every bid, as (auction, bidder, price, dateTime, extra).
class Q0 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (!e.is_bid()) return;
    const Bid& b = e.bid();
    out.Row(b.date_time, Mix(U(b.auction), U(b.bidder), U(b.price), U(b.date_time) + b.extra.size()));
  }
  void Finish(RowSink&) override {}
};

// q1: every bid with its price × 0.908.
class Q1 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (!e.is_bid()) return;
    const Bid& b = e.bid();
    const double euros = static_cast<double>(b.price) * 0.908;
    out.Row(b.date_time,
            Mix(U(b.auction), U(b.bidder), std::bit_cast<uint64_t>(euros), U(b.date_time) + b.extra.size()));
  }
  void Finish(RowSink&) override {}
};

// q2: (auction, price) of bids with auction % 123 == 0.
class Q2 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (!e.is_bid()) return;
    const Bid& b = e.bid();
    if (b.auction % 123 == 0) out.Row(b.date_time, Mix(U(b.auction), U(b.price)));
  }
  void Finish(RowSink&) override {}
};

// q3: category-10 auctions joined with their sellers from OR, ID or CA, with no time
// condition. The baseline reads generation order, where a seller's person event always
// comes before its auctions, so it needs to keep only the sellers.
class Q3 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (e.is_person()) {
      const Person& p = e.person();
      if (p.state == "OR" || p.state == "ID" || p.state == "CA") {
        sellers_[p.id] = Seller{p.name, p.city, p.state};
      }
    } else if (e.is_auction()) {
      const Auction& a = e.auction();
      if (a.category != 10) return;
      auto it = sellers_.find(a.seller);
      if (it == sellers_.end()) return;
      const Seller& s = it->second;
      out.Row(a.date_time, Mix(s.name.size(), s.city.size(), U(s.state[0]), U(a.id)));
    }
  }
  void Finish(RowSink&) override {}

 private:
  struct Seller {
    std::string name, city, state;
  };
  absl::flat_hash_map<int64_t, Seller> sellers_;
};

// q4: per category, the running average of closed auctions' highest valid bids
// (auction.dateTime <= bid.dateTime <= expires); one upsert row per closed auction that
// had such a bid. An auction closes once an event past its expiry arrives.
class Q4 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    const Timestamp t = e.date_time();
    while (!closing_.empty() && closing_.top().first < t) {
      Close(closing_.top().second, out);
      closing_.pop();
    }
    if (e.is_auction()) {
      const Auction& a = e.auction();
      open_[a.id] = Open{a.category, a.date_time, a.expires, -1};
      closing_.push({a.expires, a.id});
    } else if (e.is_bid()) {
      const Bid& b = e.bid();
      auto it = open_.find(b.auction);
      if (it == open_.end()) return;
      Open& a = it->second;
      if (a.date_time <= b.date_time && b.date_time <= a.expires && b.price > a.max_price) a.max_price = b.price;
    }
  }
  void Finish(RowSink& out) override {
    while (!closing_.empty()) {
      Close(closing_.top().second, out);
      closing_.pop();
    }
  }

 private:
  struct Open {
    int64_t category;
    Timestamp date_time;
    Timestamp expires;
    int64_t max_price;  // -1: no valid bid yet
  };
  struct SumCount {
    int64_t sum = 0;
    int64_t count = 0;
  };

  void Close(int64_t id, RowSink& out) {
    auto it = open_.find(id);
    if (it == open_.end()) return;
    const Open a = it->second;
    open_.erase(it);
    if (a.max_price < 0) return;
    SumCount& s = per_category_[a.category];
    s.sum += a.max_price;
    s.count += 1;
    const double avg = static_cast<double>(s.sum) / static_cast<double>(s.count);
    out.Row(a.expires + 1, Mix(U(a.category), std::bit_cast<uint64_t>(avg)));
  }

  absl::flat_hash_map<int64_t, Open> open_;
  std::priority_queue<std::pair<Timestamp, int64_t>, std::vector<std::pair<Timestamp, int64_t>>, std::greater<>>
      closing_;
  absl::flat_hash_map<int64_t, SumCount> per_category_;
};

// q5: per sliding window (10 s, every 2 s), the auctions with the most bids (ties: all).
// Open windows sit in a deque by start, consecutive starts 2 s apart.
class Q5 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (!e.is_bid()) return;
    const Bid& b = e.bid();
    const Timestamp t = b.date_time;
    while (!windows_.empty() && windows_.front().start + kTenSeconds <= t) {
      Fire(windows_.front(), out);
      windows_.pop_front();
    }
    const Timestamp last = FloorTo(t, kTwoSeconds);
    if (windows_.empty()) {
      windows_.push_back(Window{FloorTo(t - kTenSeconds, kTwoSeconds) + kTwoSeconds, {}});
    }
    while (windows_.back().start < last) windows_.push_back(Window{windows_.back().start + kTwoSeconds, {}});
    for (Window& w : windows_) ++w.counts[b.auction];
  }
  void Finish(RowSink& out) override {
    for (Window& w : windows_) Fire(w, out);
    windows_.clear();
  }

 private:
  struct Window {
    Timestamp start;
    absl::flat_hash_map<int64_t, int64_t> counts;
  };
  static void Fire(const Window& w, RowSink& out) {
    int64_t most = 0;
    for (const auto& [auction, n] : w.counts) most = std::max(most, n);
    for (const auto& [auction, n] : w.counts) {
      if (n == most) out.Row(w.start + kTenSeconds - 1, Mix(U(auction), U(n), U(w.start)));
    }
  }
  std::deque<Window> windows_;
};

// q7: per tumbling 10 s window, the bids with the highest price (ties: all).
class Q7 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (!e.is_bid()) return;
    const Bid& b = e.bid();
    const Timestamp start = FloorTo(b.date_time, kTenSeconds);
    if (start != start_) {
      Fire(out);
      start_ = start;
    }
    if (!top_.empty() && b.price < top_.front().price) return;
    if (!top_.empty() && b.price > top_.front().price) top_.clear();
    top_.push_back(b);
  }
  void Finish(RowSink& out) override { Fire(out); }

 private:
  void Fire(RowSink& out) {
    for (const Bid& b : top_) {
      out.Row(start_ + kTenSeconds - 1, Mix(U(b.auction), U(b.bidder), U(b.price), U(b.date_time) + b.extra.size()));
    }
    top_.clear();
  }
  Timestamp start_ = kMinTimestamp;
  std::vector<Bid> top_;
};

// q8: persons who opened an auction in the tumbling 10 s window they registered in.
class Q8 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (e.is_bid()) return;
    const Timestamp start = FloorTo(e.date_time(), kTenSeconds);
    if (start != start_) {
      Fire(out);
      start_ = start;
    }
    if (e.is_person()) {
      persons_.emplace(e.person().id, e.person().name);
    } else {
      sellers_.insert(e.auction().seller);
    }
  }
  void Finish(RowSink& out) override { Fire(out); }

 private:
  void Fire(RowSink& out) {
    for (const auto& [id, name] : persons_) {
      if (sellers_.contains(id)) out.Row(start_ + kTenSeconds - 1, Mix(U(id), name.size(), U(start_)));
    }
    persons_.clear();
    sellers_.clear();
  }
  Timestamp start_ = kMinTimestamp;
  absl::flat_hash_map<int64_t, std::string> persons_;
  absl::flat_hash_set<int64_t> sellers_;
};

// q11: bids per bidder session (gap 10 s). Sessions expire in order of their last bid, so
// a FIFO of (last bid time, bidder), one entry per change of a session's last bid time,
// finds expired ones; entries of sessions that went on since are stale and skipped.
class Q11 final : public BaselineQuery {
 public:
  void OnEvent(const Event& e, RowSink& out) override {
    if (!e.is_bid()) return;
    const Bid& b = e.bid();
    const Timestamp t = b.date_time;
    while (!expiry_.empty() && expiry_.front().first + kTenSeconds <= t) {
      auto [last, bidder] = expiry_.front();
      expiry_.pop_front();
      auto it = sessions_.find(bidder);
      if (it != sessions_.end() && it->second.last == last) {
        Fire(bidder, it->second, out);
        sessions_.erase(it);
      }
    }
    // A session still here has last + gap > t: the bid extends it.
    auto [it, inserted] = sessions_.try_emplace(b.bidder, Session{t, t, 0});
    Session& s = it->second;
    ++s.count;
    if (inserted || t > s.last) {
      s.last = t;
      expiry_.emplace_back(t, b.bidder);
    }
  }
  void Finish(RowSink& out) override {
    for (const auto& [bidder, s] : sessions_) Fire(bidder, s, out);
    sessions_.clear();
    expiry_.clear();
  }

 private:
  struct Session {
    Timestamp start;
    Timestamp last;
    int64_t count;
  };
  static void Fire(int64_t bidder, const Session& s, RowSink& out) {
    out.Row(s.last + kTenSeconds - 1, Mix(U(bidder), U(s.count), U(s.start), U(s.last)));
  }
  absl::flat_hash_map<int64_t, Session> sessions_;
  std::deque<std::pair<Timestamp, int64_t>> expiry_;
};

}  // namespace

std::unique_ptr<BaselineQuery> MakeBaselineQuery(std::string_view query) {
  if (query == "q0") return std::make_unique<Q0>();
  if (query == "q1") return std::make_unique<Q1>();
  if (query == "q2") return std::make_unique<Q2>();
  if (query == "q3") return std::make_unique<Q3>();
  if (query == "q4") return std::make_unique<Q4>();
  if (query == "q5") return std::make_unique<Q5>();
  if (query == "q7") return std::make_unique<Q7>();
  if (query == "q8") return std::make_unique<Q8>();
  if (query == "q11") return std::make_unique<Q11>();
  return nullptr;
}

const std::vector<std::string>& BaselineQueryNames() {
  static const std::vector<std::string>* const names =
      new std::vector<std::string>{"q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8", "q11"};
  return *names;
}

}  // namespace kappa::bench
