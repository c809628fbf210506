#include "kappa/checkpoint/manifest_convert.h"

namespace kappa::checkpoint {

SourceOffsets ToProto(const SourcePositions& positions) {
  SourceOffsets out;
  out.set_operator_uid(positions.operator_uid);
  for (const PartitionPosition& p : positions.partitions) {
    PartitionOffset* po = out.add_partitions();
    po->set_partition(p.partition);
    po->set_offset(p.offset);
    if (p.end_offset) po->set_end_offset(*p.end_offset);
  }
  return out;
}

SourcePositions FromProto(const SourceOffsets& offsets) {
  SourcePositions out;
  out.operator_uid = offsets.operator_uid();
  for (const PartitionOffset& po : offsets.partitions()) {
    PartitionPosition p{.partition = po.partition(), .offset = po.offset()};
    if (po.has_end_offset()) p.end_offset = po.end_offset();
    out.partitions.push_back(p);
  }
  return out;
}

SinkPending ToProto(const SinkPreCommit& pre_commit) {
  SinkPending out;
  out.set_operator_uid(pre_commit.operator_uid);
  out.set_subtask(pre_commit.subtask);
  for (const PendingFile& f : pre_commit.files) {
    out.add_files(f.hidden);
    out.add_published_names(f.published);
  }
  return out;
}

std::vector<PendingFile> PendingFilesOf(const SinkPending& pending) {
  std::vector<PendingFile> out;
  for (int i = 0; i < pending.files_size() && i < pending.published_names_size(); ++i) {
    out.push_back({pending.files(i), pending.published_names(i)});
  }
  return out;
}

SinkPreCommit FromProto(const SinkPending& pending) {
  return SinkPreCommit{
      .operator_uid = pending.operator_uid(), .subtask = pending.subtask(), .files = PendingFilesOf(pending)};
}

RestoredState RestoredStateOf(const Manifest& manifest) {
  RestoredState out;
  out.checkpoint_id = manifest.checkpoint_id();
  for (const SourceOffsets& s : manifest.sources()) out.sources.push_back(FromProto(s));
  return out;
}

}  // namespace kappa::checkpoint
