#include "kappa/bench/kafka_bench.h"

#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kappa/bench/bench_util.h"
#include "kappa/bench/nexmark_baseline.h"
#include "kappa/bench/nexmark_queries.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/connectors/nexmark/generator.h"
#include "kappa/connectors/nexmark/json.h"
#include "kappa/api/job.h"
#include "kappa/runtime/errors.h"
#include "kappa/runtime/progress.h"
#include "kappa/base/status.h"
#include "simdjson.h"

#ifndef KAPPA_BUILD_TYPE
#define KAPPA_BUILD_TYPE "unknown"
#endif

namespace kappa::bench {
namespace {

namespace kafka = connectors::kafka;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

constexpr char kJob[] = "nexmark-q0";
// The mock keeps about 5 MiB (5,242,880 bytes) per partition and drops older data
// silently; leave room for the record and batch framing.
constexpr int64_t kMockPartitionBudget = 4'800'000;
constexpr int kOutputPartitionFactor = 8;
// A run that makes no progress for this long has failed.
constexpr auto kStallTimeout = std::chrono::seconds(60);

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text, '\0');
  return text;
}

// CPU seconds of the embedded mock broker's thread ("rdk:mock"; librdkafka runs every mock
// broker on it), 0 when there is none. From schedstat (ns), else stat (clock ticks).
double BrokerCpuSeconds() {
  double total = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string task = absl::StrCat("/proc/self/task/", entry->d_name);
    if (!ReadSmallFile(task + "/comm").starts_with("rdk:mock")) continue;
    const std::string schedstat = ReadSmallFile(task + "/schedstat");
    int64_t ns = 0;
    if (!schedstat.empty() &&
        std::from_chars(schedstat.data(), schedstat.data() + schedstat.size(), ns).ec == std::errc()) {
      total += static_cast<double>(ns) * 1e-9;
      continue;
    }
    const std::string stat = ReadSmallFile(task + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
    std::vector<std::string_view> fields;
    std::string_view rest(stat);
    rest.remove_prefix(paren + 2);
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      fields.push_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    if (fields.size() < 13) continue;
    int64_t utime = 0, stime = 0;
    std::from_chars(fields[11].data(), fields[11].data() + fields[11].size(), utime);
    std::from_chars(fields[12].data(), fields[12].data() + fields[12].size(), stime);
    total += static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  closedir(dir);
  return total;
}

// CPU seconds of the process without the embedded broker: what the measured code and its
// librdkafka clients use.
double ClientCpuSeconds() { return ProcessCpuSeconds() - BrokerCpuSeconds(); }

int EffectiveWorkers(const KafkaBenchOptions& o) {
  return o.workers > 0 ? o.workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Offsets [begin, end) of every partition of a topic.
struct Range {
  std::string topic;
  std::vector<int64_t> begin, end;

  int64_t count() const {
    int64_t n = 0;
    for (size_t p = 0; p < begin.size(); ++p) n += end[p] - begin[p];
    return n;
  }
  // offsets:0=O0,1=O1,... for `begin` or `end`.
  static std::string Offsets(const std::vector<int64_t>& offsets) {
    std::vector<std::string> items;
    for (size_t p = 0; p < offsets.size(); ++p) items.push_back(absl::StrCat(p, "=", offsets[p]));
    return absl::StrCat("offsets:", absl::StrJoin(items, ","));
  }
};

// The cluster the bench runs against: the embedded mock, or a real one where the bench
// creates topics of its own (PREFIX-ROLE, deleted when the bench ends) unless the user
// named existing ones.
class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Open(const KafkaBenchOptions& o) {
    std::unique_ptr<Cluster> c(new Cluster());
    if (o.kafka.empty()) {
      KAPPA_ASSIGN_OR_RETURN(c->embedded_, kafka::EmbeddedCluster::Start(3));
      c->bootstrap_ = c->embedded_->bootstrap();
    } else {
      c->bootstrap_ = o.kafka;
      c->in_topic_ = o.in_topic;
      c->out_topic_ = o.out_topic;
      c->replication_ = o.replication_factor;
      c->prefix_ = absl::StrCat("kappa-bench-", getpid(), "-",
                                std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
    }
    // Quiet: an unreachable cluster is reported once, by Describe(), not logged per attempt.
    KAPPA_ASSIGN_OR_RETURN(c->admin_,
                           kafka::NewClient(RD_KAFKA_CONSUMER, c->Endpoint(c->in_topic_),
                                            {{"group.id", "kappa-bench"}, {"enable.auto.commit", "false"},
                                             {"log_level", "2"}}));
    return c;
  }
  // Deletes the topics the bench created, if RunKafkaBench did not (it failed early).
  ~Cluster() { DeleteCreated().IgnoreError(); }

  bool embedded() const { return embedded_ != nullptr; }
  const std::string& bootstrap() const { return bootstrap_; }

  kafka::KafkaEndpoint Endpoint(const std::string& topic) const {
    kafka::KafkaEndpoint e;
    e.bootstrap = bootstrap_;
    e.topic = topic;
    e.text = Uri(topic);
    return e;
  }
  std::string Uri(const std::string& topic) const { return absl::StrCat("kafka://", bootstrap_, "/", topic); }

  // Consumer settings for every consumer of the bench, the job's and the baseline's. The
  // mock answers a fetch that finds no data only after the fetch's full wait
  // (fetch.wait.max.ms, 500 ms by default), not when data arrives as a broker does; a
  // consumer that catches up with a producer would stall that long each time.
  std::vector<std::pair<std::string, std::string>> ConsumerConfig() const {
    if (!embedded()) return {};
    return {{"fetch.wait.max.ms", "10"}};
  }
  // The same as URI parameters of a kafka:// source.
  std::string SourceParams() const {
    std::string params;
    for (const auto& [k, v] : ConsumerConfig()) absl::StrAppend(&params, "&kafka.", k, "=", v);
    return params;
  }

  // The topic for `role` ("in", "live-…", "out-…", "q5-live", "q5-out-…"): on the embedded
  // cluster each role and repetition has its own (the mock's retention would drop data of
  // earlier runs); on a real cluster too (PREFIX-ROLE), unless the user named the input
  // and output topics.
  absl::StatusOr<std::string> Topic(const std::string& role, int partitions) {
    if (!embedded() && !in_topic_.empty()) return InputRole(role) ? in_topic_ : out_topic_;
    std::string name = absl::StrCat(embedded() ? "bench" : prefix_, "-", role);
    if (embedded()) {
      KAPPA_RETURN_IF_ERROR(embedded_->CreateTopic(name, partitions));
    } else {
      KAPPA_RETURN_IF_ERROR(CreateTopic(name, partitions));
    }
    return name;
  }
  static bool InputRole(const std::string& role) {
    return role == "in" || role.starts_with("live") || role.starts_with("q5-live");
  }
  bool creates_topics() const { return embedded() || in_topic_.empty(); }
  // Of the topics the bench creates on a real cluster ("" on the embedded one).
  const std::string& prefix() const { return prefix_; }
  int replication() const { return replication_; }

  // Deletes the topics the bench created on a real cluster.
  absl::Status DeleteCreated() {
    if (embedded() || created_.empty()) return absl::OkStatus();
    std::vector<rd_kafka_DeleteTopic_t*> topics;
    for (const std::string& t : created_) topics.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
    rd_kafka_queue_t* q = rd_kafka_queue_new(admin_.get());
    rd_kafka_DeleteTopics(admin_.get(), topics.data(), topics.size(), nullptr, q);
    absl::Status status = absl::DeadlineExceededError("deleting the bench's topics: no answer in 30 s");
    if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000)) {
      status = absl::OkStatus();
      size_t n = 0;
      const rd_kafka_topic_result_t** res =
          rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
      if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::UnavailableError(absl::StrCat("deleting the bench's topics: ", rd_kafka_event_error_string(ev)));
      }
      for (size_t i = 0; i < n && status.ok(); ++i) {
        if (rd_kafka_topic_result_error(res[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          status = absl::UnavailableError(absl::StrCat("deleting topic ", rd_kafka_topic_result_name(res[i]), ": ",
                                                       rd_kafka_topic_result_error_string(res[i])));
        }
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    for (rd_kafka_DeleteTopic_t* t : topics) rd_kafka_DeleteTopic_destroy(t);
    created_.clear();
    return status;
  }

  // What the cluster says about itself: its brokers, and the version Kafka reports in the
  // first broker's inter.broker.protocol.version (e.g. 3.9-IV0; "" if it does not say).
  struct Info {
    int brokers = 0;
    std::string version;
  };
  absl::StatusOr<Info> Describe() {
    Info info;
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(admin_.get(), 0, nullptr, &md, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("cannot reach Kafka at ", bootstrap_, " within 10 s (", rd_kafka_err2str(err), ")"));
    }
    info.brokers = md->broker_cnt;
    const int broker = md->broker_cnt > 0 ? md->brokers[0].id : -1;
    rd_kafka_metadata_destroy(md);
    if (broker < 0 || embedded()) return info;
    rd_kafka_ConfigResource_t* res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, absl::StrCat(broker).c_str());
    rd_kafka_queue_t* q = rd_kafka_queue_new(admin_.get());
    rd_kafka_DescribeConfigs(admin_.get(), &res, 1, nullptr, q);
    if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000)) {
      const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(ev);
      size_t n = 0;
      const rd_kafka_ConfigResource_t** rs = result ? rd_kafka_DescribeConfigs_result_resources(result, &n) : nullptr;
      for (size_t i = 0; i < n; ++i) {
        size_t entries = 0;
        const rd_kafka_ConfigEntry_t** es = rd_kafka_ConfigResource_configs(rs[i], &entries);
        for (size_t j = 0; j < entries; ++j) {
          const char* value = rd_kafka_ConfigEntry_value(es[j]);
          if (std::string_view(rd_kafka_ConfigEntry_name(es[j])) == "inter.broker.protocol.version" && value) {
            info.version = value;
          }
        }
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return info;
  }

  // An output topic. Rows carry no key, so librdkafka's sticky partitioner sends all rows
  // of a stretch of time to one random partition: far less even than the input's e % P.
  // On the embedded cluster output topics get kOutputPartitionFactor times the input's
  // partitions, so that no partition is likely to reach the mock's retention.
  absl::StatusOr<std::string> OutputTopic(const std::string& role, int input_partitions) {
    return Topic(role, embedded() ? input_partitions * kOutputPartitionFactor : input_partitions);
  }

  absl::StatusOr<int> Partitions(const std::string& topic) {
    auto known = partitions_.find(topic);
    if (known != partitions_.end()) return known->second;
    KAPPA_ASSIGN_OR_RETURN(int n, kafka::PartitionCount(admin_.get(), Endpoint(topic), 10000));
    partitions_[topic] = n;
    return n;
  }

  // Each partition's high watermark, in one ListOffsets request (latest offset), or one
  // watermark query per partition if the broker will not answer that.
  absl::StatusOr<std::vector<int64_t>> Highs(const std::string& topic) {
    KAPPA_ASSIGN_OR_RETURN(int n, Partitions(topic));
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    std::vector<int64_t> highs(n, -1);
    if (rd_kafka_offsets_for_times(admin_.get(), list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < list->cnt; ++i) {
        const rd_kafka_topic_partition_t& tp = list->elems[i];
        if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.partition >= 0 && tp.partition < n) {
          highs[tp.partition] = tp.offset;
        }
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
    for (int p = 0; p < n; ++p) {
      if (highs[p] >= 0) continue;
      KAPPA_ASSIGN_OR_RETURN(kafka::Watermarks w, kafka::QueryWatermarks(admin_.get(), topic, p));
      highs[p] = w.high;
    }
    return highs;
  }

  // The first offset still in each partition.
  absl::StatusOr<std::vector<int64_t>> Lows(const std::string& topic) {
    KAPPA_ASSIGN_OR_RETURN(int n, Partitions(topic));
    std::vector<int64_t> lows(n);
    for (int p = 0; p < n; ++p) {
      KAPPA_ASSIGN_OR_RETURN(kafka::Watermarks w, kafka::QueryWatermarks(admin_.get(), topic, p));
      lows[p] = w.low;
    }
    return lows;
  }

  // Data of the range still in the topic: retention (the mock's ~5 MiB per partition) did
  // not drop any of it.
  absl::Status CheckRetained(const Range& r) {
    KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> lows, Lows(r.topic));
    for (size_t p = 0; p < r.begin.size() && p < lows.size(); ++p) {
      if (lows[p] > r.begin[p]) {
        return absl::DataLossError(absl::StrCat(
            r.topic, " partition ", p, " no longer holds offsets ", r.begin[p], "..", lows[p] - 1,
            embedded()
                ? ": the embedded broker keeps about 5 MiB per partition; use more --partitions or fewer --events"
                : ": retention removed them"));
      }
    }
    return absl::OkStatus();
  }

 private:
  Cluster() = default;

  // Creates a topic through the admin API and waits until every partition has a leader.
  // The input's message timestamps are its dateTimes, in 2023: with a broker's defaults,
  // retention by time would delete the data within minutes and every batch would roll a
  // new segment (a segment rolls when its first timestamp is older than segment.ms), so
  // the bench's topics keep data by time forever and roll segments by size only.
  absl::Status CreateTopic(const std::string& topic, int partitions) {
    created_.push_back(topic);  // deleted at the end, even if it never gets a leader
    return kafka::CreateTopic(admin_.get(), topic, partitions, replication_,
                              {{"retention.ms", "-1"}, {"segment.ms", "3153600000000"}});  // 100 years
  }

  std::string in_topic_, out_topic_;  // named by the user (a real cluster)
  std::string prefix_;                // of the topics the bench creates on a real cluster
  int replication_ = 1;
  std::vector<std::string> created_;
  std::unique_ptr<kafka::EmbeddedCluster> embedded_;
  std::string bootstrap_;
  kafka::Handle admin_;  // metadata and offsets
  std::map<std::string, int> partitions_;
};

// A producer with the settings of the Kafka sink's (idempotent, linger.ms=5). Produce()
// waits while librdkafka's queue is full; the first failed delivery is kept.
class RawProducer {
 public:
  static absl::StatusOr<std::unique_ptr<RawProducer>> Open(const kafka::KafkaEndpoint& endpoint) {
    std::unique_ptr<RawProducer> p(new RawProducer());
    KAPPA_ASSIGN_OR_RETURN(p->rk_,
                           kafka::NewClient(
                               RD_KAFKA_PRODUCER, endpoint, {{"enable.idempotence", "true"}, {"linger.ms", "5"}},
                               [](rd_kafka_conf_t* conf, void* self) {
                                 rd_kafka_conf_set_dr_msg_cb(conf, &RawProducer::OnDelivery);
                                 rd_kafka_conf_set_opaque(conf, self);
                               },
                               p.get()));
    p->topic_ = rd_kafka_topic_new(p->rk_.get(), endpoint.topic.c_str(), nullptr);
    p->name_ = endpoint.Describe();
    return p;
  }
  ~RawProducer() {
    if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
  }

  // partition RD_KAFKA_PARTITION_UA: librdkafka's partitioner picks, as for the sink.
  absl::Status Produce(int32_t partition, std::string_view value, int64_t timestamp_ms) {
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(topic_), RD_KAFKA_V_PARTITION(partition),
                                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                                  RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return absl::UnavailableError(absl::StrCat("produce to ", name_, ": ", rd_kafka_err2str(err)));
      }
      rd_kafka_poll(rk_.get(), 10);
      KAPPA_RETURN_IF_ERROR(DeliveryStatus());
    }
    ++produced_;
    return absl::OkStatus();
  }
  void Poll() { rd_kafka_poll(rk_.get(), 0); }

  // Waits until every message is acknowledged; all must have been delivered.
  absl::Status Flush() {
    rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), 300000);
    KAPPA_RETURN_IF_ERROR(DeliveryStatus());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("flush to ", name_, ": ", rd_kafka_err2str(err)));
    }
    if (delivered_.load() != produced_) {
      return absl::InternalError(
          absl::StrCat(name_, ": ", delivered_.load(), " of ", produced_, " messages delivered"));
    }
    return absl::OkStatus();
  }
  int64_t produced() const { return produced_; }

 private:
  RawProducer() = default;
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<RawProducer*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->error_.empty()) {
      self->error_ = absl::StrCat("delivery to ", self->name_, " failed: ", rd_kafka_err2str(m->err));
    }
  }
  absl::Status DeliveryStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_.empty() ? absl::OkStatus() : absl::UnavailableError(error_);
  }

  std::string name_;
  int64_t produced_ = 0;
  std::atomic<int64_t> delivered_{0};
  std::mutex mu_;
  std::string error_;
  rd_kafka_topic_t* topic_ = nullptr;
  // Last: destroyed first, while what its delivery callback touches still exists.
  kafka::Handle rk_;
};

