// The `kappa` command line (see cli.h): list and run jobs, run the demo, run benchmarks,
// compare outputs.
//
// Exit codes: 0 success, 1 the job failed (diff: the outputs differ; status: the job cannot be reached),
// 2 bad usage, 130 stopped by Ctrl-C.
#include "kappa/cli/cli.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <chrono>
#include <thread>
#include <tuple>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "kappa/base/time.h"
#include "kappa/app/diff.h"
#include "kappa/app/http_endpoint.h"
#include "absl/strings/numbers.h"
#include "kappa/base/file_writer.h"
#include "kappa/base/line_reader.h"
#include "kappa/base/log.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/runtime/progress.h"
#include "kappa/runtime/trace.h"
#include "kappa/connectors/dead_letter_io.h"
#include "kappa/connectors/uri.h"
#include "kappa/checkpoint/storage.h"
#include "kappa/runtime/executor.h"
#include "kappa/app/job_registry.h"
#include "kappa/bench/job_bench.h"
#include "kappa/bench/kafka_bench.h"
#include "kappa/bench/nexmark_bench.h"
#include "kappa/cli/new_project.h"
#include "kappa/cli/status.h"

namespace kappa::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  if (g_stop.exchange(true)) _exit(130);  // second Ctrl-C: leave at once
  const char msg[] = "\nkappa: stopping (Ctrl-C again to abort)\n";
  (void)!write(2, msg, sizeof msg - 1);
}

void Fail(const std::string& msg) { std::cerr << "kappa: " << msg << "\n"; }

struct RunFlags {
  std::string job;
  std::vector<std::string> sources;
  std::vector<std::string> sinks;
  int parallelism = 1;
  int workers = 0;
  int64_t out_of_orderness = -1;
  std::string errors = "stderr:";
  std::string dead_letter;  // --dead-letter URI
  std::string state = "rocksdb";
  std::string state_dir;
  std::string checkpoint_dir;
  int64_t checkpoint_interval = 1000;
  int checkpoints_retained = 3;
  std::string from_checkpoint;
  bool fresh = false;
  bool allow_new_sources = false;
  bool follow = false;
  bool plan = false;
  bool quiet = false;
  std::string http;  // --http HOST:PORT
  std::string trace;                      // --trace FILTER
  std::string trace_output = "stderr:";  // --trace-output URI
  int64_t idle_timeout = -1;
  std::string kafka;                      // --kafka BOOTSTRAP|embedded
  std::vector<std::string> kafka_config;  // --kafka-config key=value
  std::vector<std::string> params;        // --param key=value
  int retry_attempts = 0;                 // --retry-attempts N (0: the job's)
  std::string retry_backoff;              // --retry-backoff MIN_MS:MAX_MS
  std::string restart;                    // --restart STRATEGY; empty: the default
  // kappa replay
  bool replay = false;
  std::string from, to;
  bool then_follow = false;
  bool progress = true;
  bool redrive = false;
};

// The path a file: URI names, without trailing '/', or empty for other schemes.
std::string FileUriPath(std::string uri) {
  size_t eq = uri.find('='), colon = uri.find(':');
  if (eq != std::string::npos && eq < colon) uri = uri.substr(eq + 1);  // NAME=URI
  if (!uri.starts_with("file:")) return "";
  uri = uri.substr(5, uri.find('?') == std::string::npos ? std::string::npos : uri.find('?') - 5);
  while (uri.size() > 1 && uri.back() == '/') uri.pop_back();
  return uri;
}

// The topic a Kafka URI names (kafka://BOOTSTRAP/TOPIC or kafka:TOPIC), or empty.
std::string KafkaUriTopic(std::string uri) {
  size_t eq = uri.find('='), colon = uri.find(':');
  if (eq != std::string::npos && eq < colon) uri = uri.substr(eq + 1);
  if (!uri.starts_with("kafka:")) return "";
  uri = uri.substr(0, uri.find('?'));
  if (uri.starts_with("kafka://")) return uri.substr(uri.find('/', 8) == std::string::npos ? uri.size() : uri.find('/', 8) + 1);
  return uri.substr(6);
}

