#include "kappa/connectors/kafka/kafka_client.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kappa/base/log.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "simdjson.h"

namespace kappa::connectors::kafka {
namespace {

using Clock = std::chrono::steady_clock;

std::string ErrText(rd_kafka_resp_err_t err) { return rd_kafka_err2str(err); }

absl::Status FromError(rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return absl::OkStatus();
  std::string text = absl::StrCat(AbslView(what), ": ", rd_kafka_error_string(error));
  bool fatal = rd_kafka_error_is_fatal(error);
  rd_kafka_error_destroy(error);
  return fatal ? absl::FailedPreconditionError(text) : absl::UnavailableError(text);
}

struct PartitionList {
  rd_kafka_topic_partition_list_t* list;
  explicit PartitionList(int size) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
};

// librdkafka's own messages go to the process's logger instead of raw "%3|..." lines on
// stderr. Its errors are mostly transient (a broker restarting, a connection refused) and
// retried; what fails for good comes back through the API calls, so they are warnings.
void LogFromKafka(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  LogLevel ours = level <= 2 ? LogLevel::kError : level <= 4 ? LogLevel::kWarning : level <= 6 ? LogLevel::kDebug
                                                                                            : LogLevel::kTrace;
  if (!LogEnabled(ours)) return;
  Log(ours, absl::StrCat("librdkafka ", rk != nullptr ? rd_kafka_name(rk) : "", " ", facility, ": ", message));
}

// librdkafka's log_level for the process's level: quiet (errors only) unless debugging.
const char* KafkaLogLevel() { return LogEnabled(LogLevel::kDebug) ? "7" : "3"; }

void RouteKafkaLog(rd_kafka_conf_t* conf) { rd_kafka_conf_set_log_cb(conf, LogFromKafka); }

}  // namespace

std::string KafkaEndpoint::Describe() const { return absl::StrCat("kafka://", bootstrap, "/", topic); }

absl::StatusOr<KafkaEndpoint> ParseEndpoint(const Uri& uri, const KafkaSettings& settings,
                                            const std::vector<std::string>& allowed) {
  KafkaEndpoint e;
  e.text = uri.text;
  std::string_view path = uri.path;
  if (path.starts_with("//")) {
    path.remove_prefix(2);
    size_t slash = path.find('/');
    if (slash == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': use kafka://BOOTSTRAP/TOPIC"));
    }
    e.bootstrap = std::string(path.substr(0, slash));
    e.topic = std::string(path.substr(slash + 1));
  } else {
    e.topic = std::string(path);
  }
  if (e.bootstrap.empty()) e.bootstrap = settings.bootstrap;
  if (e.bootstrap.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri.text, "' names no Kafka cluster; use kafka://HOST:PORT/TOPIC, or give --kafka "
                     "HOST:PORT (or --kafka embedded)"));
  }
  if (e.topic.empty() || e.topic.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': needs one topic name after the bootstrap"));
  }
  e.config = settings.config;
  e.timeout_ms = settings.timeout_ms;
  for (const auto& [key, value] : uri.params) {
    if (key.starts_with("kafka.")) {
      e.config.emplace_back(key.substr(6), value);
    } else if (key.starts_with("header.") &&
               std::find(allowed.begin(), allowed.end(), "header.") != allowed.end()) {
      e.params[key] = value;
    } else if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      e.params[key] = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': unknown parameter '", key,
                                                     "' (known: ", absl::StrJoin(allowed, ", "),
                                                     ", and kafka.KEY=VALUE for librdkafka settings)"));
    }
  }
  return e;
}

void HandleDeleter::operator()(rd_kafka_t* rk) const {
  if (rk != nullptr) rd_kafka_destroy(rk);
}

absl::StatusOr<Handle> NewClient(rd_kafka_type_t type, const KafkaEndpoint& endpoint,
                                 const std::vector<std::pair<std::string, std::string>>& extra,
                                 void (*conf_hook)(rd_kafka_conf_t*, void*), void* hook_arg) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> absl::Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("Kafka setting ", k, "=", v, ": ", err));
    }
    return absl::OkStatus();
  };
  absl::Status s = set("bootstrap.servers", endpoint.bootstrap);
  // Quiet by default: connection errors are retried and reported through the API.
  if (s.ok()) s = set("log_level", KafkaLogLevel());
  RouteKafkaLog(conf);
  for (const auto& [k, v] : endpoint.config) {
    if (s.ok()) s = set(k, v);
  }
  for (const auto& [k, v] : extra) {
    if (s.ok()) s = set(k, v);
  }
  if (!s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  if (conf_hook != nullptr) conf_hook(conf, hook_arg);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka client for ", endpoint.Describe(), ": ", err));
  }
  return Handle(rk);
}

