#include "kappa/app/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kappa::app {
namespace {

using Labels = std::vector<std::pair<absl::string_view, std::string>>;

// A label value, escaped as the text format requires (backslash, double quote, newline).
std::string Escape(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// The shortest text that reads back as the same double; the format's spellings of the
// special values.
std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}
std::string Number(int64_t v) { return absl::StrCat(v); }

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }
double EpochSeconds(int64_t ms) { return static_cast<double>(ms) / 1e3; }

// Writes metric families in the text format: each family's HELP and TYPE lines before its
// first sample, families without samples not at all (an unknown figure is left out, never
// printed as -1). Every sample of a family must be added before the next family starts.
class Writer {
 public:
  explicit Writer(std::string job) : job_(Escape(job)) {}

  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    started_ = false;
  }

  template <typename T>
  void Sample(const Labels& labels, T value) {
    Line("", labels, Number(value));
  }

  // One histogram series: cumulative buckets ending with +Inf, then _sum and _count.
  void Histogram(const Labels& labels, const runtime::HistogramView& h) {
    for (size_t i = 0; i < h.bounds.size() && i < h.counts.size(); ++i) {
      Labels with_le = labels;
      with_le.emplace_back("le", Number(h.bounds[i]));
      Line("_bucket", with_le, Number(h.counts[i]));
    }
    Labels inf = labels;
    inf.emplace_back("le", "+Inf");
    Line("_bucket", inf, Number(h.count));
    Line("_sum", labels, Number(h.sum));
    Line("_count", labels, Number(h.count));
  }

  std::string Take() { return std::move(out_); }

 private:
  void Line(absl::string_view suffix, const Labels& labels, const std::string& value) {
    if (!started_) {
      absl::StrAppend(&out_, "# HELP ", name_, " ", help_, "\n# TYPE ", name_, " ", type_, "\n");
      started_ = true;
    }
    absl::StrAppend(&out_, name_, suffix, "{job_name=\"", job_, "\"");
    for (const auto& [key, value] : labels) absl::StrAppend(&out_, ",", key, "=\"", Escape(value), "\"");
    absl::StrAppend(&out_, "} ", value, "\n");
  }

  std::string out_;
  std::string job_;
  absl::string_view name_, type_, help_;
  bool started_ = false;
};

// The `task` label of each chain: its name, made unique with "#index" when two chains of
// the job share one (series of one family must differ in their labels).
std::vector<std::string> TaskLabels(const runtime::JobSnapshot& s) {
  absl::flat_hash_map<std::string, int> uses;
  for (const runtime::ChainView& c : s.chains) ++uses[c.name];
  std::vector<std::string> labels;
  for (size_t i = 0; i < s.chains.size(); ++i) {
    const std::string& name = s.chains[i].name;
    labels.push_back(uses[name] > 1 ? absl::StrCat(name, " #", i) : name);
  }
  return labels;
}

void WriteJob(const runtime::JobSnapshot& s, Writer& w) {
  w.Family("kappa_job_state", "gauge", "1 for the run's current state (starting, running, finished, failed, stopped).");
  for (const char* state : {"starting", "running", "finished", "failed", "stopped"}) {
    w.Sample({{"state", state}}, int64_t{s.state == state ? 1 : 0});
  }
  if (s.started_ms > 0) {
    w.Family("kappa_job_start_time_seconds", "gauge", "When the run started, seconds since the epoch.");
    w.Sample({}, EpochSeconds(s.started_ms));
  }
  w.Family("kappa_job_errors_total", "counter",
           "Records the job could not process, by kind: decode (bad input), user (a user function threw), "
           "late (dropped or sent to the late output).");
  w.Sample({{"kind", "decode"}}, s.errors_decode);
  w.Sample({{"kind", "user"}}, s.errors_user);
  w.Sample({{"kind", "late"}}, s.errors_late);
  w.Family("kappa_job_restarts_total", "counter",
           "Times the job restarted after a failure (--restart), since the process started.");
  w.Sample({}, s.restarts);
}

