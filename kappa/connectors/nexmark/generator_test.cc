#include "kappa/connectors/nexmark/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <variant>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::nexmark {
namespace {

using ::testing::HasSubstr;

GeneratorConfig Config(uint64_t seed, int64_t events) {
  GeneratorConfig config;
  config.seed = seed;
  config.events = events;
  return config;
}

std::vector<Event> Drain(Generator& gen) {
  std::vector<Event> out;
  while (gen.HasNext()) out.push_back(gen.Next());
  return out;
}

// Event number of the i-th event of partition p of n.
int64_t EventNumber(int64_t i, int p, int n) { return p + i * n; }

TEST(GeneratorTest, SameConfigGivesSameEvents) {
  Generator a(Config(42, 5000));
  Generator b(Config(42, 5000));
  EXPECT_EQ(Drain(a), Drain(b));
}

TEST(GeneratorTest, SeedChangesContentButNotShape) {
  Generator gen_a(Config(1, 500));
  Generator gen_b(Config(2, 500));
  const std::vector<Event> a = Drain(gen_a);
  const std::vector<Event> b = Drain(gen_b);
  ASSERT_EQ(a.size(), b.size());
  int differing = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].type(), b[i].type()) << i;
    EXPECT_EQ(a[i].date_time(), b[i].date_time()) << i;
    if (!(a[i] == b[i])) ++differing;
  }
  EXPECT_GT(differing, 490);  // extra alone differs almost surely
}

TEST(GeneratorTest, EventAtEqualsSequentialEvent) {
  const GeneratorConfig config = Config(7, 3000);
  Generator gen(config);
  for (int64_t e = 0; gen.HasNext(); ++e) {
    ASSERT_EQ(gen.Next(), Generator::EventAt(config, e)) << "event " << e;
  }
}

TEST(GeneratorTest, NextIntoReusingOneEventEqualsEventAt) {
  // The reused slot cycles through all three types, so stale fields from an earlier
  // event of the same type would show up here.
  const GeneratorConfig config = Config(9, 2000);
  Generator gen(config, 1, 3);
  Event slot;
  for (int64_t i = 0; gen.HasNext(); ++i) {
    gen.NextInto(&slot);
    ASSERT_EQ(slot, Generator::EventAt(config, EventNumber(i, 1, 3))) << "offset " << i;
    ASSERT_EQ(gen.position(), i + 1);
  }
}

TEST(GeneratorTest, SeekThenNextEqualsThatOffset) {
  const GeneratorConfig config = Config(3, 10'000);
  Generator gen(config, 2, 5);
  for (int64_t k : {0, 1, 49, 50, 777, 1999, 3, 0}) {
    gen.Seek(k);
    ASSERT_TRUE(gen.HasNext());
    EXPECT_EQ(gen.position(), k);
    EXPECT_EQ(gen.Next(), Generator::EventAt(config, EventNumber(k, 2, 5))) << k;
    EXPECT_EQ(gen.position(), k + 1);
  }
  gen.Seek(2000);  // partition 2 of 5 over 10000 events has offsets 0..1999
  EXPECT_FALSE(gen.HasNext());
}

TEST(GeneratorTest, PartitionsTogetherProduceExactlyTheSinglePartitionEvents) {
  const int64_t kEvents = 10'007;  // not a multiple of the partition count
  const int kPartitions = 4;
  const GeneratorConfig config = Config(11, kEvents);

  Generator single(config);
  const std::vector<Event> all = Drain(single);
  ASSERT_EQ(all.size(), static_cast<size_t>(kEvents));

  std::vector<int> hits(kEvents, 0);
  int64_t total = 0;
  for (int p = 0; p < kPartitions; ++p) {
    Generator gen(config, p, kPartitions);
    int64_t i = 0;
    int64_t previous = -1;
    while (gen.HasNext()) {
      const int64_t e = gen.next_event_number();
      ASSERT_GT(e, previous);  // increasing within the partition
      ASSERT_EQ(e % kPartitions, p);
      previous = e;
      ASSERT_LT(e, kEvents);
      EXPECT_EQ(gen.Next(), all[e]);
      ++hits[e];
      ++i;
    }
    EXPECT_EQ(i, gen.limit());
    total += i;
  }
  EXPECT_EQ(total, kEvents);
  EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), kEvents);
}

