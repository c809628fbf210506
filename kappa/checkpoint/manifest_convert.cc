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
    if (p.max_event_time) po->set_max_event_time(*p.max_event_time);
    po->set_idle(p.idle);
  }
  return out;
}

SourcePositions FromProto(const SourceOffsets& offsets) {
  SourcePositions out;
  out.operator_uid = offsets.operator_uid();
  for (const PartitionOffset& po : offsets.partitions()) {
    PartitionPosition p{.partition = po.partition(), .offset = po.offset()};
    if (po.has_end_offset()) p.end_offset = po.end_offset();
    if (po.has_max_event_time()) p.max_event_time = po.max_event_time();
    p.idle = po.idle();
    out.partitions.push_back(p);
  }
  return out;
}

TaskWatermark ToProto(const WatermarkPosition& w) {
  TaskWatermark out;
  out.set_operator_uid(w.operator_uid);
  out.set_subtask(w.subtask);
  out.set_parallelism(w.parallelism);
  out.set_key_group_first(w.key_group_first);
  out.set_key_group_last(w.key_group_last);
  out.set_watermark(w.watermark);
  for (int64_t in : w.input_watermarks) out.add_input_watermarks(in);
  return out;
}

WatermarkPosition FromProto(const TaskWatermark& w) {
  return WatermarkPosition{
      .operator_uid = w.operator_uid(), .subtask = w.subtask(), .parallelism = w.parallelism(),
      .key_group_first = w.key_group_first(), .key_group_last = w.key_group_last(), .watermark = w.watermark(),
      .input_watermarks = std::vector<int64_t>(w.input_watermarks().begin(), w.input_watermarks().end())};
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

OperatorState ToProto(const OperatorStateEntries& state) {
  OperatorState out;
  out.set_operator_uid(state.operator_uid);
  out.set_subtask(state.subtask);
  out.set_parallelism(state.parallelism);
  for (const std::string& e : state.entries) out.add_entries(e);
  return out;
}

OperatorStateEntries FromProto(const OperatorState& state) {
  return OperatorStateEntries{.operator_uid = state.operator_uid(), .subtask = state.subtask(),
                              .parallelism = state.parallelism(),
                              .entries = std::vector<std::string>(state.entries().begin(), state.entries().end())};
}

RestoredState RestoredStateOf(const Manifest& manifest) {
  RestoredState out;
  out.checkpoint_id = manifest.checkpoint_id();
  for (const SourceOffsets& s : manifest.sources()) out.sources.push_back(FromProto(s));
  for (const OperatorState& s : manifest.operator_states()) out.operator_states.push_back(FromProto(s));
  out.keeps_event_time = manifest.keeps_event_time();
  if (out.keeps_event_time) {
    for (const TaskWatermark& w : manifest.watermarks()) out.watermarks.push_back(FromProto(w));
  }
  return out;
}

}  // namespace kappa::checkpoint