absl::StatusOr<int> PartitionCount(rd_kafka_t* rk, const KafkaEndpoint& endpoint, int timeout_ms) {
  // Metadata of all topics: asking for one topic may create it (brokers with
  // auto.create.topics.enable, and the mock cluster), which would hide a misspelt name.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("cannot reach Kafka at ", endpoint.bootstrap, " within ",
                                               timeout_ms / 1000.0, " s (", ErrText(err),
                                               "); is the broker running and the address right?"));
  }
  int count = -1;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (endpoint.topic == md->topics[i].topic) {
      topic_err = md->topics[i].err;
      count = md->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || count <= 0) {
    return absl::NotFoundError(absl::StrCat("topic '", endpoint.topic, "' does not exist on ", endpoint.bootstrap,
                                            "; create it first (kafka-topics.sh --create, or kappa broker --topic)"));
  }
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("topic '", endpoint.topic, "': ", ErrText(topic_err)));
  }
  return count;
}

absl::StatusOr<Watermarks> QueryWatermarks(rd_kafka_t* rk, const std::string& topic, int partition,
                                           int timeout_ms) {
  Watermarks w;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &w.low, &w.high, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the offsets of ", topic, " partition ", partition, ": ", ErrText(err)));
  }
  return w;
}

absl::Status CreateTopic(rd_kafka_t* rk, const std::string& topic, int partitions, int replication,
                         const std::vector<std::pair<std::string, std::string>>& configs, int timeout_ms) {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, replication, err, sizeof err);
  if (nt == nullptr) return absl::InvalidArgumentError(absl::StrCat("topic ", topic, ": ", err));
  for (const auto& [key, value] : configs) rd_kafka_NewTopic_set_config(nt, key.c_str(), value.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  absl::Status status = absl::DeadlineExceededError(
      absl::StrCat("creating topic ", topic, ": no answer in ", timeout_ms / 1000, " s"));
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms)) {
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat("creating topic ", topic, ": ", rd_kafka_event_error_string(ev)));
    } else if (n == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = absl::UnavailableError(
          absl::StrCat("creating topic ", topic, ": ", rd_kafka_topic_result_error_string(res[0])));
    } else {
      status = absl::OkStatus();
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  KAPPA_RETURN_IF_ERROR(status);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    bool ready = false;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topics[0].partition_cnt == partitions) {
        ready = true;
        for (int p = 0; p < partitions; ++p) ready = ready && md->topics[0].partitions[p].leader >= 0;
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    // The leader in the metadata may not serve the partition yet (NOT_LEADER_FOR_PARTITION).
    for (int p = 0; p < partitions && ready; ++p) ready = QueryWatermarks(rk, topic, p, 5000).ok();
    if (ready) return absl::OkStatus();
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("topic ", topic, ": no leader for every partition in ", timeout_ms / 1000, " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

absl::StatusOr<int64_t> MessageTimestamp(rd_kafka_t* rk, const std::string& topic, int partition, int64_t offset,
                                         int timeout_ms) {
  PartitionList parts(1);
  rd_kafka_topic_partition_list_add(parts.list, topic.c_str(), partition)->offset = offset;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts.list); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("cannot assign ", topic, "/", partition, ": ", ErrText(err)));
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  absl::StatusOr<int64_t> result = absl::DeadlineExceededError(
      absl::StrCat("no message at offset ", offset, " of ", topic, "/", partition, " within ", timeout_ms, " ms"));
  while (Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    bool done = false;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition == partition && m->offset >= offset) {
      rd_kafka_timestamp_type_t type;
      result = rd_kafka_message_timestamp(m, &type);
      done = true;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
               m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      result = absl::UnavailableError(absl::StrCat("reading ", topic, "/", partition, " at ", offset, ": ",
                                                   rd_kafka_message_errstr(m)));
      done = true;
    }
    rd_kafka_message_destroy(m);
    if (done) break;
  }
  rd_kafka_assign(rk, nullptr);
  return result;
}

