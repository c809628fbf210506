// A Kafka topic as a source: `kafka://BOOTSTRAP/TOPIC?start=...&end=...&group=G`.
//
// Every partition of the topic is a source partition, assigned explicitly to the source's
// instances (partition p → instance p % parallelism); each instance has one consumer
// reading each of its partitions from its own queue, so every partition keeps its own
// watermark. Values are JSON lines decoded as T; a message that does not decode goes to
// the errors output with its partition and offset.
//
// Offsets belong to checkpoints: on restore every partition resumes where the checkpoint
// says. Without a checkpoint it starts at `start` (earliest by default; latest, committed,
// ts:MS or offsets:P=O,...). With `end` (end = the high watermarks found when the run
// first opened the partitions, ts:MS, or offsets:P=O,...) the source is bounded and the
// run ends when every partition reached its end; the ends are kept in checkpoints, so a
// restarted replay stops where the first run would have.
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_SOURCE_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_SOURCE_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/connectors/kafka/kafka_client.h"
#include "kappa/connectors/uri.h"
#include "kappa/base/json_codec.h"
#include "kappa/runtime/source.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"

namespace kappa::connectors {

template <typename T>
class KafkaSource final : public SourceConnector<T> {
 public:
  KafkaSource(kafka::KafkaEndpoint endpoint, Position start, std::optional<Position> end)
      : endpoint_(std::move(endpoint)), start_(std::move(start)), end_(std::move(end)) {}

  absl::StatusOr<int> NumPartitions() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (partitions_ > 0) return partitions_;
    KAPPA_RETURN_IF_ERROR(EnsureClient());
    KAPPA_ASSIGN_OR_RETURN(partitions_, kafka::PartitionCount(client_.get(), endpoint_, endpoint_.timeout_ms));
    return partitions_;
  }

  absl::StatusOr<int64_t> StartOffset(int partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    KAPPA_RETURN_IF_ERROR(EnsureClient());
    return kafka::ResolvePosition(client_.get(), endpoint_, start_, partition, /*is_end=*/false);
  }

  absl::StatusOr<std::unique_ptr<PartitionReader<T>>> Open(int partition, int64_t offset) override {
    KAPPA_ASSIGN_OR_RETURN(auto readers, OpenAll({{partition, offset}}));
    return std::move(readers.front());
  }

  absl::StatusOr<std::vector<std::unique_ptr<PartitionReader<T>>>> OpenAll(
      const std::vector<std::pair<int, int64_t>>& partitions) override {
    std::vector<int64_t> ends;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [p, offset] : partitions) {
        int64_t end = PartitionReader<T>::kNoEnd;
        if (end_) {
          KAPPA_RETURN_IF_ERROR(EnsureClient());
          KAPPA_ASSIGN_OR_RETURN(end, kafka::ResolvePosition(client_.get(), endpoint_, *end_, p, /*is_end=*/true));
        }
        ends.push_back(end);
      }
    }
    KAPPA_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Open(endpoint_, partitions));
    std::vector<std::unique_ptr<PartitionReader<T>>> readers;
    for (size_t i = 0; i < partitions.size(); ++i) {
      readers.push_back(std::make_unique<Reader>(consumer, partitions[i].first, partitions[i].second, ends[i]));
    }
    return readers;
  }

  std::string description() const override { return endpoint_.Describe(); }

 private:
  // One partition's reader; the readers of one source instance share its consumer and
  // run on that instance's task thread.
  class Reader final : public PartitionReader<T> {
   public:
    Reader(std::shared_ptr<kafka::Consumer> consumer, int partition, int64_t offset, int64_t end)
        : consumer_(std::move(consumer)), partition_(partition), offset_(offset), end_(end) {}

    absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<T>& ctx) override {
      if (end_ != PartitionReader<T>::kNoEnd && offset_ >= end_) return ReadStatus::kEnd;
      rd_kafka_message_t* msgs[512];
      KAPPA_ASSIGN_OR_RETURN(size_t n, consumer_->Poll(partition_, msgs, std::min<size_t>(max_records, 512)));
      bool ended = false;
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = msgs[i];
        if (ended || (end_ != PartitionReader<T>::kNoEnd && m->offset >= end_)) {
          ended = true;
          rd_kafka_message_destroy(m);
          continue;
        }
        offset_ = m->offset + 1;
        std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
        T record{};
        absl::Status s = codec_.Decode(value, 0, &record);
        if (!s.ok()) {
          ctx.ReportBadRecord(m->offset, StdView(s.message()), value);
        } else {
          ctx.Emit(std::move(record));
        }
        rd_kafka_message_destroy(m);
      }
      if (ended || (end_ != PartitionReader<T>::kNoEnd && offset_ >= end_)) return ReadStatus::kEnd;
      return n > 0 ? ReadStatus::kRecords : ReadStatus::kWouldBlock;
    }
    int64_t offset() const override { return offset_; }
    int64_t end_offset() const override { return end_; }
    void RestoreEndOffset(int64_t end) override { end_ = end; }

   private:
    std::shared_ptr<kafka::Consumer> consumer_;
    int partition_;
    int64_t offset_;
    int64_t end_;
    JsonCodec<T> codec_;
  };

  // A consumer without assignments for metadata and offset lookups.
  absl::Status EnsureClient() {
    if (client_) return absl::OkStatus();
    std::vector<std::pair<std::string, std::string>> extra = {
        {"enable.auto.commit", "false"}, {"enable.partition.eof", "false"}, {"fetch.wait.max.ms", "10"}};
    auto group = endpoint_.params.find("group");
    extra.emplace_back("group.id", group != endpoint_.params.end() ? group->second : "kappa");
    KAPPA_ASSIGN_OR_RETURN(client_, kafka::NewClient(RD_KAFKA_CONSUMER, endpoint_, extra));
    return absl::OkStatus();
  }

  kafka::KafkaEndpoint endpoint_;
  Position start_;
  std::optional<Position> end_;
  std::mutex mu_;
  kafka::Handle client_;
  int partitions_ = 0;
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_SOURCE_H_