// The dead-letter output must not be one of the run's inputs or outputs: a redrive would
// read the letters it writes, a sink would mix them into its results.
absl::Status CheckDeadLetterTarget(const RunFlags& f) {
  const std::string path = FileUriPath(f.dead_letter), topic = KafkaUriTopic(f.dead_letter);
  auto clash = [&](const std::string& other) {
    return (!path.empty() && path == FileUriPath(other)) || (!topic.empty() && topic == KafkaUriTopic(other));
  };
  for (const std::string& src : f.sources) {
    if (clash(src)) {
      return absl::InvalidArgumentError(absl::StrCat("--dead-letter ", f.dead_letter, " is also the --source ", src,
                                                     "; write dead letters somewhere else"));
    }
  }
  for (const std::string& sink : f.sinks) {
    if (clash(sink)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--dead-letter ", f.dead_letter, " is also the --sink ", sink, "; write dead letters somewhere else"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ErrorSink>> MakeErrorSink(const std::string& text) {
  if (text == "stderr:") {
    auto f = FileWriter::Stderr();
    if (!f.ok()) return f.status();
    return std::make_unique<ErrorSink>(std::move(*f));
  }
  auto uri = connectors::ParseUri(text);
  if (!uri.ok()) return uri.status();
  if (uri->scheme == "stdout") {
    auto w = FileWriter::Stdout();
    if (!w.ok()) return w.status();
    return std::make_unique<ErrorSink>(std::move(*w));
  }
  if (uri->scheme == "file") {
    auto w = FileWriter::Open(uri->path, FileWriter::Mode::kAppend);
    if (!w.ok()) return w.status();
    return std::make_unique<ErrorSink>(std::move(*w));
  }
  return absl::InvalidArgumentError(absl::StrCat("--errors '", text, "': use file:PATH, stdout: or stderr:"));
}

// The name of a source partition's source in one-line reports: the topic or the file log.
std::string SourceName(const std::string& description) {
  std::string name = description;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  return name.substr(name.rfind('/') + 1);
}

// "kappa: caught up at 2026-12-05T09:41:12.345Z: orders p0 @ 1200, p1 @ 1187 (history: 2387
// records in 3.1 s); now following live": where every partition's history ended.
std::string CaughtUpLine(std::vector<runtime::SourceProgress::View> views, const runtime::SourceProgress::CatchUp& c,
                         int64_t started_ms) {
  std::sort(views.begin(), views.end(), [](const auto& a, const auto& b) {
    return std::tie(a.source, a.partition) < std::tie(b.source, b.partition);
  });
  std::string parts, last_source;
  for (const auto& v : views) {
    if (v.source != last_source) {
      absl::StrAppend(&parts, parts.empty() ? "" : "; ", SourceName(v.source), " ");
      last_source = v.source;
    } else {
      absl::StrAppend(&parts, ", ");
    }
    absl::StrAppend(&parts, "p", v.partition, " @ ", v.history_end);
  }
  return absl::StrFormat("kappa: caught up at %s: %s (history: %d records in %.1f s); now following live",
                         absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(c.at_ms), absl::UTCTimeZone()),
                         parts, c.records, std::max<int64_t>(0, c.at_ms - started_ms) / 1000.0);
}

// The replay's progress line on stderr (on a terminal): events/s, offsets per partition
// and, for bounded sources, the share done and the ETA from the remaining offsets and the
// offset rate; `replay --then-follow` shows the share of the history done. With
// `catch_up`, prints the caught-up line once (terminal or not) when every partition has
// reached the end its history had. Reads the run's board from its own thread; the board
// outlives it.
class ReplayProgress {
 public:
  ReplayProgress(bool show, bool catch_up, const runtime::SourceProgress* board)
      : board_(board), show_(show), catch_up_(catch_up) {
    started_ms_ = Clock::System()->NowMillis();
    if (!show_ && !catch_up_) return;
    thread_ = std::thread([this] { Loop(); });
  }
  ~ReplayProgress() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    if (show_) std::cerr << "\r\033[K";
  }

 private:
  void Loop() {
    auto last = std::chrono::steady_clock::now();
    int64_t last_records = 0, last_offsets = 0;
    for (int tick = 1; !stop_; ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (catch_up_ && !caught_up_) {
        runtime::SourceProgress::CatchUp c = board_->ReadCatchUp();
        if (c.caught_up) {
          caught_up_ = true;
          std::cerr << (show_ ? "\r\033[K" : "") << CaughtUpLine(board_->Read(), c, started_ms_) << std::endl;
        }
      }
      if (!show_ || tick % 5 != 0) continue;
      auto now = std::chrono::steady_clock::now();
      double dt = std::chrono::duration<double>(now - last).count();
      int64_t records = 0, done = 0, remaining = 0;
      bool bounded = true;
      std::string parts;
      auto views = board_->Read();
      for (const auto& v : views) {
        records += v.records;
        done += v.offset - v.start;
        int64_t end = v.end >= 0 ? v.end : (caught_up_ ? -1 : v.history_end);
        if (end < 0) {
          bounded = false;
        } else {
          remaining += std::max<int64_t>(0, end - v.offset);
        }
        if (views.size() <= 8) absl::StrAppend(&parts, " p", v.partition, "@", v.offset);
      }
      if (views.size() > 8) parts = absl::StrCat(" ", views.size(), " partitions");
      double rate = (records - last_records) / dt;
      double offset_rate = (done - last_offsets) / dt;
      std::string eta = "following";
      if (bounded) {
        eta = offset_rate > 0 ? absl::StrFormat("ETA %.0f s", remaining / offset_rate) : "ETA ?";
        int64_t total = done + remaining;
        eta = absl::StrFormat("%.0f%%%s, %s", total > 0 ? 100.0 * done / total : 100.0,
                              catch_up_ ? " of the history" : "", eta);
      }
      std::cerr << absl::StrFormat("\r\033[Kreplay: %d events, %.0f/s, %s;%s", records, rate, eta, parts)
                << std::flush;
      last_records = records;
      last_offsets = done;
      last = now;
    }
  }
  const runtime::SourceProgress* board_;
  const bool show_, catch_up_;
  int64_t started_ms_ = 0;
  bool caught_up_ = false;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

void PrintReplaySummary(const std::vector<runtime::SourceProgress::View>& views, std::ostream& out) {
  out << "kappa: replayed partitions (offsets from..to, events):";
  for (const auto& v : views) {
    std::string name = v.source.substr(v.source.rfind('/') + 1);  // the topic or file
    out << absl::StrFormat(" %s[%d] %d..%d %d;", name, v.partition, v.start, v.offset, v.records);
  }
  out << "\n";
}

// --retry-backoff MIN_MS:MAX_MS: the first wait and the cap of the waits between attempts.
absl::StatusOr<std::pair<absl::Duration, absl::Duration>> ParseRetryBackoff(const std::string& text) {
  std::pair<std::string, std::string> parts = absl::StrSplit(text, absl::MaxSplits(':', 1));
  int64_t min_ms = 0, max_ms = 0;
  if (!absl::SimpleAtoi(parts.first, &min_ms) || !absl::SimpleAtoi(parts.second, &max_ms) || min_ms < 0 ||
      max_ms < min_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--retry-backoff '", text, "': use MIN_MS:MAX_MS, the first wait and the longest, 0 <= MIN_MS <= MAX_MS"));
  }
  return std::make_pair(absl::Milliseconds(min_ms), absl::Milliseconds(max_ms));
}

int RunJob(const JobRegistry& registry, const RunFlags& f) {
  const JobDefinition* def = registry.Find(f.job);
  if (def == nullptr) {
    Fail(absl::StrCat("unknown job '", f.job, "'; `kappa jobs` lists them"));
    return 2;
  }
  if (f.parallelism < 1 || f.parallelism > 128) {
    Fail("--parallelism must be between 1 and 128");
    return 2;
  }
  JobBindings bindings;
  for (const auto& s : f.sources) JobBindings::Bind(s, &bindings.default_source, &bindings.sources);
  for (const auto& s : f.sinks) JobBindings::Bind(s, &bindings.default_sink, &bindings.sinks);
  if (f.out_of_orderness >= 0) bindings.out_of_orderness_ms = f.out_of_orderness;
  if (f.idle_timeout >= 0) bindings.idle_timeout_ms = f.idle_timeout;
  bindings.follow = f.follow;
  auto params = Params::Parse(f.params);
  if (!params.ok()) {
    Fail(std::string(params.status().message()));
    return 2;
  }
  bindings.params = params->values();
  if (f.retry_attempts > 0) bindings.retry_attempts = f.retry_attempts;
  if (!f.retry_backoff.empty()) {
    auto backoff = ParseRetryBackoff(f.retry_backoff);
    if (!backoff.ok()) {
      Fail(std::string(backoff.status().message()));
      return 2;
    }
    bindings.retry_backoff = *backoff;
  }
  for (const auto& kv : f.kafka_config) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      Fail(absl::StrCat("--kafka-config '", kv, "': use key=value (a librdkafka setting)"));
      return 2;
    }
    bindings.kafka.config.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::unique_ptr<runtime::Tracer> tracer;
  if (!f.trace.empty()) {
    auto filter = runtime::TraceFilter::Parse(f.trace);
    if (!filter.ok()) {
      Fail(std::string(filter.status().message()));
      return 2;
    }
    auto created = runtime::Tracer::Create(std::move(*filter), f.trace_output);
    if (!created.ok()) {
      Fail(std::string(created.status().message()));
      return 2;
    }
    tracer = std::move(*created);
  }
  std::unique_ptr<connectors::kafka::EmbeddedCluster> embedded;
  if (f.kafka == "embedded") {
    auto cluster = connectors::kafka::EmbeddedCluster::Start();
    if (!cluster.ok()) {
      Fail(std::string(cluster.status().message()));
      return 1;
    }
    embedded = std::move(*cluster);
    bindings.kafka.bootstrap = embedded->bootstrap();
    // The embedded cluster starts empty: create the topics the run names (4 partitions).
    std::vector<std::string> uris = f.sources;
    uris.insert(uris.end(), f.sinks.begin(), f.sinks.end());
    if (!f.dead_letter.empty()) uris.push_back(f.dead_letter);
    for (std::string u : uris) {
      size_t eq = u.find('='), colon = u.find(':');
      if (eq != std::string::npos && eq < colon) u = u.substr(eq + 1);
      if (!u.starts_with("kafka:") || u.starts_with("kafka://")) continue;
      std::string topic = u.substr(6, u.find('?') == std::string::npos ? std::string::npos : u.find('?') - 6);
      (void)embedded->CreateTopic(topic, 4);
    }
    if (!f.quiet) LogInfo(absl::StrCat("embedded Kafka cluster (librdkafka mock) at ", embedded->bootstrap()));
  } else {
    bindings.kafka.bootstrap = f.kafka;
  }
  if (f.redrive && f.then_follow) {
    Fail("--redrive and --then-follow exclude each other: a redrive ends when the dead letters are read");
    return 2;
  }
  if (f.replay && f.from.empty() && !f.redrive) {
    Fail("replay needs --from (where every source starts: earliest, ts:MS, offsets:..., committed)");
    return 2;
  }
  bindings.redrive = f.redrive;
  if (f.replay) {
    bindings.replay_from = f.from.empty() ? std::string("earliest") : f.from;
    if (!f.then_follow) bindings.replay_to = f.to.empty() ? std::string("end") : f.to;
    if (f.then_follow && !f.to.empty()) {
      Fail("--to and --then-follow exclude each other: a replay either ends or goes on live");
      return 2;
    }
    bindings.follow = bindings.follow || f.then_follow;
  }

  auto job = Job::Create(def->name);
  JobContext ctx(job.get(), bindings);
  def->build(ctx);
  if (!job->status().ok()) {
    Fail(std::string(job->status().message()));
    return 2;
  }
  if (absl::Status s = ctx.CheckBindings(); !s.ok()) {
    Fail(std::string(s.message()));
    return 2;
  }
  if (absl::Status s = ctx.CheckParams(); !s.ok()) {
    Fail(std::string(s.message()));
    return 2;
  }
  auto errors = MakeErrorSink(f.errors);
  if (!errors.ok()) {
    Fail(std::string(errors.status().message()));
    return 2;
  }
  std::optional<connectors::SinkHandle<DeadLetterLine>> dead_letters;
  if (!f.dead_letter.empty()) {
    if (absl::Status s = CheckDeadLetterTarget(f); !s.ok()) {
      Fail(std::string(s.message()));
      return 2;
    }
    auto opened = connectors::OpenDeadLetterSink(f.dead_letter, {.kafka = bindings.kafka});
    if (!opened.ok()) {
      Fail(std::string(opened.status().message()));
      return 2;
    }
    dead_letters = std::move(*opened);
  }
  ExecutionOptions options;
  if (dead_letters) options.dead_letters = dead_letters->sink;
  options.parallelism = f.parallelism;
  options.workers = f.workers;
  options.errors = errors->get();
  options.stop_requested = &g_stop;
  options.state_backend = f.state == "rocksdb" ? StateBackendKind::kRocksDb : StateBackendKind::kHeap;
  options.state_dir = f.state_dir;
  options.checkpoint_dir = f.checkpoint_dir;
  options.checkpoint_interval_ms = f.checkpoint_interval;
  options.checkpoints_retained = f.checkpoints_retained;
  if (!f.from_checkpoint.empty() || f.fresh) {
    if (f.checkpoint_dir.empty()) {
      Fail("--from-checkpoint and --fresh need --checkpoint-dir");
      return 2;
    }
  }
  options.allow_new_sources = f.allow_new_sources;
  options.tracer = tracer.get();
  // Without checkpoints a restart starts over from the beginning and most sinks would get
  // the output twice: restarting is then the user's explicit choice.
  if (f.restart.empty()) {
    options.restart = f.checkpoint_dir.empty() ? RestartStrategy::None() : RestartStrategy::DefaultWithCheckpoints();
  } else {
    auto strategy = RestartStrategy::Parse(f.restart);
    if (!strategy.ok()) {
      Fail(std::string(strategy.status().message()));
      return 2;
    }
    options.restart = *strategy;
  }
  if (f.fresh) {
    options.restore = ExecutionOptions::Restore::kFresh;
  } else if (!f.from_checkpoint.empty() && f.from_checkpoint != "latest") {
    options.restore = ExecutionOptions::Restore::kPath;
    options.restore_path = f.from_checkpoint;
  }
  if (f.plan) std::cerr << job->DescribePlan(options);
  if (LogEnabled(LogLevel::kDebug)) {
    LogDebug(absl::StrFormat("running %s: parallelism %d, %s, %s state, restart %s, %s", def->name, f.parallelism,
                             f.workers > 0 ? absl::StrCat(f.workers, " workers") : "a worker per core", f.state,
                             options.restart.ToString(),
                             f.checkpoint_dir.empty()
                                 ? std::string("no checkpoints")
                                 : absl::StrFormat("checkpoints in %s every %d ms", f.checkpoint_dir,
                                                   f.checkpoint_interval)));
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  runtime::SourceProgress board;
  options.progress = &board;
  runtime::JobMonitor monitor;
  std::unique_ptr<app::HttpEndpoint> http;
  if (!f.http.empty()) {
    options.monitor = &monitor;
    auto endpoint = app::HttpEndpoint::Start(f.http, &monitor);
    if (!endpoint.ok()) {
      Fail(std::string(endpoint.status().message()));
      return 2;
    }
    http = std::move(*endpoint);
    std::cerr << "kappa: dashboard at " << http->url() << " (metrics at " << http->url() << "metrics)\n";
  }
  ReplayProgress progress(f.replay && f.progress && isatty(2), f.replay && f.then_follow, &board);
  absl::StatusOr<ExecutionResult> result = job->Execute(options);
  progress.Stop();
  if (result.ok()) {
    for (const auto& why : result->skipped_checkpoints) LogWarning(absl::StrCat("skipping ", why));
    for (const auto& warning : result->restore_warnings) LogWarning(warning);
    if (result->already_finished) {
      std::cerr << absl::StrFormat("kappa: %s already finished at checkpoint %d; its output is complete\n",
                                   def->name, result->restored_checkpoint);
    } else if (result->restored_checkpoint >= 0 && !f.quiet) {
      LogInfo(absl::StrFormat("%s restored checkpoint %d", def->name, result->restored_checkpoint));
    }
  }
  absl::Status finish = ctx.Finish();
  if (dead_letters && finish.ok()) {
    finish = dead_letters->finish();
    if (!finish.ok()) finish = absl::Status(finish.code(), absl::StrCat("dead-letter output: ", finish.message()));
  }
  absl::Status flushed = (*errors)->Flush();
  if (!result.ok()) {
    Fail(absl::StrCat(def->name, " failed: ", result.status().message()));
    return 1;
  }
  if (!finish.ok()) {
    Fail(absl::StrCat(def->name, ": could not finish output: ", finish.message()));
    return 1;
  }
  if (!flushed.ok()) Fail(absl::StrCat("could not write errors output: ", flushed.message()));
  if (tracer != nullptr) {
    if (absl::Status s = tracer->Flush(); !s.ok()) Fail(absl::StrCat("could not write --trace-output: ", s.message()));
    if (!f.quiet) {
      std::cerr << absl::StrFormat("kappa: trace '%s': %d events%s\n", f.trace, tracer->events_written(),
                                   f.trace_output == "stderr:" ? "" : absl::StrCat(" written to ", f.trace_output));
    }
  }
  if (!result->checkpoint_status.ok()) {
    LogWarning(
        absl::StrCat("a checkpoint could not be completed (the run went on): ", result->checkpoint_status.message()));
  }
  if (!f.quiet) {
    if (result->already_finished) return 0;
    int64_t in = result->nodes.empty() ? 0 : result->nodes.front().records_in;
    std::cerr << absl::StrFormat("kappa: %s %s: %d records read in %.2f s (%.0f/s), %d tasks", def->name,
                                 g_stop ? "stopped" : "done", in, result->seconds,
                                 result->seconds > 0 ? in / result->seconds : 0.0, result->tasks);
    if (result->restarts > 0) std::cerr << absl::StrFormat("; restarted %d times", result->restarts);
    if ((*errors)->decode_errors() + (*errors)->user_errors() + (*errors)->late_records() > 0) {
      std::cerr << absl::StrFormat("; %d bad input, %d user-function errors, %d late (see --errors %s)",
                                   (*errors)->decode_errors(), (*errors)->user_errors(), (*errors)->late_records(),
                                   f.errors);
    }
    if (result->dead_letters > 0) {
      std::cerr << absl::StrFormat("; %d dead letters (see --dead-letter %s)", result->dead_letters, f.dead_letter);
    }
    std::cerr << "\n";
    if (f.replay) PrintReplaySummary(result->sources, std::cerr);
  }
  return g_stop ? 130 : 0;
}

// Options `run` and `replay` share.
void AddRunOptions(CLI::App* cmd, RunFlags& f) {
  cmd->add_option("job", f.job, "Job name (see `kappa jobs`)")->required();
  cmd->add_option("--source", f.sources,
                      "Source URI for every source, or NAME=URI for one: file:PATH, kafka://BOOTSTRAP/TOPIC, kafka:TOPIC, "
                  "gen:nexmark?events=N&rate=R&seed=S")
      ->required();
  cmd->add_option("--sink", f.sinks, "Sink URI, or NAME=URI: file:PATH, file:DIR/, kafka://BOOTSTRAP/TOPIC, kafka:TOPIC, stdout:")->required();
  cmd->add_option("--parallelism,-p", f.parallelism, "Parallel instances per operator")->capture_default_str();
  cmd->add_option("--workers", f.workers, "Worker threads (default: number of cores)");
  cmd->add_option("--out-of-orderness", f.out_of_orderness,
                      "Watermark bound in ms (default: the job's, 4000 for Nexmark jobs)");
  cmd->add_option("--errors", f.errors,
                      "Where undecodable records, user-function errors and unclaimed late records go: "
                      "stderr:, stdout:, file:PATH (with --dead-letter, records given up on and undecodable "
                      "records go there instead)")
      ->capture_default_str();
  cmd->add_option("--dead-letter", f.dead_letter,
                  "Where records given up on (a PermanentError, the last attempt of a retry) and records that do "
                  "not decode go, one JSON object each: file:DIR/ or kafka://BOOTSTRAP/TOPIC; exactly once with "
                  "--checkpoint-dir. Without it they go to --errors");
  cmd->add_option("--state", f.state, "Keyed state backend: heap (in memory) or rocksdb (on disk)")
      ->check(CLI::IsMember({"heap", "rocksdb"}))
      ->capture_default_str();
  cmd->add_option("--state-dir", f.state_dir,
                      "Directory for RocksDB working state (default: a temporary directory)");
  cmd->add_option("--checkpoint-dir", f.checkpoint_dir,
                      "Take aligned checkpoints here; a start restores the newest complete one and sinks "
                      "write exactly once (file:DIR/ or kafka:)");
  cmd->add_option("--checkpoint-interval", f.checkpoint_interval, "Milliseconds between checkpoints")
      ->check(CLI::Range(int64_t{10}, int64_t{86400000}))
      ->capture_default_str();
  cmd->add_option("--checkpoints-retained", f.checkpoints_retained, "Complete checkpoints to keep")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--from-checkpoint", f.from_checkpoint,
                      "Restore this checkpoint directory (or 'latest', the default with --checkpoint-dir)");
  cmd->add_option("--from-savepoint", f.from_checkpoint, "Restore this savepoint directory");
  cmd->add_flag("--fresh", f.fresh, "Ignore existing checkpoints and start from the beginning");
  cmd->add_flag("--allow-new-sources", f.allow_new_sources,
                "Restore a checkpoint or savepoint that has no offsets for some source of the job (one added "
                "since); that source starts where its URI says, usually its beginning. Refused without it");
  cmd->add_flag("--follow", f.follow, "Keep tailing file sources (the run does not end by itself)");
  cmd->add_flag("--plan", f.plan, "Print the planned tasks before running");
  cmd->add_flag("--quiet,-q", f.quiet, "No summary line at the end");
  cmd->add_option("--http", f.http,
                  "Serve the dashboard, /metrics (Prometheus) and /api/job on HOST:PORT while the job runs "
                  "(port 0: a free port; the URL is printed on stderr)");
  cmd->add_option("--trace", f.trace,
                  "Trace the source records FILTER selects through the job: partition=P,offset=O (or O1..O2, with "
                  "optional source=NAME), or key=VALUE@OPERATOR (the key at that keyed operator); every operator "
                  "that receives one of them, or a record derived from it, writes a JSON line to --trace-output");
  cmd->add_option("--trace-output", f.trace_output, "Where --trace writes: file:PATH, PATH, stdout: or stderr:")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", f.idle_timeout,
                  "Milliseconds without records after which a source partition stops holding back the "
                  "watermark (default: never; an empty or stalled Kafka partition then stops every window). "
                  "Trades determinism for progress: records arriving later on an idle partition may be late")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  cmd->add_option("--kafka", f.kafka,
                  "Kafka bootstrap servers for kafka:TOPIC URIs, or 'embedded': start librdkafka's mock cluster in "
                  "this process (demos and tests; see docs/operations.md for what it does not do)");
  cmd->add_option("--param", f.params,
                  "The job's own parameter key=value (repeatable), read by the job as ctx.params(); a value the job "
                  "cannot parse, a required one missing or one it does not read is an error before the run starts");
  cmd->add_option("--restart", f.restart,
                  "What a task failure (a sink, broker or state error) does: fixed:ATTEMPTS:DELAY, "
                  "exponential:INITIAL:MAX[:RESET_AFTER], failure-rate:N:PER:DELAY or none (durations like 500ms, "
                  "10s, 1m); the job restarts in-process from the latest complete checkpoint. Default: "
                  "failure-rate:3:10m:5s with --checkpoint-dir, none without (a restart without checkpoints starts "
                  "over and repeats output)");
  cmd->add_option("--kafka-config", f.kafka_config,
                  "librdkafka setting key=value for every Kafka client (repeatable), e.g. security.protocol=SASL_SSL");
  cmd->add_option("--retry-attempts", f.retry_attempts,
                  "Attempts per record of the job's calls that retry (e.g. nexmark-enrich's lookups), the first "
                  "included; a record still failing after them is a dead letter (default: the job's)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--retry-backoff", f.retry_backoff,
                  "MIN_MS:MAX_MS, the wait before the first retry and the longest wait; each retry waits twice "
                  "the one before, up to MAX_MS, +-20% jitter (default: the job's)");
}

