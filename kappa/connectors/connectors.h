// Connectors by URI: what `--source URI` and `--sink URI` resolve to.
//
//   KAPPA_ASSIGN_OR_RETURN(auto src, kappa::connectors::MakeSource<Event>("file:log/", {}));
//   KAPPA_ASSIGN_OR_RETURN(auto sink, kappa::connectors::MakeSink<Row>("stdout:"));
//
// Sinks: file:PATH, file:DIR/, stdout:, and discard: (drops records, counting them and,
// with ?latency=true, their latency now − ts into a process-wide histogram; see
// discard_sink.h — what `kappa bench` runs queries into).
#ifndef KAPPA_CONNECTORS_CONNECTORS_H_
#define KAPPA_CONNECTORS_CONNECTORS_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "kappa/connectors/collect_sink.h"
#include "kappa/connectors/discard_sink.h"
#include "kappa/connectors/file_sink.h"
#include "kappa/connectors/file_source.h"
#include "kappa/connectors/kafka/kafka_sink.h"
#include "kappa/connectors/kafka/kafka_source.h"
#include "kappa/connectors/nexmark_source.h"
#include "kappa/connectors/uri.h"
#include "kappa/base/status.h"

namespace kappa::connectors {

struct SourceOptions {
  bool follow = false;  // file sources: keep tailing (also `?follow=true`)
  // Replay bounds that override the URI's `start=` / `end=` (Position syntax).
  std::optional<std::string> start, end;
  kafka::KafkaSettings kafka;  // --kafka, --kafka-config
};

struct SinkOptions {
  kafka::KafkaSettings kafka;
};

namespace internal {
// The start and end positions of a source URI, with the options' overrides.
inline absl::Status SourceBounds(const Uri& uri, const SourceOptions& options, Position* start,
                                 std::optional<Position>* end) {
  auto param = [&](const char* key, const std::optional<std::string>& over) -> std::optional<std::string> {
    if (over) return over;
    auto it = uri.params.find(key);
    if (it == uri.params.end()) return std::nullopt;
    return it->second;
  };
  if (auto text = param("start", options.start)) {
    KAPPA_ASSIGN_OR_RETURN(*start, ParsePosition(*text, absl::StrCat(uri.text, ": start")));
  }
  if (auto text = param("end", options.end)) {
    KAPPA_ASSIGN_OR_RETURN(Position e, ParsePosition(*text, absl::StrCat(uri.text, ": end")));
    *end = e;
  }
  return absl::OkStatus();
}
}  // namespace internal

template <typename T>
absl::StatusOr<std::shared_ptr<SourceConnector<T>>> MakeSource(const std::string& text, const SourceOptions& options) {
  KAPPA_ASSIGN_OR_RETURN(Uri uri, ParseUri(text));
  Position start;
  std::optional<Position> end;
  KAPPA_RETURN_IF_ERROR(internal::SourceBounds(uri, options, &start, &end));
  if (uri.scheme == "kafka") {
    KAPPA_ASSIGN_OR_RETURN(auto endpoint, kafka::ParseEndpoint(uri, options.kafka, {"start", "end", "group"}));
    if (start.kind == Position::Kind::kCommitted && !endpoint.params.count("group")) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': start=committed needs group=NAME"));
    }
    auto src = std::make_shared<KafkaSource<T>>(std::move(endpoint), start, end);
    KAPPA_RETURN_IF_ERROR(src->NumPartitions().status());  // fail fast: unreachable brokers, a missing topic
    return std::shared_ptr<SourceConnector<T>>(std::move(src));
  }
  if (uri.scheme == "file") {
    if (uri.path.empty()) return absl::InvalidArgumentError(absl::StrCat("'", text, "': file: needs a path"));
    KAPPA_ASSIGN_OR_RETURN(bool follow, BoolParam(uri, "follow", options.follow));
    if (start.kind == Position::Kind::kCommitted || (end && end->kind == Position::Kind::kCommitted)) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': a file has no committed offsets"));
    }
    auto src = std::make_shared<FileSource<T>>(uri.path, follow, start, end);
    KAPPA_RETURN_IF_ERROR(src->NumPartitions().status());  // fail fast on a missing path
    return std::shared_ptr<SourceConnector<T>>(std::move(src));
  }
  if (uri.scheme == "gen") {
    if (uri.path != "nexmark") {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': the only generator is gen:nexmark"));
    }
    int partitions = 1;
    KAPPA_ASSIGN_OR_RETURN(nexmark::GeneratorConfig config, nexmark::GeneratorConfig::FromQuery(uri.query, &partitions));
    return std::shared_ptr<SourceConnector<T>>(std::make_shared<NexmarkSource<T>>(config, partitions));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "': '", uri.scheme, ":' is not a source; sources are ",
                   "file:PATH, kafka://BOOTSTRAP/TOPIC, gen:nexmark?..."));
}

