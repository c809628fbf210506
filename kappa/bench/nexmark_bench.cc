#include "kappa/bench/nexmark_bench.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kappa/app/job_json.h"
#include "kappa/app/prometheus_text.h"
#include "kappa/bench/bench_util.h"
#include "kappa/bench/nexmark_baseline.h"
#include "kappa/bench/nexmark_queries.h"
#include "kappa/connectors/discard_sink.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark_source.h"
#include "kappa/api/job.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/monitor.h"
#include "kappa/runtime/progress.h"

#ifndef KAPPA_BUILD_TYPE
#define KAPPA_BUILD_TYPE "unknown"
#endif

namespace kappa::bench {
namespace {

using Seconds = std::chrono::duration<double>;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Timestamp WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Where the loops' checksums go, so that no optimiser can prove their work unused.
volatile uint64_t g_checksum = 0;

// Events done by the hand-written loops, for the progress line (updated every 64K events).
std::atomic<int64_t> g_loop_events{0};

// The generator's query string for `options` (partitions added by callers). Latency runs
// are paced from `base_time`, a wall-clock time in ms.
std::string GeneratorQuery(const NexmarkBenchOptions& o, bool latency, Timestamp base_time = 0) {
  std::string q = absl::StrCat("events=", o.events, "&seed=", o.seed);
  if (latency) {
    absl::StrAppend(&q, "&rate=", absl::StrFormat("%.17g", o.rate), "&pace=true&base_time=", base_time);
  } else if (o.event_rate > 0) {
    absl::StrAppend(&q, "&rate=", absl::StrFormat("%.17g", o.event_rate));
  }
  return q;
}

struct EngineRun {
  double wall_s = 0;
  double cpu_s = 0;
  int64_t rows = 0;
  int64_t ahead = 0;
  int64_t late = 0;
  int64_t scrapes = 0;
  double scrape_cpu_s = 0;  // CPU time the scrapes took
  Histogram latency_us;
};

// What `--http` costs a run besides the figures the tasks always publish: every second, a
// snapshot of the monitor rendered as the /metrics page and as /api/job (with rates
// against the previous one), as a Prometheus server and an open dashboard would ask; and
// once more at the end.
class Scraper {
 public:
  explicit Scraper(const runtime::JobMonitor* monitor) : monitor_(monitor) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Scraper() { Stop(); }
  // Stops scraping (after a last scrape of the final figures).
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  int64_t scrapes() const { return scrapes_; }
  double cpu_s() const { return cpu_s_; }

 private:
  void Loop() {
    runtime::JobSnapshot previous;
    bool has_previous = false;
    std::unique_lock<std::mutex> lock(mu_);
    // Every second while the run goes on, and once more when it ended (the final figures).
    for (bool last = false; !last;) {
      last = cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
      const double cpu0 = ThreadCpuSeconds();
      runtime::JobSnapshot now = monitor_->Snapshot();
      size_t bytes = app::PrometheusText(now).size() + app::JobJson(now, has_previous ? &previous : nullptr).size();
      g_checksum = g_checksum + bytes;
      previous = std::move(now);
      has_previous = true;
      ++scrapes_;
      cpu_s_ += ThreadCpuSeconds() - cpu0;
    }
  }

