// Connector URIs (DESIGN §5): `file:PATH[?follow=true]`, `gen:nexmark?events=N&...`,
// `stdout:`. ParseUri splits scheme, path and query; MakeSource / MakeSink (connectors.h)
// turn a URI into a connector for a record type.
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

inline constexpr char kKnownSchemes[] = "file:PATH, gen:nexmark?events=N&rate=R&seed=S, stdout:";

}  // namespace kappa::connectors

#endif  // KAPPA_CONNECTORS_URI_H_
