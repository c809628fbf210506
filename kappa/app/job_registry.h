// Built-in jobs that the `kappa` command runs by name.
//
// A job definition is a function that builds the job's graph from a JobContext. The
// context binds the job's named sources and sinks to the URIs given on the command line
// (`--source URI` for every source, or `--source NAME=URI` for one), so the same job code
// reads a file log, a generator or Kafka without change:
//
//   void BuildBidCounts(kappa::JobContext& ctx) {
//     auto bids = ctx.Source<Bid>("bids", kappa::WatermarkStrategy<Bid>::BoundedOutOfOrderness(
//                                             ctx.out_of_orderness_ms(4000)).WithTimestamp(...));
//     ctx.Sink(bids.KeyBy(...).Window(...).Aggregate(kappa::Count()), "output");
//   }
//   registry->Register({"bid-counts", "bids per auction per 10 s", BuildBidCounts});
#ifndef KAPPA_APP_JOB_REGISTRY_H_
#define KAPPA_APP_JOB_REGISTRY_H_

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "kappa/connectors/dead_letter_io.h"
#include "kappa/connectors/registry.h"
#include "kappa/api/job.h"
#include "kappa/app/params.h"
#include "kappa/runtime/retry.h"

namespace kappa {

struct JobBindings {
  std::string default_source;                  // --source URI
  std::map<std::string, std::string> sources;  // --source NAME=URI
  std::string default_sink;                    // --sink URI
  std::map<std::string, std::string> sinks;    // --sink NAME=URI
  std::optional<Timestamp> out_of_orderness_ms;
  // --idle-timeout: a partition without records for this long stops holding back the
  // watermark (0: never), overriding the job's strategy.
  std::optional<Timestamp> idle_timeout_ms;
  bool follow = false;
  connectors::kafka::KafkaSettings kafka;  // --kafka, --kafka-config

  // Replay (`kappa replay --from/--to`): positions for every source, overriding their
  // URIs' start=/end=. A ts:MS bound also limits records to event times in [from, to).
  std::optional<std::string> replay_from, replay_to;
  // `replay --redrive`: every source reads dead letters (connectors/dead_letter_io.h) and
  // decodes each one's `record` as its input.
  bool redrive = false;

  // --param key=value: the job's own parameters (JobContext::params()).
  std::map<std::string, std::string> params;

  // --retry-attempts N and --retry-backoff MIN_MS:MAX_MS: override the retry policy of the
  // job's calls that retry (JobContext::retry_policy()).
  std::optional<int> retry_attempts;
  std::optional<std::pair<absl::Duration, absl::Duration>> retry_backoff;

  // Parses "NAME=URI" or "URI" into the maps above.
  static void Bind(const std::string& arg, std::string* fallback, std::map<std::string, std::string>* named);
};

class JobContext {
 public:
  // Keeps a reference to `bindings`: they must outlive the context (hence no temporaries).
  JobContext(Job* job, const JobBindings& bindings) : job_(job), bindings_(bindings) {}
  JobContext(Job* job, JobBindings&& bindings) = delete;

  Job& job() { return *job_; }

  // Fails the job with `status` (the first error wins): for a build function that finds
  // its configuration unusable. `kappa run` prints it in one line and exits 2.
  void RecordError(absl::Status status) { internal::JobBuilder::RecordError(*job_, std::move(status)); }

  // The --out-of-orderness flag if given, else the job's default.
  Timestamp out_of_orderness_ms(Timestamp job_default) const {
    return bindings_.out_of_orderness_ms.value_or(job_default);
  }

  template <typename T>
  Stream<T> Source(const std::string& name, WatermarkStrategy<T> strategy) {
    source_names_.push_back(name);
    std::string uri = Lookup(name, bindings_.sources, bindings_.default_source, "--source");
    if (!uri.empty()) source_uris_.push_back(uri);
    connectors::SourceOptions options{.follow = bindings_.follow, .kafka = bindings_.kafka};
    if (bindings_.idle_timeout_ms) strategy.idle_timeout_ms = *bindings_.idle_timeout_ms;
    if (absl::Status s = ApplyReplayBounds(&strategy, &options); !s.ok()) {
      internal::JobBuilder::RecordError(*job_, s);
      uri.clear();
    }
    auto src = uri.empty() ? absl::StatusOr<std::shared_ptr<SourceConnector<T>>>(absl::InvalidArgumentError(""))
               : bindings_.redrive ? connectors::MakeRedriveSource<T>(uri, options)
                                   : connectors::MakeSource<T>(uri, options);
    if (!src.ok()) {
      if (!uri.empty()) internal::JobBuilder::RecordError(*job_, src.status());
      src = std::shared_ptr<SourceConnector<T>>(std::make_shared<EmptySource<T>>());
    }
    return job_->Source<T>(name, *src, std::move(strategy));
  }