  const runtime::JobMonitor* monitor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t scrapes_ = 0;
  double cpu_s_ = 0;
  std::thread thread_;
};

absl::StatusOr<EngineRun> RunEngine(const JobRegistry& registry, const std::string& query,
                                    const NexmarkBenchOptions& o, bool latency, Timestamp base_time = 0,
                                    bool metrics = false) {
  const std::string job_name = absl::StrCat("nexmark-", query);
  const JobDefinition* def = FindNexmarkJob(registry, job_name);
  if (def == nullptr) return absl::NotFoundError(absl::StrCat("no job ", job_name));
  JobBindings bindings;
  bindings.default_source =
      absl::StrCat("gen:nexmark?", GeneratorQuery(o, latency, base_time), "&partitions=", o.parallelism);
  bindings.default_sink = latency ? "discard:?latency=true" : "discard:";
  if (o.out_of_orderness_ms >= 0) bindings.out_of_orderness_ms = o.out_of_orderness_ms;

  auto job = Job::Create(def->name);
  JobContext ctx(job.get(), bindings);
  def->build(ctx);
  KAPPA_RETURN_IF_ERROR(job->status());
  KAPPA_RETURN_IF_ERROR(ctx.CheckBindings());

  ErrorSink errors(nullptr);  // count only
  ExecutionOptions options;
  options.parallelism = o.parallelism;
  options.workers = o.workers;
  options.errors = &errors;
  options.state_backend = o.state == "rocksdb" ? StateBackendKind::kRocksDb : StateBackendKind::kHeap;

  // This run's own source positions: the progress line and the event count read them.
  runtime::SourceProgress board;
  options.progress = &board;
  auto events_read = [&board] {
    int64_t n = 0;
    for (const runtime::SourceProgress::View& v : board.Read()) n += v.records;
    return n;
  };
  runtime::JobMonitor monitor;
  if (metrics) options.monitor = &monitor;
  EngineRun run;
  {
    Progress progress(o.progress, absl::StrCat(query, metrics ? " engine (metrics)" : " engine"), o.events,
                      events_read);
    const double cpu0 = ProcessCpuSeconds();
    const auto wall0 = std::chrono::steady_clock::now();
    std::optional<Scraper> scraper;
    if (metrics) scraper.emplace(&monitor);
    absl::StatusOr<ExecutionResult> result = job->Execute(options);
    if (scraper) {
      scraper->Stop();
      run.scrapes = scraper->scrapes();
      run.scrape_cpu_s = scraper->cpu_s();
    }
    run.wall_s = Seconds(std::chrono::steady_clock::now() - wall0).count();
    run.cpu_s = ProcessCpuSeconds() - cpu0;
    if (!result.ok()) {
      return absl::Status(result.status().code(), absl::StrCat(job_name, " failed: ", result.status().message()));
    }
  }
  KAPPA_RETURN_IF_ERROR(ctx.Finish());
  for (const JobContext::BoundSink& sink : ctx.sinks()) {
    std::shared_ptr<const connectors::DiscardStats> stats = connectors::DiscardStatsOf(sink.connector.get());
    if (stats == nullptr) continue;
    run.rows += stats->rows();
    run.ahead += stats->ahead();
    run.latency_us.Merge(stats->latency_us());
  }
  run.late = errors.late_records();
  const int64_t generated = events_read();
  if (generated != o.events) {
    return absl::InternalError(absl::StrCat(job_name, " read ", generated, " events, not ", o.events));
  }
  return run;
}

struct LoopRun {
  double wall_s = 0;
  double cpu_s = 0;
  int64_t rows = 0;
  int64_t ahead = 0;
  uint64_t checksum = 0;
};

// The hand-written loop: one generator, one query, one thread. With `pace`, waits until
// each event's dateTime + shift_ms like the paced source does (and measures latency from
// the row's timestamp + shift_ms). `query` empty: generation only.
LoopRun RunLoop(const std::string& query, const nexmark::GeneratorConfig& config, bool pace, Histogram* latency_us,
                bool show_progress, Timestamp shift_ms = 0) {
  std::unique_ptr<BaselineQuery> q = query.empty() ? nullptr : MakeBaselineQuery(query);
  RowSink out(latency_us, shift_ms);
  nexmark::Generator gen(config);
  nexmark::Event e;
  g_loop_events.store(0, std::memory_order_relaxed);
  Progress progress(show_progress, query.empty() ? "generator alone" : absl::StrCat(query, " baseline"),
                    config.events, [] { return g_loop_events.load(std::memory_order_relaxed); });
  uint64_t touched = 0;
  int64_t n = 0;
  Timestamp now = pace ? WallMillis() : 0;
  const double cpu0 = ThreadCpuSeconds();
  const auto wall0 = std::chrono::steady_clock::now();
  while (gen.HasNext()) {
    if (pace) {
      const Timestamp due = nexmark::EventTimestamp(config, gen.next_event_number()) + shift_ms;
      if (due > now) {
        now = WallMillis();
        if (due > now) {
          std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::milliseconds(due)));
          now = WallMillis();
        }
      }
    }
    gen.NextInto(&e);
    if (q) {
      q->OnEvent(e, out);
    } else {
      touched += static_cast<uint64_t>(e.date_time());
    }
    if ((++n & 0xffff) == 0) g_loop_events.store(n, std::memory_order_relaxed);
  }
  if (q) q->Finish(out);
  LoopRun run;
  run.cpu_s = ThreadCpuSeconds() - cpu0;
  run.wall_s = Seconds(std::chrono::steady_clock::now() - wall0).count();
  run.rows = out.rows();
  run.ahead = out.ahead();
  run.checksum = out.checksum() ^ touched;
  g_checksum = run.checksum;
  return run;
}

