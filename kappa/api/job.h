// Kappa's public API: the one header user jobs include.
//
// A job is a DAG built with a typed fluent API, then executed on the worker pool:
//
//   auto job = kappa::Job::Create("bids-per-auction");
//   kappa::Stream<Bid> bids = job->Source<Bid>("bids", connector,
//       kappa::WatermarkStrategy<Bid>::BoundedOutOfOrderness(4000)
//           .WithTimestamp([](const Bid& b) { return b.date_time; }));
//   bids.Filter([](const Bid& b) { return b.price > 100; })
//       .KeyBy([](const Bid& b) { return b.auction; })
//       .Window(kappa::Tumbling(absl::Seconds(10)))
//       .Aggregate(kappa::Count())
//       .SinkTo(sink);
//   absl::StatusOr<kappa::ExecutionResult> result = job->Execute(options);
//
// Streams are cheap handles; the graph lives in the Job. Building never throws: the first
// mistake (a bad window size, a side output of the wrong type) is recorded and returned
// by Execute(). Stateless neighbours with equal parallelism are fused into one task.
#ifndef KAPPA_API_JOB_H_
#define KAPPA_API_JOB_H_

#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "kappa/runtime/executor.h"
#include "kappa/runtime/graph.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/sink.h"
#include "kappa/runtime/source.h"
#include "kappa/operators/async.h"
#include "kappa/operators/basic.h"
#include "kappa/operators/join.h"
#include "kappa/operators/process.h"
#include "kappa/operators/regular_join.h"
#include "kappa/operators/retry.h"
#include "kappa/operators/window.h"
#include "kappa/state/serializer.h"

namespace kappa {

// How Stream::Rebalance spreads records over the next operator's instances.
//  - kRoundRobin: batch by batch in turn; a slow instance holds back its producer once its
//    channel is full.
//  - kStealing: in turn too, but an instance with nothing to do takes whole batches queued
//    for its siblings (channel.h), so one slow instance (a slow call, a slow record) does
//    not hold back the others. Barriers and watermarks still separate the same records.
enum class Distribution { kRoundRobin, kStealing };

template <typename T>
class Stream;
template <typename K, typename T>
class KeyedStream;
template <typename K, typename T>
class WindowedStream;
template <typename K, typename A, typename B>
class JoinedStreams;
template <typename K, typename A, typename B>
class IntervalJoinedStreams;
template <typename K, typename A, typename B>
class RegularJoinedStreams;
template <typename K, typename A, typename B>
class ConnectedStreams;
class JobContext;

namespace internal {
class JobBuilder;
}  // namespace internal

class Job {
 public:
  static std::unique_ptr<Job> Create(std::string name) { return std::unique_ptr<Job>(new Job(std::move(name))); }

  // A source: partitions read by `connector`, event time and watermarks by `strategy`.
  template <typename T>
  Stream<T> Source(std::string name, std::shared_ptr<SourceConnector<T>> connector, WatermarkStrategy<T> strategy);

  // Runs the job to completion (bounded sources) or until options.stop_requested is set.
  absl::StatusOr<ExecutionResult> Execute(const ExecutionOptions& options) {
    if (!status_.ok()) return status_;
    Finalize();
    return kappa::Execute(graph_, options);
  }
  std::string DescribePlan(const ExecutionOptions& options) {
    Finalize();
    return kappa::DescribePlan(graph_, options);
  }

  const std::string& name() const { return graph_.name; }
  // The first mistake made while building the job (OK when none); Execute returns it.
  const absl::Status& status() const { return status_; }

  // A new job of this job's sources alone, as its build made them (connectors, record
  // types, watermark strategies); their records reach no operator and are dropped. What
  // reading and decoding cost without the job's processing (`kappa bench job` measures it
  // beside the job).
  std::unique_ptr<Job> SourcesOnly(std::string name) const {
    std::unique_ptr<Job> sources = Create(std::move(name));
    for (const runtime::NodeSpec& node : graph_.nodes) {
      if (node.source) sources->AddNode(node);
    }
    return sources;
  }

 private:
  // Only the typed API changes the graph: Stream and friends reach it through JobBuilder.
  friend class internal::JobBuilder;

  explicit Job(std::string name) { graph_.name = std::move(name); }
  int AddNode(runtime::NodeSpec node) {
    node.id = static_cast<int>(graph_.nodes.size());
    graph_.nodes.push_back(std::move(node));
    return graph_.nodes.back().id;
  }
  void AddEdge(runtime::EdgeSpec edge) { graph_.edges.push_back(std::move(edge)); }
  void RecordError(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  // Default uids: the name, made unique.
  void Finalize() {
    std::map<std::string, int> seen;
    for (auto& n : graph_.nodes) {
      if (!n.uid.empty()) continue;
      int k = seen[n.name]++;
      n.uid = k == 0 ? n.name : absl::StrCat(n.name, "-", k);
    }
  }

  runtime::JobGraph graph_;
  absl::Status status_;
};

namespace internal {

// How the typed API (Stream, KeyedStream, WindowedStream, the joins) and the job context
// of the command line (kappa/app) add nodes and edges to a job and record building
// mistakes. Not for users: a job's graph changes only through the fluent API.
class JobBuilder {
  template <typename T>
  friend class ::kappa::Stream;
  template <typename K, typename T>
  friend class ::kappa::KeyedStream;
  template <typename K, typename T>
  friend class ::kappa::WindowedStream;
  template <typename K, typename A, typename B>
  friend class ::kappa::JoinedStreams;
  template <typename K, typename A, typename B>
  friend class ::kappa::IntervalJoinedStreams;
  template <typename K, typename A, typename B>
  friend class ::kappa::RegularJoinedStreams;
  template <typename K, typename A, typename B>
  friend class ::kappa::ConnectedStreams;
  friend class ::kappa::JobContext;