int RunBroker(const std::vector<std::string>& topics, int brokers) {
  auto cluster = connectors::kafka::EmbeddedCluster::Start(brokers);
  if (!cluster.ok()) {
    Fail(std::string(cluster.status().message()));
    return 1;
  }
  for (const auto& t : topics) {
    std::pair<std::string, std::string> np = absl::StrSplit(t, absl::MaxSplits(':', 1));
    int partitions = 1;
    if (!np.second.empty() && !absl::SimpleAtoi(np.second, &partitions)) {
      Fail(absl::StrCat("--topic '", t, "': use NAME:PARTITIONS"));
      return 2;
    }
    if (absl::Status s = (*cluster)->CreateTopic(np.first, partitions); !s.ok()) {
      Fail(std::string(s.message()));
      return 1;
    }
  }
  std::cout << (*cluster)->bootstrap() << std::endl;
  std::cerr << "kappa: mock Kafka cluster at " << (*cluster)->bootstrap()
            << " (in memory, ~5 MiB per partition; Ctrl-C stops it)\n";
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

// Starts this program again as `kappa ARGS...` in the background (a real process the demo
// may kill), stdout to /dev/null and stderr to `log`. -1 when it cannot.
pid_t StartSelf(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> copy = args;
  std::string self = "/proc/self/exe";
  std::vector<char*> argv{self.data()};
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDWR);
    if (err < 0 || null < 0) _exit(126);
    dup2(null, 0);
    dup2(null, 1);
    dup2(err, 2);
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// The exit code of a child, or 128 + the signal that ended it.
int WaitChild(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// The rest of the first line of `file` that contains `marker`, after it; "" if none.
std::string LineAfter(const std::string& file, std::string_view marker) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    size_t at = line.find(marker);
    if (at != std::string::npos) return line.substr(at + marker.size());
  }
  return "";
}

