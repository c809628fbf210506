// Connector URIs (DESIGN §5): `file:PATH[?follow=true]`, `gen:nexmark?events=N&...`,
// `stdout:`. ParseUri splits scheme, path and query; the registry (registry.h) turns a
// URI into a connector by its scheme.
#ifndef KAPPA_CONNECTORS_URI_H_
#define KAPPA_CONNECTORS_URI_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kappa::connectors {

struct Uri {
  std::string scheme;                         // file, gen, stdout, ...
  std::string path;                           // after "scheme:" and before '?'
  std::string query;                          // after '?', undecoded
  std::map<std::string, std::string> params;  // query as key=value pairs
  std::string text;                           // the URI as given
};

// "file:/tmp/x?follow=true" → {file, /tmp/x, {follow: true}}. Errors name the URI and the
// schemes Kappa knows.
absl::StatusOr<Uri> ParseUri(std::string_view text);

// Interprets a boolean query parameter ("true"/"false"/"1"/"0"); error names the key.
absl::StatusOr<bool> BoolParam(const Uri& uri, const std::string& key, bool fallback);

// A position in a partitioned log: where a source starts (`start=`, `--from`) or ends
// (`end=`, `--to`).
//   earliest | latest | committed     (Kafka; for files: earliest = 0, latest = size)
//   end                               the end of each partition as found at start
//   ts:MS                             the first record at or after event time MS
//   offsets:P=O[,P=O...]              explicit offsets (bytes for files); others unbounded
struct Position {
  enum class Kind { kEarliest, kLatest, kCommitted, kEnd, kTimestamp, kOffsets };
  Kind kind = Kind::kEarliest;
  int64_t timestamp = 0;
  std::map<int, int64_t> offsets;
};

// `what` names the flag or parameter in errors, e.g. "--from" or "start".
absl::StatusOr<Position> ParsePosition(std::string_view text, std::string_view what);

inline constexpr char kKnownSchemes[] =
    "file:PATH, gen:nexmark?events=N&rate=R&seed=S, kafka://BOOTSTRAP/TOPIC, kafka:TOPIC, stdout:";

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_URI_H_
