// A small JSON object read whole into a tree, for documents a person looks at (the
// /api/job answer `kappa status` draws), not for records on a hot path: those use
// json::Parser field by field (base/json_reader.h).
//
//   absl::StatusOr<app::JsonNode> job = app::ParseJsonTree(body);
//   if (!job.ok()) ...;
//   for (const app::JsonNode& chain : job->Items("chains")) chain.String("name");
//
// Numbers are read as doubles (integers are exact up to 2^53). The accessors return a
// fallback (0, "", false, an empty list) for a missing member or one of another type.
#ifndef KAPPA_APP_JSON_TREE_H_
#define KAPPA_APP_JSON_TREE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "kappa/base/json_reader.h"

namespace kappa::app {

struct JsonField;

struct JsonNode {
  json::Type type = json::Type::kNull;
  double number = 0;
  bool boolean = false;
  std::string string;
  // An object's members, in order. (Not pairs: std::pair of a type still incomplete here
  // is refused by clang with libstdc++.)
  std::vector<JsonField> fields;
  std::vector<JsonNode> items;                           // an array's elements

  // The member `key` of an object; null when there is none.
  const JsonNode* Get(std::string_view key) const;
  bool Has(std::string_view key) const { return Get(key) != nullptr; }
  // True when member `key` is missing or JSON null.
  bool IsNull(std::string_view key) const;
  double Number(std::string_view key, double fallback = 0) const;
  std::string String(std::string_view key) const;
  bool Bool(std::string_view key) const;
  const std::vector<JsonNode>& Items(std::string_view key) const;
};

struct JsonField {
  std::string name;
  JsonNode node;
};

// Parses `text`, which must be one JSON object (nested at most 64 deep).
absl::StatusOr<JsonNode> ParseJsonTree(std::string_view text);

}  // namespace kappa::app

#endif  // KAPPA_APP_JSON_TREE_H_
