// Conversions between the plain structs operators fill (checkpointing.h) and the
// manifest's protobuf messages (manifest.proto). Only the checkpoint layer's and the
// runtime's .cc files include this header, so protobuf stays out of every header a job
// includes.
#ifndef KAPPA_CHECKPOINT_MANIFEST_CONVERT_H_
#define KAPPA_CHECKPOINT_MANIFEST_CONVERT_H_

#include "kappa/checkpoint/checkpointing.h"
#include "kappa/checkpoint/manifest.pb.h"

namespace kappa::checkpoint {

SourceOffsets ToProto(const SourcePositions& positions);
SourcePositions FromProto(const SourceOffsets& offsets);
SinkPending ToProto(const SinkPreCommit& pre_commit);
TaskWatermark ToProto(const WatermarkPosition& watermark);
WatermarkPosition FromProto(const TaskWatermark& watermark);
SinkPreCommit FromProto(const SinkPending& pending);
OperatorState ToProto(const OperatorStateEntries& state);
OperatorStateEntries FromProto(const OperatorState& state);
// Pairs the pending message's files with their published names.
std::vector<PendingFile> PendingFilesOf(const SinkPending& pending);
// What operators of a run that restores `manifest` may read.
RestoredState RestoredStateOf(const Manifest& manifest);

}  // namespace kappa::checkpoint

#endif  // KAPPA_CHECKPOINT_MANIFEST_CONVERT_H_
