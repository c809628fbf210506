#include "kappa/connectors/discard_sink.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "kappa/connectors/internal/schemes.h"

namespace kappa::connectors {
namespace {

class DiscardWriter final : public RawSinkWriter {
 public:
  DiscardWriter(bool latency, std::shared_ptr<DiscardStats> stats) : latency_(latency), stats_(std::move(stats)) {}

  absl::Status Write(const RawSinkBatch& batch) override {
    rows_ += static_cast<int64_t>(batch.size());
    if (latency_) {
      // One clock reading for the batch: its records reach the sink together.
      const int64_t now_us =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      for (const RawSinkBatch::Entry& r : batch.records) {
        const int64_t us = now_us - r.ts * 1000;
        if (us < 0) {
          ++ahead_;
        } else {
          histogram_.Record(us);
        }
      }
    }
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    if (rows_ == 0) return absl::OkStatus();
    stats_->Add(rows_, ahead_, latency_ ? &histogram_ : nullptr);
    rows_ = 0;
    ahead_ = 0;
    histogram_.Reset();
    return absl::OkStatus();
  }
  absl::Status Close() override { return Flush(); }

 private:
  const bool latency_;
  const std::shared_ptr<DiscardStats> stats_;
  int64_t rows_ = 0;
  int64_t ahead_ = 0;
  Histogram histogram_;
};

}  // namespace

void DiscardStats::Add(int64_t rows, int64_t ahead, const Histogram* latency_us) {
  std::lock_guard<std::mutex> lock(mu_);
  rows_ += rows;
  ahead_ += ahead;
  if (latency_us != nullptr) latency_us_.Merge(*latency_us);
}

int64_t DiscardStats::rows() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rows_;
}

int64_t DiscardStats::ahead() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ahead_;
}

Histogram DiscardStats::latency_us() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latency_us_;
}

absl::StatusOr<std::unique_ptr<RawSinkWriter>> DiscardSink::CreateWriter(int, int) {
  return std::unique_ptr<RawSinkWriter>(new DiscardWriter(latency_, stats_));
}

std::shared_ptr<const DiscardStats> DiscardStatsOf(const RawSinkConnector* sink) {
  const auto* discard = dynamic_cast<const DiscardSink*>(sink);
  return discard != nullptr ? discard->stats() : nullptr;
}

namespace internal {

absl::StatusOr<OpenedSink> OpenDiscardSink(const Uri& uri, const SinkOptions&) {
  for (const auto& [key, value] : uri.params) {
    if (key != "latency") {
      return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': unknown key '", key, "' (discard: knows latency)"));
    }
  }
  KAPPA_ASSIGN_OR_RETURN(bool latency, BoolParam(uri, "latency", false));
  return OpenedSink(std::make_shared<DiscardSink>(latency));
}

}  // namespace internal
}  // namespace kappa::connectors
