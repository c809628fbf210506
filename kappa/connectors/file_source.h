// The file log as a source: `file:PATH` — JSON lines, one partition per file (a file, or
// the sorted non-hidden files of a directory). Offsets are byte positions, so a reader can
// start anywhere a previous line ended (recovery, replay). With `follow` the reader keeps
// tailing files that are still being written and the source never ends.
//
//   auto src = std::make_shared<kappa::connectors::FileSource<Click>>("clicks/", false);
//   auto clicks = job->Source<Click>("clicks", src, strategy);
//
// A line that does not decode as T goes to the job's errors output with its file
// (partition) and offset; the rest of the input is unaffected. Blank lines are skipped.
//
// Bounds (replay): `start` (earliest, latest = the size at start, or offsets:P=O with byte
// offsets at line starts) and `end` (end = each file's size when the run first opened it,
// or offsets:P=O). A replay by event time (ts:MS) is a filter in the source operator
// (WatermarkStrategy::range_from/range_to), which reads the file from the beginning.
//
// The reading itself is NewFileSource's, in bytes (file_source.cc); FileSource<T> only
// decodes its lines as T.
#ifndef KAPPA_CONNECTORS_FILE_SOURCE_H_
#define KAPPA_CONNECTORS_FILE_SOURCE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "kappa/connectors/raw.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors {

// The file log at `path` as lines (see above). Partitions are listed when first needed.
// With `note_history_end`, a partition opened without an end reports its size at that
// moment as its history_end().
std::shared_ptr<RawSourceConnector> NewFileSource(std::string path, bool follow, Position start = {},
                                                  std::optional<Position> end = std::nullopt,
                                                  bool note_history_end = false);

template <typename T>
class FileSource final : public JsonSource<T> {
 public:
  FileSource(std::string path, bool follow) : JsonSource<T>(NewFileSource(std::move(path), follow)) {}
  FileSource(std::string path, bool follow, Position start, std::optional<Position> end)
      : JsonSource<T>(NewFileSource(std::move(path), follow, std::move(start), std::move(end))) {}
};

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_FILE_SOURCE_H_
