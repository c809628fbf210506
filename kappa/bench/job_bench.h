// `kappa bench job`: the throughput of any registered job (a user's own) beside a
// baseline measured in the same run on the same input.
//
// The baseline ("read only") is the job's own sources, alone: the job is built as for the
// measured run, then every node but its sources is dropped, so the same connectors read
// the same URIs to their end and decode every record into the job's own record types
// (timestamps and watermarks included), and the records go nowhere. No operator, no
// exchange, no sink. The ratio job / read only per core is then what the job's processing
// costs on top of reading its input; a typed baseline of the job's first operator's input
// is exactly what this is, without the bench knowing the type.
//
// Both runs take the same flags: parallelism, workers, state backend, --param; the job's
// sinks go to `discard:` (so only the job's processing is measured, and its rows are
// counted) unless --sink binds them. Figures are events / wall seconds and events / CPU
// seconds of all threads of the process (getrusage), the best of --repetitions runs each,
// as `kappa bench nexmark` reports them.
//
// Sources must be bounded: a file without follow=true, a generator with events=N (or
// --events N), Kafka with end=end (or end=offsets:...). A source of a scheme the bench
// does not know (one a binary registered) is taken as bounded: it must end by itself.
//
//   JobBenchOptions options;
//   options.job = "hot-auctions";
//   options.sources = {"gen:nexmark?events=1000000"};
//   int exit_code = RunJobBench(registry, options, std::cout, std::cerr);
//
// Runs on the calling thread (the engine's runs use their own worker pool); one bench at a
// time per process, as the other benches.
#ifndef KAPPA_BENCH_JOB_BENCH_H_
#define KAPPA_BENCH_JOB_BENCH_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kappa/app/job_registry.h"

namespace kappa::bench {

struct JobBenchOptions {
  std::string job;
  std::vector<std::string> sources;  // --source URI | NAME=URI
  std::vector<std::string> sinks;    // --sink URI | NAME=URI; unbound sinks: discard:
  std::vector<std::string> params;   // --param key=value
  int parallelism = 1;
  int workers = 0;                   // 0: one per core
  std::string state = "rocksdb";     // rocksdb | heap
  int64_t out_of_orderness_ms = -1;  // -1: the job's default
  int64_t events = 0;                // > 0: events=N for gen: sources that give no count
  int repetitions = 1;
  std::string kafka;                 // bootstrap servers for kafka:TOPIC URIs
  bool json = false;                 // one JSON object on `out` instead of the table
  bool progress = true;              // progress on stderr, only when it is a terminal
};

struct JobBenchResult {
  std::string job;
  int64_t events = 0;  // read by the job's sources, every run alike
  double job_wall_s = 0;
  double job_cpu_s = 0;
  int64_t job_rows = 0;       // rows into the job's discard: sinks
  bool rows_counted = false;  // false when --sink sent some elsewhere
  int64_t job_late = 0;
  int64_t job_errors = 0;  // undecodable records and user-function errors
  double baseline_wall_s = 0;
  double baseline_cpu_s = 0;

  double job_events_per_s() const { return Rate(events, job_wall_s); }
  double job_events_per_core_s() const { return Rate(events, job_cpu_s); }
  double baseline_events_per_s() const { return Rate(events, baseline_wall_s); }
  double baseline_events_per_core_s() const { return Rate(events, baseline_cpu_s); }
  // Job / read only, events per second per core (and per wall second): 1 when processing
  // costs nothing beyond reading.
  double ratio() const { return job_cpu_s > 0 ? baseline_cpu_s / job_cpu_s : 0; }
  double wall_ratio() const { return job_wall_s > 0 ? baseline_wall_s / job_wall_s : 0; }

  static double Rate(int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0; }
};

// OK when `uri` (URI or NAME=URI) ends by itself; else an error saying how to bound it.
absl::Status CheckBoundedSource(const std::string& uri);

// The whole command: checks the options (a bad one: one line on `err`, exit code 2), runs
// the read-only baseline and the job, `repetitions` times each, and prints the table (or
// one JSON object) on `out`. Returns 0, or 1 if a run failed or the runs read different
// numbers of events.
int RunJobBench(const JobRegistry& registry, const JobBenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kappa::bench

#endif  // KAPPA_BENCH_JOB_BENCH_H_
