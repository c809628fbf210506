// A Kafka topic as a source: `kafka://BOOTSTRAP/TOPIC?start=...&end=...&group=G`.
//
// Every partition of the topic is a source partition, assigned explicitly to the source's
// instances (partition p → instance p % parallelism); each instance has one consumer
// reading each of its partitions from its own queue, so every partition keeps its own
// watermark. Values are JSON lines (decoded as the job's record type by JsonSource<T>; a
// message that does not decode goes to the errors output with its partition and offset).
// Event time comes from the job's timestamp extractor; the raw reader also hands over each
// message's own timestamp (RawRecord::timestamp), which no typed source uses yet. Keys and
// headers are not read.
//
// Offsets belong to checkpoints: on restore every partition resumes where the checkpoint
// says. Without a checkpoint it starts at `start` (earliest by default; latest, committed,
// ts:MS or offsets:P=O,...). ts:MS is looked up in message timestamps (OffsetForTime), and
// once every partition has its start one info line in the log says whether the broker's time
// index answered or the partitions were searched. With `end` (end = the high watermarks found when the run
// first opened the partitions, ts:MS, or offsets:P=O,...) the source is bounded and the
// run ends when every partition reached its end; the ends are kept in checkpoints, so a
// restarted replay stops where the first run would have.
//
// Declared without librdkafka's headers; the connector is in kafka_source.cc.
#ifndef KAPPA_CONNECTORS_KAFKA_KAFKA_SOURCE_H_
#define KAPPA_CONNECTORS_KAFKA_KAFKA_SOURCE_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "kappa/connectors/kafka/endpoint.h"
#include "kappa/connectors/raw.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors::kafka {

// The topic of `endpoint` as a source of message values. Fails fast (one line naming the
// endpoint) when the brokers cannot be reached or the topic does not exist. With
// `note_history_end`, a partition opened without an end reports its high-water mark at
// that moment as its history_end().
absl::StatusOr<std::shared_ptr<RawSourceConnector>> NewKafkaSource(KafkaEndpoint endpoint, Position start,
                                                                   std::optional<Position> end,
                                                                   bool note_history_end = false);

}  // namespace kappa::connectors::kafka

#endif  // KAPPA_CONNECTORS_KAFKA_KAFKA_SOURCE_H_