TEST(GeneratorTest, BoundedGeneratorStopsAfterEvents) {
  Generator gen(Config(0, 123));
  EXPECT_EQ(Drain(gen).size(), 123u);
  EXPECT_FALSE(gen.HasNext());
  EXPECT_EQ(gen.position(), 123);

  Generator unbounded(Config(0, 0));
  EXPECT_EQ(unbounded.limit(), -1);
  unbounded.Seek(int64_t{1} << 40);
  EXPECT_TRUE(unbounded.HasNext());
}

class GeneratedStreamTest : public ::testing::Test {
 protected:
  static constexpr int64_t kEvents = 50'000;
  static void SetUpTestSuite() {
    Generator gen(Config(2024, kEvents));
    events_ = new std::vector<Event>(Drain(gen));
  }
  static void TearDownTestSuite() { delete events_; }
  static const std::vector<Event>& events() { return *events_; }

 private:
  static std::vector<Event>* events_;
};
std::vector<Event>* GeneratedStreamTest::events_ = nullptr;

TEST_F(GeneratedStreamTest, EveryBlockOfFiftyHoldsOnePersonThreeAuctionsFortySixBids) {
  ASSERT_EQ(events().size() % 50, 0u);
  for (size_t block = 0; block < events().size() / 50; ++block) {
    int counts[3] = {0, 0, 0};
    for (size_t i = 0; i < 50; ++i) {
      const Event& e = events()[block * 50 + i];
      ++counts[static_cast<int>(e.type())];
      // The reference's order within a block: person, auctions, bids.
      const EventType expected = i == 0  ? EventType::kPerson
                                 : i < 4 ? EventType::kAuction
                                         : EventType::kBid;
      ASSERT_EQ(e.type(), expected) << "event " << block * 50 + i;
    }
    ASSERT_EQ(counts[0], 1);
    ASSERT_EQ(counts[1], 3);
    ASSERT_EQ(counts[2], 46);
  }
}

TEST_F(GeneratedStreamTest, IdsStartAtOneThousandAndAreDense) {
  int64_t next_person = kFirstPersonId;
  int64_t next_auction = kFirstAuctionId;
  for (const Event& e : events()) {
    if (e.is_person()) {
      ASSERT_EQ(e.person().id, next_person++);
    } else if (e.is_auction()) {
      ASSERT_EQ(e.auction().id, next_auction++);
    }
  }
  EXPECT_EQ(next_person, 1000 + kEvents / 50);
  EXPECT_EQ(next_auction, 1000 + 3 * kEvents / 50);
}

TEST_F(GeneratedStreamTest, CategoriesStatesAndCitiesComeFromTheReferenceLists) {
  const std::set<std::string> states = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  const std::set<std::string> cities = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                        "Portland", "Bend",        "Redmond",       "Seattle",
                                        "Kent",     "Cheyenne"};
  std::set<int64_t> categories_seen;
  std::set<std::string> states_seen;
  for (const Event& e : events()) {
    if (e.is_auction()) {
      ASSERT_GE(e.auction().category, 10);
      ASSERT_LE(e.auction().category, 14);
      categories_seen.insert(e.auction().category);
    }
    if (e.is_person()) {
      const Person& p = e.person();
      ASSERT_TRUE(states.count(p.state)) << p.state;
      ASSERT_TRUE(cities.count(p.city)) << p.city;
      states_seen.insert(p.state);
      ASSERT_THAT(p.email_address, ::testing::MatchesRegex("[a-z ]+@[a-z ]+\\.com"));
      ASSERT_THAT(p.credit_card, ::testing::MatchesRegex("[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}"));
      ASSERT_FALSE(p.name.empty());
    }
  }
  EXPECT_EQ(categories_seen.size(), 5u);
  EXPECT_EQ(states_seen.size(), states.size());
}

