// A sink that keeps every record in memory, for tests and for embedding Kappa in a
// program that wants results back (like Flink's collect()). Thread-safe.
//
//   auto out = std::make_shared<kappa::connectors::CollectSink<Row>>();
//   stream.SinkTo(out);
//   job->Execute(options);
//   std::vector<Row> rows = out->values();
#ifndef KAPPA_CONNECTORS_COLLECT_SINK_H_
#define KAPPA_CONNECTORS_COLLECT_SINK_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "kappa/runtime/sink.h"

namespace kappa::connectors {

template <typename T>
class CollectSink final : public SinkConnector<T>, public std::enable_shared_from_this<CollectSink<T>> {
 public:
  absl::StatusOr<std::unique_ptr<SinkWriter<T>>> CreateWriter(int, int) override {
    return std::unique_ptr<SinkWriter<T>>(new Writer(this));
  }
  std::string description() const override { return "collect:"; }

  std::vector<T> values() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<T> out;
    for (const auto& r : records_) out.push_back(r.value);
    return out;
  }
  std::vector<Record<T>> records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  // Slows every write down by `micros` (tests of backpressure).
  void set_write_delay_micros(int micros) { delay_us_ = micros; }

 private:
  class Writer final : public SinkWriter<T> {
   public:
    explicit Writer(CollectSink* sink) : sink_(sink) {}
    absl::Status Write(const Record<T>& r) override {
      if (int d = sink_->delay_us_.load()) std::this_thread::sleep_for(std::chrono::microseconds(d));
      local_.push_back(r);
      return absl::OkStatus();
    }
    absl::Status Flush() override {
      std::lock_guard<std::mutex> lock(sink_->mu_);
      for (auto& r : local_) sink_->records_.push_back(std::move(r));
      local_.clear();
      return absl::OkStatus();
    }
    absl::Status Close() override { return Flush(); }

   private:
    CollectSink* sink_;
    std::vector<Record<T>> local_;
  };

  mutable std::mutex mu_;
  std::vector<Record<T>> records_;
  std::atomic<int> delay_us_{0};
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_COLLECT_SINK_H_
