// Connectors by URI scheme: what `--source URI` and `--sink URI` resolve to, and how a
// job binary adds schemes of its own.
//
// Every scheme (the URI's text before its first ':') has a factory that makes a connector
// from the parsed URI and the run's options. The built-in schemes are file, kafka, gen
// and stdout/discard (sinks); a program registers more before it runs jobs, typically in
// main() before kappa::cli::Main():
//
//   kappa::RegisterSourceScheme("seq", [](const kappa::connectors::Uri& uri,
//                                         const kappa::connectors::SourceOptions& options)
//                                          -> absl::StatusOr<kappa::connectors::OpenedSource> {
//     return kappa::connectors::OpenedSource{std::make_shared<SeqSource>(uri)};
//   }, "seq:?n=N");
//   // `kappa run JOB --source seq:?n=1000 ...` now reads SeqSource.
//
// Factories are not templates: a connector deals in bytes (raw.h: a RawSourceConnector
// yields JSON lines, a RawSinkConnector takes them), and MakeSource<T> / MakeSink<T> put
// the job's record type in front (JsonSource<T>, JsonSink<T>). A factory may also offer a
// connector for one concrete record type, which a job of that type gets instead of the
// bytes (gen:nexmark gives nexmark::Event without JSON in between).
//
// Registering a scheme that exists replaces it, built-ins included (the last registration
// wins), so a binary can wrap a built-in with defaults of its own. Registration and
// lookup are thread-safe. The built-ins are registered on first use of the registry, by
// this library itself, not by static initialisers that a static link could drop.
#ifndef KAPPA_CONNECTORS_REGISTRY_H_
#define KAPPA_CONNECTORS_REGISTRY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/connectors/kafka/endpoint.h"
#include "kappa/connectors/raw.h"
#include "kappa/connectors/uri.h"

namespace kappa::connectors {

// What a run tells every source it opens (the command line's flags).
struct SourceOptions {
  bool follow = false;  // file sources: keep tailing (also `?follow=true`)
  // Replay bounds that override the URI's `start=` / `end=` (Position syntax).
  std::optional<std::string> start, end;
  // `replay --then-follow`: a source without an end notes each partition's end when it
  // opens it (where its history ends; PartitionReader::history_end) and reads on past it.
  bool note_history_end = false;
  kafka::KafkaSettings kafka;  // --kafka, --kafka-config
};

// What a run tells every sink it opens.
struct SinkOptions {
  kafka::KafkaSettings kafka;
};

// A source's start and end: the URI's `start=` and `end=` parameters, overridden by the
// options (replay's --from / --to). Errors name the URI and the parameter.
struct SourceBounds {
  Position start;               // earliest unless given
  std::optional<Position> end;  // unbounded unless given
};
absl::StatusOr<SourceBounds> ParseSourceBounds(const Uri& uri, const SourceOptions& options);

namespace internal {
// A connector for one record type, type-erased: a std::shared_ptr<C<type>>.
struct TypedConnector {
  std::type_index type = typeid(void);
  std::shared_ptr<void> connector;
};
}  // namespace internal

// What a source scheme makes of a URI: a connector of bytes (for any record type that
// decodes them), a connector of one record type, or both.
struct OpenedSource {
  OpenedSource() = default;
  explicit OpenedSource(std::shared_ptr<RawSourceConnector> raw) : raw(std::move(raw)) {}

  std::shared_ptr<RawSourceConnector> raw;

  template <typename T>
  void SetTyped(std::shared_ptr<SourceConnector<T>> connector) {
    typed_ = {typeid(T), std::move(connector)};
  }
  // The connector of records of type T if the scheme offers one, else null.
  template <typename T>
  std::shared_ptr<SourceConnector<T>> Typed() const {
    if (typed_.type != typeid(T)) return nullptr;
    return std::static_pointer_cast<SourceConnector<T>>(typed_.connector);
  }

 private:
  internal::TypedConnector typed_;
};

// What a sink scheme makes of a URI; as OpenedSource.
struct OpenedSink {
  OpenedSink() = default;
  explicit OpenedSink(std::shared_ptr<RawSinkConnector> raw) : raw(std::move(raw)) {}

  std::shared_ptr<RawSinkConnector> raw;