  static runtime::JobGraph& Graph(Job& job) { return job.graph_; }
  static int AddNode(Job& job, runtime::NodeSpec node) { return job.AddNode(std::move(node)); }
  static void AddEdge(Job& job, runtime::EdgeSpec edge) { job.AddEdge(std::move(edge)); }
  static void RecordError(Job& job, absl::Status status) { job.RecordError(std::move(status)); }

  // A keyed node with two inputs, each hash-partitioned by its stream's key. make(uid)
  // creates one operator instance.
  template <typename Out, typename K, typename A, typename B, typename Make>
  static Stream<Out> AddTwoInputKeyed(const KeyedStream<K, A>& a, const KeyedStream<K, B>& b, std::string name,
                                      Make make);
};

// The result type R of an aggregate (Create() -> Acc, Result(const Acc&) -> R).
template <typename Agg>
using AggregateResult = std::remove_cvref_t<decltype(std::declval<Agg&>().Result(
    std::declval<const std::remove_cvref_t<decltype(std::declval<Agg&>().Create())>&>()))>;

// A window result function fn(const K&, const TimeWindow&, R&&) -> Out. The constraint
// keeps Aggregate(agg, "name") from taking the name for a function.
template <typename Fn, typename K, typename Agg>
concept WindowResultFunction = std::invocable<Fn&, const K&, const TimeWindow&, AggregateResult<Agg>&&>;

template <typename T>
runtime::PortSpec MakePort(std::string name = "") {
  runtime::PortSpec p;
  p.name = std::move(name);
  p.type = typeid(T);
  p.make_fanout = [](const std::vector<runtime::OutputPtr>& targets) -> std::unique_ptr<runtime::OutputNode> {
    std::vector<Output<T>*> outs;
    for (const auto& t : targets) outs.push_back(t.As<T>());
    return std::make_unique<runtime::FanOut<T>>(std::move(outs));
  };
  return p;
}

template <typename T>
runtime::EdgeSpec MakeEdge(int from, int port, int to, int input, runtime::Partitioning part,
                           std::function<uint64_t(const T&)> hash = nullptr,
                           std::function<std::string(const T&)> key_text = nullptr) {
  runtime::EdgeSpec e;
  e.from = from;
  e.from_port = port;
  e.to = to;
  e.to_input = input;
  e.partitioning = part;
  e.make_writer = [hash](runtime::Partitioning p, std::vector<runtime::OutputChannel*> channels, int max_par,
                         int subtask, TaskMetrics* metrics, ErrorSink* errors,
                         const std::string& name) -> std::unique_ptr<runtime::OutputNode> {
    return std::make_unique<runtime::ExchangeWriter<T>>(p, std::move(channels), hash, max_par, subtask, metrics,
                                                        errors, name);
  };
  e.make_tap = [key_text](runtime::TapSpec spec, runtime::OutputPtr next,
                          runtime::OutputNode* writer) -> std::unique_ptr<runtime::OutputNode> {
    return std::make_unique<runtime::TraceTap<T>>(std::move(spec), next.As<T>(),
                                                  dynamic_cast<runtime::ExchangeWriter<T>*>(writer), key_text);
  };
  return e;
}

template <typename F>
struct ProcessOutput;
template <typename K, typename In, typename Out>
struct ProcessOutput<KeyedProcessFunction<K, In, Out>> {
  using type = Out;
};

}  // namespace internal

template <typename T>
class Stream {
 public:
  using value_type = T;
  Stream(Job* job, int node, int port = 0) : job_(job), node_(node), port_(port) {}

  // One output record per input record: fn(const T&) -> U. fn may take T&& instead to move
  // out of the record (the operator owns it; nothing else sees it afterwards).
  template <typename Fn>
  auto Map(Fn fn, std::string name = "map") {
    static_assert(std::invocable<Fn&, T&&>, "Map takes fn(const T&) -> U (or fn(T&&) -> U)");
    using U = std::remove_cvref_t<std::invoke_result_t<Fn&, T&&>>;
    return Then<U>(std::move(name), [fn](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::MapOperator<T, U, Fn>>(fn);
    });
  }

  // Map whose function is tried again under `policy` when it throws (see "Retries" in
  // docs/api.md and operators/retry.h): a retriable failure puts the record in a queue
  // ordered by due time while the records behind it go on; after the last attempt, or at
  // once for a PermanentError, it is a dead letter. fn may take T&& as above; each attempt
  // then gets a copy of the record.
  template <typename Fn>
  auto Map(Fn fn, RetryPolicy policy, std::string name = "map") {
    static_assert(std::invocable<Fn&, T&&>, "Map takes fn(const T&) -> U (or fn(T&&) -> U)");
    using U = std::remove_cvref_t<std::invoke_result_t<Fn&, T&&>>;
    auto call = [fn](const T& v, Collector<U>& out) mutable {
      if constexpr (std::invocable<Fn&, const T&>) {
        out.Collect(fn(v));
      } else {
        out.Collect(fn(T(v)));
      }
    };
    return Retrying<U>(std::move(name), std::move(call), std::move(policy));
  }

