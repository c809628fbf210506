#include "kappa/app/job_json.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "kappa/base/json_util.h"

namespace kappa::app {
namespace {

using runtime::JobSnapshot;

// Writes one JSON value with the commas and keys in the right places: Key() before every
// member of an object, nothing before an array's elements.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  void Key(std::string_view key) {
    Separate();
    json::AppendString(key, out_);
    out_->push_back(':');
    after_key_ = true;
  }
  void Int(int64_t v) {
    Separate();
    json::AppendInt(v, out_);
  }
  void Double(double v) {
    Separate();
    json::AppendDouble(v, out_);
  }
  void String(std::string_view v) {
    Separate();
    json::AppendString(v, out_);
  }
  void Bool(bool v) {
    Separate();
    out_->append(v ? "true" : "false");
  }
  void Null() {
    Separate();
    out_->append("null");
  }

  // Shorthands for a member.
  void Field(std::string_view key, int64_t v) {
    Key(key);
    Int(v);
  }
  void Field(std::string_view key, int v) {
    Key(key);
    Int(v);
  }
  void Field(std::string_view key, double v) {
    Key(key);
    Double(v);
  }
  void Field(std::string_view key, bool v) {
    Key(key);
    Bool(v);
  }
  void Field(std::string_view key, std::string_view v) {
    Key(key);
    String(v);
  }
  void Field(std::string_view key, const char* v) {
    Key(key);
    String(v);
  }
  void Field(std::string_view key, const std::string& v) {
    Key(key);
    String(v);
  }
  // A watermark: null before the first one.
  void Watermark(std::string_view key, Timestamp w) {
    Key(key);
    if (w == kMinTimestamp) {
      Null();
    } else {
      Int(w);
    }
  }

 private:
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  void Open(char c) {
    Separate();
    out_->push_back(c);
    first_ = true;
  }
  void Close(char c) {
    out_->push_back(c);
    first_ = false;
  }

  std::string* out_;
  bool first_ = true;
  bool after_key_ = false;
};

double Share(int64_t delta_ns, double interval_s) {
  if (interval_s <= 0) return 0;
  return std::clamp(static_cast<double>(delta_ns) / (interval_s * 1e9), 0.0, 1.0);
}

// A cumulative counter's rate; a counter that went back (a restarted run) counts from 0.
double Rate(int64_t now, int64_t before, double interval_s) {
  if (interval_s <= 0) return 0;
  return static_cast<double>(now >= before ? now - before : now) / interval_s;
}

// What changed in one task (or the sum over a chain's tasks) between two snapshots.
struct Deltas {
  int64_t records_in = 0, records_out = 0;
  int64_t busy_ns = 0, backpressured_ns = 0, idle_ns = 0;
  int instances = 0;
};

Deltas TaskDeltas(const runtime::TaskView& now, const runtime::TaskView* before) {
  Deltas d;
  d.instances = 1;
  auto delta = [](int64_t a, int64_t b) { return a >= b ? a - b : a; };
  d.records_in = delta(now.records_in, before ? before->records_in : 0);
  d.records_out = delta(now.records_out, before ? before->records_out : 0);
  d.busy_ns = delta(now.busy_ns, before ? before->busy_ns : 0);
  d.backpressured_ns = delta(now.backpressured_ns, before ? before->backpressured_ns : 0);
  d.idle_ns = delta(now.idle_ns, before ? before->idle_ns : 0);
  return d;
}

void WriteRates(const Deltas& d, double interval_s, Writer& w) {
  int n = std::max(d.instances, 1);
  w.Field("records_in_per_s", interval_s > 0 ? d.records_in / interval_s : 0.0);
  w.Field("records_out_per_s", interval_s > 0 ? d.records_out / interval_s : 0.0);
  w.Field("busy", Share(d.busy_ns / n, interval_s));
  w.Field("backpressured", Share(d.backpressured_ns / n, interval_s));
  w.Field("idle", Share(d.idle_ns / n, interval_s));
}

void WriteHistogram(const runtime::HistogramView& h, Writer& w) {
  w.BeginObject();
  w.Key("bounds");
  w.BeginArray();
  for (double b : h.bounds) w.Double(b);
  w.EndArray();
  w.Key("counts");
  w.BeginArray();
  for (int64_t c : h.counts) w.Int(c);
  w.EndArray();
  w.Field("count", h.count);
  w.Field("sum", h.sum);
  for (auto [key, q] : {std::pair{"p50_s", 0.5}, std::pair{"p99_s", 0.99}}) {
    double v = HistogramQuantile(h, q);
    w.Key(key);
    if (v < 0) {
      w.Null();
    } else {
      w.Double(v);
    }
  }
  w.EndObject();
}

}  // namespace

