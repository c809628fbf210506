// Independent references for the Nexmark queries (DESIGN §7), shared by the tests that
// check the nexmark-qN jobs: straight loops over all events at once, using no engine or
// operator code, and a canonical row form both sides are turned into.
#ifndef KAPPA_TESTS_NEXMARK_REFERENCE_H_
#define KAPPA_TESTS_NEXMARK_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kappa/connectors/nexmark/event.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace kappa::testing {
using nexmark::Event;

// ---------------------------------------------------------------------------------------
// Rows. Both sides turn a row into one canonical string: the contract's fields in order,
// "name=value" joined by '|', numbers that may be fractions with 3 decimals.

enum class Kind { kInt, kNumber, kString };
struct FieldSpec {
  std::string name;
  Kind kind;
};
using Schema = std::vector<FieldSpec>;

inline std::string Num(double v) { return absl::StrFormat("%.3f", v); }

// Parses one output line with simdjson; checks that it has exactly the schema's fields
// with the right JSON types.
inline std::string Canonical(simdjson::dom::parser& parser, const std::string& line, const Schema& schema) {
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc)) {
    ADD_FAILURE() << "not JSON: " << line;
    return "";
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) {
    ADD_FAILURE() << "not a JSON object: " << line;
    return "";
  }
  std::set<std::string> names;
  for (auto field : obj) names.insert(std::string(field.key));
  std::set<std::string> want;
  for (const FieldSpec& f : schema) want.insert(f.name);
  if (names != want) {
    ADD_FAILURE() << "fields {" << absl::StrJoin(names, ",") << "}, want {" << absl::StrJoin(want, ",")
                  << "}: " << line;
    return "";
  }
  std::vector<std::string> parts;
  for (const FieldSpec& f : schema) {
    simdjson::dom::element v = obj[f.name];
    std::string text;
    switch (f.kind) {
      case Kind::kInt: {
        int64_t i = 0;
        if (v.get_int64().get(i)) ADD_FAILURE() << "'" << f.name << "' is not an integer: " << line;
        text = absl::StrCat(i);
        break;
      }
      case Kind::kNumber: {
        double d = 0;
        if (v.get_double().get(d)) ADD_FAILURE() << "'" << f.name << "' is not a number: " << line;
        text = Num(d);
        break;
      }
      case Kind::kString: {
        std::string_view s;
        if (v.get_string().get(s)) ADD_FAILURE() << "'" << f.name << "' is not a string: " << line;
        text = std::string(s);
        break;
      }
    }
    parts.push_back(absl::StrCat(f.name, "=", text));
  }
  return absl::StrJoin(parts, "|");
}

// Reference rows are built the same way from typed values.
struct Cell {
  Cell(int64_t v) : text(absl::StrCat(v)) {}  // NOLINT: implicit on purpose
  Cell(int v) : text(absl::StrCat(v)) {}      // NOLINT
  Cell(double v) : text(Num(v)) {}            // NOLINT
  Cell(const std::string& v) : text(v) {}     // NOLINT
  std::string text;
};
inline std::string Row(const Schema& schema, const std::vector<Cell>& cells) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < schema.size(); ++i) parts.push_back(absl::StrCat(schema[i].name, "=", cells[i].text));
  return absl::StrJoin(parts, "|");
}

inline const Schema kBidSchema = {{"auction", Kind::kInt},
                           {"bidder", Kind::kInt},
                           {"price", Kind::kInt},
                           {"dateTime", Kind::kInt},
                           {"extra", Kind::kString}};
inline const Schema kQ1Schema = {{"auction", Kind::kInt},
                          {"bidder", Kind::kInt},
                          {"price", Kind::kNumber},
                          {"dateTime", Kind::kInt},
                          {"extra", Kind::kString}};
inline const Schema kQ2Schema = {{"auction", Kind::kInt}, {"price", Kind::kInt}};
inline const Schema kQ3Schema = {
    {"name", Kind::kString}, {"city", Kind::kString}, {"state", Kind::kString}, {"id", Kind::kInt}};