nexmark::GeneratorConfig BaselineConfig(const NexmarkBenchOptions& o, bool latency, Timestamp base_time = 0) {
  // The very query string the engine's source parses, so both see the same events.
  absl::StatusOr<nexmark::GeneratorConfig> config =
      nexmark::GeneratorConfig::FromQuery(GeneratorQuery(o, latency, base_time), nullptr);
  return config.ok() ? *config : nexmark::GeneratorConfig{};
}

double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// The engine's worker threads: as given, or one per core (what Execute() does with 0).
int EffectiveWorkers(const NexmarkBenchOptions& o) {
  return o.workers > 0 ? o.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string Workers(const NexmarkBenchOptions& o) {
  return absl::StrCat(EffectiveWorkers(o), o.workers > 0 ? " workers" : " workers (one per core)");
}

std::string ThroughputJson(const ThroughputResult& r, const NexmarkBenchOptions& o) {
  return absl::StrFormat(
      "{\"mode\":\"throughput\",\"query\":\"%s\",\"events\":%d,\"parallelism\":%d,\"workers\":%d,"
      "\"state\":\"%s\",\"repetitions\":%d,\"engine_wall_s\":%.6f,\"engine_cpu_s\":%.6f,\"engine_events_per_s\":%.1f,"
      "\"engine_events_per_s_per_core\":%.1f,\"engine_rows\":%d,\"engine_late\":%d,\"baseline_cpu_s\":%.6f,"
      "\"baseline_events_per_s_per_core\":%.1f,\"baseline_rows\":%d,\"generator_cpu_s\":%.6f,"
      "\"generator_events_per_s_per_core\":%.1f,\"ratio\":%.4f,\"rows_checked\":%s,\"rows_match\":%s,"
      "\"metrics\":\"%s\",\"engine_wall_median_s\":%.6f,\"engine_cpu_median_s\":%.6f%s,\"machine\":\"%s\"}",
      r.query, r.events, o.parallelism, EffectiveWorkers(o), o.state, o.repetitions, r.engine_wall_s, r.engine_cpu_s,
      r.engine_events_per_s(),
      r.engine_events_per_core_s(), r.engine_rows, r.engine_late, r.baseline_cpu_s, r.baseline_events_per_core_s(),
      r.baseline_rows, r.generator_cpu_s, r.generator_events_per_core_s(), r.ratio(),
      r.rows_checked ? "true" : "false", r.rows_match() ? "true" : "false", o.metrics, r.engine_wall_median_s,
      r.engine_cpu_median_s,
      r.metrics_compared
          ? absl::StrFormat(",\"metrics_wall_median_s\":%.6f,\"metrics_cpu_median_s\":%.6f,"
                            "\"metrics_wall_cost\":%.4f,\"metrics_cpu_cost\":%.4f,\"scrapes\":%d,"
                            "\"scrape_cpu_s\":%.6f",
                            r.metrics_wall_median_s, r.metrics_cpu_median_s, r.metrics_wall_cost(),
                            r.metrics_cpu_cost(), r.scrapes, r.scrape_cpu_s)
          : std::string(),
      JsonEscape(MachineLine()));
}

std::string LatencyJson(const LatencyResult& r, const NexmarkBenchOptions& o) {
  const Histogram& e = r.engine_latency_us;
  const Histogram& b = r.baseline_latency_us;
  return absl::StrFormat(
      "{\"mode\":\"latency\",\"query\":\"%s\",\"events\":%d,\"rate\":%.1f,\"parallelism\":%d,\"workers\":%d,"
      "\"state\":\"%s\",\"engine_wall_s\":%.6f,\"engine_rows\":%d,\"count\":%d,\"ahead\":%d,\"p50_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"baseline_rows\":%d,\"baseline_count\":%d,"
      "\"baseline_ahead\":%d,\"baseline_p50_ms\":%.3f,\"baseline_p99_ms\":%.3f,\"baseline_p999_ms\":%.3f,"
      "\"baseline_max_ms\":%.3f,\"machine\":\"%s\"}",
      r.query, r.events, r.rate, o.parallelism, EffectiveWorkers(o), o.state, r.engine_wall_s, r.engine_rows, e.count(),
      r.engine_ahead, Ms(e.Percentile(50)), Ms(e.Percentile(99)), Ms(e.Percentile(99.9)), Ms(e.max()),
      r.baseline_rows, b.count(), r.baseline_ahead, Ms(b.Percentile(50)), Ms(b.Percentile(99)),
      Ms(b.Percentile(99.9)), Ms(b.max()), JsonEscape(MachineLine()));
}

std::string Percentiles(const Histogram& h) {
  if (h.empty()) return "-";
  return absl::StrFormat("%.2f / %.2f / %.2f / %.2f", Ms(h.Percentile(50)), Ms(h.Percentile(99)),
                         Ms(h.Percentile(99.9)), Ms(h.max()));
}

}  // namespace