double HistogramQuantile(const runtime::HistogramView& h, double q) {
  if (h.count <= 0 || h.bounds.empty() || h.counts.size() != h.bounds.size()) return -1;
  double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(h.count);
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    if (static_cast<double>(h.counts[i]) < rank) continue;
    double lower = i == 0 ? 0.0 : h.bounds[i - 1];
    int64_t below = i == 0 ? 0 : h.counts[i - 1];
    int64_t in_bucket = h.counts[i] - below;
    if (in_bucket <= 0) return h.bounds[i];
    return lower + (h.bounds[i] - lower) * (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
  }
  return h.bounds.back();
}

std::string JobJson(const JobSnapshot& s, const JobSnapshot* previous) {
  double interval_s = previous != nullptr ? (s.now_ms - previous->now_ms) / 1000.0 : 0;
  bool rates = previous != nullptr && interval_s > 0;

  // The previous snapshot's tasks and partitions, to compute each one's rates.
  std::map<std::pair<int, int>, const runtime::TaskView*> before_tasks;
  std::map<std::pair<std::string, int>, int64_t> before_records;
  if (rates) {
    for (const runtime::TaskView& t : previous->tasks) before_tasks[{t.node, t.subtask}] = &t;
    for (const runtime::SourcePartitionView& p : previous->sources) {
      before_records[{p.progress.source, p.progress.partition}] = p.progress.records;
    }
  }

  std::string out;
  Writer w(&out);
  w.BeginObject();
  w.Field("job", s.job);
  w.Field("state", s.state);
  w.Field("now_ms", s.now_ms);
  w.Field("started_ms", s.started_ms);
  if (rates) w.Field("interval_s", interval_s);

  // Tasks, and per chain the sums of its tasks.
  std::vector<Deltas> chain_deltas(s.chains.size());
  std::vector<std::pair<int64_t, int64_t>> chain_records(s.chains.size());
  w.Key("tasks");
  w.BeginArray();
  for (const runtime::TaskView& t : s.tasks) {
    w.BeginObject();
    w.Field("node", t.node);
    w.Field("subtask", t.subtask);
    w.Field("is_source", t.is_source);
    w.Field("finished", t.finished);
    w.Field("records_in", t.records_in);
    w.Field("records_out", t.records_out);
    w.Field("busy_ns", t.busy_ns);
    w.Field("backpressured_ns", t.backpressured_ns);
    w.Field("idle_ns", t.idle_ns);
    w.Watermark("watermark", t.watermark);
    w.Field("cache_hits", t.cache_hits);
    w.Field("cache_misses", t.cache_misses);
    w.Field("cache_evictions", t.cache_evictions);
    w.Key("operators");
    w.BeginArray();
    for (const runtime::OperatorView& o : t.operators) {
      w.BeginObject();
      w.Field("uid", o.uid);
      w.Field("name", o.name);
      w.Field("records_in", o.records_in);
      w.Field("records_out", o.records_out);
      w.Field("late_dropped", o.late_dropped);
      w.Field("user_errors", o.user_errors);
      w.Field("decode_errors", o.decode_errors);
      w.Field("state_entries", o.state_entries);
      w.Field("state_bytes", o.state_bytes);
      w.EndObject();
    }
    w.EndArray();
    if (rates) {
      auto it = before_tasks.find({t.node, t.subtask});
      Deltas d = TaskDeltas(t, it == before_tasks.end() ? nullptr : it->second);
      WriteRates(d, interval_s, w);
      if (t.node >= 0 && static_cast<size_t>(t.node) < chain_deltas.size()) {
        Deltas& c = chain_deltas[t.node];
        c.records_in += d.records_in;
        c.records_out += d.records_out;
        c.busy_ns += d.busy_ns;
        c.backpressured_ns += d.backpressured_ns;
        c.idle_ns += d.idle_ns;
        c.instances += 1;
      }
    }
    if (t.node >= 0 && static_cast<size_t>(t.node) < chain_records.size()) {
      chain_records[t.node].first += t.records_in;
      chain_records[t.node].second += t.records_out;
    }
    w.EndObject();
  }
  w.EndArray();

  w.Key("chains");
  w.BeginArray();
  for (size_t i = 0; i < s.chains.size(); ++i) {
    const runtime::ChainView& c = s.chains[i];
    w.BeginObject();
    w.Field("name", c.name);
    w.Field("parallelism", c.parallelism);
    w.Key("operator_uids");
    w.BeginArray();
    for (const std::string& uid : c.operator_uids) w.String(uid);
    w.EndArray();
    w.Field("records_in", chain_records[i].first);
    w.Field("records_out", chain_records[i].second);
    if (rates) WriteRates(chain_deltas[i], interval_s, w);
    w.EndObject();
  }
  w.EndArray();

  w.Key("edges");
  w.BeginArray();
  for (const runtime::EdgeView& e : s.edges) {
    w.BeginObject();
    w.Field("from", e.from);
    w.Field("to", e.to);
    w.Field("partitioning", e.partitioning);
    w.Field("queued_batches", e.queued_batches);
    w.Field("capacity_batches", e.capacity_batches);
    w.Field("fill", e.capacity_batches > 0
                        ? std::clamp(static_cast<double>(e.queued_batches) / e.capacity_batches, 0.0, 1.0)
                        : 0.0);
    w.EndObject();
  }
  w.EndArray();

  w.Key("sources");
  w.BeginArray();
  for (const runtime::SourcePartitionView& p : s.sources) {
    const runtime::SourceProgress::View& v = p.progress;
    w.BeginObject();
    w.Field("source", v.source);
    w.Field("partition", v.partition);
    w.Field("start", v.start);
    w.Field("offset", v.offset);
    w.Field("end", v.end);
    w.Field("records", v.records);
    w.Field("finished", v.finished);
    w.Field("high_water", p.high_water);
    w.Watermark("watermark", p.watermark);
    w.Field("idle", p.idle);
    w.Field("replay_end", p.replay_end);
    int64_t end = p.high_water >= 0 ? p.high_water : v.end;
    w.Key("lag");
    if (v.finished) {
      w.Int(0);
    } else if (end >= 0) {
      w.Int(std::max<int64_t>(0, end - v.offset));
    } else {
      w.Null();
    }
    w.Key("event_time_lag_s");
    if (p.watermark == kMaxTimestamp) {
      w.Double(0);
    } else if (p.watermark == kMinTimestamp) {
      w.Null();
    } else {
      w.Double((s.now_ms - p.watermark) / 1000.0);
    }
    if (rates) {
      auto it = before_records.find({v.source, v.partition});
      w.Field("records_per_s", Rate(v.records, it == before_records.end() ? 0 : it->second, interval_s));
    }
    w.EndObject();
  }
  w.EndArray();

  w.Key("checkpoints");
  w.BeginObject();
  w.Field("completed", s.checkpoints.completed);
  w.Field("failed", s.checkpoints.failed);
  w.Field("restored_id", s.checkpoints.restored_id);
  w.Field("restore_s", s.checkpoints.restore_s);
  w.Key("history");
  w.BeginArray();
  for (const runtime::CheckpointView& c : s.checkpoints.history) {
    w.BeginObject();
    w.Field("id", c.id);
    w.Field("completed", c.completed);
    w.Field("triggered_ms", c.triggered_ms);
    w.Field("duration_s", c.duration_s);
    w.Field("alignment_s", c.alignment_s);
    w.Field("bytes", c.bytes);
    w.Field("error", c.error);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  w.Key("sinks");
  w.BeginArray();
  for (const runtime::SinkView& k : s.sinks) {
    w.BeginObject();
    w.Field("uid", k.uid);
    w.Field("subtask", k.subtask);
    w.Field("commits", k.commits);
    w.Field("last_commit_s", k.last_commit_s);
    w.EndObject();
  }
  w.EndArray();

  w.Key("event_time_latency");
  WriteHistogram(s.event_time_latency, w);
  w.Key("ingestion_latency");
  WriteHistogram(s.ingestion_latency, w);

  w.Key("last_errors");
  w.BeginArray();
  for (const runtime::ErrorView& e : s.last_errors) {
    w.BeginObject();
    w.Field("time_ms", e.time_ms);
    w.Field("kind", e.kind);
    w.Field("operator_name", e.operator_name);
    w.Field("error", e.error);
    w.EndObject();
  }
  w.EndArray();
  w.Field("errors_decode", s.errors_decode);
  w.Field("errors_user", s.errors_user);
  w.Field("errors_late", s.errors_late);
  w.Field("restarts", s.restarts);
  w.Field("last_restart_cause", s.last_restart_cause);
  w.Field("last_restart_ms", s.last_restart_ms);

  w.Key("catch_up");
  w.BeginObject();
  w.Field("tracking", s.catch_up.tracking);
  w.Field("caught_up", s.catch_up.caught_up);
  w.Field("at_ms", s.catch_up.at_ms);
  w.EndObject();

  w.EndObject();
  return out;
}

}  // namespace kappa::app
