// Micro-benchmarks for the Nexmark generator and JSON codec, each beside a baseline
// measured in the same run:
//   NextInto      vs  filling a Bid with SplitMix numbers and fixed strings
//   AppendJson    vs  copying the already-encoded line
//   DecodeInto    vs  simdjson On-Demand touching every field without converting it
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark/internal/random.h"
#include "kappa/connectors/nexmark/json.h"
#include "simdjson.h"

namespace kappa::nexmark {
namespace {

constexpr size_t kSample = 4096;  // events cycled through by the codec benchmarks

std::vector<Event> SampleEvents() {
  GeneratorConfig config;
  config.seed = 1;
  config.events = kSample;
  Generator gen(config);
  std::vector<Event> events;
  while (gen.HasNext()) events.push_back(gen.Next());
  return events;
}

// Lines each stored with kJsonPadding spare bytes, so the decoder can parse in place.
struct PaddedLines {
  std::vector<std::string> lines;
  size_t bytes = 0;
  PaddedLines() {
    for (const Event& e : SampleEvents()) {
      std::string line = ToJson(e);
      bytes += line.size();
      line.reserve(line.size() + kJsonPadding);
      lines.push_back(std::move(line));
    }
  }
};

void BM_GeneratorNextInto(benchmark::State& state) {
  GeneratorConfig config;
  config.seed = 1;
  Generator gen(config);
  Event e;
  int64_t bids = 0;
  for (auto _ : state) {
    gen.NextInto(&e);
    bids += e.is_bid();
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bids/s"] =
      benchmark::Counter(static_cast<double>(bids), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GeneratorNextInto);

void BM_GeneratorEventAt(benchmark::State& state) {
  GeneratorConfig config;
  config.seed = 1;
  int64_t n = 0;
  for (auto _ : state) benchmark::DoNotOptimize(Generator::EventAt(config, n++));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GeneratorEventAt);

// Baseline: the least work that yields a bid-shaped record.
void BM_BaselineFillBid(benchmark::State& state) {
  const std::string channel = "Google";
  const std::string url = "https://www.nexmark.com/abc/def/ghi/item.htm?query=1";
  const std::string letters(1024, 'q');
  Bid bid;
  int64_t n = 0;
  for (auto _ : state) {
    internal::EventRandom rng(1, n++);
    bid.auction = static_cast<int64_t>(rng.Below(1000));
    bid.bidder = static_cast<int64_t>(rng.Below(1000));
    bid.price = static_cast<int64_t>(rng.Below(100'000'000));
    bid.channel = channel;
    bid.url = url;
    bid.date_time = n;
    bid.extra.assign(letters.data() + rng.Below(512), 54 + rng.Below(28));
    benchmark::DoNotOptimize(bid);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineFillBid);

void BM_AppendJson(benchmark::State& state) {
  const std::vector<Event> events = SampleEvents();
  std::string out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    out.clear();
    AppendJson(events[i++ % kSample], &out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_AppendJson);

// Baseline: copy the already-encoded line into the output buffer.
void BM_BaselineCopyEncodedLine(benchmark::State& state) {
  const PaddedLines lines;
  std::string out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines.lines[i++ % kSample];
    out.clear();
    out.append(line);
    bytes += line.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_BaselineCopyEncodedLine);

// Arg 1: lines padded (parsed in place); arg 0: unpadded (copied first).
void BM_DecodeInto(benchmark::State& state) {
  const PaddedLines lines;
  const bool padded = state.range(0) != 0;
  EventDecoder decoder;
  Event e;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines.lines[i++ % kSample];
    absl::Status status = decoder.DecodeInto(line, padded ? line.capacity() : 0, &e);
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    bytes += line.size();
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_DecodeInto)->Arg(1)->Arg(0);

// Baseline: simdjson On-Demand visiting every field of the same lines, reading each
// value's raw token but converting nothing.
void BM_BaselineSimdjsonVisitFields(benchmark::State& state) {
  const PaddedLines lines;
  simdjson::ondemand::parser parser;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& line = lines.lines[i++ % kSample];
    simdjson::ondemand::document doc;
    if (parser.iterate(line.data(), line.size(), line.capacity()).get(doc)) {
      state.SkipWithError("parse");
      break;
    }
    size_t sum = 0;
    for (auto field : doc.get_object()) {
      std::string_view token;
      if (field.value().raw_json_token().get(token)) break;
      sum += token.size();
    }
    bytes += line.size();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_BaselineSimdjsonVisitFields);

}  // namespace
}  // namespace kappa::nexmark