void WriteTasks(const runtime::JobSnapshot& s, const std::vector<std::string>& task_labels, Writer& w) {
  auto task_of = [&](const runtime::TaskView& t) -> Labels {
    std::string name = t.node >= 0 && static_cast<size_t>(t.node) < task_labels.size() ? task_labels[t.node] : "";
    return {{"task", std::move(name)}, {"subtask", absl::StrCat(t.subtask)}};
  };
  w.Family("kappa_task_records_in_total", "counter", "Records a task instance received.");
  for (const runtime::TaskView& t : s.tasks) w.Sample(task_of(t), t.records_in);
  w.Family("kappa_task_records_out_total", "counter", "Records a task instance emitted.");
  for (const runtime::TaskView& t : s.tasks) w.Sample(task_of(t), t.records_out);
  w.Family("kappa_task_busy_seconds_total", "counter",
           "Time a task instance spent processing; rate() is the busy share of each second.");
  for (const runtime::TaskView& t : s.tasks) w.Sample(task_of(t), Seconds(t.busy_ns));
  w.Family("kappa_task_backpressured_seconds_total", "counter",
           "Time a task instance could not go on because an output channel was full.");
  for (const runtime::TaskView& t : s.tasks) w.Sample(task_of(t), Seconds(t.backpressured_ns));
  w.Family("kappa_task_idle_seconds_total", "counter", "Time a task instance had no input to process.");
  for (const runtime::TaskView& t : s.tasks) w.Sample(task_of(t), Seconds(t.idle_ns));
  w.Family("kappa_task_finished", "gauge", "1 once a task instance has finished (its inputs ended).");
  for (const runtime::TaskView& t : s.tasks) w.Sample(task_of(t), int64_t{t.finished ? 1 : 0});
  w.Family("kappa_task_watermark_seconds", "gauge",
           "A task instance's current event-time watermark, seconds since the epoch (+Inf once its inputs ended).");
  for (const runtime::TaskView& t : s.tasks) {
    if (t.watermark == kMinTimestamp) continue;
    w.Sample(task_of(t), t.watermark == kMaxTimestamp ? HUGE_VAL : EpochSeconds(t.watermark));
  }
  w.Family("kappa_state_cache_hits_total", "counter", "State reads a task instance's write-back cache answered.");
  for (const runtime::TaskView& t : s.tasks) {
    if (t.cache_hits >= 0) w.Sample(task_of(t), t.cache_hits);
  }
  w.Family("kappa_state_cache_misses_total", "counter", "State reads a task instance's write-back cache passed on to RocksDB.");
  for (const runtime::TaskView& t : s.tasks) {
    if (t.cache_misses >= 0) w.Sample(task_of(t), t.cache_misses);
  }
  w.Family("kappa_state_cache_evictions_total", "counter", "Entries a task instance's write-back cache evicted.");
  for (const runtime::TaskView& t : s.tasks) {
    if (t.cache_evictions >= 0) w.Sample(task_of(t), t.cache_evictions);
  }
}

void WriteOperators(const runtime::JobSnapshot& s, const std::vector<std::string>& task_labels, Writer& w) {
  struct Row {
    Labels labels;
    const runtime::OperatorView* op;
  };
  std::vector<Row> rows;
  for (const runtime::TaskView& t : s.tasks) {
    std::string task = t.node >= 0 && static_cast<size_t>(t.node) < task_labels.size() ? task_labels[t.node] : "";
    for (const runtime::OperatorView& op : t.operators) {
      rows.push_back({{{"task", task}, {"operator", op.uid}, {"subtask", absl::StrCat(t.subtask)}}, &op});
    }
  }
  // An operator whose records out the task counts together with another's (-1): left out.
  w.Family("kappa_operator_records_in_total", "counter", "Records an operator instance received.");
  for (const Row& r : rows) {
    if (r.op->records_in >= 0) w.Sample(r.labels, r.op->records_in);
  }
  w.Family("kappa_operator_records_out_total", "counter", "Records an operator instance emitted.");
  for (const Row& r : rows) {
    if (r.op->records_out >= 0) w.Sample(r.labels, r.op->records_out);
  }
  w.Family("kappa_operator_errors_total", "counter",
           "Records an operator instance could not process, by kind: decode (sources: bad input), user (its "
           "function threw).");
  for (const Row& r : rows) {
    Labels decode = r.labels, user = r.labels;
    decode.emplace_back("kind", "decode");
    user.emplace_back("kind", "user");
    w.Sample(decode, r.op->decode_errors);
    w.Sample(user, r.op->user_errors);
  }
  w.Family("kappa_operator_late_records_total", "counter",
           "Records an operator instance dropped as late, or sent to the late output.");
  for (const Row& r : rows) w.Sample(r.labels, r.op->late_dropped);
  w.Family("kappa_operator_state_entries", "gauge", "Entries in a keyed operator instance's state (an estimate for RocksDB).");
  for (const Row& r : rows) {
    if (r.op->state_entries >= 0) w.Sample(r.labels, r.op->state_entries);
  }
  w.Family("kappa_operator_state_bytes", "gauge", "Bytes of a keyed operator instance's state (an estimate for RocksDB).");
  for (const Row& r : rows) {
    if (r.op->state_bytes >= 0) w.Sample(r.labels, r.op->state_bytes);
  }
}