const std::vector<std::string>& NexmarkBenchQueries() { return BaselineQueryNames(); }

double MeasureGeneratorCpuSeconds(const NexmarkBenchOptions& options) {
  const nexmark::GeneratorConfig config = BaselineConfig(options, /*latency=*/false);
  // The generator's lookup tables are built on first use; keep that out of the figure.
  for (int64_t e = 0; e < nexmark::kProportionDenominator; ++e) nexmark::Generator::EventAt(config, e);
  double best = 0;
  for (int i = 0; i < std::max(1, options.repetitions); ++i) {
    const double s = RunLoop("", config, /*pace=*/false, nullptr, options.progress).cpu_s;
    if (i == 0 || s < best) best = s;
  }
  return best;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

absl::StatusOr<ThroughputResult> RunThroughput(const JobRegistry& registry, const std::string& query,
                                               const NexmarkBenchOptions& options, double generator_cpu_s) {
  ThroughputResult r;
  r.query = query;
  r.events = options.events;
  r.generator_cpu_s = generator_cpu_s;
  r.rows_checked = query != "q4";
  r.metrics_compared = options.metrics == "both";
  const int repetitions = std::max(1, options.repetitions);
  std::vector<double> wall, cpu, metrics_wall, metrics_cpu;
  bool first = true;
  auto check_rows = [&](const EngineRun& engine) -> absl::Status {
    if (!first && engine.rows != r.engine_rows) {
      return absl::InternalError(absl::StrCat("nexmark-", query, " produced ", r.engine_rows, " rows, then ",
                                              engine.rows, " on the same events"));
    }
    first = false;
    r.engine_rows = engine.rows;
    r.engine_late = engine.late;
    return absl::OkStatus();
  };
  // With --metrics both, each repetition runs once without and once with metrics, in
  // turns first and second, so that a slow spell of the machine or a warm-up weighs on
  // both alike.
  for (int i = 0; i < repetitions; ++i) {
    for (int turn = 0; turn < (r.metrics_compared ? 2 : 1); ++turn) {
      const bool metrics = r.metrics_compared ? (turn == i % 2) : options.metrics == "on";
      KAPPA_ASSIGN_OR_RETURN(EngineRun engine,
                             RunEngine(registry, query, options, /*latency=*/false, 0, metrics));
      KAPPA_RETURN_IF_ERROR(check_rows(engine));
      r.scrapes += engine.scrapes;
      r.scrape_cpu_s += engine.scrape_cpu_s;
      if (r.metrics_compared && metrics) {
        metrics_wall.push_back(engine.wall_s);
        metrics_cpu.push_back(engine.cpu_s);
        continue;
      }
      if (wall.empty() || engine.wall_s < r.engine_wall_s) r.engine_wall_s = engine.wall_s;
      if (cpu.empty() || engine.cpu_s < r.engine_cpu_s) r.engine_cpu_s = engine.cpu_s;
      wall.push_back(engine.wall_s);
      cpu.push_back(engine.cpu_s);
    }
  }
  r.engine_wall_median_s = Median(wall);
  r.engine_cpu_median_s = Median(cpu);
  r.metrics_wall_median_s = Median(metrics_wall);
  r.metrics_cpu_median_s = Median(metrics_cpu);
  for (int i = 0; i < repetitions; ++i) {
    LoopRun baseline = RunLoop(query, BaselineConfig(options, false), false, nullptr, options.progress);
    if (i == 0 || baseline.cpu_s < r.baseline_cpu_s) r.baseline_cpu_s = baseline.cpu_s;
    r.baseline_rows = baseline.rows;
  }
  return r;
}

absl::StatusOr<LatencyResult> RunLatency(const JobRegistry& registry, const std::string& query,
                                         const NexmarkBenchOptions& options) {
  LatencyResult r;
  r.query = query;
  r.events = options.events;
  r.rate = options.rate;
  // Event time starts when the engine's run starts. The loop then runs the very same
  // events (same dateTimes, so the same windows and rows), paced and measured shifted by
  // the time between the two starts.
  const Timestamp engine_base = WallMillis();
  KAPPA_ASSIGN_OR_RETURN(EngineRun engine, RunEngine(registry, query, options, /*latency=*/true, engine_base));
  r.engine_wall_s = engine.wall_s;
  r.engine_rows = engine.rows;
  r.engine_ahead = engine.ahead;
  r.engine_latency_us = std::move(engine.latency_us);
  LoopRun baseline = RunLoop(query, BaselineConfig(options, true, engine_base), /*pace=*/true,
                             &r.baseline_latency_us, options.progress, /*shift_ms=*/WallMillis() - engine_base);
  r.baseline_wall_s = baseline.wall_s;
  r.baseline_rows = baseline.rows;
  r.baseline_ahead = baseline.ahead;
  return r;
}

int RunNexmarkBench(const JobRegistry& registry, const NexmarkBenchOptions& options_in, std::ostream& out,
                    std::ostream& err) {
  NexmarkBenchOptions o = options_in;
  auto fail = [&](const std::string& msg) {
    err << "kappa: " << msg << "\n";
    return 2;
  };
  const std::vector<std::string>& known = NexmarkBenchQueries();
  std::vector<std::string> queries;
  if (o.query == "all") {
    queries = known;
  } else if (std::find(known.begin(), known.end(), o.query) != known.end()) {
    queries = {o.query};
  } else {
    return fail(absl::StrCat("unknown query '", o.query, "'; queries are ", absl::StrJoin(known, ", "), ", all"));
  }
  if (o.parallelism < 1 || o.parallelism > 128) return fail("--parallelism must be between 1 and 128");
  if (o.workers < 0) return fail("--workers must be at least 1 (or 0: one per core)");
  if (o.state != "heap" && o.state != "rocksdb") return fail("--state must be heap or rocksdb");
  const bool latency = o.rate > 0;
  if (o.rate < 0 || !std::isfinite(o.rate)) return fail("--rate must be a positive number of events per second");
  if (latency) {
    if (o.events <= 0 && o.duration_s > 0) o.events = static_cast<int64_t>(std::llround(o.rate * o.duration_s));
    if (o.events <= 0) return fail("latency mode needs --events N or --duration S (with --rate R)");
  } else {
    if (o.duration_s > 0) return fail("--duration needs --rate (latency mode)");
    if (o.events <= 0) return fail("--events N is required (a positive number of events)");
  }
  if (o.repetitions < 1) return fail("--repetitions must be at least 1");
  if (o.metrics != "off" && o.metrics != "on" && o.metrics != "both") {
    return fail(absl::StrCat("--metrics '", o.metrics, "': use off, on or both"));
  }
  if (latency && o.metrics != "off") return fail("--metrics is for throughput runs (not with --rate)");
  if (o.event_rate < 0 || (latency && o.event_rate > 0)) {
    return fail("--event-rate is for throughput runs (latency runs space events by --rate)");
  }

  const char* state = o.state.c_str();
  const std::string ooo = o.out_of_orderness_ms >= 0 ? absl::StrCat(o.out_of_orderness_ms, " ms")
                                                     : std::string("4000 ms (job default)");
  int exit_code = 0;
  if (!latency) {
    if (!o.json) {
      out << absl::StrFormat(
          "kappa bench nexmark: %d events, parallelism %d, %s, %s state, out-of-orderness %s, event rate %s/s%s%s\n",
          o.events, o.parallelism, Workers(o), state, ooo,
          o.event_rate > 0 ? Human(o.event_rate) : Human(nexmark::GeneratorConfig{}.rate),
          o.repetitions > 1 ? absl::StrFormat(", best of %d runs each", o.repetitions) : "",
          o.metrics == "off" ? "" : o.metrics == "on" ? ", metrics on (scraped every second)"
                                                      : ", metrics off and on (scraped every second)");
      out << absl::StrFormat("%-5s %10s %12s %17s %19s %6s %10s  %s\n", "query", "events", "engine ev/s",
                             "engine ev/s/core", "baseline ev/s/core", "ratio", "gen share", "rows engine/baseline");
      out.flush();
    }
    const double generator_cpu_s = MeasureGeneratorCpuSeconds(o);
    for (const std::string& q : queries) {
      absl::StatusOr<ThroughputResult> r = RunThroughput(registry, q, o, generator_cpu_s);
      if (!r.ok()) {
        err << "kappa: " << r.status().message() << "\n";
        exit_code = 1;
        continue;
      }
      if (r->rows_checked && !r->rows_match()) exit_code = 1;
      if (o.json) {
        out << ThroughputJson(*r, o) << "\n";
      } else {
        // Share of each side's CPU per event that generating the event costs.
        const std::string gen_share = absl::StrFormat(
            "%.0f%%/%.0f%%", 100 * std::min(1.0, r->generator_cpu_s / r->engine_cpu_s),
            100 * std::min(1.0, r->generator_cpu_s / std::max(r->baseline_cpu_s, 1e-9)));
        std::string rows = absl::StrCat(r->engine_rows, "/", r->baseline_rows);
        if (!r->rows_checked) {
          absl::StrAppend(&rows, " (upserts, not compared)");
        } else if (!r->rows_match()) {
          absl::StrAppend(&rows, " MISMATCH");
        }
        if (r->engine_late > 0) absl::StrAppend(&rows, " (", r->engine_late, " late)");
        out << absl::StrFormat("%-5s %10d %12s %17s %19s %6.2f %10s  %s\n", q, r->events,
                               Human(r->engine_events_per_s()), Human(r->engine_events_per_core_s()),
                               Human(r->baseline_events_per_core_s()), r->ratio(), gen_share, rows);
        if (r->metrics_compared) {
          out << absl::StrFormat(
              "      metrics: median of %d runs off / on: %.3f / %.3f s wall (%+.1f%%), %.3f / %.3f s CPU (%+.1f%%); "
              "%d scrapes took %.2f ms CPU in all\n",
              std::max(1, o.repetitions), r->engine_wall_median_s, r->metrics_wall_median_s,
              100 * r->metrics_wall_cost(), r->engine_cpu_median_s, r->metrics_cpu_median_s,
              100 * r->metrics_cpu_cost(), r->scrapes, 1000 * r->scrape_cpu_s);
        }
      }
      out.flush();
    }
    if (!o.json) {
      out << absl::StrFormat(
          "generator alone: %s events/s per core. ev/s/core = events / CPU seconds of all threads; ratio = engine / "
          "baseline per core; gen share = generation's part of the engine's / baseline's CPU\n",
          Human(ThroughputResult::Rate(o.events, generator_cpu_s)));
      out << MachineLine() << "\n";
    }
  } else {
    if (!o.json) {
      out << absl::StrFormat(
          "kappa bench nexmark latency: paced at %s events/s, %d events, parallelism %d, %s, %s state, "
          "out-of-orderness %s\n"
          "latency = sink emit time - row timestamp (windowed rows: window end - 1), in ms\n",
          Human(o.rate), o.events, o.parallelism, Workers(o), state, ooo);
      out << absl::StrFormat("%-5s %9s %9s  %-34s %-34s\n", "query", "rows", "baseline", "engine p50/p99/p99.9/max",
                             "baseline p50/p99/p99.9/max");
      out.flush();
    }
    for (const std::string& q : queries) {
      absl::StatusOr<LatencyResult> r = RunLatency(registry, q, o);
      if (!r.ok()) {
        err << "kappa: " << r.status().message() << "\n";
        exit_code = 1;
        continue;
      }
      if (q != "q4" && r->engine_rows != r->baseline_rows) exit_code = 1;
      if (o.json) {
        out << LatencyJson(*r, o) << "\n";
      } else {
        std::string note;
        if (r->engine_ahead + r->baseline_ahead > 0) {
          note = absl::StrFormat("  (%d/%d rows emitted ahead of their timestamp at end of input, not counted)",
                                 r->engine_ahead, r->baseline_ahead);
        }
        if (r->engine_wall_s > 0 && static_cast<double>(r->events) / r->engine_wall_s < 0.9 * o.rate) {
          absl::StrAppend(&note, absl::StrFormat("  (engine kept up with only %s events/s)",
                                                 Human(static_cast<double>(r->events) / r->engine_wall_s)));
        }
        if (q != "q4" && r->engine_rows != r->baseline_rows) note = absl::StrCat("  MISMATCH", note);
        out << absl::StrFormat("%-5s %9d %9d  %-34s %-34s%s\n", q, r->engine_rows, r->baseline_rows,
                               Percentiles(r->engine_latency_us), Percentiles(r->baseline_latency_us), note);
      }
      out.flush();
    }
    if (!o.json) out << MachineLine() << "\n";
  }
  return exit_code;
}

}  // namespace kappa::bench