  // Keeps records for which fn(const T&) is true.
  template <typename Fn>
  Stream<T> Filter(Fn fn, std::string name = "filter") {
    static_assert(std::predicate<Fn&, const T&>, "Filter takes fn(const T&) -> bool");
    return Then<T>(std::move(name), [fn](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::FilterOperator<T, Fn>>(fn);
    });
  }

  // Zero or more output records per input: fn(const T&, Collector<U>&), or fn(T&&, ...)
  // to move out of the record.
  template <typename U, typename Fn>
  Stream<U> FlatMap(Fn fn, std::string name = "flat_map") {
    static_assert(std::invocable<Fn&, T&&, Collector<U>&>,
                  "FlatMap<U> takes fn(const T&, kappa::Collector<U>&) (or fn(T&&, ...))");
    return Then<U>(std::move(name), [fn](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::FlatMapOperator<T, U, Fn>>(fn);
    });
  }

  // Calls to an external service without blocking a worker (operators/async.h):
  // fn(const T&, AsyncResult<U>) starts one call per record and returns; the call
  // completes the result later, from any thread. At most options.capacity records are
  // open per instance (a full operator backpressures its input); results come in input
  // order (AsyncOrder::kOrdered) or as they complete, never behind a watermark they belong
  // before; failed attempts are retried per options.retry and end as dead letters; open
  // calls are part of every checkpoint and are made again after a restore. T needs a
  // Serializer (KAPPA_SERIALIZABLE) or a JsonCodec (KAPPA_JSON).
  template <typename U, typename Fn>
  Stream<U> AsyncMap(Fn fn, AsyncOptions options = {}, std::string name = "async_map") {
    static_assert(std::invocable<Fn&, const T&, AsyncResult<U>>,
                  "AsyncMap<U> takes fn(const T&, kappa::AsyncResult<U>) that starts a call and returns");
    if (options.capacity < 1) {
      internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(absl::StrCat(
          "AsyncMap '", name, "': capacity must be at least 1, not ", options.capacity)));
    }
    if (options.retry.max_attempts < 1) {
      internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(absl::StrCat(
          "AsyncMap '", name, "': retry.max_attempts must be at least 1, not ", options.retry.max_attempts)));
    }
    return Then<U>(std::move(name), [fn, options](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::AsyncMapOperator<T, U, Fn>>(fn, options);
    });
  }

  // FlatMap whose function is tried again under `policy` when it throws (see Map above).
  // What an attempt collected is emitted only when the attempt succeeds: the output of a
  // record is all or nothing, and a retry never emits twice what a failed attempt began.
  template <typename U, typename Fn>
  Stream<U> FlatMap(Fn fn, RetryPolicy policy, std::string name = "flat_map") {
    static_assert(std::invocable<Fn&, T&&, Collector<U>&>,
                  "FlatMap<U> takes fn(const T&, kappa::Collector<U>&) (or fn(T&&, ...))");
    auto call = [fn](const T& v, Collector<U>& out) mutable {
      if constexpr (std::invocable<Fn&, const T&, Collector<U>&>) {
        fn(v, out);
      } else {
        fn(T(v), out);
      }
    };
    return Retrying<U>(std::move(name), std::move(call), std::move(policy));
  }

  // Partitions by key: records with equal keys meet in the same task. fn(const T&) -> K,
  // or a member pointer (&Click::page), where K has a Serializer (integers, strings,
  // tuples, KAPPA_SERIALIZABLE structs).
  template <typename Fn>
  auto KeyBy(Fn fn) {
    static_assert(std::invocable<Fn&, const T&>, "KeyBy takes fn(const T&) -> K, or a member pointer &T::field");
    using K = std::remove_cvref_t<std::invoke_result_t<Fn&, const T&>>;
    return KeyedStream<K, T>(*this, std::function<K(const T&)>(std::move(fn)));
  }

  // Merger: one stream of the records of this and the other streams.
  Stream<T> Union(std::vector<Stream<T>> others, std::string name = "union") {
    int id = internal::JobBuilder::AddNode(*job_, IdentityNode(std::move(name)));
    internal::JobBuilder::AddEdge(*job_, internal::MakeEdge<T>(node_, port_, id, 0, runtime::Partitioning::kForward));
    for (const Stream<T>& o : others) {
      internal::JobBuilder::AddEdge(*job_, internal::MakeEdge<T>(o.node_, o.port_, id, 0, runtime::Partitioning::kForward));
    }
    return Stream<T>(job_, id);
  }

  // Splitter: each record goes to exactly one of the named outputs, the one whose index
  // fn(const T&) returns. Get outputs with Split::Output(name).
  class SplitStreams {
   public:
    Stream<T> Output(const std::string& name) const {
      for (size_t i = 0; i < names_.size(); ++i) {
        if (names_[i] == name) return Stream<T>(job_, node_, static_cast<int>(i));
      }
      internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(absl::StrCat("split has no output named '", name, "'")));
      return Stream<T>(job_, node_, 0);
    }

