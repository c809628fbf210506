#include "kappa/connectors/raw.h"

#include "absl/strings/str_cat.h"
#include "kappa/checkpoint/checkpointing.h"

namespace kappa::connectors {

absl::StatusOr<std::vector<std::unique_ptr<RawPartitionReader>>> RawSourceConnector::OpenAll(
    const std::vector<std::pair<int, int64_t>>& partitions) {
  std::vector<std::unique_ptr<RawPartitionReader>> readers;
  for (const auto& [partition, offset] : partitions) {
    auto reader = Open(partition, offset);
    if (!reader.ok()) {
      return absl::Status(reader.status().code(), absl::StrCat("partition ", partition, " at offset ", offset, ": ",
                                                               reader.status().message()));
    }
    readers.push_back(std::move(*reader));
  }
  return readers;
}

absl::Status RawSinkConnector::EnableExactlyOnce(const ExactlyOnceContext& context) {
  return absl::FailedPreconditionError(
      absl::StrCat(description(), " cannot write exactly once; with checkpoints use a directory sink file:DIR/"));
}

absl::Status RawSinkConnector::Commit(const std::vector<checkpoint::PendingFile>& pending) {
  return checkpoint::PublishPending(pending);
}

}  // namespace kappa::connectors