nexmark::GeneratorConfig EventsConfig(const KafkaBenchOptions& o) {
  nexmark::GeneratorConfig config;
  config.seed = o.seed;
  config.events = o.events;
  if (o.event_rate > 0) config.rate = o.event_rate;
  return config;
}

struct InputShape {
  int64_t bids = 0;
  int64_t max_partition_bytes = 0;
  int64_t bytes = 0;
  int64_t q5_rows = 0;  // by the hand-written q5 (nexmark_baseline.h)
};

// What the input will be, without producing it: bids, the JSON bytes in all and in the
// fullest partition (events spread e % partitions), and q5's rows.
InputShape MeasureInput(const KafkaBenchOptions& o, int partitions) {
  InputShape shape;
  std::vector<int64_t> bytes(partitions);
  nexmark::Generator gen(EventsConfig(o));
  nexmark::Event e;
  std::string json;
  std::unique_ptr<BaselineQuery> q5 = MakeBaselineQuery("q5");
  RowSink q5_rows;
  for (int64_t i = 0; gen.HasNext(); ++i) {
    gen.NextInto(&e);
    json.clear();
    nexmark::AppendJson(e, &json);
    bytes[i % partitions] += static_cast<int64_t>(json.size());
    shape.bytes += static_cast<int64_t>(json.size());
    if (e.is_bid()) ++shape.bids;
    q5->OnEvent(e, q5_rows);
  }
  q5->Finish(q5_rows);
  shape.q5_rows = q5_rows.rows();
  shape.max_partition_bytes = *std::max_element(bytes.begin(), bytes.end());
  return shape;
}

// Produces the events as JSON into `topic` (event e to partition e % partitions, message
// timestamp = dateTime), flushed. `produced` counts for progress.
absl::Status ProduceEvents(const Cluster& cluster, const std::string& topic, int partitions, const KafkaBenchOptions& o,
                           std::atomic<int64_t>* produced) {
  KAPPA_ASSIGN_OR_RETURN(auto producer, RawProducer::Open(cluster.Endpoint(topic)));
  nexmark::Generator gen(EventsConfig(o));
  nexmark::Event e;
  std::string json;
  for (int64_t i = 0; gen.HasNext(); ++i) {
    gen.NextInto(&e);
    json.clear();
    nexmark::AppendJson(e, &json);
    KAPPA_RETURN_IF_ERROR(producer->Produce(static_cast<int32_t>(i % partitions), json, e.date_time()));
    if ((i & 1023) == 0) {
      producer->Poll();
      produced->store(i, std::memory_order_relaxed);
    }
  }
  KAPPA_RETURN_IF_ERROR(producer->Flush());
  produced->store(o.events, std::memory_order_relaxed);
  return absl::OkStatus();
}

// Records read so far by the sources registered on the run's progress board for `source`
// (a connector description).
int64_t BoardRecords(const runtime::SourceProgress& board, const std::string& source, int* partitions = nullptr) {
  std::vector<runtime::SourceProgress::View> views = board.Read();
  int64_t records = 0;
  int n = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i].source != source) continue;
    records += views[i].records;
    ++n;
  }
  if (partitions != nullptr) *partitions = n;
  return records;
}

struct Measured {
  double wall_s = 0;
  double cpu_s = 0;
  double broker_cpu_s = 0;  // the embedded broker's thread, meanwhile
  int64_t checkpoints = 0;
};

