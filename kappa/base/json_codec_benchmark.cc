// Decoding JSON lines into a record type with JsonCodec<T> (KAPPA_JSON), beside a
// baseline measured in the same run: simdjson On-Demand, by hand, reading the same fields
// of the same lines into the same struct (what a hand-written decoder does; the floor).
//
//   ./json_codec_benchmark --benchmark_counters_tabular=true
//
// The record is a Nexmark-like bid with seven fields of every common kind (integers, a
// double, strings, an optional); fields appear in another order than declared, as they
// do in real input, so both variants look them up out of order.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "kappa/base/json_codec.h"
#include "simdjson.h"

namespace kappa {
namespace {

struct Bid {
  int64_t auction = 0;
  int64_t bidder = 0;
  double price = 0;
  std::string channel;
  std::string url;
  int64_t date_time = 0;
  std::optional<std::string> extra;
};

}  // namespace
}  // namespace kappa

KAPPA_JSON(kappa::Bid, auction, bidder, price, channel, url, date_time, extra);

namespace kappa {
namespace {

constexpr int kLines = 4096;

// kLines JSON lines, each in its own buffer with simdjson's padding after it (as
// LineReader hands lines to sources).
struct Lines {
  std::vector<std::string> buffers;
  std::vector<size_t> sizes;
  int64_t bytes = 0;

  static const Lines& Get() {
    static const Lines* lines = new Lines();
    return *lines;
  }

 private:
  Lines() {
    std::mt19937_64 rng(7);
    static const char* kChannels[] = {"Google", "Facebook", "Baidu", "Apple"};
    for (int i = 0; i < kLines; ++i) {
      std::string line = absl::StrCat(
          "{\"date_time\":", 1700000000000 + i, ",\"auction\":", rng() % 100000, ",\"price\":", rng() % 1000000,
          ".25,\"bidder\":", rng() % 100000, ",\"channel\":\"", kChannels[rng() % 4],
          "\",\"url\":\"https://www.nexmark.com/item.htm?query=1&channel_id=", rng() % 10000, "\"");
      if (rng() % 2) absl::StrAppend(&line, ",\"extra\":\"", std::string(8 + rng() % 16, 'x'), "\"");
      line.push_back('}');
      bytes += static_cast<int64_t>(line.size()) + 1;
      sizes.push_back(line.size());
      line.resize(line.size() + simdjson::SIMDJSON_PADDING);
      buffers.push_back(std::move(line));
    }
  }
};

void BM_DecodeKappaJson(benchmark::State& state) {
  const Lines& lines = Lines::Get();
  JsonCodec<Bid> codec;
  Bid bid;
  int64_t sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kLines; ++i) {
      absl::Status s = codec.Decode(std::string_view(lines.buffers[i].data(), lines.sizes[i]),
                                    lines.buffers[i].size(), &bid);
      if (!s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      sum += bid.auction + static_cast<int64_t>(bid.url.size());
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kLines);
  state.SetBytesProcessed(state.iterations() * lines.bytes);
}
BENCHMARK(BM_DecodeKappaJson);

// Baseline: the same fields by hand with simdjson On-Demand, no error messages.
void BM_DecodeRawSimdjson(benchmark::State& state) {
  const Lines& lines = Lines::Get();
  simdjson::ondemand::parser parser;
  Bid bid;
  int64_t sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < kLines; ++i) {
      simdjson::ondemand::document doc;
      simdjson::ondemand::object obj;
      bool ok = !parser.iterate(lines.buffers[i].data(), lines.sizes[i], lines.buffers[i].size()).get(doc) &&
                !doc.get_object().get(obj);
      std::string_view s;
      ok = ok && !obj.find_field_unordered("auction").get_int64().get(bid.auction);
      ok = ok && !obj.find_field_unordered("bidder").get_int64().get(bid.bidder);
      ok = ok && !obj.find_field_unordered("price").get_double().get(bid.price);
      ok = ok && !obj.find_field_unordered("channel").get_string().get(s);
      if (ok) bid.channel.assign(s);
      ok = ok && !obj.find_field_unordered("url").get_string().get(s);
      if (ok) bid.url.assign(s);
      ok = ok && !obj.find_field_unordered("date_time").get_int64().get(bid.date_time);
      simdjson::ondemand::value extra;
      if (ok && !obj.find_field_unordered("extra").get(extra)) {
        bool is_null = false;
        if (!extra.is_null().get(is_null) && is_null) {
          bid.extra.reset();
        } else if (!extra.get_string().get(s)) {
          bid.extra.emplace(s);
        } else {
          ok = false;
        }
      } else {
        bid.extra.reset();
      }
      ok = ok && !obj.raw_json().error() && doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
      if (!ok) {
        state.SkipWithError("baseline failed to decode a line");
        return;
      }
      sum += bid.auction + static_cast<int64_t>(bid.url.size());
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kLines);
  state.SetBytesProcessed(state.iterations() * lines.bytes);
}
BENCHMARK(BM_DecodeRawSimdjson);

}  // namespace
}  // namespace kappa