absl::StatusOr<int64_t> OffsetForTimeBySearch(rd_kafka_t* rk, const std::string& topic, int partition, int64_t ts,
                                              int timeout_ms) {
  auto marks = QueryWatermarks(rk, topic, partition, timeout_ms);
  if (!marks.ok()) return marks.status();
  // Invariant: timestamp(lo) < ts (lo = low − 1 stands for "before the log"), and
  // hi is either the end or an offset whose timestamp is ≥ ts.
  int64_t lo = marks->low - 1, hi = marks->high;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    auto t = MessageTimestamp(rk, topic, partition, mid, timeout_ms);
    if (!t.ok()) return t.status();
    if (*t >= ts) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

absl::StatusOr<int64_t> OffsetForTime(rd_kafka_t* rk, const std::string& topic, int partition, int64_t ts,
                                      int timeout_ms, TimeLookup* how) {
  TimeLookup unused;
  if (how == nullptr) how = &unused;
  PartitionList parts(1);
  rd_kafka_topic_partition_list_add(parts.list, topic.c_str(), partition)->offset = ts;
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, parts.list, timeout_ms);
  int64_t answer = parts.list->elems[0].offset;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && parts.list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && answer >= 0) {
    *how = TimeLookup::kTimeIndex;
    return answer;
  }
  // No answer, or "no such message" (-1): that is true only if the newest message is older
  // than ts; otherwise the broker could not look it up (the mock cluster), so search.
  auto marks = QueryWatermarks(rk, topic, partition, timeout_ms);
  if (!marks.ok()) return marks.status();
  *how = TimeLookup::kPastEnd;
  if (marks->high <= marks->low) return marks->high;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && parts.list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A broker with a time index finds a message at or after time 0 in a partition that
    // has any: then its -1 for ts is the truth. This needs no read of the newest message,
    // which may be a transaction marker (no message at that offset).
    PartitionList zero(1);
    rd_kafka_topic_partition_list_add(zero.list, topic.c_str(), partition)->offset = 0;
    if (rd_kafka_offsets_for_times(rk, zero.list, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        zero.list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && zero.list->elems[0].offset >= 0) {
      return marks->high;
    }
  }
  auto last = MessageTimestamp(rk, topic, partition, marks->high - 1, timeout_ms);
  if (!last.ok()) return last.status();
  if (*last < ts) return marks->high;
  *how = TimeLookup::kSearch;
  return OffsetForTimeBySearch(rk, topic, partition, ts, timeout_ms);
}

absl::StatusOr<int64_t> ResolvePosition(rd_kafka_t* rk, const KafkaEndpoint& endpoint, const Position& pos,
                                        int partition, bool is_end) {
  using Kind = Position::Kind;
  switch (pos.kind) {
    case Kind::kEarliest: {
      auto w = QueryWatermarks(rk, endpoint.topic, partition);
      if (!w.ok()) return w.status();
      return w->low;
    }
    case Kind::kLatest:
    case Kind::kEnd: {
      auto w = QueryWatermarks(rk, endpoint.topic, partition);
      if (!w.ok()) return w.status();
      return w->high;
    }
    case Kind::kCommitted: {
      if (is_end) return absl::InvalidArgumentError("end=committed is not a position; use end, ts:MS or offsets:");
      PartitionList parts(1);
      rd_kafka_topic_partition_list_add(parts.list, endpoint.topic.c_str(), partition);
      rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts.list, 10000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::UnavailableError(absl::StrCat("cannot read the committed offsets of group '",
                                                   endpoint.params.count("group") ? endpoint.params.at("group") : "",
                                                   "': ", ErrText(err)));
      }
      int64_t committed = parts.list->elems[0].offset;
      if (committed >= 0) return committed;
      // Nothing committed yet: start at the beginning, as auto.offset.reset=earliest would.
      auto w = QueryWatermarks(rk, endpoint.topic, partition);
      if (!w.ok()) return w.status();
      return w->low;
    }
    case Kind::kTimestamp:
      return OffsetForTime(rk, endpoint.topic, partition, pos.timestamp);
    case Kind::kOffsets: {
      auto it = pos.offsets.find(partition);
      if (it == pos.offsets.end()) {
        if (is_end) return kNoOffset;
        auto w = QueryWatermarks(rk, endpoint.topic, partition);
        if (!w.ok()) return w.status();
        return w->low;
      }
      return it->second;
    }
  }
  return absl::InternalError("unknown position");
}

