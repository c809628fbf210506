#include "kappa/base/json_reader.h"

#include <new>
#include <type_traits>
#include <utility>

#include "simdjson.h"

namespace kappa::json {
namespace {

namespace od = simdjson::ondemand;
using ArrayIterator = simdjson::simdjson_result<od::array_iterator>;

static_assert(kPadding == simdjson::SIMDJSON_PADDING, "kPadding must match simdjson::SIMDJSON_PADDING");

// The handles hold simdjson objects in place; these keep the storage sizes in
// json_reader.h honest when simdjson changes.
static_assert(sizeof(od::object) <= 24 && alignof(od::object) <= 8, "grow Object::storage_");
static_assert(sizeof(od::value) <= 24 && alignof(od::value) <= 8, "grow Value::storage_");
static_assert(sizeof(ArrayIterator) <= 32 && alignof(ArrayIterator) <= 8, "grow Array::begin_ and end_");
static_assert(sizeof(od::parser) <= 64 && alignof(od::parser) <= 8, "grow Parser::parser_");
static_assert(sizeof(od::document) <= 64 && alignof(od::document) <= 8, "grow Parser::document_");
// Handles are copied and dropped freely: what they hold must not need a destructor.
static_assert(std::is_trivially_copyable_v<od::object> && std::is_trivially_destructible_v<od::object>);
static_assert(std::is_trivially_copyable_v<od::value> && std::is_trivially_destructible_v<od::value>);
static_assert(std::is_trivially_copyable_v<ArrayIterator> && std::is_trivially_destructible_v<ArrayIterator>);

od::object& AsObject(unsigned char* storage) { return *std::launder(reinterpret_cast<od::object*>(storage)); }
od::value& AsValue(unsigned char* storage) { return *std::launder(reinterpret_cast<od::value*>(storage)); }
ArrayIterator& AsIterator(unsigned char* storage) { return *std::launder(reinterpret_cast<ArrayIterator*>(storage)); }

od::document& AsDocument(unsigned char* storage) { return *std::launder(reinterpret_cast<od::document*>(storage)); }

constexpr char kDead[] = "malformed JSON: reading stopped at an earlier error";

}  // namespace

struct ParserInternals {
  // True for SUCCESS. Other errors but a wrong type or a missing field leave simdjson's
  // iterator unusable: the line is marked broken and nothing more is read from it.
  static bool Succeeded(Parser* parser, simdjson::error_code code) {
    if (code == simdjson::SUCCESS) [[likely]] return true;
    if (code != simdjson::INCORRECT_TYPE && code != simdjson::NO_SUCH_FIELD) parser->broken_ = true;
    return false;
  }
};

namespace {
bool Succeeded(Parser* parser, simdjson::error_code code) { return ParserInternals::Succeeded(parser, code); }
}  // namespace

bool Parser::Alive(Parser* parser) {
  return parser != nullptr && !parser->broken_ && AsDocument(parser->document_).is_alive();
}

Lookup Object::Find(std::string_view name, Value* out) {
  if (!Parser::Alive(parser_)) {
    error_ = kDead;
    return Lookup::kMalformed;
  }
  // From the object's start, forward only. simdjson 3.0's find_field_unordered wraps
  // around to fields it passed and assumes those are well formed: a partly read nested
  // value that was not made it assert, or with NDEBUG read on undefined.
  od::object& object = AsObject(storage_);
  bool not_empty;
  simdjson::error_code code = object.reset().get(not_empty);
  if (!Succeeded(parser_, code)) {
    error_ = simdjson::error_message(code);
    return Lookup::kMalformed;
  }
  simdjson::simdjson_result<od::value> field = object.find_field(name);
  code = field.error();
  if (Succeeded(parser_, code)) [[likely]] {
    new (out->storage_) od::value(field.value_unsafe());
    out->parser_ = parser_;
    return Lookup::kFound;
  }
  if (code == simdjson::NO_SUCH_FIELD) return Lookup::kMissing;
  error_ = simdjson::error_message(code);
  return Lookup::kMalformed;
}

bool Object::ForEachField(absl::FunctionRef<bool(std::string_view name, Value& value)> visit) {
  if (!Parser::Alive(parser_)) {
    error_ = kDead;
    return false;
  }
  for (simdjson::simdjson_result<od::field> result : AsObject(storage_)) {
    od::field field;
    std::string_view name;
    simdjson::error_code code = std::move(result).get(field);
    if (Succeeded(parser_, code)) code = field.unescaped_key().get(name);
    if (!Succeeded(parser_, code)) {
      error_ = simdjson::error_message(code);
      return false;
    }
    Value value;
    new (value.storage_) od::value(field.value());
    value.parser_ = parser_;
    if (!visit(name, value)) return true;
    if (!Parser::Alive(parser_)) {
      error_ = kDead;
      return false;
    }
  }
  return true;
}

bool Value::GetInt64(int64_t* out) {
  return Parser::Alive(parser_) && Succeeded(parser_, AsValue(storage_).get_int64().get(*out));
}

bool Value::GetDouble(double* out) {
  return Parser::Alive(parser_) && Succeeded(parser_, AsValue(storage_).get_double().get(*out));
}

bool Value::GetBool(bool* out) {
  return Parser::Alive(parser_) && Succeeded(parser_, AsValue(storage_).get_bool().get(*out));
}

bool Value::GetString(std::string_view* out) {
  return Parser::Alive(parser_) && Succeeded(parser_, AsValue(storage_).get_string().get(*out));
}

bool Value::GetObject(Object* out) {
  od::object obj;
  if (!Parser::Alive(parser_) || !Succeeded(parser_, AsValue(storage_).get_object().get(obj))) return false;
  new (out->storage_) od::object(obj);
  out->parser_ = parser_;
  out->error_ = "";
  return true;
}

bool Value::GetArray(Array* out) {
  od::array arr;
  if (!Parser::Alive(parser_) || !Succeeded(parser_, AsValue(storage_).get_array().get(arr))) return false;
  new (out->begin_) ArrayIterator(arr.begin());
  new (out->end_) ArrayIterator(arr.end());
  out->parser_ = parser_;
  out->started_ = false;
  out->error_ = "";
  return true;
}

bool Value::IsNull() {
  bool is_null = false;
  return Parser::Alive(parser_) && Succeeded(parser_, AsValue(storage_).is_null().get(is_null)) && is_null;
}

bool Value::GetType(Type* out) {
  od::json_type type = od::json_type::null;  // set by get(); gcc -O1 cannot see it
  if (!Parser::Alive(parser_) || !Succeeded(parser_, AsValue(storage_).type().get(type))) return false;
  switch (type) {
    case od::json_type::array: *out = Type::kArray; break;
    case od::json_type::object: *out = Type::kObject; break;
    case od::json_type::number: *out = Type::kNumber; break;
    case od::json_type::string: *out = Type::kString; break;
    case od::json_type::boolean: *out = Type::kBool; break;
    case od::json_type::null: *out = Type::kNull; break;
  }
  return true;
}

bool Array::Next(Value* out) {
  if (!Parser::Alive(parser_)) {
    error_ = kDead;
    return false;
  }
  ArrayIterator& it = AsIterator(begin_);
  // Advancing skips whatever the caller left unread of the previous element, so it
  // happens here, before the next element, not after handing one out.
  if (started_) ++it;
  started_ = true;
  if (!(it != AsIterator(end_))) return false;
  simdjson::simdjson_result<od::value> element = *it;
  if (simdjson::error_code code = element.error(); !Succeeded(parser_, code)) {
    error_ = simdjson::error_message(code);
    return false;
  }
  new (out->storage_) od::value(element.value_unsafe());
  out->parser_ = parser_;
  return true;
}

Parser::Parser() {
  new (parser_) od::parser();
  new (document_) od::document();
}

Parser::~Parser() {
  std::launder(reinterpret_cast<od::document*>(document_))->~document();
  std::launder(reinterpret_cast<od::parser*>(parser_))->~parser();
}

Parser::Parser(Parser&& other) noexcept : buf_(std::move(other.buf_)) {
  new (parser_) od::parser(std::move(*std::launder(reinterpret_cast<od::parser*>(other.parser_))));
  new (document_) od::document();
}

Parser& Parser::operator=(Parser&& other) noexcept {
  if (this != &other) {
    *std::launder(reinterpret_cast<od::parser*>(parser_)) =
        std::move(*std::launder(reinterpret_cast<od::parser*>(other.parser_)));
    *std::launder(reinterpret_cast<od::document*>(document_)) = od::document();
    buf_ = std::move(other.buf_);
  }
  return *this;
}

absl::Status Parser::Iterate(std::string_view line, size_t padded_capacity, Object* out) {
  od::parser& parser = *std::launder(reinterpret_cast<od::parser*>(parser_));
  od::document& doc = *std::launder(reinterpret_cast<od::document*>(document_));
  simdjson::padded_string_view input;
  if (padded_capacity >= line.size() + simdjson::SIMDJSON_PADDING) {
    input = simdjson::padded_string_view(line.data(), line.size(), padded_capacity);
  } else {
    buf_.assign(line);
    buf_.resize(line.size() + simdjson::SIMDJSON_PADDING);
    input = simdjson::padded_string_view(buf_.data(), line.size(), buf_.size());
  }
  broken_ = false;
  if (auto e = parser.iterate(input).get(doc)) return absl::InvalidArgumentError(simdjson::error_message(e));
  od::object obj;
  if (doc.get_object().get(obj)) return absl::InvalidArgumentError("expected a JSON object");
  new (out->storage_) od::object(obj);
  out->parser_ = this;
  out->error_ = "";
  return absl::OkStatus();
}

absl::Status Parser::Finish(Object* object) {
  od::document& doc = *std::launder(reinterpret_cast<od::document*>(document_));
  if (!Alive(this)) return absl::InvalidArgumentError(kDead);
  if (auto e = AsObject(object->storage_).raw_json().error()) {
    return absl::InvalidArgumentError(simdjson::error_message(e));
  }
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
    return absl::InvalidArgumentError("malformed JSON: trailing content after the object");
  }
  return absl::OkStatus();
}

}  // namespace kappa::json
