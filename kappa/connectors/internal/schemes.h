// The built-in schemes' factories, which registry.cc registers on first use of the
// registry. Each is defined beside its connector.
#ifndef KAPPA_CONNECTORS_INTERNAL_SCHEMES_H_
#define KAPPA_CONNECTORS_INTERNAL_SCHEMES_H_

#include "absl/status/statusor.h"
#include "kappa/connectors/registry.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors::internal {

absl::StatusOr<OpenedSource> OpenFileSource(const Uri& uri, const SourceOptions& options);      // file_source.cc
absl::StatusOr<OpenedSource> OpenNexmarkSource(const Uri& uri, const SourceOptions& options);   // nexmark_source.cc
absl::StatusOr<OpenedSource> OpenKafkaSource(const Uri& uri, const SourceOptions& options);     // kafka/kafka_source.cc

absl::StatusOr<OpenedSink> OpenFileSink(const Uri& uri, const SinkOptions& options);     // file_sink.cc
absl::StatusOr<OpenedSink> OpenStdoutSink(const Uri& uri, const SinkOptions& options);   // file_sink.cc
absl::StatusOr<OpenedSink> OpenDiscardSink(const Uri& uri, const SinkOptions& options);  // discard_sink.cc
absl::StatusOr<OpenedSink> OpenKafkaSink(const Uri& uri, const SinkOptions& options);    // kafka/kafka_sink.cc

}  // namespace kappa::connectors::internal

#endif  // KAPPA_CONNECTORS_INTERNAL_SCHEMES_H_
