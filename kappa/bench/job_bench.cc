#include "kappa/bench/job_bench.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kappa/api/job.h"
#include "kappa/app/params.h"
#include "kappa/base/status.h"
#include "kappa/bench/bench_util.h"
#include "kappa/connectors/discard_sink.h"
#include "kappa/connectors/uri.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/progress.h"

namespace kappa::bench {
namespace {

using Seconds = std::chrono::duration<double>;

// "NAME=URI" → {"NAME", "URI"}; "URI" → {"", "URI"} (JobBindings::Bind's rule: a '=' before
// any ':' names a source).
std::pair<std::string, std::string> SplitBinding(const std::string& arg) {
  const size_t eq = arg.find('=');
  const size_t colon = arg.find(':');
  if (eq != std::string::npos && (colon == std::string::npos || eq < colon)) {
    return {arg.substr(0, eq), arg.substr(eq + 1)};
  }
  return {"", arg};
}

// One run of the job, or of its sources alone.
struct Measured {
  double wall_s = 0;
  double cpu_s = 0;
  int64_t events = 0;
  int64_t rows = 0;
  bool rows_counted = true;
  int64_t late = 0;
  int64_t errors = 0;
};

// Builds the job from `def` with `bindings`; with `read_only`, runs a job of its source
// nodes alone (see job_bench.h). `total` (0: not known yet) is for the progress line.
absl::StatusOr<Measured> RunOnce(const JobDefinition& def, const JobBindings& bindings, const JobBenchOptions& o,
                                 bool read_only, int64_t total) {
  auto job = Job::Create(def.name);
  JobContext ctx(job.get(), bindings);
  def.build(ctx);
  KAPPA_RETURN_IF_ERROR(job->status());
  KAPPA_RETURN_IF_ERROR(ctx.CheckBindings());
  KAPPA_RETURN_IF_ERROR(ctx.CheckParams());

  Job* run = job.get();
  std::unique_ptr<Job> sources_only;
  if (read_only) {
    sources_only = job->SourcesOnly(absl::StrCat(def.name, " (read only)"));
    run = sources_only.get();
  }

  ErrorSink errors(nullptr);  // count only
  runtime::SourceProgress board;
  ExecutionOptions options;
  options.parallelism = o.parallelism;
  options.workers = o.workers;
  options.errors = &errors;
  options.progress = &board;
  options.state_backend = o.state == "rocksdb" ? StateBackendKind::kRocksDb : StateBackendKind::kHeap;
  auto events_read = [&board] {
    int64_t n = 0;
    for (const runtime::SourceProgress::View& v : board.Read()) n += v.records;
    return n;
  };

  Measured m;
  {
    Progress progress(o.progress, read_only ? "read only" : def.name, total, events_read);
    const double cpu0 = ProcessCpuSeconds();
    const auto wall0 = std::chrono::steady_clock::now();
    absl::StatusOr<ExecutionResult> result = run->Execute(options);
    m.wall_s = Seconds(std::chrono::steady_clock::now() - wall0).count();
    m.cpu_s = ProcessCpuSeconds() - cpu0;
    if (!result.ok()) {
      return absl::Status(result.status().code(), absl::StrCat(run->name(), " failed: ", result.status().message()));
    }
  }
  m.events = events_read();
  m.late = errors.late_records();
  m.errors = errors.decode_errors() + errors.user_errors();
  if (read_only) return m;
  KAPPA_RETURN_IF_ERROR(ctx.Finish());
  for (const JobContext::BoundSink& sink : ctx.sinks()) {
    std::shared_ptr<const connectors::DiscardStats> stats = connectors::DiscardStatsOf(sink.connector.get());
    if (stats == nullptr) {
      m.rows_counted = false;
      continue;
    }
    m.rows += stats->rows();
  }
  return m;
}

int EffectiveWorkers(const JobBenchOptions& o) {
  return o.workers > 0 ? o.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string JsonStrings(const std::vector<std::string>& v) {
  std::vector<std::string> quoted;
  for (const std::string& s : v) quoted.push_back(absl::StrCat("\"", JsonEscape(s), "\""));
  return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
}

std::string ResultJson(const JobBenchResult& r, const JobBenchOptions& o, bool events_match) {
  return absl::StrFormat(
      "{\"mode\":\"job\",\"job\":\"%s\",\"sources\":%s,\"sinks\":%s,\"parallelism\":%d,\"workers\":%d,"
      "\"state\":\"%s\",\"repetitions\":%d,\"events\":%d,\"job_wall_s\":%.6f,\"job_cpu_s\":%.6f,"
      "\"job_events_per_s\":%.1f,\"job_events_per_s_per_core\":%.1f,\"job_rows\":%d,\"rows_counted\":%s,"
      "\"job_late\":%d,\"job_errors\":%d,\"baseline\":\"read only\",\"baseline_events\":%d,\"baseline_wall_s\":%.6f,"
      "\"baseline_cpu_s\":%.6f,\"baseline_events_per_s\":%.1f,\"baseline_events_per_s_per_core\":%.1f,"
      "\"ratio\":%.4f,\"wall_ratio\":%.4f,\"events_match\":%s,\"machine\":\"%s\"}",
      JsonEscape(r.job), JsonStrings(o.sources), JsonStrings(o.sinks.empty() ? std::vector<std::string>{"discard:"}
                                                                              : o.sinks),
      o.parallelism, EffectiveWorkers(o), o.state, o.repetitions, r.events, r.job_wall_s, r.job_cpu_s,
      r.job_events_per_s(), r.job_events_per_core_s(), r.job_rows, r.rows_counted ? "true" : "false", r.job_late,
      r.job_errors, r.events, r.baseline_wall_s, r.baseline_cpu_s, r.baseline_events_per_s(),
      r.baseline_events_per_core_s(), r.ratio(), r.wall_ratio(), events_match ? "true" : "false",
      JsonEscape(MachineLine()));
}

}  // namespace

absl::Status CheckBoundedSource(const std::string& arg) {
  const std::string text = SplitBinding(arg).second;
  KAPPA_ASSIGN_OR_RETURN(connectors::Uri uri, connectors::ParseUri(text));
  if (uri.scheme == "file") {
    KAPPA_ASSIGN_OR_RETURN(bool follow, connectors::BoolParam(uri, "follow", false));
    if (follow) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' follows its files and never ends; bench job needs bounded sources (drop "
                       "follow=true)"));
    }
  } else if (uri.scheme == "gen") {
    int64_t events = 0;
    auto it = uri.params.find("events");
    if (it == uri.params.end() || !absl::SimpleAtoi(it->second, &events) || events <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' never ends; bench job needs bounded sources: add events=N (or give --events N)"));
    }
  } else if (uri.scheme == "kafka") {
    if (!uri.params.contains("end")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", text, "' reads on forever; bench job needs bounded sources: add end=end (each partition's end at "
                     "start) or end=offsets:P=O,..."));
    }
  }
  return absl::OkStatus();
}