// A sink and, for sinks that share one file, a function to close it after the run.
template <typename T>
struct SinkHandle {
  std::shared_ptr<SinkConnector<T>> sink;
  std::function<absl::Status()> finish;
};

template <typename T>
absl::StatusOr<SinkHandle<T>> MakeSink(const std::string& text, const SinkOptions& options = {}) {
  KAPPA_ASSIGN_OR_RETURN(Uri uri, ParseUri(text));
  if (uri.scheme == "kafka") {
    KAPPA_ASSIGN_OR_RETURN(auto endpoint, kafka::ParseEndpoint(uri, options.kafka,
                                                               {"key", "header.", "delivery", "transactional.id"}));
    auto delivery = endpoint.params.find("delivery");
    if (delivery != endpoint.params.end() && delivery->second != "exactly-once" && delivery->second != "at-least-once") {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "': delivery must be exactly-once or at-least-once"));
    }
    {
      // Fail fast on unreachable brokers and missing topics, before the job starts.
      KAPPA_ASSIGN_OR_RETURN(auto client, kafka::NewClient(RD_KAFKA_PRODUCER, endpoint, {}));
      KAPPA_RETURN_IF_ERROR(kafka::PartitionCount(client.get(), endpoint, endpoint.timeout_ms).status());
    }
    return SinkHandle<T>{std::make_shared<KafkaSink<T>>(std::move(endpoint)), [] { return absl::OkStatus(); }};
  }
  if (uri.scheme == "discard") {
    for (const auto& [key, value] : uri.params) {
      if (key != "latency") {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "': unknown key '", key, "' (discard: knows latency)"));
      }
    }
    KAPPA_ASSIGN_OR_RETURN(bool latency, BoolParam(uri, "latency", false));
    return SinkHandle<T>{std::make_shared<DiscardSink<T>>(latency), [] { return absl::OkStatus(); }};
  }
  using Kind = typename FileSink<T>::Kind;
  std::shared_ptr<FileSink<T>> sink;
  if (uri.scheme == "stdout") {
    sink = std::make_shared<FileSink<T>>("", Kind::kStdout);
  } else if (uri.scheme == "file") {
    if (uri.path.empty()) return absl::InvalidArgumentError(absl::StrCat("'", text, "': file: needs a path"));
    std::error_code ec;
    bool dir = uri.path.back() == '/' || std::filesystem::is_directory(uri.path, ec);
    std::string path = uri.path;
    while (dir && path.size() > 1 && path.back() == '/') path.pop_back();
    sink = std::make_shared<FileSink<T>>(path, dir ? Kind::kDirectory : Kind::kFile);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': '", uri.scheme, ":' is not a sink; sinks are file:PATH, file:DIR/, kafka://BOOTSTRAP/TOPIC, stdout:, discard:"));
  }
  return SinkHandle<T>{sink, [sink] { return sink->Finish(); }};
}

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_CONNECTORS_H_