std::string ReadWhole(const std::string& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The demo's own line on stderr.
void Say(const std::string& text) { std::cerr << "kappa demo: " << text << std::endl; }

// A step that failed: its child's log, so the reason is visible, and exit code 1.
int DemoFailed(const std::string& what, const std::string& log) {
  Say(absl::StrCat(what, "; its log (", log, "):"));
  std::cerr << ReadWhole(log);
  return 1;
}

// The demo: the story of the Kappa architecture on a local file log, in about 15 s, ending
// by itself. Nexmark events are written into the log over a few seconds while hot-auctions
// follows it live with checkpoints and the dashboard on; the job is killed with SIGKILL
// halfway and restarted from its checkpoint, reading the now complete log to its end; the
// same history is then replayed from the log's beginning into a second output, and
// `kappa diff` shows that the live (killed and restored) output and the replayed one agree.
int RunDemo(const JobRegistry& registry, int64_t events, const std::string& dir, int parallelism,
            const std::string& log_level) {
  constexpr int kChunks = 20;           // the log grows in this many steps...
  constexpr int kChunkMs = 600;         // ...this far apart (12 s of live input)
  constexpr int kKillAfterChunk = 12;   // kill the live job once this many are written
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    Fail(absl::StrCat("cannot create ", dir, ": ", ec.message()));
    return 1;
  }
  const std::string source = dir + "/source/", log = dir + "/log/", live = dir + "/live/",
                    replayed = dir + "/replayed/", checkpoints = dir + "/checkpoints";
  for (const std::string& d : {source, log, live, replayed, checkpoints}) std::filesystem::remove_all(d, ec);
  for (const char* f : {"/live.log", "/restart.log", "/replay.log"}) std::filesystem::remove(dir + f, ec);

  Say(absl::StrFormat("1/6 generating %d Nexmark events (4 partitions) to append to the file log %s", events, log));
  RunFlags gen;
  gen.job = "nexmark-copy";
  gen.sources = {absl::StrFormat("gen:nexmark?events=%d&partitions=4&rate=1000", events)};
  gen.sinks = {absl::StrCat("file:", source)};
  gen.parallelism = 4;
  gen.quiet = true;
  if (int rc = RunJob(registry, gen); rc != 0) return rc;
  // Each partition's lines in kChunks pieces, cut at line ends, appended in turn.
  auto files = ListPartitionFiles(source);
  if (!files.ok()) {
    Fail(std::string(files.status().message()));
    return 1;
  }
  struct Part {
    std::string name, text;
    size_t written = 0;
  };
  std::vector<Part> parts;
  std::filesystem::create_directories(log, ec);
  for (const std::string& f : *files) {
    parts.push_back(Part{std::filesystem::path(f).filename().string(), ReadWhole(f)});
    std::ofstream(log + parts.back().name, std::ios::trunc);  // the partition exists, empty
  }
  auto append_up_to = [&](int chunk) {
    for (Part& p : parts) {
      size_t to = p.text.size() * chunk / kChunks;
      if (chunk < kChunks) to = p.text.rfind('\n', to) == std::string::npos ? 0 : p.text.rfind('\n', to) + 1;
      if (to <= p.written) continue;
      std::ofstream(log + p.name, std::ios::app).write(p.text.data() + p.written, to - p.written);
      p.written = to;
    }
  };

  const std::vector<std::string> job = {
      "run", "hot-auctions", "--source", "file:" + log, "--sink", "file:" + live, "-p", std::to_string(parallelism),
      "--checkpoint-dir", checkpoints, "--checkpoint-interval", "200", "--log-level", log_level};
  std::vector<std::string> live_args = job;
  for (const char* a : {"--follow", "--http", "127.0.0.1:0"}) live_args.push_back(a);
  append_up_to(1);
  pid_t pid = StartSelf(live_args, dir + "/live.log");
  std::string url;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       url.empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    url = LineAfter(dir + "/live.log", "dashboard at ");
    if (url.empty() && waitpid(pid, nullptr, WNOHANG) == pid) return DemoFailed("the live job ended early", dir + "/live.log");
  }
  url = url.substr(0, url.find(' '));
  Say(absl::StrFormat("2/6 live: hot-auctions follows the log as it grows, checkpoint every 200 ms; dashboard at %s",
                      url.empty() ? std::string("(not up yet)") : url));
  for (int chunk = 2; chunk <= kKillAfterChunk && !g_stop; ++chunk) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kChunkMs));
    append_up_to(chunk);
  }
  // Kill it only once a checkpoint is complete, so that the restart has one to restore.
  checkpoint::CheckpointStorage storage(checkpoints);
  std::vector<std::string> skipped;
  absl::StatusOr<checkpoint::LoadedCheckpoint> newest = storage.LatestValid(&skipped);
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       !newest.ok() && !g_stop && std::chrono::steady_clock::now() < deadline;) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return DemoFailed("the live job ended early", dir + "/live.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    newest = storage.LatestValid(&skipped);
  }
  kill(pid, SIGKILL);
  WaitChild(pid);
  if (g_stop) return 130;
  Say(absl::StrFormat("3/6 kill -9 of the live job (pid %d) after checkpoint %s; the log grows on without it", pid,
                      newest.ok() ? std::to_string(newest->id) : std::string("(none yet)")));
  append_up_to(kChunks);

  pid = StartSelf(job, dir + "/restart.log");
  if (int rc = WaitChild(pid); rc != 0) return DemoFailed("the restarted job failed", dir + "/restart.log");
  std::string restored = LineAfter(dir + "/restart.log", "restored checkpoint ");
  Say(absl::StrFormat("4/6 restart: restored checkpoint %s, read the log to its end and finished (output %s)",
                      restored.empty() ? std::string("(none: from the start)") : restored, live));

  pid = StartSelf({"replay", "hot-auctions", "--source", "file:" + log, "--from", "earliest", "--sink",
                   "file:" + replayed, "-p", std::to_string(parallelism), "--log-level", log_level},
                  dir + "/replay.log");
  if (int rc = WaitChild(pid); rc != 0) return DemoFailed("the replay failed", dir + "/replay.log");
  Say(absl::StrFormat("5/6 replay: the same history, from the log's beginning, into %s", replayed));

  connectors::DiffOptions diff;
  diff.a = "file:" + live;
  diff.b = "file:" + replayed;
  std::ostringstream out, err;
  int rc = connectors::RunDiff(diff, out, err);
  std::string summary = out.str();
  while (!summary.empty() && summary.back() == '\n') summary.pop_back();
  if (rc != 0) {
    Say("6/6 kappa diff: the live and the replayed output DIFFER:");
    std::cerr << out.str() << err.str();
    return 1;
  }
  Say(absl::StrFormat("6/6 kappa diff %s %s: %s (live, killed and restored = replayed)", live, replayed, summary));
  return 0;
}

}  // namespace

