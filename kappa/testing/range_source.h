// A bounded source of the numbers 0..n-1 in one partition, as much as each poll asks for
// (Flink's NumberSequenceSource): the input of benchmarks and of tests that need many
// records and no I/O. Restorable: a reader opened at offset k starts at k.
#ifndef KAPPA_TESTING_RANGE_SOURCE_H_
#define KAPPA_TESTING_RANGE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "kappa/runtime/source.h"

namespace kappa::testing {

class RangeSource final : public SourceConnector<int64_t> {
 public:
  explicit RangeSource(int64_t n) : n_(n) {}
  absl::StatusOr<int> NumPartitions() override { return 1; }
  absl::StatusOr<std::unique_ptr<PartitionReader<int64_t>>> Open(int, int64_t offset) override {
    return std::unique_ptr<PartitionReader<int64_t>>(new Reader(offset, n_));
  }
  std::string description() const override { return absl::StrCat("range:", n_); }

 private:
  class Reader final : public PartitionReader<int64_t> {
   public:
    Reader(int64_t next, int64_t end) : next_(next), end_(end) {}
    absl::StatusOr<ReadStatus> Read(size_t max_records, SourceContext<int64_t>& ctx) override {
      for (size_t i = 0; i < max_records && next_ < end_; ++i) ctx.Emit(int64_t{next_++});
      return next_ < end_ ? ReadStatus::kRecords : ReadStatus::kEnd;
    }
    int64_t offset() const override { return next_; }

   private:
    int64_t next_;
    const int64_t end_;
  };
  const int64_t n_;
};

}  // namespace kappa::testing

#endif  // KAPPA_TESTING_RANGE_SOURCE_H_