TEST_F(GeneratedStreamTest, BidsAndAuctionsReferToPeopleAndAuctionsAlreadyGenerated) {
  int64_t last_person = -1;
  int64_t last_auction = -1;
  for (const Event& e : events()) {
    switch (e.type()) {
      case EventType::kPerson:
        last_person = e.person().id;
        break;
      case EventType::kAuction: {
        const Auction& a = e.auction();
        last_auction = a.id;
        ASSERT_GE(a.seller, std::max(kFirstPersonId, last_person - kNumActivePeople + 1));
        ASSERT_LE(a.seller, last_person);
        break;
      }
      case EventType::kBid: {
        const Bid& b = e.bid();
        ASSERT_GE(b.auction, std::max(kFirstAuctionId, last_auction - kNumInFlightAuctions));
        ASSERT_LE(b.auction, last_auction);
        ASSERT_GE(b.bidder, std::max(kFirstPersonId, last_person - kNumActivePeople + 1));
        ASSERT_LE(b.bidder, last_person);
        break;
      }
    }
  }
}

// The reference picks the hot auction (first id of the current batch of kHotBatch
// auctions) with probability 1 - 1/kHotAuctionRatio = 1/2, and otherwise a uniform
// in-flight auction (which may also be the hot one). Over ~46k bids the standard
// deviation of the hot share is sqrt(.25/46000) ~ 0.0023; allow 8 of them.
TEST_F(GeneratedStreamTest, HotAuctionGetsHalfTheBids) {
  const double p_hot = 1.0 - 1.0 / kHotAuctionRatio;
  int64_t last_auction = -1;
  int64_t bids = 0;
  int64_t hot = 0;
  // Per hot period (while the hot auction stays the same): bid counts by auction.
  std::map<int64_t, std::map<int64_t, int64_t>> by_period;
  for (const Event& e : events()) {
    if (e.is_auction()) last_auction = e.auction().id;
    if (!e.is_bid()) continue;
    const int64_t hot_id =
        ((last_auction - kFirstAuctionId) / kHotBatch) * kHotBatch + kFirstAuctionId;
    ++bids;
    if (e.bid().auction == hot_id) ++hot;
    ++by_period[hot_id][e.bid().auction];
  }
  const double share = static_cast<double>(hot) / bids;
  EXPECT_GT(share, p_hot - 8 * std::sqrt(p_hot * (1 - p_hot) / bids));
  // Random picks land on the hot auction with probability <= 1/2 * 1/(in-flight + 1)
  // once past the first batch, so the share stays close to 1/2.
  EXPECT_LT(share, p_hot + 0.02);

  // In every full period the most frequent auction is the hot one, with about half of
  // the period's ~1500 bids (sd ~ 0.013; allow 7).
  for (const auto& [hot_id, counts] : by_period) {
    int64_t total = 0;
    auto mode = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it) {
      total += it->second;
      if (it->second > mode->second) mode = it;
    }
    if (total < 1000) continue;  // the last, partial period
    EXPECT_EQ(mode->first, hot_id);
    EXPECT_GT(static_cast<double>(mode->second) / total,
              p_hot - 7 * std::sqrt(p_hot * (1 - p_hot) / total));
  }
}

TEST_F(GeneratedStreamTest, HotBiddersAndSellersTakeThreeQuarters) {
  int64_t last_person = -1;
  int64_t bids = 0, hot_bids = 0, auctions = 0, hot_sellers = 0;
  for (const Event& e : events()) {
    if (e.is_person()) last_person = e.person().id - kFirstPersonId;
    const int64_t batch_first = (last_person / kHotBatch) * kHotBatch + kFirstPersonId;
    if (e.is_bid()) {
      ++bids;
      const int64_t hot_bidder = std::min(batch_first + 1, last_person + kFirstPersonId);
      if (e.bid().bidder == hot_bidder) ++hot_bids;
    }
    if (e.is_auction()) {
      ++auctions;
      if (e.auction().seller == batch_first) ++hot_sellers;
    }
  }
  const double p_bidder = 1.0 - 1.0 / kHotBidderRatio;
  const double p_seller = 1.0 - 1.0 / kHotSellerRatio;
  EXPECT_NEAR(static_cast<double>(hot_bids) / bids, p_bidder,
              8 * std::sqrt(p_bidder * (1 - p_bidder) / bids) + 0.01);
  EXPECT_NEAR(static_cast<double>(hot_sellers) / auctions, p_seller,
              8 * std::sqrt(p_seller * (1 - p_seller) / auctions) + 0.01);
}