int RunJobBench(const JobRegistry& registry, const JobBenchOptions& options_in, std::ostream& out,
                std::ostream& err) {
  JobBenchOptions o = options_in;
  auto fail = [&](const std::string& msg) {
    err << "kappa: " << msg << "\n";
    return 2;
  };
  const JobDefinition* def = registry.Find(o.job);
  if (def == nullptr) return fail(absl::StrCat("unknown job '", o.job, "'; `jobs` lists them"));
  if (o.sources.empty()) return fail("bench job needs --source URI (or --source NAME=URI for each source)");
  if (o.parallelism < 1 || o.parallelism > 128) return fail("--parallelism must be between 1 and 128");
  if (o.workers < 0) return fail("--workers must be at least 1 (or 0: one per core)");
  if (o.state != "heap" && o.state != "rocksdb") return fail("--state must be heap or rocksdb");
  if (o.repetitions < 1) return fail("--repetitions must be at least 1");
  if (o.events < 0) return fail("--events must be a positive number of events");

  // --events N: the count of every generator that gives none.
  if (o.events > 0) {
    bool used = false;
    for (std::string& arg : o.sources) {
      auto [name, text] = SplitBinding(arg);
      absl::StatusOr<connectors::Uri> uri = connectors::ParseUri(text);
      if (!uri.ok() || uri->scheme != "gen") continue;
      if (uri->params.contains("events")) {
        return fail(absl::StrCat("'", text, "' has events= already; give the count once (drop --events)"));
      }
      absl::StrAppend(&text, text.find('?') == std::string::npos ? "?" : "&", "events=", o.events);
      arg = name.empty() ? text : absl::StrCat(name, "=", text);
      used = true;
    }
    if (!used) return fail("--events sets how many events gen: sources generate; this run has no gen: source");
  }
  for (const std::string& arg : o.sources) {
    if (absl::Status s = CheckBoundedSource(arg); !s.ok()) return fail(std::string(s.message()));
  }

  JobBindings bindings;
  for (const std::string& s : o.sources) JobBindings::Bind(s, &bindings.default_source, &bindings.sources);
  for (const std::string& s : o.sinks) JobBindings::Bind(s, &bindings.default_sink, &bindings.sinks);
  if (bindings.default_sink.empty()) bindings.default_sink = "discard:";
  if (o.out_of_orderness_ms >= 0) bindings.out_of_orderness_ms = o.out_of_orderness_ms;
  bindings.kafka.bootstrap = o.kafka;
  absl::StatusOr<Params> params = Params::Parse(o.params);
  if (!params.ok()) return fail(std::string(params.status().message()));
  bindings.params = params->values();

  // What `run` would refuse is a usage error here too, before anything is measured.
  {
    auto job = Job::Create(def->name);
    JobContext ctx(job.get(), bindings);
    def->build(ctx);
    absl::Status s = job->status();
    if (s.ok()) s = ctx.CheckBindings();
    if (s.ok()) s = ctx.CheckParams();
    if (!s.ok()) return fail(std::string(s.message()));
  }

  const std::string sinks = o.sinks.empty() ? "discard:" : absl::StrJoin(o.sinks, " ");
  if (!o.json) {
    out << absl::StrFormat("kappa bench job %s: --source %s, --sink %s; parallelism %d, %d workers%s, %s state%s\n",
                           def->name, absl::StrJoin(o.sources, " "), sinks, o.parallelism, EffectiveWorkers(o),
                           o.workers > 0 ? "" : " (one per core)", o.state,
                           o.repetitions > 1 ? absl::StrFormat(", best of %d runs each", o.repetitions) : "");
    out.flush();
  }

  // The baseline first: it finds how many events the sources hold, which the job's
  // progress line then counts towards.
  JobBenchResult r;
  r.job = def->name;
  int64_t baseline_events = -1;
  bool events_match = true;
  for (int i = 0; i < o.repetitions; ++i) {
    absl::StatusOr<Measured> m = RunOnce(*def, bindings, o, /*read_only=*/true, std::max<int64_t>(0, baseline_events));
    if (!m.ok()) {
      err << "kappa: " << m.status().message() << "\n";
      return 1;
    }
    if (i > 0 && m->events != baseline_events) events_match = false;
    baseline_events = m->events;
    if (i == 0 || m->wall_s < r.baseline_wall_s) r.baseline_wall_s = m->wall_s;
    if (i == 0 || m->cpu_s < r.baseline_cpu_s) r.baseline_cpu_s = m->cpu_s;
  }
  int64_t job_events = -1;
  for (int i = 0; i < o.repetitions; ++i) {
    absl::StatusOr<Measured> m = RunOnce(*def, bindings, o, /*read_only=*/false, baseline_events);
    if (!m.ok()) {
      err << "kappa: " << m.status().message() << "\n";
      return 1;
    }
    if (m->events != baseline_events) events_match = false;
    job_events = m->events;
    if (i == 0 || m->wall_s < r.job_wall_s) r.job_wall_s = m->wall_s;
    if (i == 0 || m->cpu_s < r.job_cpu_s) r.job_cpu_s = m->cpu_s;
    r.job_rows = m->rows;
    r.rows_counted = m->rows_counted;
    r.job_late = m->late;
    r.job_errors = m->errors;
  }
  r.events = job_events;

  if (o.json) {
    out << ResultJson(r, o, events_match) << "\n";
  } else {
    out << absl::StrFormat("%-24s %12s %12s %14s  %s\n", "run", "events", "ev/s", "ev/s/core", "rows");
    std::string rows = r.rows_counted ? absl::StrCat(r.job_rows) : absl::StrCat(r.job_rows, " (discard: sinks only)");
    if (r.job_late > 0) absl::StrAppend(&rows, " (", r.job_late, " late)");
    if (r.job_errors > 0) absl::StrAppend(&rows, " (", r.job_errors, " bad input or user-function errors)");
    out << absl::StrFormat("%-24s %12d %12s %14s  %s\n", def->name, r.events, Human(r.job_events_per_s()),
                           Human(r.job_events_per_core_s()), rows);
    out << absl::StrFormat("%-24s %12d %12s %14s  %s\n", "read only", baseline_events,
                           Human(r.baseline_events_per_s()), Human(r.baseline_events_per_core_s()),
                           events_match ? "-" : "EVENTS DIFFER");
    out << absl::StrFormat(
        "ratio job / read only: %.2f per core, %.2f wall. ev/s/core = events / CPU seconds of all threads; read only "
        "= the same sources read and decoded into the job's record types, then dropped (no operator, no sink)\n",
        r.ratio(), r.wall_ratio());
    out << MachineLine() << "\n";
  }
  if (!events_match) {
    err << "kappa: the runs read different numbers of events (" << baseline_events << " read only, " << r.events
        << " by the job); bench job needs input that stays the same between runs\n";
    return 1;
  }
  return 0;
}

}  // namespace kappa::bench