  template <typename T>
  void Sink(Stream<T> stream, const std::string& name = "output") {
    sink_names_.push_back(name);
    std::string uri = Lookup(name, bindings_.sinks, bindings_.default_sink, "--sink");
    if (uri.empty()) return;
    sink_uris_.push_back(uri);
    auto sink = connectors::MakeSink<T>(uri, {.kafka = bindings_.kafka});
    if (!sink.ok()) {
      internal::JobBuilder::RecordError(*job_, sink.status());
      return;
    }
    // Sinks bound to stdout: share one connector and so one writer: a large batch of one
    // sink is then never split by another sink's write on a pipe, and lines stay whole.
    if (sink->raw != nullptr && IsStdout(uri)) {
      auto [shared, first] = stdout_sinks_.try_emplace(uri, sink->raw);
      if (!first) {
        sink->raw = shared->second;
        sink->sink = std::make_shared<connectors::JsonSink<T>>(shared->second);
        sink->finish = [] { return absl::OkStatus(); };
      }
    }
    finishers_.push_back(sink->finish);
    bound_sinks_.push_back(BoundSink{name, uri, sink->raw});
    stream.SinkTo(sink->sink, name);
  }

  // The sinks the job was bound to, for whoever runs it to read what a sink reports after
  // the run (connectors::DiscardStatsOf(sink.connector.get()) for discard: sinks).
  struct BoundSink {
    std::string name;
    std::string uri;
    std::shared_ptr<connectors::RawSinkConnector> connector;  // null for a sink of the record type itself
  };
  const std::vector<BoundSink>& sinks() const { return bound_sinks_; }

  // After the job is built: every NAME=URI binding names a real source or sink, no file
  // sink writes where a file source reads (it would truncate its own input), and no two
  // sinks write one file, directory or Kafka topic (see CheckSinkTargets).
  absl::Status CheckBindings() const {
    auto check = [&](const std::map<std::string, std::string>& bound, const std::vector<std::string>& names,
                     const char* what) -> absl::Status {
      for (const auto& [name, uri] : bound) {
        if (std::find(names.begin(), names.end(), name) == names.end()) {
          return absl::InvalidArgumentError(absl::StrCat("job '", job_->name(), "' has no ", what, " named '", name,
                                                         "'; its ", what, "s: ", absl::StrJoin(names, ", ")));
        }
      }
      return absl::OkStatus();
    };
    KAPPA_RETURN_IF_ERROR(check(bindings_.sources, source_names_, "source"));
    KAPPA_RETURN_IF_ERROR(check(bindings_.sinks, sink_names_, "sink"));
    for (const std::string& sink : sink_uris_) {
      std::string sp = FilePath(sink);
      if (sp.empty()) continue;
      for (const std::string& src : source_uris_) {
        std::string rp = FilePath(src);
        if (rp.empty()) continue;
        if (sp == rp || sp.starts_with(rp + "/") || rp.starts_with(sp + "/")) {
          return absl::InvalidArgumentError(
              absl::StrCat("--sink ", sink, " would overwrite the input ", src, "; write somewhere else"));
        }
      }
    }
    return CheckSinkTargets();
  }

  // The job's retry policy: `job_default` with what --retry-attempts (max_attempts) and
  // --retry-backoff (initial and maximum backoff) say instead.
  RetryPolicy retry_policy(RetryPolicy job_default) const {
    if (bindings_.retry_attempts) job_default.max_attempts = *bindings_.retry_attempts;
    if (bindings_.retry_backoff) {
      job_default.initial_backoff = bindings_.retry_backoff->first;
      job_default.max_backoff = bindings_.retry_backoff->second;
    }
    return job_default;
  }

  // The job's parameters (--param key=value). A malformed or missing value is recorded on
  // the job, so the run fails before it starts.
  Params& params() { return params_; }

  // After the job is built: every --param given is one the job reads.
  absl::Status CheckParams() const { return params_.CheckAllRead(job_->name()); }

  // The names of the sources and sinks the job declared, in the order it declared them.
  const std::vector<std::string>& source_names() const { return source_names_; }
  const std::vector<std::string>& sink_names() const { return sink_names_; }