// Builds nexmark-q0 (the registry's, else the built-in one) with these URIs and runs it to its end (or until
// `stop`), its sources publishing to `board`. Timed from building the job (which connects
// to the cluster) to the end of Execute (which flushes the sink's producer).
//
// With a checkpoint_dir (q5): checkpoints every --checkpoint-interval and exactly-once
// output, the watermark bound of --out-of-orderness.
absl::StatusOr<Measured> RunJob(const JobRegistry& registry, const KafkaBenchOptions& o, const std::string& source,
                                const std::string& sink, const std::atomic<bool>* stop,
                                runtime::SourceProgress* board, const char* job_name = kJob,
                                const std::string& checkpoint_dir = "") {
  const JobDefinition* def = FindNexmarkJob(registry, job_name);
  if (def == nullptr) return absl::NotFoundError(absl::StrCat("no job ", job_name));
  Measured m;
  const double broker0 = BrokerCpuSeconds();
  const double cpu0 = ClientCpuSeconds();
  const auto wall0 = Clock::now();
  JobBindings bindings;
  bindings.default_source = source;
  bindings.default_sink = sink;
  bindings.out_of_orderness_ms = o.out_of_orderness_ms;
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
  // q0 keeps no state; q5's windows are small (a count per auction and window).
  options.state_backend = StateBackendKind::kHeap;
  options.stop_requested = stop;
  options.progress = board;
  if (!checkpoint_dir.empty()) {
    options.checkpoint_dir = checkpoint_dir;
    options.checkpoint_interval_ms = o.checkpoint_interval_ms;
    options.restore = ExecutionOptions::Restore::kFresh;
  }
  absl::StatusOr<ExecutionResult> result = job->Execute(options);
  m.wall_s = Seconds(Clock::now() - wall0).count();
  m.cpu_s = ClientCpuSeconds() - cpu0;
  m.broker_cpu_s = BrokerCpuSeconds() - broker0;
  if (!result.ok()) {
    return absl::Status(result.status().code(), absl::StrCat(job_name, " failed: ", result.status().message()));
  }
  if (!result->checkpoint_status.ok()) {
    return absl::Status(result->checkpoint_status.code(),
                        absl::StrCat(job_name, ": a checkpoint failed: ", result->checkpoint_status.message()));
  }
  m.checkpoints = result->checkpoints_completed;
  KAPPA_RETURN_IF_ERROR(ctx.Finish());
  if (errors.decode_errors() > 0) {
    return absl::InternalError(absl::StrCat(job_name, ": ", errors.decode_errors(), " input messages did not decode"));
  }
  return m;
}

// The q0 row of one event, by hand: the event's JSON parsed with simdjson On-Demand just
// far enough to see its type and, for a bid, read the five fields; the row re-encoded with
// the contract's field order, `extra` copied as its JSON token. False for other events.
class BidRows {
 public:
  absl::StatusOr<bool> Row(const char* data, size_t len, std::string* row, int64_t* ts,
                           int64_t* auction_out = nullptr) {
    if (padded_.size() < len + simdjson::SIMDJSON_PADDING) padded_.resize(len + simdjson::SIMDJSON_PADDING);
    std::memcpy(padded_.data(), data, len);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object object;
    if (parser_.iterate(padded_.data(), len, padded_.size()).get(doc) || doc.get_object().get(object)) {
      return absl::InvalidArgumentError("input message is not a JSON object");
    }
    bool bid = false;
    int found = 0;
    int64_t auction = 0, bidder = 0, price = 0, date_time = 0;
    std::string_view extra = "\"\"";
    for (auto result : object) {
      simdjson::ondemand::field field;
      std::string_view key;
      if (std::move(result).get(field) || field.unescaped_key().get(key)) return Bad("a field");
      if (key == "type") {
        std::string_view type;
        if (field.value().get_string().get(type)) return Bad("type");
        if (type != "bid") return false;
        bid = true;
      } else if (key == "auction") {
        if (field.value().get_int64().get(auction)) return Bad("auction");
        ++found;
      } else if (key == "bidder") {
        if (field.value().get_int64().get(bidder)) return Bad("bidder");
        ++found;
      } else if (key == "price") {
        if (field.value().get_int64().get(price)) return Bad("price");
        ++found;
      } else if (key == "dateTime") {
        if (field.value().get_int64().get(date_time)) return Bad("dateTime");
        ++found;
      } else if (key == "extra") {
        simdjson::ondemand::value v = field.value();
        bool null = false;
        if (v.is_null().get(null)) return Bad("extra");
        if (!null) {
          extra = v.raw_json_token();
          while (!extra.empty() && extra.back() != '"') extra.remove_suffix(1);  // trailing blanks
        }
      }
    }
    if (!bid) return false;
    if (found != 4) return Bad("auction, bidder, price or dateTime (missing)");
    row->clear();
    row->append("{\"auction\":");
    AppendInt(auction, row);
    row->append(",\"bidder\":");
    AppendInt(bidder, row);
    row->append(",\"price\":");
    AppendInt(price, row);
    row->append(",\"dateTime\":");
    AppendInt(date_time, row);
    row->append(",\"extra\":");
    row->append(extra);
    row->push_back('}');
    *ts = date_time;
    if (auction_out != nullptr) *auction_out = auction;
    return true;
  }

 private:
  static absl::Status Bad(std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("input message: bad bid field ", std::string(what)));
  }
  static void AppendInt(int64_t v, std::string* out) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, r.ptr);
  }

  simdjson::ondemand::parser parser_;
  std::string padded_;
};

// Consumes a range with one consumer assigned every partition at its begin offset, calling
// `on` for each message below its partition's end; done when the whole range was seen.
//
// Each partition is read from its own queue, round-robin, as the engine's source does. The
// obvious loop over the consumer's common queue (rd_kafka_consume_batch_queue on
// rd_kafka_queue_get_consumer) measured 4x slower in the baseline on librdkafka 2.0.2 against
// the mock: fed while the same thread produced, it sat empty for ~80% of the run.
absl::Status ConsumeRange(const Cluster& cluster, const Range& r, const char* group,
                          const std::function<absl::Status(const rd_kafka_message_t*)>& on) {
  std::vector<std::pair<std::string, std::string>> config = {{"group.id", group},
                                                             {"enable.auto.commit", "false"},
                                                             {"enable.partition.eof", "false"},
                                                             {"auto.offset.reset", "error"}};
  for (auto& kv : cluster.ConsumerConfig()) config.push_back(std::move(kv));
  KAPPA_ASSIGN_OR_RETURN(kafka::Handle rk, kafka::NewClient(RD_KAFKA_CONSUMER, cluster.Endpoint(r.topic), config));
  std::vector<rd_kafka_queue_t*> queues;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(r.begin.size()));
  for (size_t p = 0; p < r.begin.size(); ++p) {
    if (r.end[p] <= r.begin[p]) continue;
    rd_kafka_queue_t* q = rd_kafka_queue_get_partition(rk.get(), r.topic.c_str(), static_cast<int32_t>(p));
    rd_kafka_queue_forward(q, nullptr);  // its messages stay on its own queue
    queues.push_back(q);
    rd_kafka_topic_partition_list_add(list, r.topic.c_str(), static_cast<int32_t>(p))->offset = r.begin[p];
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  absl::Status status;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = absl::UnavailableError(absl::StrCat("assign ", r.topic, ": ", rd_kafka_err2str(err)));
  }
  int64_t remaining = r.count();
  auto last_progress = Clock::now();
  constexpr int kBatch = 1024;
  rd_kafka_message_t* msgs[kBatch];
  size_t next = 0;
  while (remaining > 0 && status.ok()) {
    // What the next non-empty partition has, without waiting. When none has anything, wait
    // up to 1 ms on the consumer's own queue, where consumer-wide errors arrive.
    ssize_t n = 0;
    for (size_t k = 0; k < queues.size() && n == 0; ++k) {
      n = rd_kafka_consume_batch_queue(queues[next], 0, msgs, kBatch);
      next = (next + 1) % queues.size();
    }
    if (n == 0) {
      msgs[0] = rd_kafka_consumer_poll(rk.get(), 1);
      n = msgs[0] != nullptr ? 1 : 0;
    }
    if (n < 0) {
      status = absl::UnavailableError(absl::StrCat("consume ", r.topic, ": ", rd_kafka_err2str(rd_kafka_last_error())));
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (!status.ok()) {
        // Only destroy what is left of the batch.
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const size_t p = static_cast<size_t>(m->partition);
        if (p < r.end.size() && m->offset >= r.begin[p] && m->offset < r.end[p]) {
          status = on(m);
          --remaining;
        }
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
                 m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        status = absl::UnavailableError(absl::StrCat("consume ", r.topic, ": ", rd_kafka_message_errstr(m)));
      }
      rd_kafka_message_destroy(m);
    }
    if (n > 0) {
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > kStallTimeout) {
      status = absl::DeadlineExceededError(
          absl::StrCat("reading ", r.topic, ": ", remaining, " messages not received within 60 s"));
    }
  }
  for (rd_kafka_queue_t* q : queues) rd_kafka_queue_destroy(q);
  rd_kafka_assign(rk.get(), nullptr);
  rd_kafka_consumer_close(rk.get());
  return status;
}

struct LoopRun {
  Measured m;
  int64_t rows = 0;
  int64_t bytes = 0;  // of the rows' values
};

// The baseline: consume the input range, produce q0's row for every bid, flush. One thread;
// timed from creating the clients to the end of the flush, like the job.
absl::StatusOr<LoopRun> RunBaseline(const Cluster& cluster, const Range& in, const std::string& out_topic,
                                    std::atomic<int64_t>* consumed) {
  LoopRun run;
  const double broker0 = BrokerCpuSeconds();
  const double cpu0 = ClientCpuSeconds();
  const auto wall0 = Clock::now();
  KAPPA_ASSIGN_OR_RETURN(auto producer, RawProducer::Open(cluster.Endpoint(out_topic)));
  BidRows rows;
  std::string row;
  int64_t n = 0;
  KAPPA_RETURN_IF_ERROR(ConsumeRange(cluster, in, "kappa-bench-baseline", [&](const rd_kafka_message_t* m) {
    int64_t ts = 0;
    KAPPA_ASSIGN_OR_RETURN(bool bid, rows.Row(static_cast<const char*>(m->payload), m->len, &row, &ts));
    if (bid) {
      KAPPA_RETURN_IF_ERROR(producer->Produce(RD_KAFKA_PARTITION_UA, row, ts));
      run.bytes += static_cast<int64_t>(row.size());
    }
    if ((++n & 1023) == 0) {
      producer->Poll();  // delivery reports
      consumed->store(n, std::memory_order_relaxed);
    }
    return absl::OkStatus();
  }));
  KAPPA_RETURN_IF_ERROR(producer->Flush());
  run.m.wall_s = Seconds(Clock::now() - wall0).count();
  run.m.cpu_s = ClientCpuSeconds() - cpu0;
  run.m.broker_cpu_s = BrokerCpuSeconds() - broker0;
  run.rows = producer->produced();
  consumed->store(n, std::memory_order_relaxed);
  return run;
}

// The multiset of a range's message values, order-independent: equal digests mean (up to
// 64-bit hash collisions) equal rows.
struct Digest {
  int64_t count = 0;
  uint64_t sum = 0;
  uint64_t mixed = 0;
  bool operator==(const Digest&) const = default;
};