void WriteEdges(const runtime::JobSnapshot& s, const std::vector<std::string>& task_labels, Writer& w) {
  // Two edges with the same ends and partitioning would be one series: sum them.
  std::map<std::tuple<int, int, std::string>, std::pair<int64_t, int64_t>> edges;
  for (const runtime::EdgeView& e : s.edges) {
    auto& [queued, capacity] = edges[{e.from, e.to, e.partitioning}];
    queued += e.queued_batches;
    capacity += e.capacity_batches;
  }
  auto name = [&](int chain) {
    return chain >= 0 && static_cast<size_t>(chain) < task_labels.size() ? task_labels[chain] : std::string();
  };
  auto labels = [&](const auto& key) -> Labels {
    return {{"from_task", name(std::get<0>(key))}, {"to_task", name(std::get<1>(key))}, {"partitioning", std::get<2>(key)}};
  };
  w.Family("kappa_channel_queued_batches", "gauge", "Batches waiting in the channels of an edge between two tasks.");
  for (const auto& [key, v] : edges) w.Sample(labels(key), v.first);
  w.Family("kappa_channel_capacity_batches", "gauge", "Batches the channels of an edge hold at most.");
  for (const auto& [key, v] : edges) w.Sample(labels(key), v.second);
  w.Family("kappa_channel_fill_ratio", "gauge",
           "Queued over capacity for an edge (1: full, its producers are backpressured).");
  for (const auto& [key, v] : edges) {
    if (v.second > 0) w.Sample(labels(key), static_cast<double>(v.first) / static_cast<double>(v.second));
  }
}

void WriteSources(const runtime::JobSnapshot& s, Writer& w) {
  auto labels = [](const runtime::SourcePartitionView& p) -> Labels {
    return {{"source", p.progress.source}, {"partition", absl::StrCat(p.progress.partition)}};
  };
  // The offset a partition is read up to: its bounded end, else its current end.
  auto end_of = [](const runtime::SourcePartitionView& p) -> int64_t {
    return p.progress.end >= 0 ? p.progress.end : p.high_water;
  };
  w.Family("kappa_source_partition_offset", "gauge",
           "The next offset a source partition reads (its position; Kafka: a record offset, file logs: a byte offset).");
  for (const auto& p : s.sources) w.Sample(labels(p), p.progress.offset);
  w.Family("kappa_source_partition_start_offset", "gauge", "The offset a source partition's read started at.");
  for (const auto& p : s.sources) w.Sample(labels(p), p.progress.start);
  w.Family("kappa_source_partition_end_offset", "gauge", "The offset a bounded source partition's read ends at.");
  for (const auto& p : s.sources) {
    if (p.progress.end >= 0) w.Sample(labels(p), p.progress.end);
  }
  w.Family("kappa_source_partition_high_water_offset", "gauge",
           "A source partition's current end (Kafka: the high-water mark; file logs: the file's size in bytes).");
  for (const auto& p : s.sources) {
    if (p.high_water >= 0) w.Sample(labels(p), p.high_water);
  }
  w.Family("kappa_source_partition_lag_offsets", "gauge",
           "How far a source partition's position is behind its end (bounded) or high-water mark, in offsets: "
           "records for Kafka, bytes for file logs.");
  for (const auto& p : s.sources) {
    int64_t end = end_of(p);
    if (end >= 0) {
      w.Sample(labels(p), std::max<int64_t>(0, end - p.progress.offset));
    } else if (p.progress.finished) {
      w.Sample(labels(p), int64_t{0});
    }
  }
  w.Family("kappa_source_partition_records_total", "counter", "Records read from a source partition.");
  for (const auto& p : s.sources) w.Sample(labels(p), p.progress.records);
  w.Family("kappa_source_partition_watermark_seconds", "gauge",
           "A source partition's event-time watermark, seconds since the epoch (+Inf once it ended).");
  for (const auto& p : s.sources) {
    if (p.watermark == kMinTimestamp) continue;
    w.Sample(labels(p), p.watermark == kMaxTimestamp ? HUGE_VAL : EpochSeconds(p.watermark));
  }
  w.Family("kappa_source_partition_event_time_lag_seconds", "gauge",
           "How far a source partition's watermark is behind the wall clock (now minus watermark; 0 once it ended).");
  for (const auto& p : s.sources) {
    if (p.watermark == kMinTimestamp) continue;
    w.Sample(labels(p), p.watermark == kMaxTimestamp ? 0.0 : EpochSeconds(s.now_ms - p.watermark));
  }
  w.Family("kappa_source_partition_idle", "gauge", "1 while a source partition is idle (not holding back the watermark).");
  for (const auto& p : s.sources) w.Sample(labels(p), int64_t{p.idle ? 1 : 0});
  w.Family("kappa_source_partition_finished", "gauge", "1 once a source partition has been read to its end.");
  for (const auto& p : s.sources) w.Sample(labels(p), int64_t{p.progress.finished ? 1 : 0});
  w.Family("kappa_source_partition_replay_end_offset", "gauge",
           "replay --then-follow: the end a source partition had when the replay started.");
  for (const auto& p : s.sources) {
    if (p.replay_end >= 0) w.Sample(labels(p), p.replay_end);
  }
  if (s.catch_up.tracking) {
    w.Family("kappa_replay_caught_up", "gauge",
             "replay --then-follow: 1 once every source partition has reached the end it had when the replay started.");
    w.Sample({}, int64_t{s.catch_up.caught_up ? 1 : 0});
    if (s.catch_up.caught_up) {
      w.Family("kappa_replay_caught_up_time_seconds", "gauge",
               "replay --then-follow: when the run caught up, seconds since the epoch.");
      w.Sample({}, EpochSeconds(s.catch_up.at_ms));
    }
  }
}

