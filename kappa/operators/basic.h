// Stateless operators: map, filter, flat_map, split (splitter), identity (union,
// rebalance, partition-by). They are fused into their producer's task when possible.
#ifndef KAPPA_OPERATORS_BASIC_H_
#define KAPPA_OPERATORS_BASIC_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/runtime/exchange.h"
#include "kappa/runtime/operator.h"

namespace kappa::operators {

using runtime::Discard;
using runtime::OneInputOperator;
using runtime::OutputPtr;
using runtime::WithOutput;

template <typename In, typename Out, typename Fn>
class MapOperator final : public OneInputOperator<In>, public WithOutput<Out> {
 public:
  explicit MapOperator(Fn fn) : fn_(std::move(fn)) {}
  void ConnectOutput(int, OutputPtr out) override { this->SetMainOutput(out); }
  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = Discard<Out>::Instance();
    return absl::OkStatus();
  }
  // The record is the operator's own: a function taking In&& (or In by value) may move
  // out of it instead of copying (e.g. a Bid out of an Event).
  void Emit(Record<In>&& r) override {
    this->CountIn();
    Out result;
    if (RunGuarded(this->ctx_, r.ts, [&] { result = fn_(std::move(r.value)); },
                   [&] { return DescribeRecord(r.value); })) {
      this->out_->Emit(Record<Out>{std::move(result), r.ts, r.pwm});
    }
  }

 private:
  Fn fn_;
};

template <typename T, typename Fn>
class FilterOperator final : public OneInputOperator<T>, public WithOutput<T> {
 public:
  explicit FilterOperator(Fn fn) : fn_(std::move(fn)) {}
  void ConnectOutput(int, OutputPtr out) override { this->SetMainOutput(out); }
  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = Discard<T>::Instance();
    return absl::OkStatus();
  }
  void Emit(Record<T>&& r) override {
    this->CountIn();
    bool keep = false;
    if (RunGuarded(this->ctx_, r.ts, [&] { keep = fn_(r.value); }, [&] { return DescribeRecord(r.value); }) &&
        keep) {
      this->out_->Emit(std::move(r));
    }
  }

 private:
  Fn fn_;
};

// fn(const In&, Collector<Out>&): emits zero or more records per input.
template <typename In, typename Out, typename Fn>
class FlatMapOperator final : public OneInputOperator<In>, public WithOutput<Out> {
 public:
  explicit FlatMapOperator(Fn fn) : fn_(std::move(fn)) {}
  void ConnectOutput(int, OutputPtr out) override { this->SetMainOutput(out); }
  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = Discard<Out>::Instance();
    return absl::OkStatus();
  }
  void Emit(Record<In>&& r) override {
    this->CountIn();
    collector_.Reset(this->out_, r.ts, r.pwm);
    RunGuarded(this->ctx_, r.ts, [&] { fn_(std::move(r.value), collector_); }, [&] { return DescribeRecord(r.value); });
  }

 private:
  Fn fn_;
  Collector<Out> collector_;
};

// Routes each record to exactly one of N named outputs (ports 0..N-1) by fn's index.
// An index outside [0, N) is a user error: the record goes to the errors output.
template <typename T, typename Fn>
class SplitOperator final : public OneInputOperator<T> {
 public:
  SplitOperator(Fn fn, size_t outputs) : fn_(std::move(fn)), outs_(outputs, Discard<T>::Instance()) {}
  void ConnectOutput(int port, OutputPtr out) override { outs_[port] = out.As<T>(); }
  void Emit(Record<T>&& r) override {
    this->CountIn();
    size_t index = 0;
    bool ok = RunGuarded(
        this->ctx_, r.ts,
        [&] {
          auto i = fn_(r.value);
          if (i < 0 || static_cast<size_t>(i) >= outs_.size()) {
            throw std::out_of_range(absl::StrCat("split function returned output ", i, " of ", outs_.size()));
          }
          index = static_cast<size_t>(i);
        },
        [&] { return DescribeRecord(r.value); });
    if (ok) outs_[index]->Emit(std::move(r));
  }

 private:
  Fn fn_;
  std::vector<Output<T>*> outs_;
};

// Passes records through: the node behind Union (several inputs), Rebalance and
// PartitionBy (a new parallelism behind an exchange).
template <typename T>
class IdentityOperator final : public OneInputOperator<T>, public WithOutput<T> {
 public:
  void ConnectOutput(int, OutputPtr out) override { this->SetMainOutput(out); }
  absl::Status Open(runtime::OperatorContext* ctx) override {
    this->ctx_ = ctx;
    if (!this->out_) this->out_ = Discard<T>::Instance();
    return absl::OkStatus();
  }
  void Emit(Record<T>&& r) override {
    this->CountIn();
    this->out_->Emit(std::move(r));
  }
};

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_BASIC_H_
