#include "kappa/connectors/nexmark_source.h"

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/status.h"
#include "kappa/connectors/internal/schemes.h"
#include "kappa/connectors/nexmark/json.h"

namespace kappa::connectors {
namespace {


// The wall clock when pacing, else kMaxTimestamp (every event is due).
Timestamp PaceNow(const nexmark::GeneratorConfig& config) {
  if (!config.pace) return kMaxTimestamp;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class EventReader final : public PartitionReader<nexmark::Event> {
 public:
  EventReader(const nexmark::GeneratorConfig& c, int p, int n) : config_(c), gen_(c, p, n) {}
  void Seek(int64_t offset) { gen_.Seek(offset); }

  absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<nexmark::Event>& ctx) override {
    if (!gen_.HasNext()) return ReadStatus::kEnd;
    const Timestamp now = PaceNow(config_);
    size_t i = 0;
    for (; i < max_records && gen_.HasNext(); ++i) {
      if (config_.pace && nexmark::EventTimestamp(config_, gen_.next_event_number()) > now) break;
      nexmark::Event e;
      gen_.NextInto(&e);
      ctx.Emit(std::move(e));
    }
    return i == 0 ? ReadStatus::kWouldBlock : ReadStatus::kRecords;
  }
  int64_t offset() const override { return gen_.position(); }
  // A bounded generator's partition ends after its share of the events.
  int64_t high_water() const override { return gen_.limit() >= 0 ? gen_.limit() : kNoEnd; }

 private:
  nexmark::GeneratorConfig config_;
  nexmark::Generator gen_;
};

class JsonReader final : public RawPartitionReader {
 public:
  JsonReader(const nexmark::GeneratorConfig& c, int p, int n) : config_(c), gen_(c, p, n) {}
  void Seek(int64_t offset) { gen_.Seek(offset); }

  absl::StatusOr<ReadStatus> Read(size_t max_records, std::vector<RawRecord>* out) override {
    if (!gen_.HasNext()) return ReadStatus::kEnd;
    const Timestamp now = PaceNow(config_);
    lines_.clear();
    const size_t first = out->size();
    size_t i = 0;
    for (; i < max_records && gen_.HasNext(); ++i) {
      if (config_.pace && nexmark::EventTimestamp(config_, gen_.next_event_number()) > now) break;
      const int64_t at = gen_.position();
      gen_.NextInto(&event_);
      const size_t begin = lines_.size();
      nexmark::AppendJson(event_, &lines_);
      // Positions for now: lines_ may still move as it grows.
      out->push_back(RawRecord{.bytes = std::string_view(nullptr, 0),
                               .offset = at,
                               .next_offset = gen_.position(),
                               .padded_capacity = begin});
      sizes_.push_back(lines_.size() - begin);
    }
    // Padding after the last line, so the codec parses every line in place.
    lines_.append(kPadding, ' ');
    for (size_t k = 0; k < i; ++k) {
      RawRecord& r = (*out)[first + k];
      const size_t begin = r.padded_capacity;
      r.bytes = std::string_view(lines_.data() + begin, sizes_[k]);
      r.padded_capacity = lines_.size() - begin;
    }
    sizes_.clear();
    return i == 0 ? ReadStatus::kWouldBlock : ReadStatus::kRecords;
  }
  int64_t offset() const override { return gen_.position(); }
  int64_t high_water() const override { return gen_.limit() >= 0 ? gen_.limit() : kNoEnd; }

 private:
  static constexpr size_t kPadding = 64;  // simdjson's SIMDJSON_PADDING

  nexmark::GeneratorConfig config_;
  nexmark::Generator gen_;
  nexmark::Event event_;
  std::string lines_;
  std::vector<size_t> sizes_;
};

class JsonSourceImpl final : public RawSourceConnector {
 public:
  JsonSourceImpl(nexmark::GeneratorConfig config, int partitions) : config_(config), partitions_(partitions) {}

  absl::StatusOr<int> NumPartitions() override { return partitions_; }
  absl::StatusOr<std::unique_ptr<RawPartitionReader>> Open(int partition, int64_t offset) override {
    auto r = std::make_unique<JsonReader>(config_, partition, partitions_);
    r->Seek(offset);
    return std::unique_ptr<RawPartitionReader>(std::move(r));
  }
  std::string description() const override { return "gen:nexmark"; }

 private:
  nexmark::GeneratorConfig config_;
  int partitions_;
};

}  // namespace


std::shared_ptr<RawSourceConnector> NewNexmarkJsonSource(nexmark::GeneratorConfig config, int partitions) {
  return std::make_shared<JsonSourceImpl>(config, partitions);
}

absl::StatusOr<std::unique_ptr<PartitionReader<nexmark::Event>>> NexmarkSource<nexmark::Event>::Open(int partition,
                                                                                                     int64_t offset) {
  auto r = std::make_unique<EventReader>(config_, partition, partitions_);
  r->Seek(offset);
  return std::unique_ptr<PartitionReader<nexmark::Event>>(std::move(r));
}

namespace internal {

absl::StatusOr<OpenedSource> OpenNexmarkSource(const Uri& uri, const SourceOptions& options) {
  if (uri.path != "nexmark") {
    return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': the only generator is gen:nexmark"));
  }
  KAPPA_RETURN_IF_ERROR(ParseSourceBounds(uri, options).status());
  int partitions = 1;
  KAPPA_ASSIGN_OR_RETURN(nexmark::GeneratorConfig config, nexmark::GeneratorConfig::FromQuery(uri.query, &partitions));
  OpenedSource opened(NewNexmarkJsonSource(config, partitions));
  opened.SetTyped<nexmark::Event>(std::make_shared<NexmarkSource<nexmark::Event>>(config, partitions));
  return opened;
}

}  // namespace internal
}  // namespace kappa::connectors