  // Closes shared sink files after the run; the first error wins.
  absl::Status Finish() {
    absl::Status first;
    for (auto& f : finishers_) {
      absl::Status s = f();
      if (first.ok() && !s.ok()) first = s;
    }
    return first;
  }

 private:
  // --from ts:MS starts each partition at the first record at or after MS − out-of-orderness
  // (no record of the range can come earlier, within the bound) and filters by event time;
  // --to ts:MS bounds the source by its end at start and filters, ending each partition
  // once its watermark passes MS.
  template <typename T>
  absl::Status ApplyReplayBounds(WatermarkStrategy<T>* strategy, connectors::SourceOptions* options) const {
    if (bindings_.replay_from) {
      KAPPA_ASSIGN_OR_RETURN(auto from, connectors::ParsePosition(*bindings_.replay_from, "--from"));
      if (from.kind == connectors::Position::Kind::kTimestamp) {
        strategy->range_from = from.timestamp;
        options->start = absl::StrCat("ts:", from.timestamp - strategy->out_of_orderness_ms);
      } else {
        options->start = *bindings_.replay_from;
      }
    }
    // A replay without an end (--then-follow) notes where each partition's history ends,
    // for the caught-up signal.
    options->note_history_end = bindings_.replay_from.has_value() && !bindings_.replay_to.has_value();
    if (bindings_.replay_to) {
      KAPPA_ASSIGN_OR_RETURN(auto to, connectors::ParsePosition(*bindings_.replay_to, "--to"));
      if (to.kind == connectors::Position::Kind::kTimestamp) {
        strategy->range_to = to.timestamp;
        options->end = "end";
      } else {
        options->end = *bindings_.replay_to;
      }
    }
    return absl::OkStatus();
  }

  template <typename T>
  class EmptySource final : public SourceConnector<T> {
   public:
    absl::StatusOr<int> NumPartitions() override { return 0; }
    absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int, int64_t) override {
      return absl::InternalError("empty source");
    }
    std::string description() const override { return "none"; }
  };

