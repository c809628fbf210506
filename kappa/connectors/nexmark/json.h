// JSON-lines codec for Nexmark events (DESIGN.md §7).
//
// One event is one JSON object with "type" first, then the fields of its type in the
// contract's order, camelCase names, integers as integers:
//
//   {"type":"bid","auction":1000,"bidder":1001,"price":250,"channel":"Google",
//    "url":"https://…","dateTime":1700000000000,"extra":""}
//
// Encoding appends to a caller-owned string (no allocation once it has capacity):
//
//   std::string line;
//   AppendJson(event, &line);
//   line.push_back('\n');
//
// Decoding uses simdjson's On-Demand parser; keep one EventDecoder per thread:
//
//   EventDecoder decoder;
//   Event event;
//   KAPPA_RETURN_IF_ERROR(decoder.DecodeInto(line, /*padded_capacity=*/0, &event));
#ifndef KAPPA_CONNECTORS_NEXMARK_JSON_H_
#define KAPPA_CONNECTORS_NEXMARK_JSON_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/connectors/nexmark/event.h"

namespace kappa::nexmark {

// Bytes that must be readable after a line for the decoder to parse it in place
// (equals simdjson::SIMDJSON_PADDING; checked at compile time in json.cc).
inline constexpr size_t kJsonPadding = 64;

// Appends one JSON object for `e` to *out, without a newline. Strings are escaped per
// RFC 8259 (quote, backslash and control characters; other bytes, including UTF-8,
// are copied as they are).
void AppendJson(const Event& e, std::string* out);
std::string ToJson(const Event& e);

// Decodes JSON-lines Nexmark events.
//
// Fields may come in any order; unknown fields are ignored; "extra" may be missing or
// null (read as empty). Every other field of the event's type is required, integers
// must be JSON integers within int64 and strings JSON strings. Errors are
// InvalidArgument with one line naming the problem (and the field), e.g.
//   bid: field "price" must be an integer, got a string
//
// Owns a simdjson parser and a scratch buffer, both reused across calls. Not
// thread-safe: one decoder per thread.
class EventDecoder {
 public:
  EventDecoder();
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // `line` need not be padded. If padded_capacity >= line.size() + kJsonPadding, the
  // bytes after the line (up to padded_capacity) must be readable, and the line is
  // parsed in place without copying; otherwise it is copied into a padded buffer.
  absl::StatusOr<Event> Decode(std::string_view line, size_t padded_capacity = 0);

  // Same as Decode, writing into *out and reusing its string capacity. On error *out
  // holds an unspecified (valid) event.
  absl::Status DecodeInto(std::string_view line, size_t padded_capacity, Event* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kappa::nexmark

#endif  // KAPPA_CONNECTORS_NEXMARK_JSON_H_