inline const Schema kQ4Schema = {{"category", Kind::kInt}, {"avg", Kind::kNumber}};
inline const Schema kQ5Schema = {
    {"auction", Kind::kInt}, {"num", Kind::kInt}, {"window_start", Kind::kInt}, {"window_end", Kind::kInt}};
inline const Schema kQ8Schema = {{"id", Kind::kInt}, {"name", Kind::kString}, {"starttime", Kind::kInt}};
inline const Schema kQ11Schema = {
    {"bidder", Kind::kInt}, {"bid_count", Kind::kInt}, {"starttime", Kind::kInt}, {"endtime", Kind::kInt}};

// ---------------------------------------------------------------------------------------
// Reference implementations: straight from the definitions, over all events at once.

inline int64_t WindowStart(int64_t ts, int64_t size) { return ts - ((ts % size) + size) % size; }

inline std::vector<std::string> RefQ0(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    const auto& b = e.bid();
    out.push_back(Row(kBidSchema, {b.auction, b.bidder, b.price, b.date_time, b.extra}));
  }
  return out;
}

inline std::vector<std::string> RefQ1(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    const auto& b = e.bid();
    out.push_back(
        Row(kQ1Schema, {b.auction, b.bidder, static_cast<double>(b.price) * 908 / 1000, b.date_time, b.extra}));
  }
  return out;
}

inline std::vector<std::string> RefQ2(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (e.is_bid() && e.bid().auction % 123 == 0) out.push_back(Row(kQ2Schema, {e.bid().auction, e.bid().price}));
  }
  return out;
}

// q3 is the SQL join, with no time condition:
//   SELECT P.name, P.city, P.state, A.id FROM Auction A, Person P
//   WHERE A.seller = P.id AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
//     AND A.category = 10
// Every (auction, person) pair that meets it, whatever the events' order or timestamps.
inline std::vector<std::string> RefQ3(const std::vector<Event>& events) {
  std::multimap<int64_t, const nexmark::Person*> people;
  for (const Event& e : events) {
    if (e.is_person()) people.emplace(e.person().id, &e.person());
  }
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_auction() || e.auction().category != 10) continue;
    auto [begin, end] = people.equal_range(e.auction().seller);
    for (auto it = begin; it != end; ++it) {
      const nexmark::Person& p = *it->second;
      if (p.state != "OR" && p.state != "ID" && p.state != "CA") continue;
      out.push_back(Row(kQ3Schema, {p.name, p.city, p.state, e.auction().id}));
    }
  }
  return out;
}

// q4: category -> (average of the counted auctions' highest bids, number counted).
inline std::map<int64_t, std::pair<double, int64_t>> RefQ4(const std::vector<Event>& events) {
  std::map<int64_t, const nexmark::Auction*> auctions;
  for (const Event& e : events) {
    if (e.is_auction()) auctions[e.auction().id] = &e.auction();
  }
  std::map<int64_t, int64_t> highest;  // auction id -> highest valid bid
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    const auto& b = e.bid();
    auto it = auctions.find(b.auction);
    if (it == auctions.end()) continue;
    const nexmark::Auction& a = *it->second;
    if (b.date_time < a.date_time || b.date_time > a.expires) continue;
    auto [h, fresh] = highest.emplace(a.id, b.price);
    if (!fresh) h->second = std::max(h->second, b.price);
  }
  std::map<int64_t, std::pair<int64_t, int64_t>> sum_count;
  for (const auto& [id, price] : highest) {
    auto& sc = sum_count[auctions[id]->category];
    sc.first += price;
    sc.second += 1;
  }
  std::map<int64_t, std::pair<double, int64_t>> out;
  for (const auto& [category, sc] : sum_count) {
    out[category] = {static_cast<double>(sc.first) / static_cast<double>(sc.second), sc.second};
  }
  return out;
}

