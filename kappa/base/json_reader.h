// An opaque, allocation-free reader of one JSON object per line.
//
// JsonCodec<T> (json_codec.h) decodes record types through this interface so that the
// headers a job includes never see the JSON library behind it (simdjson's On-Demand
// parser, included only by json_reader.cc). Each handle keeps the parser's state in
// fixed-size storage inside itself: no heap allocation per line or per field.
//
//   json::Parser parser;  // one per thread; reused for every line
//   json::Object obj;
//   absl::Status s = parser.Iterate(line, padded_capacity, &obj);
//   json::Value v;
//   if (s.ok() && obj.Find("count", &v) == json::Lookup::kFound) {
//     int64_t count;
//     if (!v.GetInt64(&count)) { ... "expected an integer" ... }
//   }
//   s = parser.Finish(&obj);  // the whole line was one object, nothing after it
//
// Like the On-Demand parser it wraps, reading is forward-only: a Value is valid until the
// next call on its Object (or the next line), an Object until the next Iterate(), and
// strings point into the parser's buffer until the next Iterate(). Not thread-safe; the
// handles belong to the thread that uses the Parser.
//
// Once the JSON turned out malformed, every further call on the line's handles fails
// (kMalformed, false) without reading: simdjson's iterator is unusable after an error
// other than a wrong type or a missing field, and reading on would touch it.
#ifndef KAPPA_BASE_JSON_READER_H_
#define KAPPA_BASE_JSON_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace kappa::json {

// Bytes a line must have readable after its end to be parsed in place (equals
// simdjson::SIMDJSON_PADDING; checked at compile time in json_reader.cc). Shorter
// buffers are copied into the parser's own.
inline constexpr size_t kPadding = 64;

enum class Type { kArray, kObject, kNumber, kString, kBool, kNull };

// The outcome of looking a field up.
enum class Lookup {
  kFound,
  kMissing,    // the object has no such field
  kMalformed,  // the JSON is broken; Object::error() says how
};

class Value;
class Array;
class Parser;

// One JSON object (a line's top-level object or a nested one).
class Object {
 public:
  Object() = default;

  // Finds field `name` wherever it is in the object (fields may come in any order),
  // scanning from the object's start. Read a field's string once: simdjson unescapes
  // strings into a buffer sized for one pass over the line.
  Lookup Find(std::string_view name, Value* out);
  // Reads the fields in order, once, calling `visit` with each name (unescaped) and
  // value; what `visit` leaves unread of a value is skipped. Stops early when `visit`
  // returns false. False when the JSON is malformed (error() says how). Prefer it to
  // Find for reading many fields: one forward pass instead of one per field.
  bool ForEachField(absl::FunctionRef<bool(std::string_view name, Value& value)> visit);
  // What went wrong after Find() returned kMalformed.
  const char* error() const { return error_; }

 private:
  friend class Parser;
  friend class Value;
  alignas(8) unsigned char storage_[24];
  Parser* parser_ = nullptr;  // whose document this object is in
  const char* error_ = "";
};

// One JSON value, read once. Each getter returns false when the value is not of that
// kind (or not representable: an integer out of int64 range).
class Value {
 public:
  Value() = default;

  bool GetInt64(int64_t* out);
  bool GetDouble(double* out);
  bool GetBool(bool* out);
  // The unescaped string; points into the parser's buffer until its next Iterate().
  bool GetString(std::string_view* out);
  bool GetObject(Object* out);
  bool GetArray(Array* out);
  // True when the value is JSON null (false also when it cannot be read).
  bool IsNull();
  // The value's kind; false when it cannot be determined (malformed JSON).
  bool GetType(Type* out);

 private:
  friend class Object;
  friend class Array;
  alignas(8) unsigned char storage_[24];
  Parser* parser_ = nullptr;
};

// The elements of a JSON array, in order.
class Array {
 public:
  Array() = default;

  // Moves to the next element: true with *out set; false at the end or when the array is
  // malformed (then error() is not empty).
  bool Next(Value* out);
  const char* error() const { return error_; }

 private:
  friend class Value;
  alignas(8) unsigned char begin_[32];
  alignas(8) unsigned char end_[32];
  Parser* parser_ = nullptr;
  bool started_ = false;
  const char* error_ = "";
};

// Parses lines one after another, reusing its buffers. Move-only; one per thread.
class Parser {
 public:
  Parser();
  ~Parser();
  Parser(Parser&& other) noexcept;
  Parser& operator=(Parser&& other) noexcept;
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Starts reading `line`, which must be one JSON object, into *out. `padded_capacity` is
  // how many bytes from line.data() may be read (line.size() + kPadding or more parses in
  // place; less copies the line). Errors: the parser's message for malformed JSON,
  // "expected a JSON object" for another kind of value.
  absl::Status Iterate(std::string_view line, size_t padded_capacity, Object* out);
  // After the fields were read: skips to the end of the object and requires the end of
  // the line, so that `{...}{...}` or `{...}}` is an error rather than a half-read line.
  absl::Status Finish(Object* object);

 private:
  friend class Object;
  friend class Value;
  friend class Array;
  friend struct ParserInternals;  // json_reader.cc: marks the line broken
  // False once reading the current line hit malformed JSON.
  static bool Alive(Parser* parser);

  alignas(8) unsigned char parser_[64];
  alignas(8) unsigned char document_[64];
  std::string buf_;  // the line with padding, when its own buffer has too little
  bool broken_ = false;  // the current line hit an unrecoverable error
};

}  // namespace kappa::json

#endif  // KAPPA_BASE_JSON_READER_H_
