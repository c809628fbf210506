#include "kappa/runtime/trace.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kappa/base/json_util.h"
#include "kappa/base/strings.h"

namespace kappa::runtime {
namespace {

constexpr size_t kMaxRecordText = 2048;

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

absl::Status Bad(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--trace '", AbslView(text), "': ", AbslView(why),
      " (use partition=P,offset=O[..O2] with optional source=NAME, or key=VALUE@OPERATOR)"));
}

}  // namespace

absl::StatusOr<TraceFilter> TraceFilter::Parse(std::string_view text) {
  TraceFilter f;
  if (text.empty()) return Bad(text, "empty filter");
  for (absl::string_view part : absl::StrSplit(AbslView(text), ',')) {
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) return Bad(text, absl::StrCat("'", part, "' is not NAME=VALUE"));
    std::string_view name = StdView(part.substr(0, eq));
    std::string_view value = StdView(part.substr(eq + 1));
    if (value.empty()) return Bad(text, absl::StrCat("'", AbslView(name), "' has no value"));
    if (name == "source") {
      f.source = std::string(value);
    } else if (name == "partition") {
      int64_t p;
      if (!ParseInt(value, &p) || p < 0 || p > (int64_t{1} << 30)) {
        return Bad(text, absl::StrCat("partition '", AbslView(value), "' is not a non-negative integer"));
      }
      f.partition = static_cast<int>(p);
    } else if (name == "offset") {
      const size_t dots = value.find("..");
      int64_t first, last;
      if (dots == std::string_view::npos) {
        if (!ParseInt(value, &first) || first < 0) {
          return Bad(text, absl::StrCat("offset '", AbslView(value), "' is not a non-negative integer"));
        }
        last = first;
      } else if (!ParseInt(value.substr(0, dots), &first) || !ParseInt(value.substr(dots + 2), &last) || first < 0 ||
                 last < first) {
        return Bad(text, absl::StrCat("offset range '", AbslView(value), "' is not FIRST..LAST with FIRST <= LAST"));
      }
      f.offset_first = first;
      f.offset_last = last;
    } else if (name == "key") {
      const size_t at = value.rfind('@');
      if (at == std::string_view::npos || at == 0 || at + 1 == value.size()) {
        return Bad(text, absl::StrCat("key '", AbslView(value), "' is not VALUE@OPERATOR (the keyed operator's name)"));
      }
      f.key = std::string(value.substr(0, at));
      f.key_at = std::string(value.substr(at + 1));
    } else {
      return Bad(text, absl::StrCat("unknown field '", AbslView(name), "'"));
    }
  }
  if (f.by_key() && (!f.source.empty() || f.partition >= 0 || f.offset_first >= 0)) {
    return Bad(text, "key= cannot be combined with source, partition or offset");
  }
  if (!f.by_key() && f.offset_first < 0) return Bad(text, "no offset (a filter selects records by offset or key)");
  return f;
}

bool TraceFilter::MatchesPosition(std::string_view source_name, int p, int64_t offset) const {
  if (offset < offset_first || offset > offset_last) return false;
  if (partition >= 0 && p != partition) return false;
  return source.empty() || source == source_name;
}

bool TraceFilter::MatchesKey(std::string_view text) const {
  if (text == key) return true;
  // A string key encodes with quotes; the filter names it without.
  return text.size() >= 2 && text.front() == '"' && text.back() == '"' && text.substr(1, text.size() - 2) == key;
}

std::string TraceRecordText(std::string text) {
  if (text.size() <= kMaxRecordText) return text;
  text.resize(kMaxRecordText);
  // Truncated JSON is no longer JSON: the line carries it as a string instead.
  return absl::StrCat("<truncated> ", text);
}

absl::StatusOr<std::unique_ptr<Tracer>> Tracer::Create(TraceFilter filter, const std::string& uri) {
  absl::StatusOr<std::unique_ptr<FileWriter>> w;
  if (uri.empty() || uri == "stderr:") {
    w = FileWriter::Stderr();
  } else if (uri == "stdout:") {
    w = FileWriter::Stdout();
  } else {
    std::string path = uri.rfind("file:", 0) == 0 ? uri.substr(5) : uri;
    if (path.empty() || uri.find("://") != std::string::npos ||
        (uri.find(':') != std::string::npos && uri.rfind("file:", 0) != 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--trace-output '", uri, "': use file:PATH, a path, stdout: or stderr:"));
    }
    w = FileWriter::Open(path, FileWriter::Mode::kTruncate);
  }
  if (!w.ok()) {
    return absl::Status(w.status().code(), absl::StrCat("--trace-output '", uri, "': ", w.status().message()));
  }
  return std::make_unique<Tracer>(std::move(filter), std::move(*w));
}

Tracer::Tracer(TraceFilter filter, std::unique_ptr<FileWriter> writer, bool keep_lines)
    : filter_(std::move(filter)), writer_(std::move(writer)), keep_(keep_lines) {}

int32_t Tracer::Intern(std::string_view source, int partition, int64_t offset) {
  std::string name = absl::StrCat(AbslView(source), "/", partition, "/", offset);
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = names_.size(); i-- > 0;) {
    if (names_[i] == name) return static_cast<int32_t>(i);
  }
  names_.push_back(std::move(name));
  return static_cast<int32_t>(names_.size() - 1);
}

int32_t Tracer::InternKey(std::string_view key, std::string_view at) {
  std::lock_guard<std::mutex> lock(mu_);
  names_.push_back(absl::StrCat("key=", AbslView(key), "@", AbslView(at), "#", names_.size()));
  return static_cast<int32_t>(names_.size() - 1);
}

std::string Tracer::Name(int32_t trace) const {
  std::lock_guard<std::mutex> lock(mu_);
  return trace >= 0 && static_cast<size_t>(trace) < names_.size() ? names_[trace] : "";
}

void Tracer::Write(const TraceEvent& e) {
  std::string line;
  line.reserve(256 + e.record.size());
  line += "{\"time\":";
  json::AppendString(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), &line);
  line += ",\"trace\":";
  json::AppendString(Name(e.trace), &line);
  line += ",\"kind\":";
  json::AppendString(e.kind, &line);
  line += ",\"op\":";
  json::AppendString(e.op, &line);
  line += ",\"uid\":";
  json::AppendString(e.uid, &line);
  line += ",\"instance\":";
  json::AppendInt(e.instance, &line);
  if (e.has_ts) {
    line += ",\"ts\":";
    json::AppendInt(e.ts, &line);
  }
  if (e.has_window) {
    line += ",\"window\":{\"start\":";
    json::AppendInt(e.window_start, &line);
    line += ",\"end\":";
    json::AppendInt(e.window_end, &line);
    line += "}";
  }
  if (e.has_timer) {
    line += ",\"timer\":";
    json::AppendInt(e.timer, &line);
  }
  if (!e.record.empty()) {
    line += ",\"record\":";
    const char c = e.record.front();
    if (c == '<') {
      json::AppendString(e.record, &line);
    } else {
      line += e.record;
    }
  }
  line += "}\n";
  std::lock_guard<std::mutex> lock(mu_);
  ++written_;
  if (keep_) lines_.push_back(line.substr(0, line.size() - 1));
  if (writer_ != nullptr) {
    // Trace events are rare: each reaches the OS at once, so a trace of a job that is
    // still running (or was killed) can be read.
    (void)writer_->Append(line);
    (void)writer_->Flush();
  }
}

int64_t Tracer::events_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

std::vector<std::string> Tracer::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

absl::Status Tracer::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_ != nullptr ? writer_->Flush() : absl::OkStatus();
}

}  // namespace kappa::runtime