absl::StatusOr<Digest> DigestRange(const Cluster& cluster, const Range& r) {
  Digest d;
  KAPPA_RETURN_IF_ERROR(ConsumeRange(cluster, r, "kappa-bench-check", [&](const rd_kafka_message_t* m) {
    const uint64_t h = std::hash<std::string_view>()(std::string_view(static_cast<const char*>(m->payload), m->len));
    ++d.count;
    d.sum += h;
    d.mixed += (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL;
    return absl::OkStatus();
  }));
  return d;
}

// Offsets [before, now) of `topic`, given the high watermarks before a run.
absl::StatusOr<Range> RangeSince(Cluster& cluster, const std::string& topic, const std::vector<int64_t>& before) {
  Range r{topic, before, {}};
  KAPPA_ASSIGN_OR_RETURN(r.end, cluster.Highs(topic));
  if (r.end.size() != r.begin.size()) return absl::InternalError(absl::StrCat(topic, ": partition count changed"));
  return r;
}

struct Repetition {
  Measured engine, baseline;
  double replay_s = 0;  // the job's source assigned → every row in the output topic
  int64_t engine_rows = 0, baseline_rows = 0, live_rows = 0;
  double live_wall_s = 0, live_producer_s = 0;
  int64_t baseline_bytes = 0;
  Range engine_out, baseline_out, live_out;
};

// The source URI bounded to a range: earliest..end when the range is the whole topic (the
// embedded cluster), explicit offsets otherwise.
std::string BoundedSource(const Cluster& cluster, const Range& in) {
  const bool whole = cluster.embedded();
  return absl::StrCat(cluster.Uri(in.topic), "?start=", whole ? "earliest" : Range::Offsets(in.begin),
                      "&end=", whole ? "end" : Range::Offsets(in.end), cluster.SourceParams());
}

// A job running on its own thread, seen from outside: when its source had every partition
// assigned (registered on the progress board) and when its output topic held every row.
struct Timeline {
  Clock::time_point ready, done;
};

struct Watched {
  std::string source;  // the source connector's description
  int partitions = 0;
  runtime::SourceProgress board;  // the job's sources' positions
  int64_t events = 0;
  std::string out;
  std::vector<int64_t> out_before;
  int64_t rows = 0;
};

// Polls until the job is ready, then calls `on_ready`, then polls until it has read every
// event (the progress board, every ms) and the output holds every row (a ListOffsets request
// every 2 ms). `check` is polled too: an error from it ends the watch. `job_done` is set when
// the job's Execute returned; a job that ends first must have written every row.
// Polls until the job's source has every partition assigned.
absl::Status WaitAssigned(const Watched& w, const std::atomic<bool>& job_done, const char* job = kJob) {
  const auto ready_deadline = Clock::now() + kStallTimeout;
  while (true) {
    int assigned = 0;
    BoardRecords(w.board, w.source, &assigned);
    if (assigned >= w.partitions) return absl::OkStatus();
    if (job_done) return absl::InternalError(absl::StrCat(job, " ended before it was reading ", w.source));
    if (Clock::now() > ready_deadline) {
      return absl::DeadlineExceededError(absl::StrCat(job, " did not start reading ", w.source, " within 60 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

absl::StatusOr<Timeline> Watch(Cluster& cluster, const Watched& w, const std::atomic<bool>& job_done,
                               const std::function<void()>& on_ready, const std::function<absl::Status()>& check) {
  Timeline t;
  KAPPA_RETURN_IF_ERROR(WaitAssigned(w, job_done));
  t.ready = Clock::now();
  if (on_ready) on_ready();
  int64_t last = -1;
  auto last_change = Clock::now();
  bool all_read = false;
  while (true) {
    const bool ended = job_done;
    int64_t at = 0;
    if (!all_read) {
      at = BoardRecords(w.board, w.source);
      all_read = at >= w.events;
    }
    if (all_read) {
      KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> highs, cluster.Highs(w.out));
      at = 0;
      for (size_t p = 0; p < highs.size() && p < w.out_before.size(); ++p) at += highs[p] - w.out_before[p];
      if (at >= w.rows) {
        t.done = Clock::now();
        return t;
      }
    }
    if (ended) {
      return absl::InternalError(absl::StrCat(kJob, " ended with ", at, all_read ? " rows in " : " events read from ",
                                              all_read ? w.out : w.source));
    }
    KAPPA_RETURN_IF_ERROR(check());
    if (at != last) {
      last = at;
      last_change = Clock::now();
    } else if (Clock::now() - last_change > kStallTimeout) {
      return absl::DeadlineExceededError(
          absl::StrCat(kJob, ": no progress for 60 s (at ", at, all_read ? " output rows)" : " events read)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(all_read ? 2 : 1));
  }
}

// The replay: the job over the filled input, bounded. Its wall time (for the comparison with
// the baseline) runs from building the job to the end of Execute; `replay_s` (for the
// comparison with the live run) from its source being assigned to the last row arriving.
absl::Status RunReplay(const JobRegistry& registry, const KafkaBenchOptions& o, Cluster& cluster, const Range& in,
                       int64_t expected, int rep, Repetition* r) {
  Watched w;
  KAPPA_ASSIGN_OR_RETURN(w.out,
                         cluster.OutputTopic(absl::StrCat("out-replay-", rep), static_cast<int>(in.begin.size())));
  KAPPA_ASSIGN_OR_RETURN(w.out_before, cluster.Highs(w.out));
  w.source = cluster.Endpoint(in.topic).Describe();
  w.partitions = static_cast<int>(in.begin.size());
  w.events = in.count();
  w.rows = expected;
  const std::string source = BoundedSource(cluster, in);
  std::atomic<bool> job_done{false};
  absl::StatusOr<Measured> job_result = absl::UnknownError("not run");
  absl::StatusOr<Timeline> timeline = absl::UnknownError("not watched");
  {
    Progress progress(o.progress, "replay (engine)", in.count(), [&] { return BoardRecords(w.board, w.source); });
    std::thread job([&] {
      job_result = RunJob(registry, o, source, cluster.Uri(w.out), nullptr, &w.board);
      job_done = true;
    });
    timeline = Watch(cluster, w, job_done, nullptr, [] { return absl::OkStatus(); });
    job.join();
  }
  KAPPA_RETURN_IF_ERROR(job_result.status());
  KAPPA_RETURN_IF_ERROR(timeline.status());
  r->engine = *job_result;
  r->replay_s = Seconds(timeline->done - timeline->ready).count();
  const int64_t read = BoardRecords(w.board, w.source);
  if (read != in.count()) {
    return absl::InternalError(absl::StrCat(kJob, " read ", read, " input messages, not ", in.count()));
  }
  KAPPA_ASSIGN_OR_RETURN(r->engine_out, RangeSince(cluster, w.out, w.out_before));
  r->engine_rows = r->engine_out.count();
  return absl::OkStatus();
}

absl::Status RunBaselineRep(const KafkaBenchOptions& o, Cluster& cluster, const Range& in, int rep, Repetition* r) {
  KAPPA_ASSIGN_OR_RETURN(std::string out,
                         cluster.OutputTopic(absl::StrCat("out-baseline-", rep), static_cast<int>(in.begin.size())));
  KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> before, cluster.Highs(out));
  std::atomic<int64_t> consumed{0};
  LoopRun run;
  {
    Progress progress(o.progress, "baseline (raw librdkafka)", in.count(), [&] { return consumed.load(); });
    KAPPA_ASSIGN_OR_RETURN(run, RunBaseline(cluster, in, out, &consumed));
  }
  r->baseline = run.m;
  r->baseline_bytes = run.bytes;
  KAPPA_ASSIGN_OR_RETURN(r->baseline_out, RangeSince(cluster, out, before));
  r->baseline_rows = r->baseline_out.count();
  if (r->baseline_rows != run.rows) {
    return absl::InternalError(absl::StrCat("baseline produced ", run.rows, " rows but ", r->baseline_out.topic,
                                            " received ", r->baseline_rows));
  }
  return absl::OkStatus();
}

// The live run: the job follows an empty range of the live topic; once its consumer is
// assigned, a producer thread writes the events; timed from the first produce until the
// output holds `expected` new rows.
absl::Status RunLive(const JobRegistry& registry, const KafkaBenchOptions& o, Cluster& cluster, int partitions,
                     int64_t expected, int rep, Repetition* r) {
  KAPPA_ASSIGN_OR_RETURN(std::string live, cluster.Topic(absl::StrCat("live-", rep), partitions));
  Watched w;
  KAPPA_ASSIGN_OR_RETURN(w.out, cluster.OutputTopic(absl::StrCat("out-live-", rep), partitions));
  KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> live_begin, cluster.Highs(live));
  KAPPA_ASSIGN_OR_RETURN(w.out_before, cluster.Highs(w.out));
  w.source = cluster.Endpoint(live).Describe();
  w.partitions = static_cast<int>(live_begin.size());
  w.events = o.events;
  w.rows = expected;
  const std::string source =
      absl::StrCat(cluster.Uri(live), "?start=", Range::Offsets(live_begin), cluster.SourceParams());

  std::atomic<bool> stop{false};
  std::atomic<bool> job_done{false};
  absl::StatusOr<Measured> job_result = absl::UnknownError("not run");
  std::atomic<int64_t> produced{0};
  absl::Status produce_status;
  std::atomic<bool> producer_done{false};
  Clock::time_point t0, produced_at;
  std::thread producer;
  absl::StatusOr<Timeline> timeline = absl::UnknownError("not watched");
  {
    Progress progress(o.progress, "live (engine following a producer)", o.events,
                      [&] { return BoardRecords(w.board, w.source); });
    std::thread job([&] {
      job_result = RunJob(registry, o, source, cluster.Uri(w.out), &stop, &w.board);
      job_done = true;
    });
    timeline = Watch(
        cluster, w, job_done,
        [&] {
          t0 = Clock::now();
          producer = std::thread([&] {
            produce_status = ProduceEvents(cluster, live, partitions, o, &produced);
            produced_at = Clock::now();
            producer_done = true;
          });
        },
        [&] { return producer_done ? produce_status : absl::OkStatus(); });
    stop = true;
    job.join();
    if (producer.joinable()) producer.join();
  }
  KAPPA_RETURN_IF_ERROR(produce_status);
  KAPPA_RETURN_IF_ERROR(job_result.status());
  KAPPA_RETURN_IF_ERROR(timeline.status());
  r->live_wall_s = Seconds(timeline->done - t0).count();
  r->live_producer_s = Seconds(produced_at - t0).count();
  KAPPA_ASSIGN_OR_RETURN(r->live_out, RangeSince(cluster, w.out, w.out_before));
  r->live_rows = r->live_out.count();
  return absl::OkStatus();
}

// ---- q5 with exactly-once output ----

constexpr char kQ5Job[] = "nexmark-q5";
constexpr int64_t kQ5Size = 10'000, kQ5Slide = 2'000;  // nexmark-q5's sliding windows, ms

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A directory for one run's checkpoints (and the sink's staged output), removed with it.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Make() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/kappa-bench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a directory ", pattern, ": ", std::strerror(errno)));
    }
    return TempDir(pattern);
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Consumer settings for reading output as a read_committed consumer. fetch.wait.max.ms
// bounds how long a fetch waits for data: a broker answers as soon as data (or a commit
// marker) arrives; the mock only after the whole wait (see ConsumerConfig).
std::vector<std::pair<std::string, std::string>> CommittedConfig(const Cluster& cluster, bool eof) {
  std::vector<std::pair<std::string, std::string>> config = {{"group.id", "kappa-bench-reader"},
                                                             {"enable.auto.commit", "false"},
                                                             {"enable.partition.eof", eof ? "true" : "false"},
                                                             {"isolation.level", "read_committed"},
                                                             {"fetch.wait.max.ms", "100"}};
  for (auto& kv : cluster.ConsumerConfig()) config.push_back(std::move(kv));
  return config;
}

absl::StatusOr<kafka::Handle> AssignedConsumer(const Cluster& cluster, const std::string& topic,
                                               const std::vector<int64_t>& begin, bool eof) {
  KAPPA_ASSIGN_OR_RETURN(kafka::Handle rk,
                         kafka::NewClient(RD_KAFKA_CONSUMER, cluster.Endpoint(topic), CommittedConfig(cluster, eof)));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(begin.size()));
  for (size_t p = 0; p < begin.size(); ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), static_cast<int32_t>(p))->offset = begin[p];
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("assign ", topic, ": ", rd_kafka_err2str(err)));
  }
  return rk;
}

