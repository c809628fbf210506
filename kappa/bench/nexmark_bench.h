// `kappa bench nexmark`: a Nexmark query run by the engine beside a hand-written
// single-threaded loop computing the same query on the same events, in the same process.
//
// Throughput mode (--events N): the job nexmark-qN (the registry's if it has one, else the
// library's: nexmark_queries.h, so any binary built on Kappa can run this) reads
// `gen:nexmark?events=N&partitions=P` and writes into `discard:`; wall time and process
// CPU time (getrusage, all threads) give events/s and events/s per core. Then, in the
// same process, the baseline (bench/nexmark_baseline.h) runs over the same N events from
// one nexmark::Generator, and a loop that only generates them shows what generation alone
// costs. The engine's row count must equal the baseline's (q4 emits upserts: its counts
// are shown, not checked).
//
// Metrics (--metrics on|off|both): `on` attaches a JobMonitor to the engine's runs and
// renders what a scrape every second would (the /metrics page and /api/job); `both` runs
// each repetition without and with it (in turns first), and reports the medians of both,
// their difference and the CPU time the scrapes themselves took.
//
// Latency mode (--rate R with --duration S or --events N): the generator is paced
// (`pace=true`: no event before its dateTime, event time ≈ wall-clock arrival time) and
// the `discard:?latency=true` sink records, per row, wall-clock emit time − the row's
// timestamp. The baseline loop is paced the same way and measured the same way.
//
//   NexmarkBenchOptions options;
//   options.query = "q5";
//   options.events = 1'000'000;
//   int exit_code = RunNexmarkBench(registry, options, std::cout, std::cerr);
//
// Runs on the calling thread (the engine's runs use their own worker pool); one bench at a
// time per process, because the discard: sink's statistics are process-wide.
#ifndef KAPPA_BENCH_NEXMARK_BENCH_H_
#define KAPPA_BENCH_NEXMARK_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/base/histogram.h"
#include "kappa/app/job_registry.h"

namespace kappa::bench {

struct NexmarkBenchOptions {
  std::string query = "q0";  // q0 … q11, or "all"
  int64_t events = 0;        // events to generate; latency mode: or rate × duration
  int parallelism = 1;       // of the job, and the generator's partitions
  int workers = 0;           // engine worker threads; 0: number of cores
  std::string state = "rocksdb";      // rocksdb | heap
  int64_t out_of_orderness_ms = -1;   // -1: the job's default (4000 ms)
  uint64_t seed = 0;
  // Throughput mode: events per second of event time (the generator's `rate`, which
  // spaces dateTimes); 0 keeps the generator's default of 10M/s.
  double event_rate = 0;
  // Latency mode when > 0: events per second of wall-clock time, paced.
  double rate = 0;
  double duration_s = 0;
  // Throughput mode: each measurement (engine, baseline, generator alone) is taken this
  // many times and the best (least time) is reported, to damp noise from other processes.
  int repetitions = 1;
  // Throughput mode: off | on | both (see above).
  std::string metrics = "off";
  bool json = false;     // one JSON object per query on `out` instead of a table
  bool progress = true;  // progress on stderr, only when it is a terminal
};

struct ThroughputResult {
  std::string query;
  int64_t events = 0;
  double engine_wall_s = 0;
  double engine_cpu_s = 0;
  int64_t engine_rows = 0;
  int64_t engine_late = 0;  // records the engine judged late (0 for the in-order generator)
  double baseline_cpu_s = 0;
  int64_t baseline_rows = 0;
  double generator_cpu_s = 0;  // generating the N events alone
  bool rows_checked = false;   // false for q4 (upserts)
  // Medians over the repetitions of the engine's runs (with metrics as --metrics says;
  // `both`: without them).
  double engine_wall_median_s = 0;
  double engine_cpu_median_s = 0;
  // --metrics both: the engine's runs with the monitor attached and scraped every second.
  bool metrics_compared = false;
  double metrics_wall_median_s = 0;
  double metrics_cpu_median_s = 0;
  int64_t scrapes = 0;  // over all runs with metrics on
  double scrape_cpu_s = 0;  // CPU time those scrapes took (snapshot and rendering)

  // --metrics both: how much slower (wall) and costlier (CPU) the runs with metrics were.
  double metrics_wall_cost() const { return Cost(metrics_wall_median_s, engine_wall_median_s); }
  double metrics_cpu_cost() const { return Cost(metrics_cpu_median_s, engine_cpu_median_s); }

  double engine_events_per_s() const { return Rate(events, engine_wall_s); }
  double engine_events_per_core_s() const { return Rate(events, engine_cpu_s); }
  double baseline_events_per_core_s() const { return Rate(events, baseline_cpu_s); }
  double generator_events_per_core_s() const { return Rate(events, generator_cpu_s); }
  double ratio() const { return baseline_cpu_s > 0 ? baseline_cpu_s / engine_cpu_s : 0; }
  bool rows_match() const { return engine_rows == baseline_rows; }

  static double Rate(int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0; }
  static double Cost(double with, double without) { return without > 0 ? with / without - 1 : 0; }
};

struct LatencyResult {
  std::string query;
  int64_t events = 0;
  double rate = 0;
  double engine_wall_s = 0;
  int64_t engine_rows = 0;
  int64_t engine_ahead = 0;  // rows emitted before their timestamp (end-of-input flush)
  Histogram engine_latency_us;
  double baseline_wall_s = 0;
  int64_t baseline_rows = 0;
  int64_t baseline_ahead = 0;
  Histogram baseline_latency_us;
};

// The queries `kappa bench nexmark` knows: q0 q1 q2 q3 q4 q5 q7 q8 q11.
const std::vector<std::string>& NexmarkBenchQueries();

// One query in each mode; `options.query` is ignored, `query` names it ("q5").
absl::StatusOr<ThroughputResult> RunThroughput(const JobRegistry& registry, const std::string& query,
                                               const NexmarkBenchOptions& options, double generator_cpu_s);
absl::StatusOr<LatencyResult> RunLatency(const JobRegistry& registry, const std::string& query,
                                         const NexmarkBenchOptions& options);

// CPU seconds one thread needs to generate `options`' events (no query).
double MeasureGeneratorCpuSeconds(const NexmarkBenchOptions& options);

// The whole command: checks options (a bad one: one line on `err`, exit code 2), runs
// every requested query and prints the table (or JSON lines) on `out`. Returns 0, or 1
// if a run failed or the engine's rows differ from the baseline's.
int RunNexmarkBench(const JobRegistry& registry, const NexmarkBenchOptions& options, std::ostream& out,
                    std::ostream& err);

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_NEXMARK_BENCH_H_
