#include "kappa/app/json_tree.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kappa::app {
namespace {

constexpr int kMaxDepth = 64;

bool ReadValue(json::Value& value, int depth, JsonNode* out, std::string* error);

bool ReadObject(json::Object& object, int depth, JsonNode* out, std::string* error) {
  out->type = json::Type::kObject;
  bool ok = object.ForEachField([&](std::string_view name, json::Value& value) {
    JsonNode child;
    if (!ReadValue(value, depth + 1, &child, error)) return false;
    out->fields.push_back(JsonField{std::string(name), std::move(child)});
    return true;
  });
  // A visit that returned false stopped the walk without the JSON being malformed.
  if (!ok && error->empty()) *error = object.error();
  return ok && error->empty();
}

bool ReadValue(json::Value& value, int depth, JsonNode* out, std::string* error) {
  if (depth > kMaxDepth) {
    *error = absl::StrCat("nested deeper than ", kMaxDepth);
    return false;
  }
  if (!value.GetType(&out->type)) {
    *error = "malformed JSON";
    return false;
  }
  switch (out->type) {
    case json::Type::kObject: {
      json::Object object;
      if (!value.GetObject(&object)) break;
      return ReadObject(object, depth, out, error);
    }
    case json::Type::kArray: {
      json::Array array;
      if (!value.GetArray(&array)) break;
      json::Value element;
      while (array.Next(&element)) {
        JsonNode child;
        if (!ReadValue(element, depth + 1, &child, error)) return false;
        out->items.push_back(std::move(child));
      }
      if (*array.error() != '\0') {
        *error = array.error();
        return false;
      }
      return true;
    }
    case json::Type::kNumber:
      if (value.GetDouble(&out->number)) return true;
      break;
    case json::Type::kString: {
      std::string_view s;
      if (!value.GetString(&s)) break;
      out->string = std::string(s);
      return true;
    }
    case json::Type::kBool:
      if (value.GetBool(&out->boolean)) return true;
      break;
    case json::Type::kNull:
      if (value.IsNull()) return true;
      break;
  }
  if (error->empty()) *error = "malformed JSON";
  return false;
}

const JsonNode& Empty() {
  static const JsonNode* empty = new JsonNode();
  return *empty;
}

}  // namespace

const JsonNode* JsonNode::Get(std::string_view key) const {
  for (const auto& [name, node] : fields) {
    if (name == key) return &node;
  }
  return nullptr;
}

bool JsonNode::IsNull(std::string_view key) const {
  const JsonNode* n = Get(key);
  return n == nullptr || n->type == json::Type::kNull;
}

double JsonNode::Number(std::string_view key, double fallback) const {
  const JsonNode* n = Get(key);
  return n != nullptr && n->type == json::Type::kNumber ? n->number : fallback;
}

std::string JsonNode::String(std::string_view key) const {
  const JsonNode* n = Get(key);
  return n != nullptr && n->type == json::Type::kString ? n->string : std::string();
}

bool JsonNode::Bool(std::string_view key) const {
  const JsonNode* n = Get(key);
  return n != nullptr && n->type == json::Type::kBool && n->boolean;
}

const std::vector<JsonNode>& JsonNode::Items(std::string_view key) const {
  const JsonNode* n = Get(key);
  return n != nullptr && n->type == json::Type::kArray ? n->items : Empty().items;
}

absl::StatusOr<JsonNode> ParseJsonTree(std::string_view text) {
  json::Parser parser;
  json::Object object;
  if (absl::Status s = parser.Iterate(text, text.size(), &object); !s.ok()) return s;
  JsonNode root;
  std::string error;
  if (!ReadObject(object, 0, &root, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", error));
  }
  if (absl::Status s = parser.Finish(&object); !s.ok()) return s;
  return root;
}

}  // namespace kappa::app