  template <typename T>
  void SetTyped(std::shared_ptr<SinkConnector<T>> connector) {
    typed_ = {typeid(T), std::move(connector)};
  }
  template <typename T>
  std::shared_ptr<SinkConnector<T>> Typed() const {
    if (typed_.type != typeid(T)) return nullptr;
    return std::static_pointer_cast<SinkConnector<T>>(typed_.connector);
  }

 private:
  internal::TypedConnector typed_;
};

// Factories are called on the thread that builds the job; they should fail fast (a
// missing file, unreachable brokers) with one line naming the URI.
using SourceFactory = std::function<absl::StatusOr<OpenedSource>(const Uri& uri, const SourceOptions& options)>;
using SinkFactory = std::function<absl::StatusOr<OpenedSink>(const Uri& uri, const SinkOptions& options)>;

// Makes `scheme` (e.g. "seq", without ':') resolve through `factory`. `usage` is how the
// error for an unknown scheme lists it ("seq:?n=N"; default "SCHEME:").
void RegisterSourceScheme(std::string scheme, SourceFactory factory, std::string usage = "");
void RegisterSinkScheme(std::string scheme, SinkFactory factory, std::string usage = "");

// The registered schemes' usages in scheme order, e.g. "file:PATH, gen:nexmark?...".
std::string SourceSchemes();
std::string SinkSchemes();

// Parses `uri` and calls its scheme's factory. An unknown scheme is an error that lists
// the registered ones.
absl::StatusOr<OpenedSource> OpenSource(std::string_view uri, const SourceOptions& options = {});
absl::StatusOr<OpenedSink> OpenSink(std::string_view uri, const SinkOptions& options = {});

// A source of records of type T for `uri`: the scheme's connector of T if it has one,
// else its bytes decoded with JsonCodec<T>.
//
//   KAPPA_ASSIGN_OR_RETURN(auto clicks, kappa::connectors::MakeSource<Click>("file:log/", {}));
//   job->Source<Click>("clicks", clicks, strategy);
template <typename T>
absl::StatusOr<std::shared_ptr<SourceConnector<T>>> MakeSource(const std::string& uri, const SourceOptions& options) {
  KAPPA_ASSIGN_OR_RETURN(OpenedSource opened, OpenSource(uri, options));
  if (auto typed = opened.Typed<T>()) return typed;
  if (opened.raw == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' gives records of its own type only, not the ones this source reads"));
  }
  return std::shared_ptr<SourceConnector<T>>(std::make_shared<JsonSource<T>>(std::move(opened.raw)));
}

// A sink of records of type T, with what to call after the run (see
// RawSinkConnector::Finish), and the connector of bytes behind it (null when the scheme
// took T directly), for whoever wants what it reports (discard_sink.h).
template <typename T>
struct SinkHandle {
  std::shared_ptr<SinkConnector<T>> sink;
  std::function<absl::Status()> finish;
  std::shared_ptr<RawSinkConnector> raw;
};

//   KAPPA_ASSIGN_OR_RETURN(auto out, kappa::connectors::MakeSink<PageCount>("stdout:"));
//   stream.SinkTo(out.sink);  ...run...  KAPPA_RETURN_IF_ERROR(out.finish());
template <typename T>
absl::StatusOr<SinkHandle<T>> MakeSink(const std::string& uri, const SinkOptions& options = {}) {
  KAPPA_ASSIGN_OR_RETURN(OpenedSink opened, OpenSink(uri, options));
  if (auto typed = opened.Typed<T>()) return SinkHandle<T>{typed, [] { return absl::OkStatus(); }, nullptr};
  if (opened.raw == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri, "' takes records of its own type only, not the ones this sink writes"));
  }
  std::shared_ptr<RawSinkConnector> raw = opened.raw;
  return SinkHandle<T>{std::make_shared<JsonSink<T>>(raw), [raw] { return raw->Finish(); }, raw};
}

}  // namespace kappa::connectors

namespace kappa {
// The registry is where a job binary meets the connectors; it reads as kappa::.
using connectors::RegisterSinkScheme;
using connectors::RegisterSourceScheme;
}  // namespace kappa

#endif  // KAPPA_CONNECTORS_REGISTRY_H_