// Reads an output topic from given offsets as a read_committed consumer, on a thread of its
// own, noting the wall-clock time each message was returned to it: when the message became
// visible to read_committed consumers, give or take one fetch round trip.
class CommittedReader {
 public:
  struct Message {
    int64_t visible_us = 0;  // system clock
    std::string value;
  };

  static absl::StatusOr<std::unique_ptr<CommittedReader>> Start(const Cluster& cluster, const std::string& topic,
                                                                const std::vector<int64_t>& begin) {
    std::unique_ptr<CommittedReader> r(new CommittedReader());
    r->topic_ = topic;
    KAPPA_ASSIGN_OR_RETURN(r->rk_, AssignedConsumer(cluster, topic, begin, /*eof=*/false));
    r->thread_ = std::thread([p = r.get()] { p->Loop(); });
    return r;
  }
  ~CommittedReader() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (rk_ != nullptr) {
      rd_kafka_consumer_close(rk_.get());
      rk_.reset();
    }
  }
  int64_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(messages_.size());
  }
  std::vector<Message> messages() const {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  absl::Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  CommittedReader() = default;
  void Loop() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 20);
      if (m == nullptr) continue;
      const int64_t now = NowMicros();
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          messages_.push_back(Message{now, std::string(static_cast<const char*>(m->payload), m->len)});
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
                   m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && status_.ok()) {
          status_ = absl::UnavailableError(absl::StrCat("reading ", topic_, ": ", rd_kafka_message_errstr(m)));
        }
      }
      rd_kafka_message_destroy(m);
    }
  }

  std::string topic_;
  kafka::Handle rk_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Message> messages_;
  absl::Status status_;
  std::thread thread_;
};

// Messages of `topic` from `begin` to the end of every partition as read_committed sees it
// now, with a consumer of its own (the exact count once the writer is done).
absl::StatusOr<int64_t> CountCommitted(const Cluster& cluster, const std::string& topic,
                                       const std::vector<int64_t>& begin) {
  KAPPA_ASSIGN_OR_RETURN(kafka::Handle rk, AssignedConsumer(cluster, topic, begin, /*eof=*/true));
  std::vector<bool> ended(begin.size(), false);
  size_t at_end = 0;
  int64_t n = 0;
  auto last_progress = Clock::now();
  absl::Status status;
  while (at_end < begin.size() && status.ok()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 100);
    if (m == nullptr) {
      if (Clock::now() - last_progress > kStallTimeout) {
        status = absl::DeadlineExceededError(absl::StrCat("reading ", topic, ": no end within 60 s"));
      }
      continue;
    }
    last_progress = Clock::now();
    const size_t p = static_cast<size_t>(m->partition);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++n;
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (p < ended.size() && !ended[p]) {
        ended[p] = true;
        ++at_end;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      status = absl::UnavailableError(absl::StrCat("reading ", topic, ": ", rd_kafka_message_errstr(m)));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk.get());
  KAPPA_RETURN_IF_ERROR(status);
  return n;
}

// Waits until `reader` has seen `rows` messages. After `job_done` the output is complete
// (the job ends with its final commit), so a reader that sees no new rows for 15 s after
// that has seen everything; the caller compares counts.
absl::Status WaitRows(const CommittedReader& reader, int64_t rows, const std::atomic<bool>& job_done,
                      const std::function<absl::Status()>& check) {
  int64_t last = -1;
  auto last_change = Clock::now();
  while (reader.count() < rows) {
    KAPPA_RETURN_IF_ERROR(reader.status());
    KAPPA_RETURN_IF_ERROR(check());
    const int64_t n = reader.count();
    if (n != last) {
      last = n;
      last_change = Clock::now();
    } else if (Clock::now() - last_change > (job_done ? std::chrono::seconds(15) : kStallTimeout)) {
      if (job_done) return absl::OkStatus();
      return absl::DeadlineExceededError(
          absl::StrCat(kQ5Job, ": ", n, " of ", rows, " rows visible, none more for 60 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return absl::OkStatus();
}

// The replay: nexmark-q5 over the filled input, bounded, exactly-once output; timed from
// building the job to the last expected row visible to the read_committed reader.
absl::Status RunQ5Replay(const JobRegistry& registry, const KafkaBenchOptions& o, Cluster& cluster, const Range& in,
                         int64_t expected, Q5Result* q) {
  KAPPA_ASSIGN_OR_RETURN(std::string out, cluster.OutputTopic("q5-out-replay", static_cast<int>(in.begin.size())));
  KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> before, cluster.Highs(out));
  KAPPA_ASSIGN_OR_RETURN(TempDir dir, TempDir::Make());
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<CommittedReader> reader, CommittedReader::Start(cluster, out, before));
  runtime::SourceProgress board;
  const std::string source_name = cluster.Endpoint(in.topic).Describe();
  std::atomic<bool> job_done{false};
  absl::StatusOr<Measured> job_result = absl::UnknownError("not run");
  const int64_t t0 = NowMicros();
  absl::Status waited;
  {
    Progress progress(o.progress, "q5 exactly-once replay (engine)", in.count(),
                      [&] { return BoardRecords(board, source_name); });
    std::thread job([&] {
      job_result = RunJob(registry, o, BoundedSource(cluster, in), cluster.Uri(out), nullptr, &board, kQ5Job,
                          dir.path());
      job_done = true;
    });
    waited = WaitRows(*reader, expected, job_done, [&] {
      return job_done && !job_result.ok() ? job_result.status() : absl::OkStatus();
    });
    job.join();
  }
  reader->Stop();
  KAPPA_RETURN_IF_ERROR(job_result.status());
  KAPPA_RETURN_IF_ERROR(waited);
  std::vector<CommittedReader::Message> seen = reader->messages();
  int64_t last_us = t0;
  for (const auto& m : seen) last_us = std::max(last_us, m.visible_us);
  q->replay_s = static_cast<double>(last_us - t0) * 1e-6;
  q->replay_checkpoints = job_result->checkpoints;
  KAPPA_ASSIGN_OR_RETURN(q->replay_rows, CountCommitted(cluster, out, before));
  return absl::OkStatus();
}

// The q5 baseline: one thread consumes the input range, counts bids per auction in q5's
// sliding windows (open windows in a map by start), fires a window when the watermark —
// as the engine's source computes it: the lowest over partitions of each one's highest
// message timestamp, minus the bound — reaches its end − 1, produces its rows (the
// auctions with the most bids) through a transactional producer, and commits the
// transaction every checkpoint interval and at the end. Timed like the engine's replay:
// from opening the clients to the last row visible to the read_committed reader.
absl::Status RunQ5Baseline(const KafkaBenchOptions& o, Cluster& cluster, const Range& in, int64_t expected,
                           Q5Result* q) {
  KAPPA_ASSIGN_OR_RETURN(std::string out, cluster.OutputTopic("q5-out-baseline", static_cast<int>(in.begin.size())));
  KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> before, cluster.Highs(out));
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<CommittedReader> reader, CommittedReader::Start(cluster, out, before));
  const int64_t t0 = NowMicros();
  std::atomic<int64_t> consumed{0};
  absl::Status status;
  {
    Progress progress(o.progress, "q5 exactly-once baseline (raw librdkafka)", in.count(),
                      [&] { return consumed.load(); });
    status = [&]() -> absl::Status {
      const std::string transactional_id = absl::StrCat("kappa-bench-q5-baseline-", out);
      KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer,
                             kafka::Producer::Open(cluster.Endpoint(out), transactional_id));
      KAPPA_RETURN_IF_ERROR(producer->Begin());
      std::map<Timestamp, absl::flat_hash_map<int64_t, int64_t>> open;  // window start → auction → bids
      std::vector<Timestamp> highest(in.begin.size(), kMinTimestamp);
      BidRows bids;
      std::string row;
      auto last_commit = Clock::now();
      auto fire = [&](Timestamp start, const absl::flat_hash_map<int64_t, int64_t>& counts) -> absl::Status {
        int64_t most = 0;
        for (const auto& [auction, n] : counts) most = std::max(most, n);
        for (const auto& [auction, n] : counts) {
          if (n != most) continue;
          row = absl::StrCat("{\"auction\":", auction, ",\"num\":", n, ",\"window_start\":", start,
                             ",\"window_end\":", start + kQ5Size, "}");
          KAPPA_RETURN_IF_ERROR(producer->Produce(row, "", start + kQ5Size - 1));
        }
        return absl::OkStatus();
      };
      int64_t n = 0;
      KAPPA_RETURN_IF_ERROR(ConsumeRange(cluster, in, "kappa-bench-q5-baseline", [&](const rd_kafka_message_t* m) {
        const Timestamp ts = rd_kafka_message_timestamp(m, nullptr);  // = dateTime
        int64_t bid_ts = 0, auction = 0;
        KAPPA_ASSIGN_OR_RETURN(bool bid,
                               bids.Row(static_cast<const char*>(m->payload), m->len, &row, &bid_ts, &auction));
        if (bid) {
          for (Timestamp start = bid_ts - bid_ts % kQ5Slide; start > bid_ts - kQ5Size; start -= kQ5Slide) {
            ++open[start][auction];
          }
        }
        Timestamp& h = highest[static_cast<size_t>(m->partition)];
        h = std::max(h, ts);
        const Timestamp low = *std::min_element(highest.begin(), highest.end());
        while (low != kMinTimestamp && !open.empty() &&
               low - o.out_of_orderness_ms >= open.begin()->first + kQ5Size - 1) {
          KAPPA_RETURN_IF_ERROR(fire(open.begin()->first, open.begin()->second));
          open.erase(open.begin());
        }
        if ((++n & 1023) == 0) {
          KAPPA_RETURN_IF_ERROR(producer->Poll());
          consumed.store(n, std::memory_order_relaxed);
          if (Clock::now() - last_commit >= std::chrono::milliseconds(o.checkpoint_interval_ms)) {
            KAPPA_RETURN_IF_ERROR(producer->Commit(60000));
            KAPPA_RETURN_IF_ERROR(producer->Begin());
            last_commit = Clock::now();
          }
        }
        return absl::OkStatus();
      }));
      for (const auto& [start, counts] : open) KAPPA_RETURN_IF_ERROR(fire(start, counts));
      consumed.store(n, std::memory_order_relaxed);
      return producer->Commit(60000);
    }();
  }
  std::atomic<bool> done{true};
  if (status.ok()) status = WaitRows(*reader, expected, done, [] { return absl::OkStatus(); });
  reader->Stop();
  KAPPA_RETURN_IF_ERROR(status);
  int64_t last_us = t0;
  for (const auto& m : reader->messages()) last_us = std::max(last_us, m.visible_us);
  q->baseline_s = static_cast<double>(last_us - t0) * 1e-6;
  KAPPA_ASSIGN_OR_RETURN(q->baseline_rows, CountCommitted(cluster, out, before));
  return absl::OkStatus();
}