   private:
    friend class Stream<T>;
    SplitStreams(Job* job, int node, std::vector<std::string> names)
        : job_(job), node_(node), names_(std::move(names)) {}
    Job* job_;
    int node_;
    std::vector<std::string> names_;
  };
  template <typename Fn>
  SplitStreams Split(std::vector<std::string> names, Fn fn, std::string name = "split") {
    static_assert(std::invocable<Fn&, const T&>, "Split takes fn(const T&) -> the index of an output");
    runtime::NodeSpec n;
    n.name = std::move(name);
    for (const auto& out : names) n.ports.push_back(internal::MakePort<T>(out));
    size_t count = names.size();
    n.make_operator = [fn, count](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::SplitOperator<T, Fn>>(fn, count);
    };
    int id = internal::JobBuilder::AddNode(*job_, std::move(n));
    internal::JobBuilder::AddEdge(*job_, internal::MakeEdge<T>(node_, port_, id, 0, runtime::Partitioning::kForward));
    return SplitStreams(job_, id, std::move(names));
  }

  // Sharder: spreads records round-robin over `parallelism` instances (0: job default).
  Stream<T> Rebalance(int parallelism = 0, std::string name = "rebalance") {
    return Exchange(runtime::Partitioning::kRebalance, parallelism, std::move(name), nullptr);
  }
  // Sharder with a choice of distribution: Distribution::kStealing lets idle instances
  // take batches queued for busy ones (for stateless stages; the order of records across
  // instances is not kept, as with round robin).
  Stream<T> Rebalance(Distribution distribution, int parallelism = 0, std::string name = "rebalance") {
    return Exchange(distribution == Distribution::kStealing ? runtime::Partitioning::kSteal
                                                            : runtime::Partitioning::kRebalance,
                    parallelism, std::move(name), nullptr);
  }
  // Sharder: routes records by the hash of fn(const T&) (or of a member, &Click::user)
  // over `parallelism` instances, without keyed state.
  template <typename Fn>
  Stream<T> PartitionBy(Fn fn, int parallelism = 0, std::string name = "partition") {
    static_assert(std::invocable<Fn&, const T&>, "PartitionBy takes fn(const T&) -> K, or a member pointer &T::field");
    using K = std::remove_cvref_t<std::invoke_result_t<Fn&, const T&>>;
    return Exchange(runtime::Partitioning::kHash, parallelism, std::move(name),
                    [fn](const T& v) { return operators::HashKey<K>(std::invoke(fn, v)); });
  }
  // Copier across tasks: every instance of the next operator receives every record.
  Stream<T> Broadcast(int parallelism = 0, std::string name = "broadcast") {
    return Exchange(runtime::Partitioning::kBroadcast, parallelism, std::move(name), nullptr);
  }

  void SinkTo(std::shared_ptr<SinkConnector<T>> sink, std::string name = "sink") {
    runtime::NodeSpec n;
    n.name = std::move(name);
    n.make_operator = [sink](const runtime::NodeSpec&, TaskMetrics* m) {
      return std::make_unique<runtime::SinkOperator<T>>(sink, m);
    };
    n.enable_exactly_once = [sink](const ExactlyOnceContext& context) { return sink->EnableExactlyOnce(context); };
    n.commit = [sink](const std::vector<checkpoint::PendingFile>& p) { return sink->Commit(p); };
    n.recover = [sink](const std::vector<checkpoint::PendingFile>& p, int64_t restored) {
      return sink->Recover(p, restored);
    };
    n.take_final_pending = [sink] { return sink->TakeFinalPending(); };
    int id = internal::JobBuilder::AddNode(*job_, std::move(n));
    internal::JobBuilder::AddEdge(*job_, internal::MakeEdge<T>(node_, port_, id, 0, runtime::Partitioning::kForward));
  }

  // A named side output of this stream's operator, e.g. "late" of a window.
  template <typename U>
  Stream<U> SideOutput(const std::string& name) const {
    const auto& ports = internal::JobBuilder::Graph(*job_).nodes[node_].ports;
    for (size_t i = 0; i < ports.size(); ++i) {
      if (ports[i].name != name) continue;
      if (ports[i].type != typeid(U)) {
        internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(
            absl::StrCat("side output '", name, "' of '", internal::JobBuilder::Graph(*job_).nodes[node_].name, "' has another type")));
      }
      return Stream<U>(job_, node_, static_cast<int>(i));
    }
    internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(
        absl::StrCat("'", internal::JobBuilder::Graph(*job_).nodes[node_].name, "' has no side output named '", name, "'")));
    return Stream<U>(job_, node_, 0);
  }

  // Sets the operator's name (shown in plans and errors; default uid of its state).
  Stream<T>& Name(std::string name) {
    internal::JobBuilder::Graph(*job_).nodes[node_].name = std::move(name);
    return *this;
  }
  // Stable id of the operator's state across job versions (savepoints).
  Stream<T>& Uid(std::string uid) {
    internal::JobBuilder::Graph(*job_).nodes[node_].uid = std::move(uid);
    return *this;
  }
  Stream<T>& Parallelism(int p) {
    if (p < 1) internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError("parallelism must be at least 1"));
    internal::JobBuilder::Graph(*job_).nodes[node_].parallelism = p;
    return *this;
  }

  Job* job() const { return job_; }
  int node() const { return node_; }
  int port() const { return port_; }

 private:
  // A new node fed from this stream by a forward edge.
  template <typename U, typename Make>
  Stream<U> Then(std::string name, Make make) {
    runtime::NodeSpec n;
    n.name = std::move(name);
    n.ports.push_back(internal::MakePort<U>());
    n.make_operator = [make](const runtime::NodeSpec& spec, TaskMetrics* m) -> std::unique_ptr<runtime::OperatorBase> {
      return make(spec, m);
    };
    int id = internal::JobBuilder::AddNode(*job_, std::move(n));
    internal::JobBuilder::AddEdge(*job_, internal::MakeEdge<T>(node_, port_, id, 0, runtime::Partitioning::kForward));
    return Stream<U>(job_, id);
  }

  // A Map or FlatMap node under a retry policy; call(const T&, Collector<U>&) is one attempt.
  template <typename U, typename Call>
  Stream<U> Retrying(std::string name, Call call, RetryPolicy policy) {
    if (std::string err = operators::ValidateRetryPolicy(policy); !err.empty()) {
      internal::JobBuilder::RecordError(*job_, absl::InvalidArgumentError(absl::StrCat("'", name, "': ", err)));
    }
    return Then<U>(std::move(name), [call, policy](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::RetryingOperator<T, U, Call>>(call, policy);
    });
  }

  runtime::NodeSpec IdentityNode(std::string name) {
    runtime::NodeSpec n;
    n.name = std::move(name);
    n.ports.push_back(internal::MakePort<T>());
    n.make_operator = [](const runtime::NodeSpec&, TaskMetrics*) {
      return std::make_unique<operators::IdentityOperator<T>>();
    };
    return n;
  }
  Stream<T> Exchange(runtime::Partitioning part, int parallelism, std::string name,
                     std::function<uint64_t(const T&)> hash) {
    runtime::NodeSpec n = IdentityNode(std::move(name));
    n.parallelism = parallelism;
    int id = internal::JobBuilder::AddNode(*job_, std::move(n));
    internal::JobBuilder::AddEdge(*job_, internal::MakeEdge<T>(node_, port_, id, 0, part, std::move(hash)));
    return Stream<T>(job_, id);
  }

  Job* job_;
  int node_;
  int port_;
};

