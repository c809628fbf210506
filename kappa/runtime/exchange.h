// Exchanges: how records leave a task for the next stage.
//
// An ExchangeWriter<T> sits at the end of a producer's chain. It routes each record to
// one consumer channel (forward, hash by key group, round-robin rebalance) or to all of
// them (broadcast), appending it to that channel's open batch; a full batch becomes one
// message. Partial batches are flushed by the task when it runs out of input, before any
// control message (watermark, barrier, end), and at the end of each step, so low-rate
// streams do not wait for batches to fill.
#ifndef KAPPA_RUNTIME_EXCHANGE_H_
#define KAPPA_RUNTIME_EXCHANGE_H_

#include <functional>
#include <memory>
#include <vector>

#include "kappa/runtime/channel.h"
#include "kappa/runtime/operator.h"
#include "kappa/runtime/task.h"
#include "kappa/state/key_groups.h"

namespace kappa::runtime {

// kSteal: round robin like kRebalance, and the consumers of one producer instance take
// batches from each other's channels when their own is empty (channel.h: work stealing).
enum class Partitioning { kForward, kHash, kRebalance, kBroadcast, kSteal };

inline constexpr size_t kDefaultBatchSize = 1024;

// A writer or fan-out the task owns, seen through its typed output.
class OutputNode : public Owned, public BatchFlusher {
 public:
  virtual OutputPtr output() = 0;
  void FlushBatches() override {}
};

template <typename T>
class ExchangeWriter final : public OutputNode, public Output<T> {
 public:
  // key_hash: stable hash of the record's key (for kHash), see state::StableHash.
  // errors/name: where a throwing key function is reported (the record is skipped).
  ExchangeWriter(Partitioning partitioning, std::vector<OutputChannel*> channels,
                 std::function<uint64_t(const T&)> key_hash, int max_parallelism, int subtask,
                 TaskMetrics* metrics, ErrorSink* errors, std::string name, size_t batch_size = kDefaultBatchSize)
      : partitioning_(partitioning),
        channels_(std::move(channels)),
        key_hash_(std::move(key_hash)),
        max_parallelism_(max_parallelism),
        next_(static_cast<size_t>(subtask)),
        metrics_(metrics),
        errors_(errors),
        name_(std::move(name)),
        batch_size_(batch_size),
        open_(channels_.size()) {
    // Key group → consumer instance, computed once instead of a division per record.
    if (partitioning_ == Partitioning::kHash) {
      route_.resize(max_parallelism_);
      for (int kg = 0; kg < max_parallelism_; ++kg) {
        route_[kg] = static_cast<uint32_t>(
            state::OperatorIndexForKeyGroup(kg, max_parallelism_, static_cast<int>(channels_.size())));
      }
    }
  }

  OutputPtr output() override { return OutputPtr::Of<T>(this); }

  void Emit(Record<T>&& r) override { Route<false>(std::move(r), -1); }
  // Tracing (trace.h): r belongs to trace `trace`; its batch carries the mark.
  void EmitMarked(Record<T>&& r, int32_t trace) { Route<true>(std::move(r), trace); }

  void FlushBatches() override {
    for (size_t i = 0; i < open_.size(); ++i) {
      if (open_[i] && !open_[i]->records.empty()) Send(i);
    }
  }

 private:
  template <bool kMarked>
  void Route(Record<T>&& r, int32_t trace) {
    const size_t n = channels_.size();
    switch (partitioning_) {
      case Partitioning::kForward:
        Append<kMarked>(0, std::move(r), trace);
        break;
      case Partitioning::kHash: {
        uint64_t hash;
        try {
          hash = key_hash_(r.value);
        } catch (const std::exception& e) {
          ReportKeyError(r, e.what());
          return;
        } catch (...) {
          ReportKeyError(r, "unknown exception");
          return;
        }
        Append<kMarked>(route_[state::KeyGroupForHash(hash, max_parallelism_)], std::move(r), trace);
        break;
      }
      case Partitioning::kRebalance:
      case Partitioning::kSteal:
        Append<kMarked>(next_++ % n, std::move(r), trace);
        break;
      case Partitioning::kBroadcast:
        for (size_t i = 0; i + 1 < n; ++i) Append<kMarked>(i, Record<T>(r), trace);
        Append<kMarked>(n - 1, std::move(r), trace);
        break;
    }
  }

  template <bool kMarked>
  void Append(size_t i, Record<T>&& r, int32_t trace) {
    auto& b = open_[i];
    if (!b) {
      b = std::make_unique<Batch<T>>();
      b->records.reserve(batch_size_);
      b->ingestion_ns = metrics_->ingestion_ns;
    }
    if constexpr (kMarked) {
      if (!b->marks) b->marks = std::make_unique<std::vector<BatchMark>>();
      b->marks->push_back(BatchMark{static_cast<uint32_t>(b->records.size()), trace});
    }
    b->records.push_back(std::move(r));
    if (b->records.size() >= batch_size_) Send(i);
  }
  void ReportKeyError(const Record<T>& r, const char* what) {
    if (errors_ == nullptr) return;
    ErrorEvent e{.kind = "user", .operator_name = name_, .has_ts = true, .ts = r.ts, .error = what,
                 .record = DescribeRecord(r.value)};
    errors_->Report(e);
  }
  void Send(size_t i) {
    metrics_->records_out.fetch_add(static_cast<int64_t>(open_[i]->records.size()), std::memory_order_relaxed);
    Message m{MessageKind::kBatch, 0, std::move(open_[i])};
    channels_[i]->Send(std::move(m));
  }

  Partitioning partitioning_;
  std::vector<OutputChannel*> channels_;
  std::function<uint64_t(const T&)> key_hash_;
  int max_parallelism_;
  size_t next_;
  TaskMetrics* metrics_;
  ErrorSink* errors_;
  std::string name_;
  std::vector<uint32_t> route_;
  size_t batch_size_;
  std::vector<std::unique_ptr<Batch<T>>> open_;
};

// Copies each record to several chained outputs (the copier pattern inside a task).
template <typename T>
class FanOut final : public OutputNode, public Output<T> {
 public:
  explicit FanOut(std::vector<Output<T>*> targets) : targets_(std::move(targets)) {}
  OutputPtr output() override { return OutputPtr::Of<T>(this); }
  void Emit(Record<T>&& r) override {
    for (size_t i = 0; i + 1 < targets_.size(); ++i) targets_[i]->Emit(Record<T>(r));
    targets_.back()->Emit(std::move(r));
  }

 private:
  std::vector<Output<T>*> targets_;
};

// Output of a port nobody consumes.
template <typename T>
class Discard final : public Output<T> {
 public:
  void Emit(Record<T>&&) override {}
  static Discard* Instance() {
    static Discard d;
    return &d;
  }
};

}  // namespace kappa::runtime

#endif  // KAPPA_RUNTIME_EXCHANGE_H_