// ---------------------------------------------------------------------------------------
// Consumer

absl::StatusOr<std::shared_ptr<Consumer>> Consumer::Open(const KafkaEndpoint& endpoint,
                                                         const std::vector<std::pair<int, int64_t>>& partitions) {
  std::shared_ptr<Consumer> c(new Consumer());
  c->endpoint_ = endpoint;
  std::vector<std::pair<std::string, std::string>> extra = {
      {"enable.partition.eof", "false"},
      // An offset a checkpoint recorded that retention has since removed is data loss:
      // report it, never skip silently to another position.
      {"auto.offset.reset", "error"},
  };
  // A fetch that finds no data waits up to fetch.wait.max.ms; librdkafka's mock cluster
  // always waits it out, even when data arrives, so a caught-up source would stall 500 ms
  // (the default) each time. 100 ms costs a real broker a few idle fetches a second.
  bool wait_set = false;
  for (const auto& [k, v] : endpoint.config) wait_set |= k == "fetch.wait.max.ms";
  if (!wait_set) extra.emplace_back("fetch.wait.max.ms", "100");
  auto group = endpoint.params.find("group");
  if (group != endpoint.params.end()) {
    extra.emplace_back("group.id", group->second);
    extra.emplace_back("enable.auto.commit", "true");  // lag reporting only
  } else {
    extra.emplace_back("group.id", "kappa");  // required by librdkafka; nothing is committed
    extra.emplace_back("enable.auto.commit", "false");
  }
  auto rk = NewClient(RD_KAFKA_CONSUMER, endpoint, extra);
  if (!rk.ok()) return rk.status();
  c->rk_ = std::move(*rk);
  PartitionList list(static_cast<int>(partitions.size()));
  for (const auto& [p, offset] : partitions) {
    rd_kafka_queue_t* q = rd_kafka_queue_get_partition(c->rk_.get(), endpoint.topic.c_str(), p);
    if (q == nullptr) return absl::InternalError(absl::StrCat("no queue for partition ", p));
    rd_kafka_queue_forward(q, nullptr);  // this partition is read on its own
    c->queues_[p] = q;
    rd_kafka_topic_partition_list_add(list.list, endpoint.topic.c_str(), p)->offset = offset;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(c->rk_.get(), list.list); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("cannot assign partitions of ", endpoint.Describe(), ": ", ErrText(err)));
  }
  return c;
}

Consumer::~Consumer() {
  for (auto& [p, q] : queues_) rd_kafka_queue_destroy(q);
  if (rk_) {
    rd_kafka_assign(rk_.get(), nullptr);
    rd_kafka_consumer_close(rk_.get());
  }
}

absl::Status Consumer::CheckErrors() {
  // Consumer-wide events (errors); partition queues carry the messages.
  while (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 0)) {
    absl::Status s;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Fetched before its partition queue was split off: hand it to that partition.
      s = absl::InternalError("unexpected message on the consumer queue");
    } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
      s = absl::FailedPreconditionError(absl::StrCat(endpoint_.Describe(), ": ", buf));
    } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      s = absl::DataLossError(absl::StrCat(endpoint_.Describe(), " partition ", m->partition, ": ",
                                           rd_kafka_message_errstr(m),
                                           " (retention removed the offset to resume from; --fresh starts over)"));
    }
    // Anything else (a broker down, a connection reset) is retried by librdkafka: the
    // source stalls and resumes.
    rd_kafka_message_destroy(m);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