TEST_F(GeneratedStreamTest, PricesAreLogUniformCentsFromOneToAMillionDollars) {
  int64_t n = 0, below_thousand_dollars = 0;
  for (const Event& e : events()) {
    if (!e.is_bid()) continue;
    const int64_t price = e.bid().price;
    ASSERT_GE(price, 100);
    ASSERT_LE(price, 100'000'000);
    ++n;
    if (price < 100'000) ++below_thousand_dollars;  // 10^(6u) < 10^3 iff u < 1/2
  }
  EXPECT_NEAR(static_cast<double>(below_thousand_dollars) / n, 0.5, 0.02);
}

TEST_F(GeneratedStreamTest, ExtraPadsEventsToTheReferenceAverageSizes) {
  double person_size = 0, auction_size = 0, bid_size = 0;
  int64_t persons = 0, auctions = 0, bids = 0;
  for (const Event& e : events()) {
    // Sizes counted as the reference counts them (8 per number plus string lengths).
    if (e.is_person()) {
      const Person& p = e.person();
      person_size += 8 + p.name.size() + p.email_address.size() + p.credit_card.size() +
                     p.city.size() + p.state.size() + p.extra.size();
      ++persons;
    } else if (e.is_auction()) {
      const Auction& a = e.auction();
      auction_size += 48 + a.item_name.size() + a.description.size() + a.extra.size();
      ++auctions;
    } else {
      bid_size += 32 + e.bid().extra.size();
      ++bids;
    }
  }
  EXPECT_NEAR(person_size / persons, kAvgPersonByteSize, 0.03 * kAvgPersonByteSize);
  EXPECT_NEAR(auction_size / auctions, kAvgAuctionByteSize, 0.03 * kAvgAuctionByteSize);
  EXPECT_NEAR(bid_size / bids, kAvgBidByteSize, 0.03 * kAvgBidByteSize);
}

TEST_F(GeneratedStreamTest, AboutHalfTheBidsComeThroughHotChannels) {
  const std::set<std::string> hot = {"Google", "Facebook", "Baidu", "Apple"};
  int64_t bids = 0, hot_bids = 0;
  for (const Event& e : events()) {
    if (!e.is_bid()) continue;
    ++bids;
    const Bid& b = e.bid();
    if (hot.count(b.channel)) {
      ++hot_bids;
    } else {
      ASSERT_THAT(b.channel, ::testing::MatchesRegex("channel-[0-9]+"));
    }
    ASSERT_THAT(b.url, ::testing::StartsWith("https://www.nexmark.com/"));
  }
  EXPECT_NEAR(static_cast<double>(hot_bids) / bids, 0.5, 0.02);
}

TEST(GeneratorTest, DateTimeIsBaseTimePlusEventNumberOverRate) {
  GeneratorConfig config = Config(5, 1000);
  config.base_time = 1'000'000;
  config.rate = 1000;  // one event per millisecond
  Generator gen(config);
  for (int64_t e = 0; gen.HasNext(); ++e) ASSERT_EQ(gen.Next().date_time(), 1'000'000 + e);

  config.rate = 250;  // 4 ms apart
  EXPECT_EQ(Generator::EventAt(config, 10).date_time(), 1'000'040);
  config.rate = 3;  // floor(e * 1000 / 3)
  EXPECT_EQ(Generator::EventAt(config, 1).date_time(), 1'000'333);
  EXPECT_EQ(Generator::EventAt(config, 2).date_time(), 1'000'666);
  EXPECT_EQ(Generator::EventAt(config, 3).date_time(), 1'001'000);
  config.rate = 10'000'000;  // the default: 10^4 events per millisecond
  EXPECT_EQ(Generator::EventAt(config, 9'999).date_time(), 1'000'000);
  EXPECT_EQ(Generator::EventAt(config, 10'000).date_time(), 1'000'001);
}

TEST(GeneratorTest, DateTimeIsMonotoneInEveryPartition) {
  GeneratorConfig config = Config(5, 20'000);
  config.rate = 7777;
  for (int p = 0; p < 3; ++p) {
    Generator gen(config, p, 3);
    Timestamp previous = kMinTimestamp;
    Event e;
    while (gen.HasNext()) {
      gen.NextInto(&e);
      ASSERT_GE(e.date_time(), previous);
      previous = e.date_time();
    }
  }
}

// The reference's auction length is uniform in [1, 2 * horizon], the horizon being the
// event time until kNumInFlightAuctions more auctions exist: 100 * 50 / 3 = 1666
// events, i.e. 1666 ms at 1000 events/s.
TEST(GeneratorTest, AuctionsExpireWithinTwiceTheInFlightHorizon) {
  GeneratorConfig config = Config(8, 100'000);
  config.rate = 1000;
  Generator gen(config);
  double total = 0;
  int64_t auctions = 0;
  Event e;
  while (gen.HasNext()) {
    gen.NextInto(&e);
    if (!e.is_auction()) continue;
    const int64_t length = e.auction().expires - e.auction().date_time;
    ASSERT_GE(length, 1);
    ASSERT_LE(length, 2 * 1666);
    total += length;
    ++auctions;
    ASSERT_GT(e.auction().reserve, e.auction().initial_bid);
  }
  EXPECT_NEAR(total / auctions, 1666.5, 0.05 * 1666);
}

TEST(GeneratorConfigTest, FromQueryParsesEveryKey) {
  int partitions = 0;
  absl::StatusOr<GeneratorConfig> config = GeneratorConfig::FromQuery(
      "events=100&rate=5000.5&seed=7&base_time=-12&partitions=4", &partitions);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->events, 100);
  EXPECT_EQ(config->rate, 5000.5);
  EXPECT_EQ(config->seed, 7u);
  EXPECT_EQ(config->base_time, -12);
  EXPECT_EQ(partitions, 4);
}

TEST(GeneratorConfigTest, FromQueryKeepsDefaultsForMissingKeys) {
  int partitions = 0;
  absl::StatusOr<GeneratorConfig> config = GeneratorConfig::FromQuery("", &partitions);
  ASSERT_TRUE(config.ok()) << config.status();
  const GeneratorConfig defaults;
  EXPECT_EQ(config->events, defaults.events);
  EXPECT_EQ(config->rate, defaults.rate);
  EXPECT_EQ(config->seed, defaults.seed);
  EXPECT_EQ(config->base_time, defaults.base_time);
  EXPECT_EQ(partitions, 1);

  config = GeneratorConfig::FromQuery("?seed=18446744073709551615&rate=1e6&", nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->seed, 18446744073709551615u);
  EXPECT_EQ(config->rate, 1e6);
}

TEST(GeneratorConfigTest, PaceStartsEventTimeAtTheCurrentWallClock) {
  EXPECT_FALSE(GeneratorConfig().pace);
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const Timestamp before = now_ms();
  absl::StatusOr<GeneratorConfig> config = GeneratorConfig::FromQuery("events=10&pace=true", nullptr);
  const Timestamp after = now_ms();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->pace);
  EXPECT_GE(config->base_time, before);
  EXPECT_LE(config->base_time, after);

  // An explicit base_time wins, in either order of keys.
  config = GeneratorConfig::FromQuery("base_time=5&pace=1", nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->pace);
  EXPECT_EQ(config->base_time, 5);
  config = GeneratorConfig::FromQuery("pace=true&base_time=5", nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->base_time, 5);

  // pace=false keeps the fixed default date.
  config = GeneratorConfig::FromQuery("pace=false", nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->pace);
  EXPECT_EQ(config->base_time, GeneratorConfig().base_time);
}

TEST(GeneratorConfigTest, FromQueryRejectsBadInputNamingTheKey) {
  struct Case {
    const char* query;
    const char* must_mention;
  };
  const Case cases[] = {
      {"evnts=10", "\"evnts\""},
      {"events=ten", "\"events\""},
      {"events=-1", "\"events\""},
      {"events=1.5", "\"events\""},
      {"rate=0", "\"rate\""},
      {"rate=-5", "\"rate\""},
      {"rate=nan", "\"rate\""},
      {"rate=inf", "\"rate\""},
      {"rate=", "\"rate\""},
      {"seed=-1", "\"seed\""},
      {"seed=99999999999999999999", "\"seed\""},
      {"base_time=now", "\"base_time\""},
      {"partitions=0", "\"partitions\""},
      {"partitions=x", "\"partitions\""},
      {"events=1&events=2", "\"events\" given twice"},
      {"events", "key=value"},
      {"pace=yes", "\"pace\""},
      {"pace=true&pace=false", "\"pace\" given twice"},
      {"late=1.5&late_ms=1:2", "\"late\""},
      {"late=-0.1&late_ms=1:2", "\"late\""},
      {"late=x&late_ms=1:2", "\"late\""},
      {"late=0.2&late_ms=5000", "\"late_ms\""},
      {"late=0.2&late_ms=20:10", "\"late_ms\""},
      {"late=0.2&late_ms=-5:10", "\"late_ms\""},
      {"late=0.2&late_ms=a:b", "\"late_ms\""},
      {"late=0.2", "late_ms=MIN:MAX"},
      {"late_ms=1:2", "late=FRACTION"},
  };
  for (const Case& c : cases) {
    int partitions = 0;
    absl::StatusOr<GeneratorConfig> config = GeneratorConfig::FromQuery(c.query, &partitions);
    ASSERT_FALSE(config.ok()) << c.query;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.query;
    EXPECT_THAT(config.status().message(), HasSubstr(c.must_mention)) << c.query;
    EXPECT_EQ(std::string(config.status().message()).find('\n'), std::string::npos);
  }
}

TEST(GeneratorConfigTest, FromQueryParsesLateEvents) {
  absl::StatusOr<GeneratorConfig> config = GeneratorConfig::FromQuery("late=0.2&late_ms=5000:20000", nullptr);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->late_fraction, 0.2);
  EXPECT_EQ(config->late_min_ms, 5000);
  EXPECT_EQ(config->late_max_ms, 20000);
  EXPECT_EQ(GeneratorConfig().late_fraction, 0);
}

// Late events: about the fraction asked for, delays within [MIN, MAX] and spread over it,
// nothing but dateTime changed, and the same events late at every position and in every
// partitioning (a pure function of seed and event number).
TEST(GeneratorTest, LateEventsMoveBackTheRequestedFractionByDelaysInRange) {
  absl::StatusOr<GeneratorConfig> late = GeneratorConfig::FromQuery("events=20000&seed=3&rate=1000&late=0.2&late_ms=5000:20000", nullptr);
  ASSERT_TRUE(late.ok()) << late.status();
  GeneratorConfig on_time = *late;
  on_time.late_fraction = 0;
  Generator with(*late), without(on_time);
  int64_t n = 0, moved = 0, min_delay = INT64_MAX, max_delay = 0, behind_watermark = 0;
  Timestamp max_seen = kMinTimestamp;
  while (with.HasNext()) {
    Event a = with.Next();
    Event b = without.Next();
    ++n;
    const int64_t delay = b.date_time() - a.date_time();
    EXPECT_EQ(delay, LateDelay(*late, n - 1));
    if (delay != 0) {
      ++moved;
      min_delay = std::min(min_delay, delay);
      max_delay = std::max(max_delay, delay);
      // A late event is behind the watermark of a 4 s bound: windows drop it.
      if (a.date_time() < max_seen - 4000) ++behind_watermark;
    }
    max_seen = std::max(max_seen, a.date_time());
    // Everything else is the event without lateness.
    std::visit([&](auto& x) { x.date_time = b.date_time(); }, a.data);
    ASSERT_EQ(a, b) << "event " << n - 1;
  }
  EXPECT_NEAR(static_cast<double>(moved) / n, 0.2, 0.02);
  EXPECT_GE(min_delay, 5000);
  EXPECT_LE(max_delay, 20000);
  EXPECT_LT(min_delay, 5300);
  EXPECT_GT(max_delay, 19700);
  EXPECT_GT(behind_watermark, moved * 9 / 10);

  // Same late events in another partitioning, at any offset, and from EventAt.
  Generator p1(*late, 1, 3);
  p1.Seek(100);
  for (int i = 0; i < 200; ++i) {
    const int64_t e = p1.next_event_number();
    EXPECT_EQ(p1.Next().date_time(), Generator::EventAt(*late, e).date_time());
  }
  // Another seed makes other events late.
  GeneratorConfig other = *late;
  other.seed = 4;
  int same = 0;
  for (int64_t e = 0; e < 1000; ++e) same += (LateDelay(*late, e) != 0) == (LateDelay(other, e) != 0);
  EXPECT_LT(same, 900);
}

}  // namespace
}  // namespace kappa::nexmark
