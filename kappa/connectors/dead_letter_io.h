// The dead-letter output and its redrive as connectors (runtime/dead_letters.h says what a
// dead letter is and how a run writes them).
//
//   `--dead-letter URI`: OpenDeadLetterSink("file:DIR/") or ("kafka://BOOTSTRAP/TOPIC"),
//   the file directory and Kafka sinks of JSON lines, carrying each encoded letter as it is.
//   Exactly once when the run takes checkpoints, as those sinks are.
//
//   `kappa replay JOB --source URI --redrive`: RedriveSource(raw) reads the dead letters of
//   a file log or Kafka topic and gives each one's `record` as the input line, so the job's
//   source decodes it with its own codec as if it were the original record. A line that is
//   not a dead letter is passed on unchanged (it fails to decode and is reported as such).
#ifndef KAPPA_CONNECTORS_DEAD_LETTER_IO_H_
#define KAPPA_CONNECTORS_DEAD_LETTER_IO_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kappa/connectors/raw.h"
#include "kappa/connectors/registry.h"
#include "kappa/connectors/uri.h"
#include "kappa/runtime/dead_letters.h"

namespace kappa::connectors {

// The dead-letter output at `uri`: file:DIR/ (a directory: every task writes its own part
// files) or kafka://BOOTSTRAP/TOPIC (also kafka:TOPIC with --kafka). Anything else is an
// error in one line that says what is accepted.
absl::StatusOr<SinkHandle<DeadLetterLine>> OpenDeadLetterSink(const std::string& uri, const SinkOptions& options);

// `raw`'s lines read as dead letters: each yields its `record`.
std::shared_ptr<RawSourceConnector> RedriveSource(std::shared_ptr<RawSourceConnector> raw);

// A source of records of type T that redrives the dead letters at `uri` (file or Kafka).
template <typename T>
absl::StatusOr<std::shared_ptr<SourceConnector<T>>> MakeRedriveSource(const std::string& uri,
                                                                      const SourceOptions& options) {
  KAPPA_ASSIGN_OR_RETURN(Uri parsed, ParseUri(uri));
  KAPPA_ASSIGN_OR_RETURN(OpenedSource opened, OpenSource(uri, options));
  if (opened.raw == nullptr || (parsed.scheme != "file" && parsed.scheme != "kafka")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--redrive reads dead letters from a file or a Kafka topic, not from '", uri, "'"));
  }
  return std::shared_ptr<SourceConnector<T>>(std::make_shared<JsonSource<T>>(RedriveSource(std::move(opened.raw))));
}

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_DEAD_LETTER_IO_H_