int64_t Consumer::HighWater(int partition) const {
  int64_t low = -1, high = -1;
  if (rd_kafka_get_watermark_offsets(rk_.get(), endpoint_.topic.c_str(), partition, &low, &high) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high >= 0 ? high : -1;
}

int64_t Consumer::Position(int partition) const {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, endpoint_.topic.c_str(), partition);
  int64_t offset = -1;
  if (rd_kafka_position(rk_.get(), list) == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0) {
    offset = list->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  return offset;
}

absl::StatusOr<size_t> Consumer::Poll(int partition, rd_kafka_message_t** out, size_t max) {
  // Consumer-wide errors are rare: look for them every 64th poll, not on every one.
  if ((polls_++ & 63) == 0) {
    absl::Status s = CheckErrors();
    if (!s.ok()) return s;
  }
  auto it = queues_.find(partition);
  if (it == queues_.end()) return absl::InternalError(absl::StrCat("partition ", partition, " is not assigned"));
  ssize_t n = rd_kafka_consume_batch_queue(it->second, 0, out, max);
  if (n < 0) return absl::UnavailableError(absl::StrCat("consume: ", ErrText(rd_kafka_last_error())));
  size_t kept = 0;
  for (ssize_t i = 0; i < n; ++i) {
    rd_kafka_message_t* m = out[i];
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out[kept++] = m;
      continue;
    }
    absl::Status e;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      e = absl::DataLossError(absl::StrCat(endpoint_.Describe(), " partition ", partition, ": ",
                                           rd_kafka_message_errstr(m),
                                           " (retention removed the offset to resume from; --fresh starts over)"));
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
               m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      e = absl::UnavailableError(
          absl::StrCat(endpoint_.Describe(), " partition ", partition, ": ", rd_kafka_message_errstr(m)));
    }
    rd_kafka_message_destroy(m);
    if (!e.ok()) {
      for (ssize_t j = i + 1; j < n; ++j) rd_kafka_message_destroy(out[j]);
      for (size_t j = 0; j < kept; ++j) rd_kafka_message_destroy(out[j]);
      return e;
    }
  }
  return kept;
}

// ---------------------------------------------------------------------------------------
// Producer

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard<std::mutex> lock(self->mu_);
  if (self->delivery_error_.empty()) {
    self->delivery_error_ = absl::StrCat("delivery to ", self->endpoint_.Describe(), " failed: ", rd_kafka_err2str(m->err));
  }
}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Open(const KafkaEndpoint& endpoint,
                                                         const std::string& transactional_id) {
  std::unique_ptr<Producer> p(new Producer());
  p->endpoint_ = endpoint;
  std::vector<std::pair<std::string, std::string>> extra = {
      {"enable.idempotence", "true"},  // no duplicates or reordering from retries
      {"linger.ms", "5"},
  };
  if (!transactional_id.empty()) {
    extra.emplace_back("transactional.id", transactional_id);
    p->transactional_ = true;
  }
  auto rk = NewClient(
      RD_KAFKA_PRODUCER, endpoint, extra,
      [](rd_kafka_conf_t* conf, void* self) {
        rd_kafka_conf_set_dr_msg_cb(conf, &Producer::OnDelivery);
        rd_kafka_conf_set_opaque(conf, self);
      },
      p.get());
  if (!rk.ok()) return rk.status();
  p->rk_ = std::move(*rk);
  p->topic_ = rd_kafka_topic_new(p->rk_.get(), endpoint.topic.c_str(), nullptr);
  for (const auto& [key, value] : endpoint.params) {
    if (key.starts_with("header.")) p->headers_.emplace_back(key.substr(7), value);
  }
  if (p->transactional_) {
    // Fences any older producer with this id (a zombie of a crashed run) and aborts the
    // transaction it left open.
    KAPPA_RETURN_IF_ERROR(FromError(rd_kafka_init_transactions(p->rk_.get(), TransactionCallTimeoutMs(endpoint, 30000)),
                                    absl::StrCat("init_transactions(", transactional_id, ")")));
  }
  return p;
}

Producer::~Producer() {
  if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
  rk_.reset();  // before the members its delivery callback uses
}

absl::Status Producer::DeliveryStatus() {
  std::lock_guard<std::mutex> lock(mu_);
  if (delivery_error_.empty()) return absl::OkStatus();
  return absl::UnavailableError(delivery_error_);
}

