// The nexmark-qN jobs against independent reference implementations.
//
// Events come from the Nexmark generator once per suite and are written into a file log
// of four partitions (and a second log, shuffled inside each partition within less than
// the out-of-orderness bound, so no event is late). Each job runs in-process from the job
// registry, at several parallelisms, reading the log and writing part files; the test
// parses those JSON lines and compares them, as a multiset, with what a plain
// single-threaded loop over the events computes from the query's definition (DESIGN.md
// §7). The references use no engine or operator code.
//
// A third log is shuffled beyond the bound, so some events are late: what the jobs drop
// then may differ from the reference, but must not differ with parallelism (DESIGN §3).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "connectors/file/file_test_util.h"
#include "connectors/nexmark/event.h"
#include "connectors/nexmark/generator.h"
#include "connectors/nexmark/json.h"
#include "engine/errors.h"
#include "engine/job_registry.h"
#include "examples/nexmark/queries.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace kappa {
namespace {

namespace fs = std::filesystem;
using connectors::testing::ReadFileToString;
using connectors::testing::ScopedTempDir;
using connectors::testing::WriteStringToFile;
using nexmark::Event;

// 100k events at 500 events/s: 200 s of event time, 20 tumbling and 100 sliding windows.
constexpr int64_t kEvents = 100'000;
constexpr double kRate = 500;
constexpr uint64_t kSeed = 42;
constexpr int kPartitions = 4;
constexpr int64_t kOutOfOrdernessMs = 4000;
// The shuffled log permutes each partition inside blocks of this much event time; any
// record then trails its partition's maximum by less than the bound: none is late.
constexpr int64_t kShuffleSpanMs = 3000;

// ---------------------------------------------------------------------------------------
// Rows. Both sides turn a row into one canonical string: the contract's fields in order,
// "name=value" joined by '|', numbers that may be fractions with 3 decimals.

enum class Kind { kInt, kNumber, kString };
struct FieldSpec {
  std::string name;
  Kind kind;
};
using Schema = std::vector<FieldSpec>;

std::string Num(double v) { return absl::StrFormat("%.3f", v); }

// Parses one output line with simdjson; checks that it has exactly the schema's fields
// with the right JSON types.
std::string Canonical(simdjson::dom::parser& parser, const std::string& line, const Schema& schema) {
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
std::string Row(const Schema& schema, const std::vector<Cell>& cells) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < schema.size(); ++i) parts.push_back(absl::StrCat(schema[i].name, "=", cells[i].text));
  return absl::StrJoin(parts, "|");
}

const Schema kBidSchema = {{"auction", Kind::kInt},
                           {"bidder", Kind::kInt},
                           {"price", Kind::kInt},
                           {"dateTime", Kind::kInt},
                           {"extra", Kind::kString}};
const Schema kQ1Schema = {{"auction", Kind::kInt},
                          {"bidder", Kind::kInt},
                          {"price", Kind::kNumber},
                          {"dateTime", Kind::kInt},
                          {"extra", Kind::kString}};
const Schema kQ2Schema = {{"auction", Kind::kInt}, {"price", Kind::kInt}};
const Schema kQ3Schema = {
    {"name", Kind::kString}, {"city", Kind::kString}, {"state", Kind::kString}, {"id", Kind::kInt}};
const Schema kQ4Schema = {{"category", Kind::kInt}, {"avg", Kind::kNumber}};
const Schema kQ5Schema = {
    {"auction", Kind::kInt}, {"num", Kind::kInt}, {"window_start", Kind::kInt}, {"window_end", Kind::kInt}};
const Schema kQ8Schema = {{"id", Kind::kInt}, {"name", Kind::kString}, {"starttime", Kind::kInt}};
const Schema kQ11Schema = {
    {"bidder", Kind::kInt}, {"bid_count", Kind::kInt}, {"starttime", Kind::kInt}, {"endtime", Kind::kInt}};

// ---------------------------------------------------------------------------------------
// Reference implementations: straight from the definitions, over all events at once.