  std::string Lookup(const std::string& name, const std::map<std::string, std::string>& named,
                     const std::string& fallback, const char* flag) {
    auto it = named.find(name);
    if (it != named.end()) return it->second;
    if (!fallback.empty()) return fallback;
    internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(
        absl::StrCat("job '", job_->name(), "' needs ", flag, " URI (or ", flag, " ", name, "=URI)")));
    return "";
  }

  // Every sink needs a target of its own when sharing one loses rows: two sinks of
  // file:PATH each truncate the file and write from its start; two of file:DIR/ write the
  // same part files (part-<subtask>, or part-<checkpoint>-<subtask> exactly once); two of
  // one Kafka topic share its exactly-once staging files and transactional ids. stdout:
  // takes whole lines from any number of sinks (they share one writer, see Sink), and
  // discard: and other schemes are left to the scheme. A job that declares two sinks of
  // one name cannot bind them apart, so that is refused too.
  absl::Status CheckSinkTargets() const {
    for (size_t b = 0; b < bound_sinks_.size(); ++b) {
      for (size_t a = 0; a < b; ++a) {
        const BoundSink& first = bound_sinks_[a];
        const BoundSink& second = bound_sinks_[b];
        if (first.name == second.name) {
          return absl::InvalidArgumentError(absl::StrCat("job '", job_->name(), "' declares two sinks named '",
                                                         first.name, "'; give each sink its own name"));
        }
        if (!SameTarget(first.uri, second.uri)) continue;
        std::string flags = SinkFlag(first);
        if (SinkFlag(second) != flags) absl::StrAppend(&flags, " and ", SinkFlag(second));
        // Rebind the later sink, unless the shared target already bears its name
        // (--sink file:late.jsonl): then the earlier one.
        const BoundSink* rebind = &second;
        std::string own = OwnTarget(second);
        if (SameTarget(own, second.uri)) {
          rebind = &first;
          own = OwnTarget(first);
        }
        return absl::InvalidArgumentError(absl::StrCat(flags, " would be written by both sinks '", first.name,
                                                       "' and '", second.name, "'; bind each its own: --sink ",
                                                       rebind->name, "=", own));
      }
    }
    return absl::OkStatus();
  }

  // How the command line bound `sink`: "--sink NAME=URI" or "--sink URI".
  std::string SinkFlag(const BoundSink& sink) const {
    return bindings_.sinks.count(sink.name) ? absl::StrCat("--sink ", sink.name, "=", sink.uri)
                                            : absl::StrCat("--sink ", sink.uri);
  }

  // Whether sinks bound to `a` and `b` would write over each other: one file path or a
  // path inside the other's directory, or one Kafka topic.
  bool SameTarget(const std::string& a, const std::string& b) const {
    std::string pa = FilePath(a), pb = FilePath(b);
    if (!pa.empty() && !pb.empty()) return pa == pb || pa.starts_with(pb + "/") || pb.starts_with(pa + "/");
    std::string ta = KafkaTopic(a), tb = KafkaTopic(b);
    return !ta.empty() && ta == tb;
  }

  // A target like `sink`'s, named after the sink: file:late.jsonl beside file:out.jsonl,
  // file:late/ beside file:out/, kafka:TOPIC-late for kafka:TOPIC.
  std::string OwnTarget(const BoundSink& sink) const {
    auto uri = connectors::ParseUri(sink.uri);
    if (!uri.ok()) return sink.uri;
    if (uri->scheme == "kafka") {
      size_t slash = uri->path.rfind('/');
      std::string prefix = slash == std::string::npos ? "" : uri->path.substr(0, slash + 1);
      std::string topic = uri->path.substr(prefix.size());
      return absl::StrCat("kafka:", prefix, topic, "-", sink.name, uri->query.empty() ? "" : "?", uri->query);
    }
    std::string path = std::filesystem::path(uri->path).lexically_normal().string();
    const bool dir = uri->path.ends_with('/');
    while (path.size() > 1 && path.ends_with('/')) path.pop_back();
    std::string parent = std::filesystem::path(path).parent_path().string();
    if (!parent.empty() && parent != "/") parent += "/";
    return absl::StrCat("file:", parent, sink.name, dir ? "/" : ".jsonl");
  }

  // The topic of a kafka: URI, or "" for other schemes. Only the topic counts: the
  // exactly-once staging directory and transactional ids are named after it alone.
  std::string KafkaTopic(const std::string& text) const {
    auto uri = connectors::ParseUri(text);
    if (!uri.ok() || uri->scheme != "kafka") return "";
    auto endpoint = connectors::kafka::ParseEndpoint(*uri, bindings_.kafka,
                                                     {"key", "header.", "delivery", "transactional.id", "on-rewind"});
    return endpoint.ok() ? endpoint->topic : "";
  }

  static bool IsStdout(const std::string& text) {
    auto uri = connectors::ParseUri(text);
    return uri.ok() && uri->scheme == "stdout";
  }

  // The normalized path of a file: URI, or "" for other schemes.
  static std::string FilePath(const std::string& text) {
    auto uri = connectors::ParseUri(text);
    if (!uri.ok() || uri->scheme != "file" || uri->path.empty()) return "";
    std::error_code ec;
    std::string p = std::filesystem::weakly_canonical(uri->path, ec).string();
    if (ec) p = uri->path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  }

  static Params BindParams(Job* job, const JobBindings& bindings) {
    Params params(bindings.params);
    params.OnError([job](const absl::Status& s) { internal::JobBuilder::RecordError(*job, s); });
    return params;
  }

  Job* job_;
  const JobBindings& bindings_;
  Params params_ = BindParams(job_, bindings_);
  std::vector<std::string> source_names_, sink_names_, source_uris_, sink_uris_;
  std::vector<std::function<absl::Status()>> finishers_;
  std::vector<BoundSink> bound_sinks_;
  std::map<std::string, std::shared_ptr<connectors::RawSinkConnector>> stdout_sinks_;  // by URI
};

struct JobDefinition {
  std::string name;
  std::string description;
  std::function<void(JobContext&)> build;
};

class JobRegistry {
 public:
  void Register(JobDefinition def) { jobs_[def.name] = std::move(def); }
  const JobDefinition* Find(const std::string& name) const {
    auto it = jobs_.find(name);
    return it == jobs_.end() ? nullptr : &it->second;
  }
  std::vector<const JobDefinition*> List() const {
    std::vector<const JobDefinition*> out;
    for (const auto& [_, d] : jobs_) out.push_back(&d);
    return out;
  }

 private:
  std::map<std::string, JobDefinition> jobs_;
};

inline void JobBindings::Bind(const std::string& arg, std::string* fallback, std::map<std::string, std::string>* named) {
  size_t eq = arg.find('=');
  size_t colon = arg.find(':');
  if (eq != std::string::npos && (colon == std::string::npos || eq < colon)) {
    (*named)[arg.substr(0, eq)] = arg.substr(eq + 1);
  } else {
    *fallback = arg;
  }
}

}  // namespace kappa

#endif  // KAPPA_APP_JOB_REGISTRY_H_
