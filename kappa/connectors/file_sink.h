// JSON lines sinks: `file:PATH` (one file shared by all sink instances), `file:DIR/`
// (a directory: instance i writes DIR/part-<i>.jsonl, itself a readable file log), and
// `stdout:`. Each instance hands whole lines to the file in batches (JsonSink<T> encodes
// up to 64 KiB before it writes), so lines of different instances never interleave.
//
//   auto out = std::make_shared<kappa::connectors::FileSink<PageCount>>(
//       "counts/", kappa::connectors::FileSinkKind::kDirectory);
//   stream.SinkTo(out);  ...run...  KAPPA_RETURN_IF_ERROR(out->Finish());
//
// Exactly-once (a directory sink in a job with checkpoints): each instance writes a
// hidden file DIR/.part-<i>-<run>-<seq>.inprogress; on checkpoint barrier n it syncs and
// closes it, and when checkpoint n completes the file is renamed to
// DIR/part-<n>-<i>.jsonl. Readers of DIR (file sources skip dot-files) only ever see
// output of completed checkpoints, so a crash at any moment followed by a restore from
// the last checkpoint neither loses nor duplicates a line.
#ifndef KAPPA_CONNECTORS_FILE_SINK_H_
#define KAPPA_CONNECTORS_FILE_SINK_H_

#include <memory>
#include <string>
#include <utility>

#include "kappa/connectors/raw.h"

namespace kappa::connectors {

enum class FileSinkKind { kFile, kDirectory, kStdout };

// The sink of lines behind FileSink<T>; `path` is ignored for kStdout.
std::shared_ptr<RawSinkConnector> NewFileSink(std::string path, FileSinkKind kind);

template <typename T>
class FileSink final : public JsonSink<T> {
 public:
  using Kind = FileSinkKind;
  FileSink(std::string path, Kind kind) : JsonSink<T>(NewFileSink(std::move(path), kind)) {}
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_FILE_SINK_H_