template <typename K, typename T>
class WindowedStream;
template <typename K, typename A, typename B>
class JoinedStreams;
template <typename K, typename A, typename B>
class IntervalJoinedStreams;
template <typename K, typename A, typename B>
class ConnectedStreams;

template <typename K, typename T>
class KeyedStream {
 public:
  KeyedStream(Stream<T> input, std::function<K(const T&)> key) : input_(input), key_(std::move(key)) {}

  WindowedStream<K, T> Window(WindowAssigner assigner) const { return WindowedStream<K, T>(*this, assigner); }

  // Per-record logic with keyed state and timers; see operators/process.h.
  template <typename F>
  auto Process(std::unique_ptr<F> fn, std::string name = "process") const {
    using Base = KeyedProcessFunction<K, T, typename F::OutputType>;
    using Out = typename F::OutputType;
    static_assert(std::is_base_of_v<Base, F>, "Process() takes a KeyedProcessFunction<K, T, Out>");
    std::shared_ptr<F> proto(std::move(fn));
    // Each parallel instance needs its own function object.
    auto key = key_;
    return Keyed<Out>(std::move(name), [proto, key](const runtime::NodeSpec& spec, TaskMetrics*) {
      return std::make_unique<operators::KeyedProcessOperator<K, T, Out>>(key, std::make_unique<F>(*proto), spec.uid);
    });
  }

  // Process with ProcessElement tried again under `policy` when it throws, with the key's
  // state and timers context set again for every attempt (see "Retries" in docs/api.md).
  template <typename F>
  auto Process(std::unique_ptr<F> fn, RetryPolicy policy, std::string name = "process") const {
    using Base = KeyedProcessFunction<K, T, typename F::OutputType>;
    using Out = typename F::OutputType;
    static_assert(std::is_base_of_v<Base, F>, "Process() takes a KeyedProcessFunction<K, T, Out>");
    if (std::string err = operators::ValidateRetryPolicy(policy); !err.empty()) {
      internal::JobBuilder::RecordError(*input_.job(), absl::InvalidArgumentError(absl::StrCat("'", name, "': ", err)));
    }
    std::shared_ptr<F> proto(std::move(fn));
    auto key = key_;
    return Keyed<Out>(std::move(name), [proto, key, policy](const runtime::NodeSpec& spec, TaskMetrics*) {
      return std::make_unique<operators::KeyedProcessOperator<K, T, Out>>(key, std::make_unique<F>(*proto), spec.uid,
                                                                          policy);
    });
  }

  template <typename B>
  JoinedStreams<K, T, B> Join(const KeyedStream<K, B>& other) const {
    return JoinedStreams<K, T, B>(*this, other);
  }
  template <typename B>
  IntervalJoinedStreams<K, T, B> IntervalJoin(const KeyedStream<K, B>& other) const {
    return IntervalJoinedStreams<K, T, B>(*this, other);
  }
  // Both streams into one KeyedCoProcessFunction with shared keyed state and timers.
  template <typename B>
  ConnectedStreams<K, T, B> Connect(const KeyedStream<K, B>& other) const {
    return ConnectedStreams<K, T, B>(*this, other);
  }

  const Stream<T>& input() const { return input_; }
  const std::function<K(const T&)>& key() const { return key_; }

 private:
  template <typename, typename>
  friend class WindowedStream;
  friend class internal::JobBuilder;