int Main(int argc, char** argv, const JobRegistry& registry) {
  // A Ctrl-C during an earlier Main call in this process (a test, an embedding program)
  // must not stop this one before it starts.
  g_stop = false;

  CLI::App app{"Kappa: stateful stream processing; one job for live data and for replays of history."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kappa 0.1.0");
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "What Kappa logs on stderr: trace, debug, info, warn, error or off (restores, skipped checkpoints, "
                 "warnings, the Kafka client's messages; results and usage errors are always printed)")
      ->capture_default_str();
  app.fallthrough();  // --log-level also after the command: kappa run JOB ... --log-level debug

  auto* jobs = app.add_subcommand("jobs", "List the jobs this binary runs");

  RunFlags run;
  auto* run_cmd = app.add_subcommand("run", "Run a job until its sources end (or Ctrl-C)");
  AddRunOptions(run_cmd, run);

  RunFlags replay;
  replay.replay = true;
  auto* replay_cmd = app.add_subcommand(
      "replay",
      "Recompute history: run a job over its sources rewound to --from and bounded by --to (default: the end "
      "found at start), into a new output; --then-follow keeps running live after catching up");
  AddRunOptions(replay_cmd, replay);
  replay_cmd->add_option("--from", replay.from,
                         "Where every source starts: earliest, ts:MS (event time; records before MS are skipped), "
                         "offsets:P=O,... (Kafka offsets, file byte offsets), committed (a Kafka group's). "
                         "Required, except with --redrive (default earliest)");
  replay_cmd->add_flag("--redrive", replay.redrive,
                       "--source is a dead-letter output (file:DIR/ or a Kafka topic): feed each dead letter's "
                       "record back into the job at its source, decoded as the source's input; ends when the "
                       "dead letters are read. Records that fail again become new dead letters (--dead-letter)");
  replay_cmd->add_option("--to", replay.to,
                         "Where it ends: end (each partition's end when the replay starts; the default), ts:MS "
                         "(event time; records at or after MS are skipped), offsets:P=O,...");
  replay_cmd->add_flag("--then-follow", replay.then_follow,
                       "After catching up, keep running on new input (the switch-over to live)");
  replay_cmd->add_flag("--no-progress", [&replay](int64_t) { replay.progress = false; },
                       "No progress line on stderr (shown only on a terminal)");

  std::vector<std::string> broker_topics;
  int broker_count = 3;
  auto* broker_cmd = app.add_subcommand(
      "broker",
      "Run librdkafka's mock Kafka cluster until Ctrl-C and print its bootstrap address: for trying Kappa, "
      "kcat and tests without a Kafka installation. Not durable; keeps about 5 MiB per partition");
  broker_cmd->add_option("--topic", broker_topics, "Create topic NAME:PARTITIONS (repeatable)");
  broker_cmd->add_option("--brokers", broker_count, "Brokers in the cluster")->capture_default_str();

  int64_t demo_events = 200000;
  std::string demo_dir = "/tmp/kappa-demo";
  int demo_parallelism = 2;
  auto* demo = app.add_subcommand(
      "demo",
      "The Kappa architecture in about 15 s, on a local file log: a windowed job follows the log live with "
      "checkpoints and the dashboard on, is killed (kill -9) and restarted from its checkpoint, the same history is "
      "replayed into a second output, and kappa diff shows that both agree");
  demo->add_option("--events", demo_events, "Events to generate")->capture_default_str();
  demo->add_option("--dir", demo_dir, "Working directory")->capture_default_str();
  demo->add_option("--parallelism,-p", demo_parallelism, "Parallelism of the query")->capture_default_str();

  bench::NexmarkBenchOptions nexmark_bench;
  bool no_progress = false;
  auto* bench_cmd = app.add_subcommand("bench", "Benchmarks: the engine beside a hand-written baseline, in one run");
  bench_cmd->require_subcommand(1);
  auto* nexmark_cmd = bench_cmd->add_subcommand(
      "nexmark",
      "Run Nexmark queries: generator -> query -> discard, beside a hand-written single-threaded loop computing the "
      "same query on the same events.\n"
      "Throughput (--events N): events/s, and events/s per core (events / CPU seconds of all threads) for the "
      "engine and the loop; the rows each produced must agree.\n"
      "Latency (--rate R with --duration S or --events N): the generator is paced (no event before its dateTime, "
      "dateTime starting now), and for every output row the sink records emit time - the row's timestamp; "
      "reports p50/p99/p99.9/max in ms, the paced loop's beside it. A windowed row's timestamp is its window's "
      "end - 1, so its latency includes the watermark delay, i.e. the out-of-orderness bound (4000 ms by "
      "default; the paced generator is in order, so use --out-of-orderness 1 -- not 0: the watermark is the "
      "partition's latest timestamp minus the bound, so with 0 an event sharing that millisecond is late); "
      "measured from the window's first event it would also include the window length (10 s for q5, q7, q8, "
      "q11).");
  nexmark_cmd->add_option("--query,-q", nexmark_bench.query, "q0, q1, q2, q3, q4, q5, q7, q8, q11, or all")
      ->capture_default_str();
  nexmark_cmd->add_option("--events,-n", nexmark_bench.events, "Events to generate");
  nexmark_cmd->add_option("--parallelism,-p", nexmark_bench.parallelism,
                          "Parallel instances per operator (and generator partitions)")
      ->capture_default_str();
  nexmark_cmd->add_option("--workers", nexmark_bench.workers, "Worker threads (default: number of cores)");
  nexmark_cmd->add_option("--state", nexmark_bench.state, "Keyed state backend: heap or rocksdb")
      ->check(CLI::IsMember({"heap", "rocksdb"}))
      ->capture_default_str();
  nexmark_cmd->add_option("--out-of-orderness", nexmark_bench.out_of_orderness_ms,
                          "Watermark bound in ms (default: the job's, 4000)");
  nexmark_cmd->add_option("--seed", nexmark_bench.seed, "Generator seed")->capture_default_str();
  nexmark_cmd->add_option("--event-rate", nexmark_bench.event_rate,
                          "Throughput runs: events per second of event time, which spaces dateTimes and so sets "
                          "how many windows the events span (default: the generator's 10M/s, as Flink's Nexmark)");
  nexmark_cmd->add_option("--rate", nexmark_bench.rate, "Latency mode: pace the generator at R events/s of wall time");
  nexmark_cmd->add_option("--duration", nexmark_bench.duration_s, "Latency mode: run for S seconds (R x S events)");
  nexmark_cmd->add_option("--repetitions", nexmark_bench.repetitions,
                          "Throughput runs: measure engine, baseline and generator this many times each and "
                          "report the best")
      ->capture_default_str();
  nexmark_cmd->add_option("--metrics", nexmark_bench.metrics,
                          "Throughput runs: off, on (a job monitor attached, its /metrics page and /api/job rendered "
                          "every second, as --http serves them) or both (each repetition without, then with; "
                          "medians and the cost printed)")
      ->capture_default_str();
  nexmark_cmd->add_flag("--json", nexmark_bench.json, "One JSON object per query on stdout instead of the table");
  nexmark_cmd->add_flag("--no-progress", no_progress, "No progress line on stderr (shown only on a terminal)");

  bench::KafkaBenchOptions kafka_bench;
  auto* kafka_bench_cmd = bench_cmd->add_subcommand(
      "kafka",
      "Kafka -> Nexmark -> Kafka in one process, each beside a baseline measured in the same run. N Nexmark "
      "events are produced as JSON into an input topic first (message timestamp = dateTime). "
      "(a) nexmark-q0 (pass-through): the engine replays the filled topic bounded and writes every bid's row with "
      "an idempotent producer, no checkpoints; the baseline is a hand-written raw librdkafka loop doing the same "
      "(consume, simdjson, produce, flush). Figures: seconds, events/s (input events / wall time), events/s per "
      "core (/ CPU seconds of the process), MB/s (MB of input JSON values / wall time), engine / baseline. Live: "
      "the job follows an empty topic while a producer thread writes the same events at full speed, timed until "
      "the output holds every row. The rows of all three must agree (counts, and once the values as multisets). "
      "(b) nexmark-q5 with exactly-once output (checkpoints every --checkpoint-interval, output committed in "
      "Kafka transactions), read by a read_committed consumer thread. Replay: events/s = input events / (building "
      "the job -> last row visible). Live: a producer paced at --latency-rate for --latency-duration writes events "
      "whose dateTime and message timestamp are the wall-clock time they are produced; per closed window, latency = "
      "time its last row was returned to the read_committed consumer - produce time of (1) the window's newest bid, "
      "which includes the watermark bound (--out-of-orderness), and (2) the event that moved the watermark past the "
      "window's end; p50/p99/max over windows, in ms. Row counts must equal the hand-written q5's. "
      "Without --kafka: librdkafka's mock cluster in this process (~5 MiB per partition: keep events / partitions "
      "small enough). With --kafka: a real cluster, where the bench creates its topics (kappa-bench-PID-MS-ROLE, "
      "deleted at the end) unless --in-topic and --out-topic name existing ones. --json: one JSON object; units are "
      "in the key names (_s, _ms, _per_s, _bytes, _mb_per_s).");
  kafka_bench_cmd->add_option("--events,-n", kafka_bench.events, "Nexmark events in the input")->capture_default_str();
  kafka_bench_cmd->add_option("--partitions", kafka_bench.partitions,
                              "Partitions of the topics the bench creates (on the embedded cluster output topics "
                              "get 8 times as many)")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--parallelism,-p", kafka_bench.parallelism, "Parallel instances of the job")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--workers", kafka_bench.workers, "Worker threads (default: number of cores)");
  kafka_bench_cmd->add_option("--repetitions", kafka_bench.repetitions,
                              "Run q0's replay, baseline and live this many times each and report the best")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--kafka", kafka_bench.kafka,
                              "Bootstrap servers of a real cluster (default: librdkafka's mock, in this process)");
  kafka_bench_cmd->add_option("--in-topic", kafka_bench.in_topic,
                              "With --kafka: an existing input topic to fill and append to (its partitions replace "
                              "--partitions), instead of topics the bench creates; needs --out-topic");
  kafka_bench_cmd->add_option("--out-topic", kafka_bench.out_topic,
                              "With --kafka: an existing topic for every run's output (runs count offset ranges)");
  kafka_bench_cmd->add_option("--replication-factor", kafka_bench.replication_factor,
                              "Replication factor of the topics the bench creates on a real cluster")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--checkpoint-interval", kafka_bench.checkpoint_interval_ms,
                              "q5: checkpoint (and Kafka transaction) interval in ms")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--out-of-orderness", kafka_bench.out_of_orderness_ms,
                              "q5: watermark bound in ms (the Nexmark jobs' default)")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--latency-rate", kafka_bench.latency_rate, "q5 live run: events per second, paced")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--latency-duration", kafka_bench.latency_duration_s,
                              "q5 live run: seconds of paced input (0: no live q5 run)")
      ->capture_default_str();
  kafka_bench_cmd->add_option("--event-rate", kafka_bench.event_rate,
                              "Input events per second of event time, which spaces dateTimes and so sets how many "
                              "q5 windows the input spans (default: the generator's 10M/s)");
  kafka_bench_cmd->add_option("--seed", kafka_bench.seed, "Generator seed")->capture_default_str();
  kafka_bench_cmd->add_flag("--json", kafka_bench.json, "One JSON object on stdout instead of the table");
  kafka_bench_cmd->add_flag("--no-progress", no_progress, "No progress line on stderr (shown only on a terminal)");

  bench::JobBenchOptions job_bench;
  auto* job_bench_cmd = bench_cmd->add_subcommand(
      "job",
      "Throughput of any registered job (your own) beside its sources read alone, in one run. Read only: the job's "
      "source nodes by themselves, reading the same URIs to their end and decoding every record into the job's "
      "record types, then dropping it; the ratio job / read only is what the job's processing costs on top of its "
      "input. Events/s and events/s per core (events / CPU seconds of all threads), the job's output rows. The "
      "job's sinks go to discard: unless --sink binds them. Sources must be bounded: a file, gen:...?events=N, "
      "kafka:...?end=end (a scheme of your own must end by itself).");
  job_bench_cmd->add_option("job", job_bench.job, "Job name (see `jobs`)")->required();
  job_bench_cmd->add_option("--source", job_bench.sources,
                            "Source URI for every source, or NAME=URI for one (bounded: file:PATH, "
                            "gen:nexmark?events=N, kafka:TOPIC?end=end, ...)")
      ->required();
  job_bench_cmd->add_option("--sink", job_bench.sinks,
                            "Sink URI, or NAME=URI (default: discard:, which counts the rows)");
  job_bench_cmd->add_option("--param", job_bench.params, "The job's own parameter key=value (repeatable)");
  job_bench_cmd->add_option("--parallelism,-p", job_bench.parallelism, "Parallel instances per operator")
      ->capture_default_str();
  job_bench_cmd->add_option("--workers", job_bench.workers, "Worker threads (default: number of cores)");
  job_bench_cmd->add_option("--state", job_bench.state, "Keyed state backend: heap or rocksdb")
      ->check(CLI::IsMember({"heap", "rocksdb"}))
      ->capture_default_str();
  job_bench_cmd->add_option("--out-of-orderness", job_bench.out_of_orderness_ms,
                            "Watermark bound in ms (default: the job's)");
  job_bench_cmd->add_option("--events,-n", job_bench.events,
                            "Events for gen: sources that give no events=N (gen:nexmark --events N)");
  job_bench_cmd->add_option("--repetitions", job_bench.repetitions,
                            "Run the read-only baseline and the job this many times each and report the best")
      ->capture_default_str();
  job_bench_cmd->add_option("--kafka", job_bench.kafka, "Kafka bootstrap servers for kafka:TOPIC URIs");
  job_bench_cmd->add_flag("--json", job_bench.json, "One JSON object on stdout instead of the table");
  job_bench_cmd->add_flag("--no-progress", no_progress, "No progress line on stderr (shown only on a terminal)");

  std::string savepoint_dir, savepoint_name;
  auto* savepoint_cmd = app.add_subcommand(
      "savepoint", "Keep the newest checkpoint as a named savepoint (restore it with run --from-savepoint PATH)");
  savepoint_cmd->add_option("--checkpoint-dir", savepoint_dir, "The job's --checkpoint-dir")->required();
  savepoint_cmd->add_option("--name", savepoint_name, "Savepoint name (a directory under DIR/savepoints/)")->required();
  bool savepoint_running = false;
  int savepoint_timeout = 60;
  savepoint_cmd->add_flag("--running", savepoint_running,
                          "Ask the job running with this --checkpoint-dir to checkpoint now and keep it (instead of "
                          "keeping the newest existing checkpoint)");
  savepoint_cmd->add_option("--timeout", savepoint_timeout, "Seconds to wait for the running job")->capture_default_str();

  connectors::DiffOptions diff;
  std::string diff_key;
  auto* diff_cmd = app.add_subcommand(
      "diff", "Compare two outputs as multisets of JSON rows (exit 0 equal, 1 different, 2 unreadable)");
  diff_cmd->add_option("A", diff.a, "Output A: file:PATH, file:DIR/ (its part-*.jsonl files), a path, or kafka://BOOTSTRAP/TOPIC "
                       "(the messages in it now)")->required();
  diff_cmd->add_option("B", diff.b, "Output B, in the same forms")->required();
  auto* diff_key_opt = diff_cmd->add_option(
      "--key", diff_key, "Comma-separated top-level fields: group rows by key and list the keys that differ");
  diff_cmd->add_flag("--upsert", diff.upsert, "Keep only the last row per key of each output (needs --key)")
      ->needs(diff_key_opt);
  diff_cmd->add_option("--max-diffs", diff.max_diffs, "Differences to list")->capture_default_str();
  diff_cmd->add_option("--kafka", diff.kafka.bootstrap, "Kafka bootstrap servers for kafka:TOPIC outputs");
  std::vector<std::string> diff_kafka_config;
  diff_cmd->add_option("--kafka-config", diff_kafka_config, "librdkafka setting key=value (repeatable)");

  std::string status_url;
  auto* status_cmd = app.add_subcommand(
      "status", "Show a running job in the terminal, one screen: chains, source partitions, checkpoints, catch-up, "
                "errors (the job must run with --http)");
  status_cmd->add_option("URL", status_url, "The job's --http address, as it printed it: http://HOST:PORT/")
      ->required();

  std::string new_dir, new_name;
  auto* new_cmd = app.add_subcommand(
      "new", "Write a ready project for your own jobs into DIR: CMakeLists.txt (finds the installed Kappa), a "
             "windowed count job, its test, sample input, README");
  new_cmd->add_option("DIR", new_dir, "The directory to create (must not exist, or be empty)")->required();
  new_cmd->add_option("--name", new_name, "Project and binary name (default: DIR's name)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
      // CLI11 reports a misspelt command as "A subcommand is required"; name it instead.
      std::cerr << "kappa: unknown command '" << argv[1] << "'; commands are jobs, run, replay, status, savepoint, diff, broker, demo, bench, new (see kappa --help)\n";
      return 2;
    }
    std::cerr << "kappa: " << e.what() << " (see kappa " << (app.get_subcommands().empty() ? "" : app.get_subcommands()[0]->get_name() + " ") << "--help)\n";
    return 2;
  }

  absl::StatusOr<LogLevel> level = ParseLogLevel(log_level);
  if (!level.ok()) {
    std::cerr << "kappa: " << level.status().message() << "\n";
    return 2;
  }
  SetLogLevel(*level);

  if (savepoint_cmd->parsed() && savepoint_running) {
    checkpoint::CheckpointStorage storage(savepoint_dir);
    if (absl::Status s = storage.RequestSavepoint(savepoint_name); !s.ok()) {
      std::cerr << "kappa: " << s.message() << "\n";
      return 1;
    }
    std::string manifest = absl::StrCat(savepoint_dir, "/savepoints/", savepoint_name, "/MANIFEST");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(savepoint_timeout);
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(manifest)) {
        std::cout << savepoint_dir << "/savepoints/" << savepoint_name << "\n";
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    storage.CancelSavepointRequest(savepoint_name);
    std::cerr << "kappa: no running job took the savepoint within " << savepoint_timeout
              << " s; is a job running with --checkpoint-dir " << savepoint_dir << "?\n";
    return 1;
  }
  if (savepoint_cmd->parsed()) {
    checkpoint::CheckpointStorage storage(savepoint_dir);
    auto path = storage.CreateSavepoint(savepoint_name);
    if (!path.ok()) {
      std::cerr << "kappa: " << path.status().message() << "\n";
      return 1;
    }
    std::cout << *path << "\n";
    return 0;
  }
  if (jobs->parsed()) {
    for (const JobDefinition* d : registry.List()) std::cout << absl::StrFormat("%-16s %s\n", d->name, d->description);
    return 0;
  }
  if (run_cmd->parsed()) return RunJob(registry, run);
  if (replay_cmd->parsed()) return RunJob(registry, replay);
  if (broker_cmd->parsed()) return RunBroker(broker_topics, broker_count);
  if (diff_cmd->parsed()) {
    if (!diff_key.empty()) diff.key = absl::StrSplit(diff_key, ',');
    for (const auto& kv : diff_kafka_config) {
      std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      diff.kafka.config.push_back(p);
    }
    return connectors::RunDiff(diff, std::cout, std::cerr);
  }
  if (status_cmd->parsed()) return RunStatus(status_url, std::cout, std::cerr);
  if (new_cmd->parsed()) {
    absl::StatusOr<std::vector<std::string>> files = WriteNewProject(new_dir, new_name);
    if (!files.ok()) {
      std::cerr << files.status().message() << "\n";
      return files.status().code() == absl::StatusCode::kInvalidArgument ||
                     files.status().code() == absl::StatusCode::kAlreadyExists
                 ? 2
                 : 1;
    }
    std::string name = new_name.empty() ? ProjectNameFor(new_dir) : new_name;
    std::cout << "kappa: created " << new_dir << " (project " << name << ", job page-views): "
              << absl::StrJoin(*files, ", ") << "\n"
              << NewProjectNextSteps(new_dir, name);
    return 0;
  }
  if (demo->parsed()) return RunDemo(registry, demo_events, demo_dir, demo_parallelism, log_level);
  if (nexmark_cmd->parsed()) {
    nexmark_bench.progress = !no_progress;
    return bench::RunNexmarkBench(registry, nexmark_bench, std::cout, std::cerr);
  }
  if (job_bench_cmd->parsed()) {
    job_bench.progress = !no_progress;
    return bench::RunJobBench(registry, job_bench, std::cout, std::cerr);
  }
  if (kafka_bench_cmd->parsed()) {
    kafka_bench.progress = !no_progress;
    return bench::RunKafkaBench(registry, kafka_bench, std::cout, std::cerr);
  }
  return 0;
}

}  // namespace kappa::cli
