#include "kappa/connectors/nexmark/generator.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kappa/base/strings.h"
#include "kappa/connectors/nexmark/internal/random.h"

namespace kappa::nexmark {
namespace {

using ::kappa::AbslView;
using internal::EventRandom;

constexpr int64_t kMinStringLength = 3;

// Bid channels, as in the nexmark/nexmark generator: half the bids come through one of
// four hot channels, the rest through one of kChannels numbered ones.
constexpr int64_t kHotChannelsRatio = 2;
constexpr int64_t kChannels = 10'000;
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};

// How many events pass until kNumInFlightAuctions more auctions have been created:
// an auction's expected length spans that much event time.
constexpr int64_t kEventsForInFlightAuctions =
    kNumInFlightAuctions * kProportionDenominator / kAuctionProportion;

constexpr std::array<std::string_view, 6> kUsStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kUsCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};

// Random text is sliced out of fixed blocks: a slice starts anywhere in the first
// kBlockStarts bytes and may run kMaxSlice bytes on.
constexpr size_t kBlockStarts = 16384;
constexpr size_t kMaxSlice = 1024;

// Fixed stream keys for the text blocks and channel table. They do not depend on the
// configured seed: the blocks are a dictionary, the seed picks from it.
constexpr uint64_t kTextKey = internal::SeedKey(0x6b617070612d7478ULL);
constexpr uint64_t kChannelKey = internal::SeedKey(0x6b617070612d6368ULL);
// Mixed into the seed key for the late-event draws, a stream apart from the content's.
constexpr uint64_t kLateKey = 0x6b617070612d6c74ULL;

constexpr uint32_t ReverseBits(uint32_t x) {
  uint32_t r = 0;
  for (int bit = 0; bit < 32; ++bit) r |= ((x >> bit) & 1u) << (31 - bit);
  return r;
}

// Lookup data built once per process (thread-safe static init), read-only after.
struct Tables {
  // 'a'..'z' only: the `extra` padding.
  std::string letters;
  // Letters with about one space in 13 (the reference's nextString), never two in a
  // row, so a trimmed slice of >= 3 bytes is never empty.
  std::string words;
  std::array<std::string, kFirstNames.size() * kLastNames.size()> names;
  std::array<std::string, kHotChannels.size()> hot_urls;
  std::vector<std::string> channel_names;
  std::vector<std::string> channel_urls;

  Tables() {
    EventRandom rng(kTextKey, 0);
    const size_t size = kBlockStarts + kMaxSlice;
    letters.resize(size);
    words.resize(size);
    for (size_t i = 0; i < size; ++i) {
      letters[i] = static_cast<char>('a' + rng.Below(26));
      const bool space = rng.Below(13) == 0 && i > 0 && words[i - 1] != ' ';
      words[i] = space ? ' ' : static_cast<char>('a' + rng.Below(26));
    }
    for (size_t f = 0; f < kFirstNames.size(); ++f) {
      for (size_t l = 0; l < kLastNames.size(); ++l) {
        names[f * kLastNames.size() + l] =
            absl::StrCat(AbslView(kFirstNames[f]), " ", AbslView(kLastNames[l]));
      }
    }
    for (size_t i = 0; i < hot_urls.size(); ++i) {
      EventRandom url_rng(kChannelKey, kChannels + i);
      hot_urls[i] = BaseUrl(url_rng);
    }
    channel_names.reserve(kChannels);
    channel_urls.reserve(kChannels);
    for (int64_t n = 0; n < kChannels; ++n) {
      EventRandom url_rng(kChannelKey, n);
      channel_names.push_back(absl::StrCat("channel-", n));
      std::string url = BaseUrl(url_rng);
      if (url_rng.Below(10) > 0) {
        // The reference appends |Integer.reverse(n)|: n's 32 bits reversed, as a
        // signed int, made positive.
        const auto reversed = static_cast<int32_t>(ReverseBits(static_cast<uint32_t>(n)));
        const int64_t id = std::abs(static_cast<int64_t>(reversed));
        absl::StrAppend(&url, "&channel_id=", id);
      }
      channel_urls.push_back(std::move(url));
    }
  }

  // "https://www.nexmark.com/xxx/xxx/xxx/item.htm?query=1", each xxx 3-4 letters or '_'.
  static std::string BaseUrl(EventRandom& rng) {
    std::string url = "https://www.nexmark.com/";
    for (int part = 0; part < 3; ++part) {
      const int64_t len = kMinStringLength + static_cast<int64_t>(rng.Below(5 - kMinStringLength));
      for (int64_t i = 0; i < len; ++i) {
        url.push_back(rng.Below(13) == 0 ? '_' : static_cast<char>('a' + rng.Below(26)));
      }
      url.push_back('/');
    }
    url += "item.htm?query=1";
    return url;
  }
};