void WriteCheckpoints(const runtime::JobSnapshot& s, Writer& w) {
  const runtime::CheckpointStatsView& c = s.checkpoints;
  w.Family("kappa_checkpoints_completed_total", "counter", "Checkpoints completed since the run started.");
  w.Sample({}, c.completed);
  w.Family("kappa_checkpoints_failed_total", "counter", "Checkpoints that failed since the run started.");
  w.Sample({}, c.failed);
  const runtime::CheckpointView* last = nullptr;
  for (const runtime::CheckpointView& v : c.history) {
    if (v.completed) last = &v;
  }
  if (last != nullptr) {
    w.Family("kappa_checkpoint_last_id", "gauge", "The id of the newest completed checkpoint.");
    w.Sample({}, last->id);
    w.Family("kappa_checkpoint_last_duration_seconds", "gauge",
             "The newest completed checkpoint: from its trigger until it was complete.");
    w.Sample({}, last->duration_s);
    w.Family("kappa_checkpoint_last_alignment_seconds", "gauge",
             "The newest completed checkpoint: the longest barrier alignment of any task.");
    w.Sample({}, last->alignment_s);
    w.Family("kappa_checkpoint_last_size_bytes", "gauge", "The newest completed checkpoint: state bytes written for it.");
    w.Sample({}, last->bytes);
    w.Family("kappa_checkpoint_last_completion_time_seconds", "gauge",
             "When the newest completed checkpoint completed, seconds since the epoch.");
    w.Sample({}, EpochSeconds(last->triggered_ms) + last->duration_s);
  }
  if (c.restored_id >= 0) {
    w.Family("kappa_checkpoint_restored_id", "gauge", "The checkpoint the run restored at start.");
    w.Sample({}, c.restored_id);
    w.Family("kappa_checkpoint_restore_seconds", "gauge", "Time the run took to restore its state at start.");
    w.Sample({}, c.restore_s);
  }
}

void WriteSinks(const runtime::JobSnapshot& s, Writer& w) {
  auto labels = [](const runtime::SinkView& k) -> Labels {
    return {{"operator", k.uid}, {"subtask", absl::StrCat(k.subtask)}};
  };
  w.Family("kappa_sink_commits_total", "counter", "Commits (output published with a checkpoint) of a sink instance.");
  for (const auto& k : s.sinks) w.Sample(labels(k), k.commits);
  w.Family("kappa_sink_last_commit_duration_seconds", "gauge", "How long a sink instance's last commit took.");
  for (const auto& k : s.sinks) {
    if (k.commits > 0) w.Sample(labels(k), k.last_commit_s);
  }
  // A histogram nobody fills (no bounds) is left out.
  if (!s.event_time_latency.bounds.empty()) {
    w.Family("kappa_sink_event_time_latency_seconds", "histogram",
             "Sink emission time minus the record's event time.");
    w.Histogram({}, s.event_time_latency);
  }
  if (!s.ingestion_latency.bounds.empty()) {
    w.Family("kappa_sink_ingestion_latency_seconds", "histogram",
             "Sink emission time minus the time the source read the record.");
    w.Histogram({}, s.ingestion_latency);
  }
}

}  // namespace

std::string PrometheusText(const runtime::JobSnapshot& s) {
  Writer w(s.job);
  std::vector<std::string> task_labels = TaskLabels(s);
  WriteJob(s, w);
  WriteTasks(s, task_labels, w);
  WriteOperators(s, task_labels, w);
  WriteEdges(s, task_labels, w);
  WriteSources(s, w);
  WriteCheckpoints(s, w);
  WriteSinks(s, w);
  return w.Take();
}

}  // namespace kappa::app