// One event of the live run as produced: its timestamp (= dateTime = produce time, ms) and,
// for bids, the auction.
struct LiveEvent {
  Timestamp ts = 0;
  int64_t auction = -1;  // -1: not a bid
};

// Produces rate × duration events into `topic`, event i to partition i % partitions, no
// earlier than i / rate seconds after the start (pacing, not synchronization). Each event's
// dateTime and message timestamp are set to the wall-clock time at which it is produced (in
// ms, never decreasing), so that event time is produce time.
absl::Status ProducePaced(const Cluster& cluster, const std::string& topic, int partitions, const KafkaBenchOptions& o,
                          std::atomic<int64_t>* produced, std::vector<LiveEvent>* events) {
  KAPPA_ASSIGN_OR_RETURN(auto producer, RawProducer::Open(cluster.Endpoint(topic)));
  nexmark::GeneratorConfig config = EventsConfig(o);
  config.events = static_cast<int64_t>(static_cast<double>(o.latency_rate) * o.latency_duration_s);
  nexmark::Generator gen(config);
  nexmark::Event e;
  std::string json;
  events->clear();
  events->reserve(static_cast<size_t>(config.events));
  const auto start = Clock::now();
  Timestamp prev = 0;
  for (int64_t i = 0; gen.HasNext(); ++i) {
    gen.NextInto(&e);
    const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) /
                                                                           static_cast<double>(o.latency_rate)));
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    const Timestamp ts = std::max(prev, NowMicros() / 1000);
    prev = ts;
    std::visit([ts](auto& x) { x.date_time = ts; }, e.data);
    json.clear();
    nexmark::AppendJson(e, &json);
    KAPPA_RETURN_IF_ERROR(producer->Produce(static_cast<int32_t>(i % partitions), json, ts));
    events->push_back(LiveEvent{ts, e.is_bid() ? e.bid().auction : -1});
    producer->Poll();
    produced->store(i + 1, std::memory_order_relaxed);
  }
  return producer->Flush();
}

// One window of q5 over the live events, by hand: its rows (the auctions with the most
// bids, ties all), its newest bid, and the event that closed it.
struct Q5Window {
  Timestamp start = 0;
  int64_t rows = 0;
  Timestamp last_bid = 0;
  // Timestamp (= produce time) of the event after which the source's watermark — the
  // minimum over partitions of each one's highest timestamp, minus the bound — reached the
  // window's end − 1, when the window fires; -1: no event closed it.
  Timestamp closed_by = -1;
};

std::vector<Q5Window> Q5Windows(const std::vector<LiveEvent>& events, int partitions, int64_t bound) {
  std::map<Timestamp, std::map<int64_t, int64_t>> counts;  // window start → auction → bids
  std::map<Timestamp, Timestamp> last_bid;
  for (const LiveEvent& e : events) {
    if (e.auction < 0) continue;
    const Timestamp base = e.ts - e.ts % kQ5Slide;
    for (Timestamp start = base; start > e.ts - kQ5Size; start -= kQ5Slide) {
      ++counts[start][e.auction];
      Timestamp& last = last_bid[start];
      last = std::max(last, e.ts);
    }
  }
  std::vector<Q5Window> windows;
  for (const auto& [start, per_auction] : counts) {
    Q5Window w;
    w.start = start;
    w.last_bid = last_bid[start];
    int64_t most = 0;
    for (const auto& [auction, n] : per_auction) most = std::max(most, n);
    for (const auto& [auction, n] : per_auction) w.rows += n == most ? 1 : 0;
    windows.push_back(w);
  }
  std::vector<Timestamp> highest(partitions, kMinTimestamp);
  size_t next = 0;  // the first window not closed yet (windows are in start order)
  for (size_t i = 0; i < events.size() && next < windows.size(); ++i) {
    Timestamp& h = highest[i % partitions];
    h = std::max(h, events[i].ts);
    const Timestamp low = *std::min_element(highest.begin(), highest.end());
    if (low == kMinTimestamp) continue;
    while (next < windows.size() && low - bound >= windows[next].start + kQ5Size - 1) {
      windows[next++].closed_by = events[i].ts;
    }
  }
  return windows;
}

// Nearest-rank percentile of sorted values; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// The live run: nexmark-q5 follows an empty range of a topic while a paced producer writes
// into it; each window's latency is measured from produce times to the moment its last row
// was visible to the read_committed reader. Once every window the input closed is
// visible, the job is stopped (its output after the last checkpoint is never committed).
absl::Status RunQ5Live(const JobRegistry& registry, const KafkaBenchOptions& o, Cluster& cluster, int partitions,
                       Q5Result* q) {
  KAPPA_ASSIGN_OR_RETURN(std::string live, cluster.Topic("q5-live", partitions));
  KAPPA_ASSIGN_OR_RETURN(std::string out, cluster.OutputTopic("q5-out-live", partitions));
  KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> live_begin, cluster.Highs(live));
  KAPPA_ASSIGN_OR_RETURN(std::vector<int64_t> out_before, cluster.Highs(out));
  KAPPA_ASSIGN_OR_RETURN(TempDir dir, TempDir::Make());
  KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<CommittedReader> reader, CommittedReader::Start(cluster, out, out_before));
  Watched w;
  w.source = cluster.Endpoint(live).Describe();
  w.partitions = static_cast<int>(live_begin.size());
  const std::string source =
      absl::StrCat(cluster.Uri(live), "?start=", Range::Offsets(live_begin), cluster.SourceParams());
  std::atomic<bool> stop{false};
  std::atomic<bool> job_done{false};
  absl::StatusOr<Measured> job_result = absl::UnknownError("not run");
  std::atomic<int64_t> produced{0};
  std::vector<LiveEvent> events;
  std::vector<Q5Window> windows;
  absl::Status status;
  const int64_t total = static_cast<int64_t>(static_cast<double>(o.latency_rate) * o.latency_duration_s);
  std::thread job([&] {
    job_result = RunJob(registry, o, source, cluster.Uri(out), &stop, &w.board, kQ5Job, dir.path());
    job_done = true;
  });
  status = WaitAssigned(w, job_done, kQ5Job);
  if (status.ok()) {
    Progress progress(o.progress, "q5 exactly-once live (paced producer)", total, [&] { return produced.load(); });
    status = ProducePaced(cluster, live, partitions, o, &produced, &events);
  }
  if (status.ok()) {
    windows = Q5Windows(events, partitions, q->out_of_orderness_ms);
    for (const Q5Window& win : windows) {
      if (win.closed_by < 0) continue;
      ++q->live_windows;
      q->live_expected_rows += win.rows;
    }
    Progress progress(o.progress, "q5 exactly-once live (waiting for the closed windows)", q->live_expected_rows,
                      [&] { return reader->count(); });
    status = WaitRows(*reader, q->live_expected_rows, job_done, [&] {
      return job_done && !job_result.ok() ? job_result.status() : absl::OkStatus();
    });
  }
  stop = true;
  job.join();
  reader->Stop();
  KAPPA_RETURN_IF_ERROR(status);
  KAPPA_RETURN_IF_ERROR(job_result.status());
  q->live_events = static_cast<int64_t>(events.size());
  q->live_checkpoints = job_result->checkpoints;
  KAPPA_ASSIGN_OR_RETURN(q->live_rows, CountCommitted(cluster, out, out_before));

  // Each window is visible when its last row is.
  std::map<Timestamp, int64_t> visible_us;
  for (const CommittedReader::Message& m : reader->messages()) {
    absl::StatusOr<std::string> start = kafka::JsonFieldText(m.value, "window_start");
    Timestamp t = 0;
    if (!start.ok() || !absl::SimpleAtoi(*start, &t)) {
      return absl::InternalError(absl::StrCat(kQ5Job, " wrote a row without window_start: ", m.value));
    }
    int64_t& v = visible_us[t];
    v = std::max(v, m.visible_us);
  }
  std::vector<double> latency, close_latency;
  for (const Q5Window& win : windows) {
    auto seen = visible_us.find(win.start);
    if (win.closed_by < 0 || seen == visible_us.end()) continue;
    latency.push_back(static_cast<double>(seen->second) / 1000 - static_cast<double>(win.last_bid));
    close_latency.push_back(static_cast<double>(seen->second) / 1000 - static_cast<double>(win.closed_by));
  }
  std::sort(latency.begin(), latency.end());
  std::sort(close_latency.begin(), close_latency.end());
  q->latency_p50_ms = Percentile(latency, 50);
  q->latency_p99_ms = Percentile(latency, 99);
  q->latency_max_ms = latency.empty() ? 0 : latency.back();
  q->close_latency_p50_ms = Percentile(close_latency, 50);
  q->close_latency_p99_ms = Percentile(close_latency, 99);
  q->close_latency_max_ms = close_latency.empty() ? 0 : close_latency.back();
  return absl::OkStatus();
}