const Tables& GetTables() {
  static const Tables* const tables = new Tables();
  return *tables;
}

// The last person id (base 0) created at or before event e: the person of e's block.
inline int64_t LastBase0PersonId(int64_t e) {
  return (e / kProportionDenominator) * kPersonProportion;
}

// The last auction id (base 0) created at or before event e; e's own id if e is an
// auction. -1 before the first auction.
inline int64_t LastBase0AuctionId(int64_t e) {
  int64_t epoch = e / kProportionDenominator;
  int64_t offset = e % kProportionDenominator;
  if (offset < kPersonProportion) {
    --epoch;  // A person: the last auction is in the previous block.
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;  // A bid: the block's last auction.
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

// A uniformly chosen active person (base 0), among the last kNumActivePeople.
inline int64_t NextBase0PersonId(int64_t e, EventRandom& rng) {
  const int64_t num_people = LastBase0PersonId(e) + 1;
  const int64_t active = std::min(num_people, kNumActivePeople);
  return num_people - active + static_cast<int64_t>(rng.Below(active));
}

// A uniformly chosen auction (base 0) among those likely still in flight.
inline int64_t NextBase0AuctionId(int64_t e, EventRandom& rng) {
  const int64_t max_auction = LastBase0AuctionId(e);
  const int64_t min_auction = std::max<int64_t>(max_auction - kNumInFlightAuctions, 0);
  return min_auction + static_cast<int64_t>(rng.Below(max_auction - min_auction + 1));
}

// Cents, log-uniform in [1, 10^6] dollars: round(10^(6u) * 100).
inline int64_t NextPrice(EventRandom& rng) {
  constexpr double kSixLn10 = 6.0 * 2.302585092994045684;
  return static_cast<int64_t>(std::exp(rng.Unit() * kSixLn10) * 100.0 + 0.5);
}

// 3..max_length-1 letters and spaces, trimmed (the reference's nextString).
inline std::string_view NextWords(EventRandom& rng, int64_t max_length, const Tables& t) {
  const size_t len = kMinStringLength + rng.Below(max_length - kMinStringLength);
  const char* begin = t.words.data() + rng.Below(kBlockStarts);
  const char* end = begin + len;
  while (*begin == ' ') ++begin;
  while (end[-1] == ' ') --end;
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

// Padding so that current_size + extra averages desired_average (±20% uniform), as
// the reference's nextExtra.
inline void NextExtra(EventRandom& rng, int64_t current_size, int64_t desired_average,
                      const Tables& t, std::string* out) {
  if (current_size > desired_average) {
    out->clear();
    return;
  }
  const int64_t remaining = desired_average - current_size;
  const int64_t delta = std::llround(static_cast<double>(remaining) * 0.2);
  const int64_t size =
      remaining - delta + (delta == 0 ? 0 : static_cast<int64_t>(rng.Below(2 * delta)));
  out->assign(t.letters.data() + rng.Below(kBlockStarts), static_cast<size_t>(size));
}

void FillPerson(int64_t e, Timestamp ts, EventRandom& rng, const Tables& t, Person* p) {
  p->id = LastBase0PersonId(e) + kFirstPersonId;
  p->name = t.names[rng.Below(t.names.size())];
  p->email_address = NextWords(rng, 7, t);
  p->email_address.push_back('@');
  p->email_address.append(NextWords(rng, 5, t));
  p->email_address.append(".com");

  // "dddd dddd dddd dddd": four 16-bit draws scaled to 0..9999.
  p->credit_card.resize(19);
  char* cc = p->credit_card.data();
  uint64_t bits = rng.Next();
  for (int group = 0; group < 4; ++group, bits >>= 16) {
    uint32_t v = static_cast<uint32_t>(((bits & 0xffff) * 10000) >> 16);
    char* g = cc + group * 5;
    g[3] = static_cast<char>('0' + v % 10);
    v /= 10;
    g[2] = static_cast<char>('0' + v % 10);
    v /= 10;
    g[1] = static_cast<char>('0' + v % 10);
    g[0] = static_cast<char>('0' + v / 10);
    if (group < 3) g[4] = ' ';
  }
  p->city = kUsCities[rng.Below(kUsCities.size())];
  p->state = kUsStates[rng.Below(kUsStates.size())];
  p->date_time = ts;
  const int64_t current_size = 8 + p->name.size() + p->email_address.size() +
                               p->credit_card.size() + p->city.size() + p->state.size();
  NextExtra(rng, current_size, kAvgPersonByteSize, t, &p->extra);
}

void FillAuction(const GeneratorConfig& config, int64_t e, Timestamp ts, EventRandom& rng,
                 const Tables& t, Auction* a) {
  a->id = LastBase0AuctionId(e) + kFirstAuctionId;
  int64_t seller;
  if (rng.Below(kHotSellerRatio) > 0) {
    seller = (LastBase0PersonId(e) / kHotBatch) * kHotBatch;
  } else {
    seller = NextBase0PersonId(e, rng);
  }
  a->seller = seller + kFirstPersonId;
  a->category = kFirstCategoryId + static_cast<int64_t>(rng.Below(kNumCategories));
  a->initial_bid = NextPrice(rng);
  // Auction length: uniform in [1, 2 * horizon], where the horizon is the event time
  // until kNumInFlightAuctions more auctions exist (the reference's nextAuctionLengthMs).
  const int64_t horizon = EventTimestamp(config, e + kEventsForInFlightAuctions) - ts;
  a->expires = ts + 1 + static_cast<int64_t>(rng.Below(std::max<int64_t>(horizon * 2, 1)));
  a->item_name = NextWords(rng, 20, t);
  a->description = NextWords(rng, 100, t);
  a->reserve = a->initial_bid + NextPrice(rng);
  a->date_time = ts;
  const int64_t current_size = 8 + a->item_name.size() + a->description.size() + 8 + 8 + 8 + 8 + 8;
  NextExtra(rng, current_size, kAvgAuctionByteSize, t, &a->extra);
}

void FillBid(int64_t e, Timestamp ts, EventRandom& rng, const Tables& t, Bid* b) {
  int64_t auction;
  if (rng.Below(kHotAuctionRatio) > 0) {
    auction = (LastBase0AuctionId(e) / kHotBatch) * kHotBatch;
  } else {
    auction = NextBase0AuctionId(e, rng);
  }
  b->auction = auction + kFirstAuctionId;

  int64_t bidder;
  const int64_t last_person = LastBase0PersonId(e);
  if (rng.Below(kHotBidderRatio) > 0) {
    // The batch's second person, so hot bidders and hot sellers differ; the first
    // person of a batch is alone until the next block, so clamp to existing ids.
    bidder = std::min((last_person / kHotBatch) * kHotBatch + 1, last_person);
  } else {
    bidder = NextBase0PersonId(e, rng);
  }
  b->bidder = bidder + kFirstPersonId;
  b->price = NextPrice(rng);

  if (rng.Below(kHotChannelsRatio) > 0) {
    const size_t i = rng.Below(kHotChannels.size());
    b->channel = kHotChannels[i];
    b->url = t.hot_urls[i];
  } else {
    const size_t n = rng.Below(kChannels);
    b->channel = t.channel_names[n];
    b->url = t.channel_urls[n];
  }
  b->date_time = ts;
  NextExtra(rng, 8 + 8 + 8 + 8, kAvgBidByteSize, t, &b->extra);
}

void GenerateInto(const GeneratorConfig& config, uint64_t seed_key, int64_t e,
                  EventRecycler* recycler, Event* out) {
  const Tables& tables = GetTables();
  EventRandom rng(seed_key, static_cast<uint64_t>(e));
  const Timestamp ts = EventTimestamp(config, e);
  const int64_t offset = e % kProportionDenominator;
  if (offset >= kPersonProportion + kAuctionProportion) {
    FillBid(e, ts, rng, tables, &recycler->Switch<Bid>(out));
  } else if (offset >= kPersonProportion) {
    FillAuction(config, e, ts, rng, tables, &recycler->Switch<Auction>(out));
  } else {
    FillPerson(e, ts, rng, tables, &recycler->Switch<Person>(out));
  }
  if (config.late_fraction > 0) {
    const int64_t delay = LateDelay(config, e);
    if (delay > 0) std::visit([delay](auto& event) { event.date_time -= delay; }, out->data);
  }
}

// The whole of `text` as a number (no sign for unsigned types, no spaces).
template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  const char* end = text.data() + text.size();
  const std::from_chars_result result = std::from_chars(text.data(), end, *out);
  return result.ec == std::errc() && result.ptr == end && !text.empty();
}

absl::Status BadValue(std::string_view key, std::string_view value, std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("gen:nexmark: bad value \"", AbslView(value),
                                                 "\" for key \"", AbslView(key), "\": expected ",
                                                 AbslView(expected)));
}

}  // namespace