  // A keyed operator node fed through a hash exchange on the key.
  template <typename Out, typename Make>
  Stream<Out> Keyed(std::string name, Make make, std::vector<runtime::PortSpec> side_ports = {}) const {
    Job* job = input_.job();
    runtime::NodeSpec n;
    n.name = std::move(name);
    n.keyed = true;
    n.ports.push_back(internal::MakePort<Out>());
    for (auto& p : side_ports) n.ports.push_back(std::move(p));
    n.make_operator = [make](const runtime::NodeSpec& spec, TaskMetrics* m) -> std::unique_ptr<runtime::OperatorBase> {
      return make(spec, m);
    };
    int id = internal::JobBuilder::AddNode(*job, std::move(n));
    internal::JobBuilder::AddEdge(*job, HashEdge(id, 0));
    return Stream<Out>(job, id);
  }
  runtime::EdgeSpec HashEdge(int to, int input) const {
    auto key = key_;
    return internal::MakeEdge<T>(input_.node(), input_.port(), to, input, runtime::Partitioning::kHash,
                                 [key](const T& v) { return operators::HashKey<K>(key(v)); },
                                 [key](const T& v) { return runtime::TraceJson(key(v)); });
  }

  Stream<T> input_;
  std::function<K(const T&)> key_;
};

template <typename K, typename T>
class WindowedStream {
 public:
  WindowedStream(KeyedStream<K, T> keyed, WindowAssigner assigner) : keyed_(std::move(keyed)), assigner_(assigner) {
    std::string err = assigner.Validate();
    if (!err.empty()) internal::JobBuilder::RecordError(*keyed_.input().job(), absl::InvalidArgumentError(err));
  }

  // Keeps window state until end − 1 + lateness; records in that span update the result.
  WindowedStream& AllowedLateness(absl::Duration lateness) {
    lateness_ = absl::ToInt64Milliseconds(lateness);
    return *this;
  }

  // Incremental aggregation; emits Windowed<K, R>{key, window, value}. Agg provides
  // Create() -> Acc, Add(Acc&, const T&), Result(const Acc&) -> R and, for session
  // windows, Merge(Acc&, const Acc&).
  template <typename Agg>
  auto Aggregate(Agg agg, std::string name = "window") {
    using Acc = std::remove_cvref_t<decltype(agg.Create())>;
    using R = std::remove_cvref_t<decltype(agg.Result(std::declval<const Acc&>()))>;
    using Out = Windowed<K, R>;
    return Aggregate(std::move(agg),
                     [](const K& k, const TimeWindow& w, R&& r) { return Out{k, w, std::move(r)}; },
                     std::move(name));
  }
  // Incremental aggregation with a result function fn(const K&, const TimeWindow&, R&&) -> Out.
  template <typename Agg, typename Fn>
    requires internal::WindowResultFunction<Fn, K, Agg>
  auto Aggregate(Agg agg, Fn fn, std::string name = "window") {
    using Acc = std::remove_cvref_t<decltype(agg.Create())>;
    using R = std::remove_cvref_t<decltype(agg.Result(std::declval<const Acc&>()))>;
    using Out = std::remove_cvref_t<std::invoke_result_t<Fn&, const K&, const TimeWindow&, R&&>>;
    if constexpr (!requires(Acc& a, const Acc& b) { agg.Merge(a, b); }) {
      if (assigner_.is_session()) {
        internal::JobBuilder::RecordError(*keyed_.input().job(), 
            absl::InvalidArgumentError("session windows need an aggregate with Merge(Acc&, const Acc&)"));
      }
    }
    auto emit = [fn](const K& k, const TimeWindow& w, R&& r, Collector<Out>& out) {
      out.Collect(fn(k, w, std::move(r)));
    };
    using Contents = operators::AggregateContents<K, T, Agg, decltype(emit), Out>;
    return Build<Out>(std::move(name), Contents(std::move(agg), emit));
  }
  // Rolling reduction fn(const T&, const T&) -> T; emits the reduced value.
  template <typename Fn>
  Stream<T> Reduce(Fn fn, std::string name = "window") {
    static_assert(std::is_invocable_r_v<T, Fn&, const T&, const T&>, "Reduce takes fn(const T&, const T&) -> T");
    return Build<T>(std::move(name), operators::ReduceContents<K, T, Fn>(std::move(fn)));
  }
  // All contents at once: fn(const K&, const TimeWindow&, std::vector<T>& elements, Collector<Out>&).
  template <typename Out, typename Fn>
  Stream<Out> Process(Fn fn, std::string name = "window") {
    static_assert(std::invocable<Fn&, const K&, const TimeWindow&, std::vector<T>&, Collector<Out>&>,
                  "Window(...).Process<Out> takes fn(const K&, const TimeWindow&, std::vector<T>&, kappa::Collector<Out>&)");
    return Build<Out>(std::move(name), operators::ProcessContents<K, T, Fn, Out>(std::move(fn)));
  }

 private:
  template <typename Out, typename Contents>
  Stream<Out> Build(std::string name, Contents contents) {
    auto key = keyed_.key();
    WindowAssigner assigner = assigner_;
    Timestamp lateness = lateness_;
    return keyed_.template Keyed<Out>(
        std::move(name),
        [key, assigner, lateness, contents](const runtime::NodeSpec& spec, TaskMetrics*) {
          return std::make_unique<operators::WindowOperator<K, T, Out, Contents>>(key, assigner, lateness, contents,
                                                                                 spec.uid);
        },
        {internal::MakePort<T>("late")});
  }

  KeyedStream<K, T> keyed_;
  WindowAssigner assigner_;
  Timestamp lateness_ = 0;
};

