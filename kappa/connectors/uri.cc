#include "kappa/connectors/uri.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "kappa/base/strings.h"

namespace kappa::connectors {

absl::StatusOr<Uri> ParseUri(std::string_view text) {
  Uri uri;
  uri.text = std::string(text);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(text), "' is not a connector URI; use one of: ", kKnownSchemes));
  }
  uri.scheme = std::string(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);
  size_t q = rest.find('?');
  uri.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) {
    uri.query = std::string(rest.substr(q + 1));
    for (absl::string_view akv : absl::StrSplit(uri.query, '&', absl::SkipEmpty())) {
      std::string_view kv = StdView(akv);
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("'", AbslView(text), "': query parameter '", AbslView(kv), "' needs a value (key=value)"));
      }
      uri.params[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
  }
  return uri;
}

absl::StatusOr<bool> BoolParam(const Uri& uri, const std::string& key, bool fallback) {
  auto it = uri.params.find(key);
  if (it == uri.params.end()) return fallback;
  if (it->second == "true" || it->second == "1") return true;
  if (it->second == "false" || it->second == "0") return false;
  return absl::InvalidArgumentError(absl::StrCat("'", uri.text, "': ", key, " must be true or false"));
}

absl::StatusOr<Position> ParsePosition(std::string_view text, std::string_view what) {
  Position pos;
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(what), " '", AbslView(text), "': ", AbslView(why),
                                                   " (use earliest, latest, committed, end, ts:MS or "
                                                   "offsets:P=O,...)"));
  };
  if (text == "earliest" || text == "beginning") {
    pos.kind = Position::Kind::kEarliest;
  } else if (text == "latest") {
    pos.kind = Position::Kind::kLatest;
  } else if (text == "committed") {
    pos.kind = Position::Kind::kCommitted;
  } else if (text == "end") {
    pos.kind = Position::Kind::kEnd;
  } else if (text.starts_with("ts:")) {
    pos.kind = Position::Kind::kTimestamp;
    if (!absl::SimpleAtoi(AbslView(text.substr(3)), &pos.timestamp)) return bad("ts: needs epoch milliseconds");
  } else if (text.starts_with("offsets:")) {
    pos.kind = Position::Kind::kOffsets;
    for (absl::string_view item : absl::StrSplit(AbslView(text.substr(8)), ',', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
      int partition;
      int64_t offset;
      if (!absl::SimpleAtoi(kv.first, &partition) || !absl::SimpleAtoi(kv.second, &offset) || partition < 0 ||
          offset < 0) {
        return bad(absl::StrCat("'", item, "' is not PARTITION=OFFSET"));
      }
      pos.offsets[partition] = offset;
    }
    if (pos.offsets.empty()) return bad("offsets: needs at least one PARTITION=OFFSET");
  } else {
    return bad("unknown position");
  }
  return pos;
}

}  // namespace kappa::connectors