Timestamp EventTimestamp(const GeneratorConfig& config, int64_t event_number) {
  // Non-negative, so truncation is floor. Clamped so absurd rates cannot overflow.
  const double offset = static_cast<double>(event_number) * 1000.0 / config.rate;
  constexpr double kMaxOffset = 4e18;
  return config.base_time + static_cast<int64_t>(std::min(offset, kMaxOffset));
}

int64_t LateDelay(const GeneratorConfig& config, int64_t event_number) {
  if (config.late_fraction <= 0) return 0;
  EventRandom rng(internal::SeedKey(config.seed ^ kLateKey), static_cast<uint64_t>(event_number));
  if (rng.Unit() >= config.late_fraction) return 0;
  return config.late_min_ms + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(config.late_max_ms -
                                                                                    config.late_min_ms) + 1));
}

absl::StatusOr<GeneratorConfig> GeneratorConfig::FromQuery(std::string_view query,
                                                           int* partitions) {
  GeneratorConfig config;
  int num_partitions = 1;
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  std::vector<std::string_view> seen;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("gen:nexmark: expected key=value, got \"", AbslView(item), "\""));
    }
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("gen:nexmark: key \"", AbslView(key), "\" given twice"));
    }
    seen.push_back(key);
    if (key == "events") {
      if (!ParseNumber(value, &config.events) || config.events < 0) {
        return BadValue(key, value, "a non-negative integer (0 = unbounded)");
      }
    } else if (key == "rate") {
      // Upper bound keeps dateTime spacing meaningful (>= 1 ms per 10^12 events).
      if (!ParseNumber(value, &config.rate) || !std::isfinite(config.rate) || config.rate <= 0 ||
          config.rate > 1e12) {
        return BadValue(key, value, "events per second, a number in (0, 1e12]");
      }
    } else if (key == "seed") {
      if (!ParseNumber(value, &config.seed)) {
        return BadValue(key, value, "an unsigned 64-bit integer");
      }
    } else if (key == "base_time") {
      if (!ParseNumber(value, &config.base_time)) {
        return BadValue(key, value, "epoch milliseconds (an integer)");
      }
    } else if (key == "pace") {
      if (value == "true" || value == "1") {
        config.pace = true;
      } else if (value == "false" || value == "0") {
        config.pace = false;
      } else {
        return BadValue(key, value, "true or false");
      }
    } else if (key == "partitions") {
      if (!ParseNumber(value, &num_partitions) || num_partitions < 1 || num_partitions > 65536) {
        return BadValue(key, value, "an integer in [1, 65536]");
      }
    } else if (key == "late") {
      if (!ParseNumber(value, &config.late_fraction) || !(config.late_fraction >= 0 && config.late_fraction <= 1)) {
        return BadValue(key, value, "the fraction of late events, a number in [0, 1]");
      }
    } else if (key == "late_ms") {
      const size_t colon = value.find(':');
      if (colon == std::string_view::npos || !ParseNumber(value.substr(0, colon), &config.late_min_ms) ||
          !ParseNumber(value.substr(colon + 1), &config.late_max_ms) || config.late_min_ms < 0 ||
          config.late_max_ms < config.late_min_ms || config.late_max_ms > int64_t{1} << 40) {
        return BadValue(key, value, "MIN:MAX, milliseconds with 0 <= MIN <= MAX");
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("gen:nexmark: unknown key \"", AbslView(key),
                       "\" (known: events, rate, seed, base_time, partitions, pace, late, late_ms)"));
    }
  }
  const bool has_late = std::find(seen.begin(), seen.end(), "late") != seen.end();
  const bool has_late_ms = std::find(seen.begin(), seen.end(), "late_ms") != seen.end();
  if (has_late != has_late_ms) {
    return absl::InvalidArgumentError(has_late ? "gen:nexmark: late=FRACTION needs late_ms=MIN:MAX (the delay range)"
                                               : "gen:nexmark: late_ms=MIN:MAX needs late=FRACTION");
  }
  if (config.pace && std::find(seen.begin(), seen.end(), "base_time") == seen.end()) {
    config.base_time = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  }
  if (partitions != nullptr) *partitions = num_partitions;
  return config;
}

Generator::Generator(const GeneratorConfig& config, int partition, int num_partitions)
    : config_(config),
      seed_key_(internal::SeedKey(config.seed)),
      partition_(partition),
      num_partitions_(num_partitions),
      limit_(config.events <= 0 ? -1
             : config.events > partition
                 ? (config.events - partition + num_partitions - 1) / num_partitions
                 : 0) {
  assert(num_partitions >= 1 && partition >= 0 && partition < num_partitions);
  assert(config.rate > 0);
}

Event Generator::Next() {
  Event event;
  EventRecycler fresh;
  GenerateInto(config_, seed_key_, next_event_number(), &fresh, &event);
  ++position_;
  return event;
}

void Generator::NextInto(Event* e) {
  GenerateInto(config_, seed_key_, next_event_number(), &recycler_, e);
  ++position_;
}

Event Generator::EventAt(const GeneratorConfig& config, int64_t event_number) {
  Event event;
  EventRecycler fresh;
  GenerateInto(config, internal::SeedKey(config.seed), event_number, &fresh, &event);
  return event;
}

}  // namespace kappa::nexmark