namespace internal {

template <typename Out, typename K, typename A, typename B, typename Make>
Stream<Out> JobBuilder::AddTwoInputKeyed(const KeyedStream<K, A>& a, const KeyedStream<K, B>& b, std::string name,
                                         Make make) {
  Job* job = a.input().job();
  runtime::NodeSpec n;
  n.name = std::move(name);
  n.keyed = true;
  n.ports.push_back(MakePort<Out>());
  n.make_operator = [make](const runtime::NodeSpec& spec, TaskMetrics*) -> std::unique_ptr<runtime::OperatorBase> {
    return make(spec.uid);
  };
  int id = internal::JobBuilder::AddNode(*job, std::move(n));
  internal::JobBuilder::AddEdge(*job, a.HashEdge(id, 0));
  internal::JobBuilder::AddEdge(*job, b.HashEdge(id, 1));
  return Stream<Out>(job, id);
}

}  // namespace internal

template <typename K, typename A, typename B>
class JoinedStreams {
 public:
  JoinedStreams(KeyedStream<K, A> a, KeyedStream<K, B> b) : a_(std::move(a)), b_(std::move(b)) {}

  class Windowed {
   public:
    // fn(const A&, const B&) -> Out for every pair in a window.
    template <typename Fn>
    auto Apply(Fn fn, std::string name = "window-join") {
      static_assert(std::invocable<Fn&, const A&, const B&>, "Join(...).Window(...).Apply takes fn(const A&, const B&) -> Out");
      using Out = std::remove_cvref_t<std::invoke_result_t<Fn&, const A&, const B&>>;
      Job* job = a_.input().job();
      if (assigner_.is_session() || assigner_.is_count()) {
        internal::JobBuilder::RecordError(*job, absl::InvalidArgumentError("window joins support tumbling and sliding windows"));
      }
      auto ka = a_.key();
      auto kb = b_.key();
      WindowAssigner assigner = assigner_;
      return internal::JobBuilder::AddTwoInputKeyed<Out>(a_, b_, std::move(name), [=](const std::string& uid) {
        return std::make_unique<operators::WindowJoinOperator<K, A, B, Out, Fn>>(ka, kb, assigner, fn, uid);
      });
    }

   private:
    friend class JoinedStreams;
    Windowed(KeyedStream<K, A> a, KeyedStream<K, B> b, WindowAssigner w) : a_(a), b_(b), assigner_(w) {}
    KeyedStream<K, A> a_;
    KeyedStream<K, B> b_;
    WindowAssigner assigner_;
  };

  Windowed Window(WindowAssigner assigner) const { return Windowed(a_, b_, assigner); }

  // A regular join (no time condition) in the given mode; see operators/regular_join.h.
  RegularJoinedStreams<K, A, B> Regular(JoinMode mode = JoinMode::kInner) const {
    return RegularJoinedStreams<K, A, B>(a_, b_, mode);
  }

 private:
  KeyedStream<K, A> a_;
  KeyedStream<K, B> b_;
};

// Join(...).Regular(mode): every pair of records with equal keys, emitted as a changelog of
// Change<Out> ("+I" / "-D" rows) as soon as both are there, in either arrival order.
template <typename K, typename A, typename B>
class RegularJoinedStreams {
 public:
  RegularJoinedStreams(KeyedStream<K, A> a, KeyedStream<K, B> b, JoinMode mode)
      : a_(std::move(a)), b_(std::move(b)), mode_(mode) {}

  // Keeps a left record for `ttl` of event time: it joins right records up to a.ts + ttl
  // and leaves state when the watermark passes that. Without it, left records stay.
  RegularJoinedStreams& LeftTtl(absl::Duration ttl) {
    left_ttl_ = CheckTtl(ttl, "LeftTtl");
    return *this;
  }
  // The same for right records.
  RegularJoinedStreams& RightTtl(absl::Duration ttl) {
    right_ttl_ = CheckTtl(ttl, "RightTtl");
    return *this;
  }

  // fn(const A*, const B*) -> Out for every change; the pointer of a missing partner
  // (outer modes only) is null.
  template <typename Fn>
  auto Apply(Fn fn, std::string name = "regular-join") {
    static_assert(std::invocable<Fn&, const A*, const B*>,
                  "Join(...).Regular(mode).Apply takes fn(const A*, const B*) -> Out");
    using Out = std::remove_cvref_t<std::invoke_result_t<Fn&, const A*, const B*>>;
    auto ka = a_.key();
    auto kb = b_.key();
    JoinMode mode = mode_;
    Timestamp left_ttl = left_ttl_, right_ttl = right_ttl_;
    return internal::JobBuilder::AddTwoInputKeyed<Change<Out>>(a_, b_, std::move(name), [=](const std::string& uid) {
      return std::make_unique<operators::RegularJoinOperator<K, A, B, Out, Fn>>(ka, kb, mode, left_ttl, right_ttl,
                                                                                 fn, uid);
    });
  }

 private:
  Timestamp CheckTtl(absl::Duration ttl, const char* what) {
    if (ttl < absl::ZeroDuration()) {
      internal::JobBuilder::RecordError(*a_.input().job(),
                                        absl::InvalidArgumentError(absl::StrCat("regular join: ", what, " is negative")));
      return operators::kNoJoinTtl;
    }
    return absl::ToInt64Milliseconds(ttl);
  }

  KeyedStream<K, A> a_;
  KeyedStream<K, B> b_;
  JoinMode mode_;
  Timestamp left_ttl_ = operators::kNoJoinTtl;
  Timestamp right_ttl_ = operators::kNoJoinTtl;
};