int64_t WindowStart(int64_t ts, int64_t size) { return ts - ((ts % size) + size) % size; }

std::vector<std::string> RefQ0(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    const auto& b = e.bid();
    out.push_back(Row(kBidSchema, {b.auction, b.bidder, b.price, b.date_time, b.extra}));
  }
  return out;
}

std::vector<std::string> RefQ1(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_bid()) continue;
    const auto& b = e.bid();
    out.push_back(
        Row(kQ1Schema, {b.auction, b.bidder, static_cast<double>(b.price) * 908 / 1000, b.date_time, b.extra}));
  }
  return out;
}

std::vector<std::string> RefQ2(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (e.is_bid() && e.bid().auction % 123 == 0) out.push_back(Row(kQ2Schema, {e.bid().auction, e.bid().price}));
  }
  return out;
}

std::vector<std::string> RefQ3(const std::vector<Event>& events) {
  std::map<int64_t, const nexmark::Person*> people;
  for (const Event& e : events) {
    if (e.is_person()) people[e.person().id] = &e.person();
  }
  std::vector<std::string> out;
  for (const Event& e : events) {
    if (!e.is_auction() || e.auction().category != 10) continue;
    auto it = people.find(e.auction().seller);
    if (it == people.end()) continue;
    const nexmark::Person& p = *it->second;
    if (p.state != "OR" && p.state != "ID" && p.state != "CA") continue;
    out.push_back(Row(kQ3Schema, {p.name, p.city, p.state, e.auction().id}));
  }
  return out;
}