// Units are in the names: _s seconds, _ms milliseconds, _per_s per second of wall time,
// _per_s_per_core per CPU second, _bytes, _mb_per_s 10^6 bytes of input values per second.
std::string ResultJson(const KafkaBenchResult& r, const KafkaBenchOptions& o, const std::string& broker,
                       const Cluster::Info& info, const Cluster& cluster) {
  const Q5Result& q = r.q5;
  std::string json = absl::StrFormat(
      "{\"events\":%d,\"bids\":%d,\"partitions\":%d,\"max_partition_bytes\":%d,\"input_bytes\":%d,"
      "\"output_bytes\":%d,\"parallelism\":%d,\"workers\":%d,"
      "\"repetitions\":%d,\"broker\":\"%s\",\"brokers\":%d,\"broker_version\":\"%s\",\"replication_factor\":%d,"
      "\"topics_created\":%s,\"topic_prefix\":\"%s\",\"engine_wall_s\":%.6f,\"engine_cpu_s\":%.6f,"
      "\"engine_events_per_s\":%.1f,\"engine_events_per_s_per_core\":%.1f,\"engine_mb_per_s\":%.3f,"
      "\"engine_rows\":%d,"
      "\"baseline_wall_s\":%.6f,\"baseline_cpu_s\":%.6f,\"baseline_events_per_s\":%.1f,"
      "\"baseline_events_per_s_per_core\":%.1f,\"baseline_mb_per_s\":%.3f,\"baseline_rows\":%d,\"ratio\":%.4f,"
      "\"ratio_per_core\":%.4f,"
      "\"replay_s\":%.6f,\"replay_events_per_s\":%.1f,\"live_wall_s\":%.6f,\"live_events_per_s\":%.1f,\"live_rows\":%d,"
      "\"live_producer_s\":%.6f,\"live_producer_events_per_s\":%.1f,\"live_vs_replay\":%.4f,\"rows_match\":%s,"
      "\"contents_checked\":%s,\"fill_s\":%.6f,\"start_stop_s\":%.6f,\"engine_broker_cpu_s\":%.6f,"
      "\"baseline_broker_cpu_s\":%.6f,",
      r.events, r.bids, r.partitions, r.max_partition_bytes, r.input_bytes, r.output_bytes, o.parallelism,
      EffectiveWorkers(o), o.repetitions, JsonEscape(broker), info.brokers, JsonEscape(info.version),
      cluster.embedded() ? 1 : cluster.replication(), cluster.creates_topics() ? "true" : "false",
      JsonEscape(cluster.prefix()), r.engine_wall_s,
      r.engine_cpu_s, r.engine_events_per_s(), r.engine_events_per_core_s(), r.engine_mb_per_s(), r.engine_rows,
      r.baseline_wall_s, r.baseline_cpu_s, r.baseline_events_per_s(), r.baseline_events_per_core_s(),
      r.baseline_mb_per_s(), r.baseline_rows, r.ratio(), r.ratio_per_core(), r.replay_s, r.replay_events_per_s(),
      r.live_wall_s, r.live_events_per_s(), r.live_rows, r.live_producer_s, r.live_producer_events_per_s(),
      r.live_vs_replay(), r.rows_match() ? "true" : "false", r.contents_checked ? "true" : "false", r.fill_s,
      r.start_stop_s, r.engine_broker_cpu_s, r.baseline_broker_cpu_s);
  absl::StrAppendFormat(
      &json,
      "\"event_rate_per_s\":%.1f,\"q5_checkpoint_interval_ms\":%d,\"q5_out_of_orderness_ms\":%d,\"q5_replay_s\":%.6f,"
      "\"q5_events_per_s\":%.1f,\"q5_baseline_s\":%.6f,\"q5_baseline_events_per_s\":%.1f,\"q5_baseline_rows\":%d,"
      "\"q5_ratio\":%.4f,\"q5_replay_rows\":%d,\"q5_replay_expected_rows\":%d,\"q5_replay_checkpoints\":%d,"
      "\"q5_live_rate_per_s\":%d,\"q5_live_duration_s\":%.3f,\"q5_live_events\":%d,\"q5_live_windows\":%d,"
      "\"q5_live_rows\":%d,\"q5_live_expected_rows\":%d,\"q5_live_checkpoints\":%d,"
      "\"q5_latency_p50_ms\":%.1f,\"q5_latency_p99_ms\":%.1f,\"q5_latency_max_ms\":%.1f,"
      "\"q5_close_latency_p50_ms\":%.1f,\"q5_close_latency_p99_ms\":%.1f,\"q5_close_latency_max_ms\":%.1f,"
      "\"machine\":\"%s\"}",
      EventsConfig(o).rate, o.checkpoint_interval_ms, q.out_of_orderness_ms, q.replay_s, r.q5_events_per_s(),
      q.baseline_s,
      r.q5_baseline_events_per_s(), q.baseline_rows, r.q5_ratio(), q.replay_rows,
      q.replay_expected_rows, q.replay_checkpoints, q.live_rate, q.live_duration_s, q.live_events, q.live_windows,
      q.live_rows, q.live_expected_rows, q.live_checkpoints, q.latency_p50_ms, q.latency_p99_ms, q.latency_max_ms,
      q.close_latency_p50_ms, q.close_latency_p99_ms, q.close_latency_max_ms, JsonEscape(MachineLine()));
  return json;
}

void PrintTable(const KafkaBenchResult& r, const KafkaBenchOptions& o, const std::string& broker,
                const Cluster::Info& info, std::ostream& out) {
  auto row = [&](const char* name, double s, double per_s, const std::string& per_core, int64_t rows) {
    out << absl::StrFormat("%-46s %7.3f %10s %10s %8d", name, s, Human(per_s), per_core, rows);
  };
  out << absl::StrFormat("%-46s %7s %10s %10s %8s\n", "run", "s", "events/s", "ev/s/core", "rows");
  row("engine: nexmark-q0 replay, Kafka -> Kafka", r.engine_wall_s, r.engine_events_per_s(),
      Human(r.engine_events_per_core_s()), r.engine_rows);
  out << "\n";
  row("baseline: raw librdkafka loop, one thread", r.baseline_wall_s, r.baseline_events_per_s(),
      Human(r.baseline_events_per_core_s()), r.baseline_rows);
  out << "\n";
  out << absl::StrFormat("%-46s %7s %10.2f %10.2f\n", "  engine / baseline", "", r.ratio(), r.ratio_per_core());
  out << absl::StrFormat("  (input %.1f MB of JSON values: engine %.1f MB/s, baseline %.1f MB/s; output %.1f MB)\n",
                         static_cast<double>(r.input_bytes) / 1e6, r.engine_mb_per_s(), r.baseline_mb_per_s(),
                         static_cast<double>(r.output_bytes) / 1e6);
  row("replay, from its source assigned", r.replay_s, r.replay_events_per_s(), "-", r.engine_rows);
  out << absl::StrFormat("  (%.3f s less: starting and stopping the job)\n", r.start_stop_s);
  row("live: nexmark-q0 following a producer", r.live_wall_s, r.live_events_per_s(), "-", r.live_rows);
  out << absl::StrFormat("  (producer done after %.3f s: %s events/s)\n", r.live_producer_s,
                         Human(r.live_producer_events_per_s()));
  out << absl::StrFormat("%-46s %7s %10.2f\n", "  live / replay", "", r.live_vs_replay());
  out << absl::StrFormat("rows: %d bids in, %d / %d / %d out (replay / baseline / live)%s%s\n", r.bids, r.engine_rows,
                         r.baseline_rows, r.live_rows, r.rows_match() ? ", equal" : " MISMATCH",
                         r.contents_checked ? "; same messages (values compared as multisets)"
                                            : "; values not compared (retention dropped part of an output)");
  out << "engine and baseline: from building the job or opening the clients to the last row flushed and the "
         "clients closed. replay and live: from the job's source having every partition assigned (live: from the "
         "first event produced, just after) to the last row in the output topic. ev/s/core = events / CPU seconds "
         "of every thread but the embedded broker's\n";
  if (r.engine_broker_cpu_s + r.baseline_broker_cpu_s > 0) {
    out << absl::StrFormat("embedded broker's own CPU: %.3f s in the engine's run, %.3f s in the baseline's\n",
                           r.engine_broker_cpu_s, r.baseline_broker_cpu_s);
  }
  out << absl::StrFormat("input produced in %.3f s (%s events/s, one producer thread; not part of any figure)\n",
                         r.fill_s, Human(KafkaBenchResult::Rate(r.events, r.fill_s)));
  const Q5Result& q = r.q5;
  out << absl::StrFormat(
      "\nnexmark-q5, exactly-once output (checkpoint every %d ms, watermark bound %d ms), read_committed:\n",
      o.checkpoint_interval_ms, q.out_of_orderness_ms);
  out << absl::StrFormat("%-46s %7.3f %10s %10s %8d\n", "replay: building the job -> last row visible", q.replay_s,
                         Human(r.q5_events_per_s()), "-", q.replay_rows);
  out << absl::StrFormat("%-46s %7.3f %10s %10s %8d\n", "baseline: raw librdkafka, transactions", q.baseline_s,
                         Human(r.q5_baseline_events_per_s()), "-", q.baseline_rows);
  out << absl::StrFormat("%-46s %7s %10.2f\n", "  engine / baseline", "", r.q5_ratio());
  out << absl::StrFormat("  (%d rows expected; the engine took %d periodic checkpoints before the final one)\n",
                         q.replay_expected_rows, q.replay_checkpoints);
  if (q.live_events > 0) {
    out << absl::StrFormat(
        "live: %d events paced at %d/s (%.1f s), %d windows closed, %d rows (%d expected), %d checkpoints\n",
        q.live_events, q.live_rate, q.live_duration_s, q.live_windows, q.live_rows, q.live_expected_rows,
        q.live_checkpoints);
    out << absl::StrFormat(
        "  latency from the window's newest bid produced:  p50 %7.1f ms, p99 %7.1f ms, max %7.1f ms\n",
        q.latency_p50_ms, q.latency_p99_ms, q.latency_max_ms);
    out << absl::StrFormat(
        "  latency from the event that closed the window: p50 %7.1f ms, p99 %7.1f ms, max %7.1f ms\n",
        q.close_latency_p50_ms, q.close_latency_p99_ms, q.close_latency_max_ms);
    out << "  (to the window's last row returned to a read_committed consumer; one sample per window; produce time = "
           "the message timestamp = dateTime, set when produced)\n";
  }
  out << "broker: " << broker;
  if (info.brokers > 0) out << absl::StrFormat(" (%d broker%s", info.brokers, info.brokers == 1 ? "" : "s");
  if (!info.version.empty()) out << ", inter.broker.protocol.version " << info.version;
  if (info.brokers > 0) out << ")";
  out << "\n";
  out << MachineLine() << "\n";
}

}  // namespace