template <typename K, typename A, typename B>
class IntervalJoinedStreams {
 public:
  IntervalJoinedStreams(KeyedStream<K, A> a, KeyedStream<K, B> b) : a_(std::move(a)), b_(std::move(b)) {}

  // Joins a with b when a.ts + lower <= b.ts <= a.ts + upper.
  IntervalJoinedStreams& Between(absl::Duration lower, absl::Duration upper) {
    lower_ = absl::ToInt64Milliseconds(lower);
    upper_ = absl::ToInt64Milliseconds(upper);
    if (lower_ > upper_) internal::JobBuilder::RecordError(*a_.input().job(), absl::InvalidArgumentError("interval join: lower > upper"));
    return *this;
  }

  // fn(const A&, const B&, Collector<Out>&) for every matching pair.
  template <typename Out, typename Fn>
  Stream<Out> Process(Fn fn, std::string name = "interval-join") {
    static_assert(std::invocable<Fn&, const A&, const B&, Collector<Out>&>,
                  "IntervalJoin(...).Process<Out> takes fn(const A&, const B&, kappa::Collector<Out>&)");
    auto ka = a_.key();
    auto kb = b_.key();
    Timestamp lower = lower_, upper = upper_;
    return internal::JobBuilder::AddTwoInputKeyed<Out>(a_, b_, std::move(name), [=](const std::string& uid) {
      return std::make_unique<operators::IntervalJoinOperator<K, A, B, Out, Fn>>(ka, kb, lower, upper, fn, uid);
    });
  }
  // fn(const A&, const B&) -> Out for every matching pair.
  template <typename Fn>
  auto Apply(Fn fn, std::string name = "interval-join") {
    static_assert(std::invocable<Fn&, const A&, const B&>, "IntervalJoin(...).Apply takes fn(const A&, const B&) -> Out");
    using Out = std::remove_cvref_t<std::invoke_result_t<Fn&, const A&, const B&>>;
    return Process<Out>([fn](const A& a, const B& b, Collector<Out>& out) { out.Collect(fn(a, b)); },
                        std::move(name));
  }

 private:
  KeyedStream<K, A> a_;
  KeyedStream<K, B> b_;
  Timestamp lower_ = 0;
  Timestamp upper_ = 0;
};

template <typename K, typename A, typename B>
class ConnectedStreams {
 public:
  ConnectedStreams(KeyedStream<K, A> a, KeyedStream<K, B> b) : a_(std::move(a)), b_(std::move(b)) {}

  template <typename F>
  auto Process(std::unique_ptr<F> fn, std::string name = "co-process") {
    using Out = typename F::OutputType;
    static_assert(std::is_base_of_v<KeyedCoProcessFunction<K, A, B, Out>, F>,
                  "Connect(...).Process() takes a KeyedCoProcessFunction<K, A, B, Out>");
    auto ka = a_.key();
    auto kb = b_.key();
    std::shared_ptr<F> proto(std::move(fn));
    return internal::JobBuilder::AddTwoInputKeyed<Out>(a_, b_, std::move(name), [=](const std::string& uid) {
      return std::make_unique<operators::KeyedCoProcessOperator<K, A, B, Out>>(ka, kb, std::make_unique<F>(*proto), uid);
    });
  }
  // Process with ProcessElement1/2 tried again under `policy` when they throw, with the
  // key's state and timers context set again for every attempt (see "Retries" in docs/api.md).
  template <typename F>
  auto Process(std::unique_ptr<F> fn, RetryPolicy policy, std::string name = "co-process") {
    using Out = typename F::OutputType;
    static_assert(std::is_base_of_v<KeyedCoProcessFunction<K, A, B, Out>, F>,
                  "Connect(...).Process() takes a KeyedCoProcessFunction<K, A, B, Out>");
    if (std::string err = operators::ValidateRetryPolicy(policy); !err.empty()) {
      internal::JobBuilder::RecordError(*a_.input().job(), absl::InvalidArgumentError(absl::StrCat("'", name, "': ", err)));
    }
    auto ka = a_.key();
    auto kb = b_.key();
    std::shared_ptr<F> proto(std::move(fn));
    return internal::JobBuilder::AddTwoInputKeyed<Out>(a_, b_, std::move(name), [=](const std::string& uid) {
      return std::make_unique<operators::KeyedCoProcessOperator<K, A, B, Out>>(ka, kb, std::make_unique<F>(*proto), uid,
                                                                               policy);
    });
  }

 private:
  KeyedStream<K, A> a_;
  KeyedStream<K, B> b_;
};

template <typename T>
Stream<T> Job::Source(std::string name, std::shared_ptr<SourceConnector<T>> connector, WatermarkStrategy<T> strategy) {
  if (!strategy.timestamp) RecordError(absl::InvalidArgumentError(absl::StrCat("source '", name, "' has no timestamp extractor")));
  runtime::NodeSpec n;
  n.name = std::move(name);
  n.source = true;
  n.ports.push_back(internal::MakePort<T>());
  n.make_operator = [connector, strategy](const runtime::NodeSpec&, TaskMetrics*) {
    return std::make_unique<runtime::SourceOperator<T>>(connector, strategy);
  };
  int id = AddNode(std::move(n));
  return Stream<T>(this, id);
}

}  // namespace kappa

#endif  // KAPPA_API_JOB_H_