absl::Status Producer::Produce(std::string_view value, std::string_view key, int64_t timestamp_ms) {
  rd_kafka_headers_t* headers = nullptr;
  if (!headers_.empty()) {
    headers = rd_kafka_headers_new(headers_.size());
    for (const auto& [n, v] : headers_) rd_kafka_header_add(headers, n.data(), n.size(), v.data(), v.size());
  }
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_RKT(topic_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms > 0 ? timestamp_ms : 0), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (headers != nullptr) rd_kafka_headers_destroy(headers);
      return absl::UnavailableError(absl::StrCat("produce to ", endpoint_.Describe(), ": ", ErrText(err)));
    }
    // librdkafka's queue is full (a slow or unreachable broker): wait, don't drop.
    rd_kafka_poll(rk_.get(), 10);
    KAPPA_RETURN_IF_ERROR(DeliveryStatus());
  }
  return DeliveryStatus();
}

absl::Status Producer::Poll() {
  rd_kafka_poll(rk_.get(), 0);
  return DeliveryStatus();
}

absl::Status Producer::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), timeout_ms);
  KAPPA_RETURN_IF_ERROR(DeliveryStatus());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("flush to ", endpoint_.Describe(), ": ", ErrText(err), " (",
                                               rd_kafka_outq_len(rk_.get()), " messages unacknowledged)"));
  }
  return absl::OkStatus();
}

bool Producer::Fatal(std::string* reason, bool* fenced) const {
  char text[512] = {};
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_.get(), text, sizeof text);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  *reason = text[0] != '\0' ? std::string(text) : ErrText(err);
  *fenced = err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
            err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
  return true;
}

absl::Status Producer::Begin() { return FromError(rd_kafka_begin_transaction(rk_.get()), "begin_transaction"); }

absl::Status Producer::Commit(int timeout_ms) {
  KAPPA_RETURN_IF_ERROR(DeliveryStatus());
  return FromError(rd_kafka_commit_transaction(rk_.get(), timeout_ms), "commit_transaction");
}

absl::Status Producer::Abort(int timeout_ms) {
  absl::Status s = FromError(rd_kafka_abort_transaction(rk_.get(), timeout_ms), "abort_transaction");
  std::lock_guard<std::mutex> lock(mu_);
  delivery_error_.clear();  // the aborted messages' failures no longer matter
  return s;
}

absl::Status Producer::SendOffsets(const std::string& group, int partition, int64_t offset,
                                   const std::string& metadata, int timeout_ms) {
  PartitionList offsets(1);
  rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_add(offsets.list, endpoint_.topic.c_str(), partition);
  p->offset = offset;
  p->metadata = const_cast<char*>(metadata.data());  // copied by the call, detached before the list is freed
  p->metadata_size = metadata.size();
  rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata_new(group.c_str());
  rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(rk_.get(), offsets.list, cgmd, timeout_ms);
  rd_kafka_consumer_group_metadata_destroy(cgmd);
  p->metadata = nullptr;
  p->metadata_size = 0;
  return FromError(error, absl::StrCat("send_offsets_to_transaction(group ", group, ")"));
}

int TransactionCallTimeoutMs(const KafkaEndpoint& endpoint, int fallback_ms) {
  int timeout = fallback_ms;
  for (const auto& [key, value] : endpoint.config) {
    int ms;
    if (key == "transaction.timeout.ms" && absl::SimpleAtoi(value, &ms) && ms > 0) timeout = std::min(fallback_ms, ms);
  }
  return timeout;
}