// q4: category -> (average of the counted auctions' highest bids, number counted).
std::map<int64_t, std::pair<double, int64_t>> RefQ4(const std::vector<Event>& events) {
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

std::vector<std::string> RefQ5(const std::vector<Event>& events) {
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

std::vector<std::string> RefQ7(const std::vector<Event>& events) {
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

std::vector<std::string> RefQ8(const std::vector<Event>& events) {
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

std::vector<std::string> RefQ11(const std::vector<Event>& events) {
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
void ExpectSameRows(std::vector<std::string> actual, std::vector<std::string> expected,
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

// ---------------------------------------------------------------------------------------
// Test data: the events, and three file logs of them, made once per test program.

struct TestData {
  ScopedTempDir dir;
  std::vector<Event> events;
  std::string log;           // each partition in generator order
  std::string log_shuffled;  // shuffled within the bound: out of order, nothing late
  std::string log_late;      // shuffled beyond the bound: some records are late
};

struct Disorder {
  int out_of_order = 0;  // events behind their partition's maximum so far
  int late = 0;          // events behind it by the out-of-orderness bound or more
};

// Permutes each block of `span_ms` of event time in one partition.
Disorder ShuffleWithinSpans(std::vector<Event>* part, int64_t span_ms, std::mt19937& rng) {
  size_t begin = 0;
  while (begin < part->size()) {
    size_t end = begin;
    int64_t block = (*part)[begin].date_time() / span_ms;
    while (end < part->size() && (*part)[end].date_time() / span_ms == block) ++end;
    std::shuffle(part->begin() + begin, part->begin() + end, rng);
    begin = end;
  }
  int64_t max_ts = INT64_MIN;
  Disorder d;
  for (const Event& e : *part) {
    if (max_ts != INT64_MIN && e.date_time() < max_ts) ++d.out_of_order;
    if (max_ts != INT64_MIN && e.date_time() <= max_ts - kOutOfOrdernessMs) ++d.late;
    max_ts = std::max(max_ts, e.date_time());
  }
  return d;
}

const TestData& Data() {
  static std::unique_ptr<TestData> data = [] {
    auto d = std::make_unique<TestData>();
    nexmark::GeneratorConfig config;
    config.seed = kSeed;
    config.events = kEvents;
    config.rate = kRate;
    for (nexmark::Generator gen(config); gen.HasNext();) d->events.push_back(gen.Next());

    d->log = d->dir.Path("log");
    d->log_shuffled = d->dir.Path("log-shuffled");
    d->log_late = d->dir.Path("log-late");
    std::mt19937 rng(7);
    Disorder shuffled, late;
    for (const std::string& log : {d->log, d->log_shuffled, d->log_late}) {
      fs::create_directories(log);
      for (int p = 0; p < kPartitions; ++p) {
        std::vector<Event> part;
        for (nexmark::Generator gen(config, p, kPartitions); gen.HasNext();) part.push_back(gen.Next());
        if (log == d->log_shuffled) {
          Disorder x = ShuffleWithinSpans(&part, kShuffleSpanMs, rng);
          shuffled.out_of_order += x.out_of_order;
          shuffled.late += x.late;
        }
        if (log == d->log_late) late.late += ShuffleWithinSpans(&part, 2 * kOutOfOrdernessMs, rng).late;
        std::string text;
        for (const Event& e : part) {
          nexmark::AppendJson(e, &text);
          text.push_back('\n');
        }
        WriteStringToFile(absl::StrFormat("%s/events-%d.jsonl", log, p), text);
      }
    }
    EXPECT_GT(shuffled.out_of_order, static_cast<int>(kEvents / 4)) << "the shuffled log should be out of order";
    EXPECT_EQ(shuffled.late, 0) << "the shuffled log should have no late event";
    EXPECT_GT(late.late, static_cast<int>(kEvents / 20)) << "the late log should have many late events";
    return d;
  }();
  return *data;
}

// ---------------------------------------------------------------------------------------
// Running a job.

// Output of one run: the lines of each part file, in file order.
using PartFiles = std::vector<std::vector<std::string>>;

// Runs `job_name` in-process from the registry at `parallelism` over the file log `log`;
// returns the part files it wrote. Fails the test on errors, bad input and, unless
// `allow_late`, on late records reported by windows.
PartFiles RunJob(const std::string& job_name, const std::string& log, int parallelism, bool allow_late) {
  static int run = 0;
  std::string out = Data().dir.Path(absl::StrCat("out-", run++));
  JobRegistry registry;
  examples::RegisterNexmarkJobs(&registry);
  const JobDefinition* def = registry.Find(job_name);
  if (def == nullptr) {
    ADD_FAILURE() << "no job " << job_name;
    return {};
  }
  JobBindings bindings;
  bindings.default_source = "file:" + log;
  bindings.default_sink = "file:" + out + "/";
  auto job = Job::Create(def->name);
  JobContext ctx(job.get(), bindings);
  def->build(ctx);
  if (!job->status().ok()) {
    ADD_FAILURE() << job->status();
    return {};
  }
  ErrorSink errors(nullptr, /*keep_in_memory=*/true);
  ExecutionOptions options;
  options.parallelism = parallelism;
  options.workers = 2;
  options.errors = &errors;
  absl::StatusOr<ExecutionResult> result = job->Execute(options);
  EXPECT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(ctx.Finish().ok());
  EXPECT_EQ(errors.decode_errors(), 0);
  EXPECT_EQ(errors.user_errors(), 0);
  if (!allow_late) {
    EXPECT_EQ(errors.late_records(), 0);
  }
  int shown = 0;
  for (const ErrorEvent& e : errors.events()) {
    if (e.kind == "late" && allow_late) continue;
    if (shown++ < 5) ADD_FAILURE() << e.kind << " " << e.operator_name << ": " << e.error << " " << e.record;
  }

  std::vector<fs::path> files;
  if (fs::exists(out)) {
    for (const auto& entry : fs::directory_iterator(out)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  PartFiles parts;
  for (const fs::path& f : files) {
    std::vector<std::string> lines = absl::StrSplit(ReadFileToString(f.string()), '\n', absl::SkipEmpty());
    parts.push_back(std::move(lines));
  }
  fs::remove_all(out);
  return parts;
}

std::vector<std::string> CanonicalRows(const PartFiles& parts, const Schema& schema) {
  simdjson::dom::parser parser;
  std::vector<std::string> rows;
  for (const auto& lines : parts) {
    for (const std::string& line : lines) rows.push_back(Canonical(parser, line, schema));
  }
  return rows;
}

// q4 output folded as a reader of upserts does: category -> its last row, and how many
// rows (closed auctions that counted) it had.
struct Q4Result {
  std::map<int64_t, std::string> last;
  std::map<int64_t, int64_t> rows;
};
Q4Result FoldQ4(const PartFiles& parts) {
  Q4Result r;
  simdjson::dom::parser parser;
  std::map<int64_t, size_t> file_of;
  for (size_t f = 0; f < parts.size(); ++f) {
    for (const std::string& line : parts[f]) {
      std::string row = Canonical(parser, line, kQ4Schema);
      simdjson::dom::element doc;
      int64_t category = 0;
      if (parser.parse(line).get(doc) || doc["category"].get_int64().get(category)) continue;  // reported above
      // Upserts of one key must stay in order, so all rows of a category are in one file.
      auto [it, fresh] = file_of.emplace(category, f);
      EXPECT_EQ(it->second, f) << "category " << category << " in two part files";
      r.last[category] = row;
      r.rows[category]++;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// The engine against the references, in order and shuffled within the bound.

struct RunConfig {
  int parallelism;
  bool shuffled;
};
void PrintTo(const RunConfig& c, std::ostream* os) {
  *os << "parallelism " << c.parallelism << (c.shuffled ? ", shuffled input" : "");
}

class NexmarkQueriesTest : public ::testing::TestWithParam<RunConfig> {
 protected:
  PartFiles Run(const std::string& job_name) {
    const TestData& d = Data();
    return RunJob(job_name, GetParam().shuffled ? d.log_shuffled : d.log, GetParam().parallelism,
                  /*allow_late=*/false);
  }
  void RunAndCompare(const std::string& job_name, const Schema& schema, const std::vector<std::string>& reference) {
    ASSERT_FALSE(reference.empty());
    ExpectSameRows(CanonicalRows(Run(job_name), schema), reference);
  }
  static const std::vector<Event>& events() { return Data().events; }
};

TEST_P(NexmarkQueriesTest, Q0PassesEveryBidThrough) { RunAndCompare("nexmark-q0", kBidSchema, RefQ0(events())); }

TEST_P(NexmarkQueriesTest, Q1ConvertsEveryPrice) { RunAndCompare("nexmark-q1", kQ1Schema, RefQ1(events())); }

TEST_P(NexmarkQueriesTest, Q2SelectsAuctionsDivisibleBy123) { RunAndCompare("nexmark-q2", kQ2Schema, RefQ2(events())); }

TEST_P(NexmarkQueriesTest, Q3JoinsLocalSellersWithCategory10Auctions) {
  RunAndCompare("nexmark-q3", kQ3Schema, RefQ3(events()));
}

// q4 rows are upserts: the last row per category is the answer, and each category gets
// one row per counted auction.
TEST_P(NexmarkQueriesTest, Q4AveragesHighestBidsPerCategory) {
  std::map<int64_t, std::pair<double, int64_t>> reference = RefQ4(events());
  ASSERT_FALSE(reference.empty());
  Q4Result got = FoldQ4(Run("nexmark-q4"));
  Q4Result want;
  for (const auto& [category, avg_count] : reference) {
    want.last[category] = Row(kQ4Schema, {category, avg_count.first});
    want.rows[category] = avg_count.second;
  }
  EXPECT_EQ(got.last, want.last);
  EXPECT_EQ(got.rows, want.rows);
}

TEST_P(NexmarkQueriesTest, Q5FindsHottestAuctionsPerSlidingWindow) {
  RunAndCompare("nexmark-q5", kQ5Schema, RefQ5(events()));
}

TEST_P(NexmarkQueriesTest, Q7FindsHighestBidsPerWindow) { RunAndCompare("nexmark-q7", kBidSchema, RefQ7(events())); }

TEST_P(NexmarkQueriesTest, Q8FindsPersonsSellingInTheirFirstWindow) {
  RunAndCompare("nexmark-q8", kQ8Schema, RefQ8(events()));
}

TEST_P(NexmarkQueriesTest, Q11CountsBidsPerSession) { RunAndCompare("nexmark-q11", kQ11Schema, RefQ11(events())); }

INSTANTIATE_TEST_SUITE_P(Parallelism, NexmarkQueriesTest,
                         ::testing::Values(RunConfig{1, false}, RunConfig{2, false}, RunConfig{4, false},
                                           RunConfig{4, true}),
                         [](const ::testing::TestParamInfo<RunConfig>& info) {
                           return absl::StrCat("p", info.param.parallelism, info.param.shuffled ? "_shuffled" : "");
                         });

// The comparisons above only mean something if every query has plenty of output.
TEST(NexmarkReferenceTest, EveryQueryHasSubstantialOutput) {
  const std::vector<Event>& ev = Data().events;
  EXPECT_GT(RefQ0(ev).size(), 80'000u);
  EXPECT_GT(RefQ1(ev).size(), 80'000u);
  EXPECT_GT(RefQ2(ev).size(), 100u);
  EXPECT_GT(RefQ3(ev).size(), 200u);
  std::map<int64_t, std::pair<double, int64_t>> q4 = RefQ4(ev);
  EXPECT_EQ(q4.size(), 5u);
  for (const auto& [category, avg_count] : q4) EXPECT_GT(avg_count.second, 200) << "category " << category;
  EXPECT_GT(RefQ5(ev).size(), 100u);
  EXPECT_GE(RefQ7(ev).size(), 20u);
  EXPECT_GT(RefQ8(ev).size(), 100u);
  EXPECT_GT(RefQ11(ev).size(), 1000u);
}

// ---------------------------------------------------------------------------------------
// Late input: what is dropped may differ from the reference, but never with parallelism
// or the interleaving of partitions (DESIGN §3: lateness is judged per partition).

struct QuerySpec {
  std::string job;
  const Schema* schema;  // null for q4 (upserts)
};
void PrintTo(const QuerySpec& q, std::ostream* os) { *os << q.job; }

class NexmarkLateInputTest : public ::testing::TestWithParam<QuerySpec> {};

TEST_P(NexmarkLateInputTest, OutputIsTheSameAtAnyParallelism) {
  const QuerySpec& q = GetParam();
  auto summarize = [&](int parallelism) {
    PartFiles parts = RunJob(q.job, Data().log_late, parallelism, /*allow_late=*/true);
    std::vector<std::string> rows;
    if (q.schema == nullptr) {
      Q4Result r = FoldQ4(parts);
      for (const auto& [category, row] : r.last) rows.push_back(absl::StrCat(row, "|rows=", r.rows[category]));
    } else {
      rows = CanonicalRows(parts, *q.schema);
    }
    return rows;
  };
  std::vector<std::string> at1 = summarize(1);
  ASSERT_FALSE(at1.empty());
  for (int p : {2, 4}) {
    SCOPED_TRACE(absl::StrCat("parallelism ", p, " against 1"));
    ExpectSameRows(summarize(p), at1, "parallelism 1");
  }
}

INSTANTIATE_TEST_SUITE_P(Queries, NexmarkLateInputTest,
                         ::testing::Values(QuerySpec{"nexmark-q2", &kQ2Schema}, QuerySpec{"nexmark-q3", &kQ3Schema},
                                           QuerySpec{"nexmark-q4", nullptr}, QuerySpec{"nexmark-q5", &kQ5Schema},
                                           QuerySpec{"nexmark-q7", &kBidSchema}, QuerySpec{"nexmark-q8", &kQ8Schema},
                                           QuerySpec{"nexmark-q11", &kQ11Schema}),
                         [](const ::testing::TestParamInfo<QuerySpec>& info) { return info.param.job.substr(8); });

}  // namespace
}  // namespace kappa