int RunKafkaBench(const JobRegistry& registry, const KafkaBenchOptions& o, std::ostream& out, std::ostream& err) {
  auto usage = [&](const std::string& msg) {
    err << "kappa: " << msg << "\n";
    return 2;
  };
  auto failed = [&](const absl::Status& s) {
    err << "kappa: bench kafka: " << s.message() << "\n";
    return 1;
  };
  if (o.events <= 0) return usage("--events must be a positive number of events");
  if (o.partitions < 1 || o.partitions > 1024) return usage("--partitions must be between 1 and 1024");
  if (o.parallelism < 1 || o.parallelism > 128) return usage("--parallelism must be between 1 and 128");
  if (o.workers < 0) return usage("--workers must be at least 1 (or 0: one per core)");
  if (o.repetitions < 1) return usage("--repetitions must be at least 1");
  if (o.in_topic.empty() != o.out_topic.empty()) return usage("--in-topic and --out-topic go together");
  if (!o.in_topic.empty() && o.kafka.empty()) {
    return usage("--in-topic and --out-topic name topics of a real cluster: give --kafka BOOTSTRAP too");
  }
  if (!o.in_topic.empty() && o.in_topic == o.out_topic) return usage("--in-topic and --out-topic must differ");
  if (o.replication_factor < 1) return usage("--replication-factor must be at least 1");
  if (o.checkpoint_interval_ms < 10) return usage("--checkpoint-interval must be at least 10 ms");
  if (o.out_of_orderness_ms < 0) return usage("--out-of-orderness must be 0 ms or more");
  if (o.latency_rate < 1) return usage("--latency-rate must be at least 1 event/s");
  if (!(o.event_rate >= 0)) return usage("--event-rate must be a positive number of events/s (0: 10M/s)");
  if (!(o.latency_duration_s >= 0) || o.latency_duration_s > 3600) {
    return usage("--latency-duration must be between 0 and 3600 s");
  }

  KafkaBenchResult result;
  result.events = o.events;
  const bool embedded = o.kafka.empty();
  int partitions = o.partitions;
  InputShape shape;
  if (embedded) {
    // Refuse input the mock would silently drop before starting anything.
    shape = MeasureInput(o, partitions);
    if (shape.max_partition_bytes > kMockPartitionBudget) {
      return usage(absl::StrFormat(
          "%d events are %.1f MiB of JSON in the fullest of %d partitions; the embedded broker keeps about 5 MiB "
          "per partition: use more --partitions or fewer --events",
          o.events, static_cast<double>(shape.max_partition_bytes) / (1 << 20), partitions));
    }
  }
  absl::StatusOr<std::unique_ptr<Cluster>> opened = Cluster::Open(o);
  if (!opened.ok()) return failed(opened.status());
  Cluster& cluster = **opened;
  if (!o.in_topic.empty()) {
    for (const std::string& topic : {o.in_topic, o.out_topic}) {
      absl::StatusOr<int> n = cluster.Partitions(topic);
      if (!n.ok()) return failed(n.status());
      if (topic == o.in_topic) partitions = *n;
    }
  }
  if (!embedded) shape = MeasureInput(o, partitions);
  absl::StatusOr<Cluster::Info> info = cluster.Describe();
  if (!info.ok()) return failed(info.status());
  result.bids = shape.bids;
  result.partitions = partitions;
  result.max_partition_bytes = shape.max_partition_bytes;
  result.input_bytes = shape.bytes;
  result.q5.out_of_orderness_ms = o.out_of_orderness_ms;
  result.q5.replay_expected_rows = shape.q5_rows;
  const std::string broker =
      embedded ? absl::StrCat("embedded (librdkafka mock, 3 brokers, in this process) at ", cluster.bootstrap())
               : o.kafka;
  if (!o.json) {
    out << absl::StrFormat(
        "kappa bench kafka: %d Nexmark events (%d bids) as JSON in %d partitions (%.1f MiB in the fullest); %s "
        "parallelism %d, %d workers%s%s\n",
        o.events, result.bids, partitions, static_cast<double>(shape.max_partition_bytes) / (1 << 20), kJob,
        o.parallelism, EffectiveWorkers(o), o.workers > 0 ? "" : " (one per core)",
        o.repetitions > 1 ? absl::StrFormat(", best of %d runs each", o.repetitions) : "");
    out.flush();
  }

  // The input, filled once.
  Range in;
  {
    absl::StatusOr<std::string> topic = cluster.Topic("in", partitions);
    if (!topic.ok()) return failed(topic.status());
    absl::StatusOr<std::vector<int64_t>> before = cluster.Highs(*topic);
    if (!before.ok()) return failed(before.status());
    std::atomic<int64_t> produced{0};
    const auto t0 = Clock::now();
    absl::Status s;
    {
      Progress progress(o.progress, "filling the input topic", o.events, [&] { return produced.load(); });
      s = ProduceEvents(cluster, *topic, partitions, o, &produced);
    }
    result.fill_s = Seconds(Clock::now() - t0).count();
    if (!s.ok()) return failed(s);
    absl::StatusOr<Range> range = RangeSince(cluster, *topic, *before);
    if (!range.ok()) return failed(range.status());
    in = *range;
    if (in.count() != o.events) {
      return failed(absl::InternalError(absl::StrCat(in.topic, " received ", in.count(), " messages, not ", o.events)));
    }
    if (absl::Status kept = cluster.CheckRetained(in); !kept.ok()) return failed(kept);
  }

  for (int rep = 1; rep <= o.repetitions; ++rep) {
    Repetition r;
    if (absl::Status s = RunReplay(registry, o, cluster, in, result.bids, rep, &r); !s.ok()) return failed(s);
    if (absl::Status s = RunBaselineRep(o, cluster, in, rep, &r); !s.ok()) return failed(s);
    if (absl::Status s = RunLive(registry, o, cluster, partitions, result.bids, rep, &r); !s.ok()) return failed(s);
    if (r.engine_rows != result.bids || r.baseline_rows != result.bids || r.live_rows != result.bids) {
      err << absl::StrFormat(
          "kappa: bench kafka: ROWS DIFFER: %d bids in, %d rows from the replay, %d from the baseline, %d from the "
          "live run\n",
          result.bids, r.engine_rows, r.baseline_rows, r.live_rows);
      return 1;
    }
    bool retained = true;  // every output row is still in its topic
    for (const Range* range : {&r.engine_out, &r.baseline_out, &r.live_out}) {
      retained = retained && cluster.CheckRetained(*range).ok();
    }
    if (!result.contents_checked && retained) {
      // Same rows, not only as many: compare the three outputs as multisets of values, once.
      absl::StatusOr<Digest> engine = DigestRange(cluster, r.engine_out);
      absl::StatusOr<Digest> baseline = DigestRange(cluster, r.baseline_out);
      absl::StatusOr<Digest> live = DigestRange(cluster, r.live_out);
      for (const auto* d : {&engine, &baseline, &live}) {
        if (!d->ok()) return failed(d->status());
      }
      if (!(*engine == *baseline) || !(*engine == *live)) {
        err << "kappa: bench kafka: ROWS DIFFER: the replay's, the baseline's and the live run's output topics hold "
               "as many messages but not the same ones (kappa diff "
            << cluster.Uri(r.engine_out.topic) << " " << cluster.Uri(r.baseline_out.topic) << " lists them)\n";
        return 1;
      }
      result.contents_checked = true;
    }
    auto best = [rep](double v, double* keep) {
      if (rep == 1 || v < *keep) *keep = v;
    };
    best(r.engine.wall_s, &result.engine_wall_s);
    best(r.engine.cpu_s, &result.engine_cpu_s);
    best(r.replay_s, &result.replay_s);
    best(r.engine.wall_s - r.replay_s, &result.start_stop_s);
    best(r.engine.broker_cpu_s, &result.engine_broker_cpu_s);
    best(r.baseline.broker_cpu_s, &result.baseline_broker_cpu_s);
    best(r.baseline.wall_s, &result.baseline_wall_s);
    best(r.baseline.cpu_s, &result.baseline_cpu_s);
    if (rep == 1 || r.live_wall_s < result.live_wall_s) {
      result.live_wall_s = r.live_wall_s;
      result.live_producer_s = r.live_producer_s;
    }
    result.engine_rows = r.engine_rows;
    result.baseline_rows = r.baseline_rows;
    result.live_rows = r.live_rows;
    result.output_bytes = r.baseline_bytes;
  }

  // q5 with exactly-once output, once: the replay of the same input, then the paced live run.
  if (absl::Status s = RunQ5Replay(registry, o, cluster, in, shape.q5_rows, &result.q5); !s.ok()) return failed(s);
  if (absl::Status s = RunQ5Baseline(o, cluster, in, shape.q5_rows, &result.q5); !s.ok()) return failed(s);
  result.q5.live_rate = o.latency_rate;
  result.q5.live_duration_s = o.latency_duration_s;
  if (o.latency_duration_s > 0 && o.latency_rate * o.latency_duration_s >= 1) {
    if (absl::Status s = RunQ5Live(registry, o, cluster, partitions, &result.q5); !s.ok()) return failed(s);
  }
  if (result.q5.replay_rows != result.q5.replay_expected_rows ||
      result.q5.baseline_rows != result.q5.replay_expected_rows ||
      result.q5.live_rows != result.q5.live_expected_rows) {
    err << absl::StrFormat(
        "kappa: bench kafka: ROWS DIFFER: nexmark-q5 committed %d rows in the replay and the baseline %d (%d "
        "expected), %d in the live run (%d expected)\n",
        result.q5.replay_rows, result.q5.baseline_rows, result.q5.replay_expected_rows, result.q5.live_rows,
        result.q5.live_expected_rows);
    return 1;
  }
  if (absl::Status s = cluster.DeleteCreated(); !s.ok()) return failed(s);

  if (o.json) {
    out << ResultJson(result, o, broker, *info, cluster) << "\n";
  } else {
    PrintTable(result, o, broker, *info, out);
  }
  out.flush();
  return result.rows_match() ? 0 : 1;
}

}  // namespace kappa::bench
