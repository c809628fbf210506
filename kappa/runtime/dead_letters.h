// The job's dead-letter output: records given up on (retry.h's DeadLetter), one JSON object
// per line, e.g.
//   {"record":{"auction":7,"bidder":13,...},"errors":["poison bidder 13"],"attempts":1,
//    "first_failure":1764930000000,"last_failure":1764930000000,"operator":"enrich",
//    "partition":3,"offset":1234,"ts":1700000001000,"kind":"user"}
// `record` is the operator's input as JSON, or a JSON string holding the raw input when it
// could not be decoded (kind "decode"); `partition` and `offset` are null when unknown
// (the operator sits behind an exchange, or the letter came from a timer), and so is `ts`
// for a record that could not be decoded.
//
// Where the letters go is a sink connector of encoded lines (ExecutionOptions::dead_letters;
// `--dead-letter URI` makes one of a file directory or a Kafka topic). It is not a node of
// the job graph: every task gets a writer of its own (DeadLetterWriter, instance = the
// task's index among all the run's tasks), which its operators' ReportDeadLetter calls
// write into on the task's thread. On each checkpoint barrier the task pre-commits that
// writer after its operators snapshotted, under the uid kDeadLetterUid, so a letter
// belongs to the same checkpoint epoch as the input that caused it: the coordinator
// commits it when the checkpoint completes, and a restore withdraws and re-creates what
// came after, exactly as for the job's own sinks. No extra channel, no extra task.
//
// Redrive (`kappa replay JOB --source DL_URI --redrive`) reads dead letters back:
// DeadLetterRecord() gives the `record` of one line, which the job's source decodes as if
// it were the original input.
#ifndef KAPPA_RUNTIME_DEAD_LETTERS_H_
#define KAPPA_RUNTIME_DEAD_LETTERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/base/json_codec.h"
#include "kappa/checkpoint/checkpointing.h"
#include "kappa/runtime/retry.h"

namespace kappa {

// sink.h (which includes the task, which holds a DeadLetterWriter).
template <typename T>
class SinkWriter;
template <typename T>
class SinkConnector;

// One encoded dead letter: a whole JSON object, without the newline. Its JsonCodec
// writes and reads the text as it is, so any sink of JSON lines carries it unchanged.
struct DeadLetterLine {
  std::string json;
};

template <>
struct JsonCodec<DeadLetterLine> {
  void Encode(const DeadLetterLine& v, std::string* out) const { out->append(v.json); }
  absl::Status Decode(std::string_view line, size_t, DeadLetterLine* out) {
    out->json.assign(line);
    return absl::OkStatus();
  }
};

// Where a run's dead letters go (see the top of this file).
using DeadLetterSink = SinkConnector<DeadLetterLine>;

namespace runtime {

// The uid under which tasks pre-commit their dead letters in checkpoints.
inline constexpr char kDeadLetterUid[] = "dead-letters";

// The JSON object of `letter` (keys in the order of the example above).
std::string EncodeDeadLetter(const DeadLetter& letter);

// The `record` of one dead-letter line as the original input: the JSON text of an object
// (or of any other JSON value) as it stands in the line, the content of a string (a
// decode failure's raw input). An error for a line that is not a JSON object with a
// `record`.
absl::StatusOr<std::string> DeadLetterRecord(std::string_view line);

// One task's dead-letter writer. Called on the task's thread only; owned by the task.
class DeadLetterWriter {
 public:
  explicit DeadLetterWriter(std::unique_ptr<SinkWriter<DeadLetterLine>> writer);
  ~DeadLetterWriter();

  // Writes one letter; a failing write (disk full) throws TaskError, as a sink's does.
  void Write(const DeadLetter& letter);
  // Barrier `id`: what was written since the last one, pre-committed under
  // kDeadLetterUid for instance `instance`.
  absl::Status PreCommit(int64_t id, int instance, checkpoint::TaskSnapshot* out);
  absl::Status Close();
  int64_t written() const { return written_; }

 private:
  std::unique_ptr<SinkWriter<DeadLetterLine>> writer_;
  int64_t written_ = 0;
};

}  // namespace runtime
}  // namespace kappa

#endif  // KAPPA_RUNTIME_DEAD_LETTERS_H_