absl::StatusOr<CommittedOffset> ReadCommittedOffset(const KafkaEndpoint& endpoint, const std::string& group,
                                                    int partition, int timeout_ms) {
  auto rk = NewClient(RD_KAFKA_CONSUMER, endpoint,
                      {{"group.id", group}, {"enable.auto.commit", "false"}, {"isolation.level", "read_committed"}});
  if (!rk.ok()) return rk.status();
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    PartitionList parts(1);
    rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_add(parts.list, endpoint.topic.c_str(), partition);
    int left = static_cast<int>(
        std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    rd_kafka_resp_err_t err = rd_kafka_committed(rk->get(), parts.list, std::min(left, 10000));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = p->err;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      CommittedOffset c;
      c.offset = p->offset;
      if (p->metadata != nullptr) c.metadata.assign(static_cast<const char*>(p->metadata), p->metadata_size);
      rd_kafka_consumer_close(rk->get());
      return c;
    }
    // A transaction that commits offsets to the group is still open (or its markers are
    // being written), or the coordinator is loading or moving: ask again.
    const bool retry = err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                       err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                       err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                       err == RD_KAFKA_RESP_ERR__TRANSPORT;
    if (!retry || Clock::now() >= deadline) {
      rd_kafka_consumer_close(rk->get());
      return absl::UnavailableError(absl::StrCat("cannot read the offsets consumer group '", group, "' committed for ",
                                                 endpoint.Describe(), " partition ", partition, ": ", ErrText(err)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// ---------------------------------------------------------------------------------------
// Embedded cluster

absl::StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(int brokers) {
  std::unique_ptr<EmbeddedCluster> c(new EmbeddedCluster());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "log_level", KafkaLogLevel(), err, sizeof err);
  RouteKafkaLog(conf);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("cannot start the embedded Kafka cluster: ", err));
  }
  c->rk_.reset(rk);
  c->mock_ = rd_kafka_mock_cluster_new(rk, brokers);
  if (c->mock_ == nullptr) return absl::InternalError("cannot start the embedded Kafka cluster");
  c->bootstrap_ = rd_kafka_mock_cluster_bootstraps(c->mock_);
  return c;
}

EmbeddedCluster::~EmbeddedCluster() {
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
}

absl::Status EmbeddedCluster::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mock_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("create topic ", topic, ": ", ErrText(err)));
  }
  return absl::OkStatus();
}

absl::Status EmbeddedCluster::SetBrokerDown(int broker_id, bool down) {
  rd_kafka_resp_err_t err = down ? rd_kafka_mock_broker_set_down(mock_, broker_id)
                                 : rd_kafka_mock_broker_set_up(mock_, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return absl::InternalError(ErrText(err));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------

absl::StatusOr<std::vector<std::string>> ReadTopic(const KafkaEndpoint& endpoint, int timeout_ms) {
  // A partition is read when its end event comes: counting messages up to the high
  // watermark would wait forever on a transactional topic, whose commit markers (and, under
  // read_committed, aborted messages) take offsets that no message is delivered for.
  auto rk = NewClient(RD_KAFKA_CONSUMER, endpoint,
                      {{"group.id", "kappa-read"}, {"enable.auto.commit", "false"}, {"enable.partition.eof", "true"}});
  if (!rk.ok()) return rk.status();
  auto n = PartitionCount(rk->get(), endpoint);
  if (!n.ok()) return n.status();
  std::vector<Watermarks> marks(*n);
  std::vector<std::vector<std::string>> values(*n);
  PartitionList list(*n);
  std::vector<bool> done(*n, false);
  int remaining = 0;  // partitions not read to their end yet
  for (int p = 0; p < *n; ++p) {
    auto w = QueryWatermarks(rk->get(), endpoint.topic, p);
    if (!w.ok()) return w.status();
    marks[p] = *w;
    if (w->high <= w->low) {
      done[p] = true;
      continue;
    }
    ++remaining;
    rd_kafka_topic_partition_list_add(list.list, endpoint.topic.c_str(), p)->offset = w->low;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk->get(), list.list); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(ErrText(err));
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (remaining > 0) {
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reading ", endpoint.Describe(), ": ", remaining,
                                                      " partitions not read to their end within ",
                                                      timeout_ms / 1000, " s"));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 100);
    if (m == nullptr) continue;
    if (m->partition >= 0 && m->partition < *n && !done[m->partition]) {
      const int p = m->partition;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset < marks[p].high) {
        values[p].emplace_back(static_cast<const char*>(m->payload), m->len);
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
          (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->offset >= marks[p].high - 1)) {
        done[p] = true;
        --remaining;
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk->get(), nullptr);
  rd_kafka_consumer_close(rk->get());
  std::vector<std::string> all;
  for (auto& v : values) {
    for (auto& s : v) all.push_back(std::move(s));
  }
  return all;
}

absl::StatusOr<std::string> JsonFieldText(std::string_view json, const std::string& name) {
  static thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return absl::InvalidArgumentError("not JSON");
  simdjson::ondemand::value v;
  if (doc[name].get(v)) return absl::NotFoundError(absl::StrCat("no field '", name, "'"));
  std::string_view s;
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return absl::InvalidArgumentError("bad value");
  if (type == simdjson::ondemand::json_type::string) {
    if (v.get_string().get(s)) return absl::InvalidArgumentError("bad string");
    return std::string(s);
  }
  s = v.raw_json_token();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == ',')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace kappa::connectors::kafka
