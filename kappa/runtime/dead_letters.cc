#include "kappa/runtime/dead_letters.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/json_reader.h"
#include "kappa/base/json_util.h"
#include "kappa/base/status.h"
#include "kappa/runtime/sink.h"

namespace kappa::runtime {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && IsSpace(s[*i])) ++*i;
}

// Moves *i past the JSON string starting at s[*i] (a '"'); false if it does not end.
bool SkipString(std::string_view s, size_t* i) {
  for (++*i; *i < s.size(); ++*i) {
    if (s[*i] == '\\') {
      ++*i;
    } else if (s[*i] == '"') {
      ++*i;
      return true;
    }
  }
  return false;
}

// Moves *i past the JSON value starting at s[*i]; false if it does not end. Only the
// structure is followed (strings, nesting); json::Parser validated the line before.
bool SkipValue(std::string_view s, size_t* i) {
  if (*i >= s.size()) return false;
  if (s[*i] == '"') return SkipString(s, i);
  if (s[*i] == '{' || s[*i] == '[') {
    int depth = 0;
    while (*i < s.size()) {
      const char c = s[*i];
      if (c == '"') {
        if (!SkipString(s, i)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++*i;
      if (depth == 0) return true;
    }
    return false;
  }
  while (*i < s.size() && s[*i] != ',' && s[*i] != '}' && s[*i] != ']' && !IsSpace(s[*i])) ++*i;
  return true;
}

// The text of top-level field `name` of the object `s`, or empty when it has none.
std::string_view RawField(std::string_view s, std::string_view name) {
  size_t i = 0;
  SkipSpace(s, &i);
  if (i >= s.size() || s[i] != '{') return {};
  ++i;
  while (true) {
    SkipSpace(s, &i);
    if (i >= s.size() || s[i] != '"') return {};
    const size_t key_begin = i + 1;
    if (!SkipString(s, &i)) return {};
    const std::string_view key = s.substr(key_begin, i - 1 - key_begin);
    SkipSpace(s, &i);
    if (i >= s.size() || s[i] != ':') return {};
    ++i;
    SkipSpace(s, &i);
    const size_t value_begin = i;
    if (!SkipValue(s, &i)) return {};
    if (key == name) return s.substr(value_begin, i - value_begin);
    SkipSpace(s, &i);
    if (i >= s.size() || s[i] != ',') return {};
    ++i;
  }
}

}  // namespace

std::string EncodeDeadLetter(const DeadLetter& d) {
  std::string out = "{\"record\":";
  if (d.record_is_json && !d.record.empty()) {
    out += d.record;
  } else {
    json::AppendString(d.record, &out);
  }
  out += ",\"errors\":[";
  for (size_t i = 0; i < d.errors.size(); ++i) {
    if (i > 0) out += ',';
    json::AppendString(d.errors[i], &out);
  }
  out += "],\"attempts\":";
  json::AppendInt(d.attempts, &out);
  out += ",\"first_failure\":";
  json::AppendInt(d.first_failure_ms, &out);
  out += ",\"last_failure\":";
  json::AppendInt(d.last_failure_ms, &out);
  out += ",\"operator\":";
  json::AppendString(d.operator_name, &out);
  out += ",\"partition\":";
  if (d.partition >= 0) {
    json::AppendInt(d.partition, &out);
  } else {
    out += "null";
  }
  out += ",\"offset\":";
  if (d.offset >= 0) {
    json::AppendInt(d.offset, &out);
  } else {
    out += "null";
  }
  out += ",\"ts\":";
  if (d.ts != kMinTimestamp) {
    json::AppendInt(d.ts, &out);
  } else {
    out += "null";  // not decoded: no event time
  }
  out += ",\"kind\":";
  json::AppendString(d.kind, &out);
  out += '}';
  return out;
}

absl::StatusOr<std::string> DeadLetterRecord(std::string_view line) {
  json::Parser parser;
  json::Object obj;
  KAPPA_RETURN_IF_ERROR(parser.Iterate(line, line.size(), &obj));
  json::Value v;
  switch (obj.Find("record", &v)) {
    case json::Lookup::kMissing:
      return absl::InvalidArgumentError("not a dead letter: no field 'record'");
    case json::Lookup::kMalformed:
      return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", obj.error()));
    case json::Lookup::kFound:
      break;
  }
  json::Type type;
  if (!v.GetType(&type)) return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", obj.error()));
  if (type == json::Type::kString) {
    std::string_view text;
    if (!v.GetString(&text)) return absl::InvalidArgumentError("field 'record': malformed string");
    return std::string(text);
  }
  KAPPA_RETURN_IF_ERROR(parser.Finish(&obj));  // the whole line is well-formed: the scan below may trust it
  std::string_view raw = RawField(line, "record");
  if (raw.empty()) return absl::InvalidArgumentError("field 'record': cannot be read");
  return std::string(raw);
}

DeadLetterWriter::DeadLetterWriter(std::unique_ptr<SinkWriter<DeadLetterLine>> writer) : writer_(std::move(writer)) {}
DeadLetterWriter::~DeadLetterWriter() = default;

absl::Status DeadLetterWriter::Close() { return writer_->Close(); }

void DeadLetterWriter::Write(const DeadLetter& letter) {
  // The event time of the line (a Kafka message's timestamp): the record's, else when it failed.
  const Timestamp ts = letter.ts != kMinTimestamp ? letter.ts : letter.last_failure_ms;
  Record<DeadLetterLine> r{DeadLetterLine{EncodeDeadLetter(letter)}, ts, kMinTimestamp};
  absl::Status s = writer_->Write(r);
  if (!s.ok()) throw TaskError(absl::Status(s.code(), absl::StrCat("dead-letter output: ", s.message())));
  ++written_;
}

absl::Status DeadLetterWriter::PreCommit(int64_t id, int instance, checkpoint::TaskSnapshot* out) {
  KAPPA_ASSIGN_OR_RETURN(std::vector<checkpoint::PendingFile> files, writer_->PreCommit(id));
  if (files.empty()) return absl::OkStatus();
  out->sinks.push_back(
      checkpoint::SinkPreCommit{.operator_uid = kDeadLetterUid, .subtask = instance, .files = std::move(files)});
  return absl::OkStatus();
}

}  // namespace kappa::runtime