inline std::vector<std::string> RefQ5(const std::vector<Event>& events) {
  constexpr int64_t kSize = 10'000, kSlide = 2'000;
  std::map<int64_t, std::map<int64_t, int64_t>> counts;  // window start -> auction -> bids
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    int64_t ts = e.bid().date_time;
    // Every window [s, s + size) with s a multiple of the slide that contains ts.
    for (int64_t s = WindowStart(ts, kSlide); s > ts - kSize; s -= kSlide) counts[s][e.bid().auction]++;
  }
  std::vector<std::string> out;
  for (const auto& [start, per_auction] : counts) {
    int64_t most = 0;
    for (const auto& [auction, n] : per_auction) most = std::max(most, n);
    for (const auto& [auction, n] : per_auction) {
      if (n == most) out.push_back(Row(kQ5Schema, {auction, n, start, start + kSize}));
    }
  }
  return out;
}

inline std::vector<std::string> RefQ7(const std::vector<Event>& events) {
  std::map<int64_t, std::vector<const nexmark::Bid*>> windows;
  for (const Event& e : events) {
    if (e.is_bid()) windows[WindowStart(e.bid().date_time, 10'000)].push_back(&e.bid());
  }
  std::vector<std::string> out;
  for (const auto& [start, bids] : windows) {
    int64_t top = 0;
    for (const auto* b : bids) top = std::max(top, b->price);
    for (const auto* b : bids) {
      if (b->price == top) out.push_back(Row(kBidSchema, {b->auction, b->bidder, b->price, b->date_time, b->extra}));
    }
  }
  return out;
}

inline std::vector<std::string> RefQ8(const std::vector<Event>& events) {
  std::set<std::pair<int64_t, int64_t>> sold;  // (seller, window start)
  for (const Event& e : events) {
    if (e.is_auction()) sold.emplace(e.auction().seller, WindowStart(e.auction().date_time, 10'000));
  }
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_person()) continue;
    int64_t start = WindowStart(e.person().date_time, 10'000);
    if (sold.count({e.person().id, start}) > 0) out.push_back(Row(kQ8Schema, {e.person().id, e.person().name, start}));
  }
  return out;
}

inline std::vector<std::string> RefQ11(const std::vector<Event>& events) {
  constexpr int64_t kGap = 10'000;
  std::map<int64_t, std::vector<int64_t>> times;  // bidder -> bid times
  for (const Event& e : events) {
    if (e.is_bid()) times[e.bid().bidder].push_back(e.bid().date_time);
  }
  std::vector<std::string> out;
  for (auto& [bidder, ts] : times) {
    std::sort(ts.begin(), ts.end());
    size_t first = 0;
    for (size_t i = 1; i <= ts.size(); ++i) {
      // A session ends where the next bid is at least a gap after the previous one.
      if (i == ts.size() || ts[i] - ts[i - 1] >= kGap) {
        out.push_back(Row(kQ11Schema, {bidder, static_cast<int64_t>(i - first), ts[first], ts[i - 1] + kGap}));
        first = i;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Comparison.

// Multiset equality with a readable failure: counts and a few rows missing or extra.
inline void ExpectSameRows(std::vector<std::string> actual, std::vector<std::string> expected,
                    const std::string& expected_name = "the reference") {
  std::sort(actual.begin(), actual.end());
  std::sort(expected.begin(), expected.end());
  if (actual == expected) return;
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(), std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(), std::back_inserter(extra));
  auto head = [](const std::vector<std::string>& v) {
    std::vector<std::string> h(v.begin(), v.begin() + std::min<size_t>(v.size(), 8));
    return absl::StrJoin(h, "\n  ");
  };
  ADD_FAILURE() << "engine gave " << actual.size() << " rows, " << expected_name << " " << expected.size() << "; "
                << missing.size() << " missing, " << extra.size() << " unexpected\nmissing:\n  " << head(missing)
                << "\nunexpected:\n  " << head(extra);
}

}  // namespace kappa::testing

#endif  // KAPPA_TESTS_NEXMARK_REFERENCE_H_
