// Fuzzes the JSON-lines decoding of KAPPA_JSON record types (json_codec.h) and the
// json::Parser interface under it (json_reader.h).
//
// The first byte selects what the rest of the input is fed to:
//   even: JsonCodec<Row>::Decode, a record type with every supported kind of field; a
//         line that decodes must encode to JSON that decodes to the same record;
//   odd:  a generic walk of json::Parser: every value of every object and array, nested,
//         read with every getter its type allows.
// Both parse the line in place (the line copied into a padded buffer) and from a buffer
// too short to parse in place, alternately by the selector's second bit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kappa/base/json_codec.h"
#include "kappa/base/json_reader.h"

namespace {

struct Inner {
  std::string name;
  int64_t n = 0;
};

struct Row {
  int64_t id = 0;
  int32_t small = 0;
  uint16_t tiny = 0;
  bool flag = false;
  double score = 0;
  std::string text;
  std::optional<int64_t> maybe;
  std::optional<std::string> note;
  std::vector<int64_t> ids;
  std::vector<std::string> tags;
  Inner inner;
  std::optional<Inner> extra;
  std::vector<Inner> items;
  std::vector<std::vector<double>> matrix;
};

bool operator==(const Inner& a, const Inner& b) { return a.name == b.name && a.n == b.n; }
bool operator==(const Row& a, const Row& b) {
  return a.id == b.id && a.small == b.small && a.tiny == b.tiny && a.flag == b.flag && a.score == b.score &&
         a.text == b.text && a.maybe == b.maybe && a.note == b.note && a.ids == b.ids && a.tags == b.tags &&
         a.inner == b.inner && a.extra == b.extra && a.items == b.items && a.matrix == b.matrix;
}

}  // namespace

KAPPA_JSON(Inner, name, n);
KAPPA_JSON(Row, id, small, tiny, flag, score, text, maybe, note, ids, tags, inner, extra, items, matrix);

namespace {

void WalkValue(kappa::json::Value& v, int depth);

void WalkObject(kappa::json::Object& obj, int depth) {
  static constexpr std::string_view kNames[] = {"a", "id", "type", "x", ""};
  for (std::string_view name : kNames) {
    kappa::json::Value v;
    if (obj.Find(name, &v) == kappa::json::Lookup::kFound) WalkValue(v, depth + 1);
  }
}

void WalkValue(kappa::json::Value& v, int depth) {
  if (depth > 64) return;
  kappa::json::Type type;
  if (!v.GetType(&type)) return;
  switch (type) {
    case kappa::json::Type::kObject: {
      kappa::json::Object obj;
      if (v.GetObject(&obj)) WalkObject(obj, depth);
      break;
    }
    case kappa::json::Type::kArray: {
      kappa::json::Array arr;
      if (!v.GetArray(&arr)) break;
      kappa::json::Value e;
      while (arr.Next(&e)) WalkValue(e, depth + 1);
      break;
    }
    case kappa::json::Type::kNumber: {
      int64_t i;
      double d;
      if (!v.GetInt64(&i)) (void)v.GetDouble(&d);
      break;
    }
    case kappa::json::Type::kString: {
      std::string_view s;
      // Touch the last byte: ASan reports it when the view points outside the buffer.
      if (v.GetString(&s) && !s.empty()) {
        volatile char last = s.back();
        (void)last;
      }
      break;
    }
    case kappa::json::Type::kBool: {
      bool b;
      (void)v.GetBool(&b);
      break;
    }
    case kappa::json::Type::kNull:
      (void)v.IsNull();
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);
  // In place: the line at the start of a buffer with the padding the parser needs.
  std::string padded(line);
  padded.resize(line.size() + kappa::json::kPadding, ' ');
  const bool in_place = (selector & 2) != 0;
  const size_t capacity = in_place ? padded.size() : line.size();
  std::string_view input(padded.data(), line.size());

  if ((selector & 1) == 0) {
    static kappa::JsonCodec<Row> codec;
    Row row;
    if (!codec.Decode(input, capacity, &row).ok()) return 0;
    std::string encoded;
    codec.Encode(row, &encoded);
    Row again;
    absl::Status s = codec.Decode(encoded, 0, &again);
    if (!s.ok() || !(again == row)) {
      fprintf(stderr, "round trip failed: %s\nencoded: %s\n", s.ToString().c_str(), encoded.c_str());
      std::abort();
    }
    return 0;
  }
  static kappa::json::Parser parser;
  kappa::json::Object obj;
  if (!parser.Iterate(input, capacity, &obj).ok()) return 0;
  WalkObject(obj, 0);
  (void)parser.Finish(&obj);
  return 0;
}
