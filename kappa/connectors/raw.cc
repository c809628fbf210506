#include "kappa/connectors/raw.h"

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

}  // namespace kappa::connectors
