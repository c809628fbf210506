#include "kappa/connectors/kafka/kafka_source.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/log.h"
#include "kappa/base/status.h"
#include "kappa/connectors/internal/schemes.h"
#include "kappa/connectors/kafka/kafka_client.h"

namespace kappa::connectors::kafka {
namespace {

// One partition's reader; the readers of one source instance share its consumer and run
// on that instance's task thread. The messages of the last batch live until the next
// Read(), since the records returned point into them.
class Reader final : public RawPartitionReader {
 public:
  Reader(std::shared_ptr<Consumer> consumer, int partition, int64_t offset, int64_t end, int64_t history_end)
      : consumer_(std::move(consumer)), partition_(partition), offset_(offset), end_(end), history_end_(history_end) {}
  ~Reader() override { Release(); }

  absl::StatusOr<ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) override {
    Release();
    if (end_ != kNoEnd && offset_ >= end_) return ReadStatus::kEnd;
    KAPPA_ASSIGN_OR_RETURN(n_, consumer_->Poll(partition_, msgs_, std::min<size_t>(max_records, kMaxBatch)));
    bool ended = false;
    for (size_t i = 0; i < n_; ++i) {
      const rd_kafka_message_t* m = msgs_[i];
      if (ended || (end_ != kNoEnd && m->offset >= end_)) {
        ended = true;
        continue;
      }
      offset_ = m->offset + 1;
      rd_kafka_timestamp_type_t type;
      const int64_t ts = rd_kafka_message_timestamp(m, &type);
      const size_t len = m->payload != nullptr ? m->len : 0;
      out->push_back(RawRecord{.bytes = std::string_view(static_cast<const char*>(m->payload), len),
                               .offset = m->offset,
                               .next_offset = offset_,
                               .padded_capacity = len,
                               .timestamp = ts >= 0 ? ts : kNoTimestamp});
    }
    if (ended || (end_ != kNoEnd && offset_ >= end_)) return ReadStatus::kEnd;
    if (n_ == 0 && end_ != kNoEnd) {
      // A topic written in transactions ends with a commit marker, which is never returned
      // as a message: the end is reached when the consumer's position passed it.
      if (const int64_t position = consumer_->Position(partition_); position >= end_) {
        offset_ = position;
        return ReadStatus::kEnd;
      }
    }
    return n_ > 0 ? ReadStatus::kRecords : ReadStatus::kWouldBlock;
  }
  int64_t offset() const override { return offset_; }
  int64_t end_offset() const override { return end_; }
  void RestoreEndOffset(int64_t end) override { end_ = end; }
  int64_t high_water() const override {
    const int64_t high = consumer_->HighWater(partition_);
    return high >= 0 ? high : end_;
  }
  int64_t history_end() const override { return history_end_; }

 private:
  static constexpr size_t kMaxBatch = 512;

  void Release() {
    for (size_t i = 0; i < n_; ++i) rd_kafka_message_destroy(msgs_[i]);
    n_ = 0;
  }

  std::shared_ptr<Consumer> consumer_;
  int partition_;
  int64_t offset_;
  int64_t end_;
  const int64_t history_end_;
  rd_kafka_message_t* msgs_[kMaxBatch];
  size_t n_ = 0;
};

class KafkaSourceImpl final : public RawSourceConnector {
 public:
  KafkaSourceImpl(KafkaEndpoint endpoint, Position start, std::optional<Position> end, bool note_history_end)
      : endpoint_(std::move(endpoint)),
        start_(std::move(start)),
        end_(std::move(end)),
        note_history_end_(note_history_end) {}

  absl::StatusOr<int> NumPartitions() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (partitions_ > 0) return partitions_;
    KAPPA_RETURN_IF_ERROR(EnsureClient());
    KAPPA_ASSIGN_OR_RETURN(partitions_, PartitionCount(client_.get(), endpoint_, endpoint_.timeout_ms));
    return partitions_;
  }

  absl::StatusOr<int64_t> StartOffset(int partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAPPA_RETURN_IF_ERROR(EnsureClient());
    if (start_.kind != Position::Kind::kTimestamp) {
      return ResolvePosition(client_.get(), endpoint_, start_, partition, /*is_end=*/false);
    }
    TimeLookup how;
    KAPPA_ASSIGN_OR_RETURN(int64_t offset, OffsetForTime(client_.get(), endpoint_.topic, partition, start_.timestamp,
                                                         endpoint_.timeout_ms, &how));
    ++time_lookups_[static_cast<int>(how)];
    if (time_lookups_[0] + time_lookups_[1] + time_lookups_[2] == partitions_) ReportTimeLookups();
    return offset;
  }

  absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int partition, int64_t offset) override {
    KAPPA_ASSIGN_OR_RETURN(auto readers, OpenAll({{partition, offset}}));
    return std::move(readers.front());
  }

  absl::StatusOr<std::vector<std::unique_ptr<RawPartitionReader>>> OpenAll(
      const std::vector<std::pair<int, int64_t>>& partitions) override {
    std::vector<int64_t> ends, history_ends;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [p, offset] : partitions) {
        int64_t end = RawPartitionReader::kNoEnd, history_end = RawPartitionReader::kNoEnd;
        if (end_) {
          KAPPA_RETURN_IF_ERROR(EnsureClient());
          KAPPA_ASSIGN_OR_RETURN(end, ResolvePosition(client_.get(), endpoint_, *end_, p, /*is_end=*/true));
        } else if (note_history_end_) {
          KAPPA_RETURN_IF_ERROR(EnsureClient());
          KAPPA_ASSIGN_OR_RETURN(history_end, ResolvePosition(client_.get(), endpoint_, Position{Position::Kind::kEnd},
                                                               p, /*is_end=*/true));
        }
        ends.push_back(end);
        history_ends.push_back(history_end);
      }
    }
    KAPPA_ASSIGN_OR_RETURN(auto consumer, Consumer::Open(endpoint_, partitions));
    std::vector<std::unique_ptr<RawPartitionReader>> readers;
    for (size_t i = 0; i < partitions.size(); ++i) {
      readers.push_back(std::make_unique<Reader>(consumer, partitions[i].first, partitions[i].second, ends[i],
                                                history_ends[i]));
    }
    return readers;
  }

  std::string description() const override { return endpoint_.Describe(); }

 private:
  // Once every partition has its start: one line saying how a start=ts:MS was found, so
  // that whoever replays by time sees whether the broker's time index answered or each
  // partition was searched (a broker without one, librdkafka's mock cluster).
  void ReportTimeLookups() const {
    std::string how;
    auto add = [&](int count, const char* what) {
      if (count == 0) return;
      absl::StrAppend(&how, how.empty() ? "" : ", ", count, count == 1 ? " partition " : " partitions ", what);
    };
    add(time_lookups_[static_cast<int>(TimeLookup::kTimeIndex)],
        "by the broker's time index (offsets_for_times)");
    add(time_lookups_[static_cast<int>(TimeLookup::kPastEnd)], "at the end (no message that late)");
    add(time_lookups_[static_cast<int>(TimeLookup::kSearch)],
        "by binary search over message timestamps (the broker did not look the time up)");
    LogInfo(absl::StrCat(endpoint_.Describe(), " starts at ts:", start_.timestamp, ": ", how));
  }

  // A consumer without assignments for metadata and offset lookups.
  absl::Status EnsureClient() {
    if (client_) return absl::OkStatus();
    std::vector<std::pair<std::string, std::string>> extra = {
        {"enable.auto.commit", "false"}, {"enable.partition.eof", "false"}, {"fetch.wait.max.ms", "10"}};
    auto group = endpoint_.params.find("group");
    extra.emplace_back("group.id", group != endpoint_.params.end() ? group->second : "kappa");
    KAPPA_ASSIGN_OR_RETURN(client_, NewClient(RD_KAFKA_CONSUMER, endpoint_, extra));
    return absl::OkStatus();
  }

  const KafkaEndpoint endpoint_;
  const Position start_;
  const std::optional<Position> end_;
  const bool note_history_end_;
  std::mutex mu_;
  Handle client_;
  int partitions_ = 0;
  int time_lookups_[3] = {0, 0, 0};  // start=ts:MS resolutions, by TimeLookup
};

}  // namespace

absl::StatusOr<std::shared_ptr<RawSourceConnector>> NewKafkaSource(KafkaEndpoint endpoint, Position start,
                                                                   std::optional<Position> end,
                                                                   bool note_history_end) {
  if (start.kind == Position::Kind::kCommitted && !endpoint.params.count("group")) {
    return absl::InvalidArgumentError(absl::StrCat("'", endpoint.text, "': start=committed needs group=NAME"));
  }
  auto src = std::make_shared<KafkaSourceImpl>(std::move(endpoint), std::move(start), std::move(end),
                                               note_history_end);
  KAPPA_RETURN_IF_ERROR(src->NumPartitions().status());  // fail fast: unreachable brokers, a missing topic
  return std::shared_ptr<RawSourceConnector>(std::move(src));
}

}  // namespace kappa::connectors::kafka

namespace kappa::connectors::internal {

absl::StatusOr<OpenedSource> OpenKafkaSource(const Uri& uri, const SourceOptions& options) {
  KAPPA_ASSIGN_OR_RETURN(SourceBounds bounds, ParseSourceBounds(uri, options));
  KAPPA_ASSIGN_OR_RETURN(auto endpoint, kafka::ParseEndpoint(uri, options.kafka, {"start", "end", "group"}));
  KAPPA_ASSIGN_OR_RETURN(auto raw, kafka::NewKafkaSource(std::move(endpoint), bounds.start, bounds.end,
                                                               options.note_history_end));
  return OpenedSource(std::move(raw));
}

}  // namespace kappa::connectors::internal
