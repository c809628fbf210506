#include "kappa/app/diff.h"
#include "kappa/connectors/uri.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kappa/base/line_reader.h"
#include "kappa/base/json_util.h"
#include "kappa/base/status.h"
#include "kappa/base/strings.h"
#include "simdjson.h"

namespace kappa::connectors {
namespace {

namespace fs = std::filesystem;

constexpr char kAcceptedForms[] =
    "file:PATH (a JSON-lines file), file:DIR/ (its part-*.jsonl files), a plain path, or kafka://BOOTSTRAP/TOPIC";

// The scheme of "file:x" is "file"; "out.jsonl", "/tmp/a:b" and "./c:d" have none (plain
// paths): a scheme is letters, digits, '+', '-' and '.', starting with a letter.
std::string_view SchemeOf(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string_view scheme = uri.substr(0, colon);
  if (!std::isalpha(static_cast<unsigned char>(scheme[0]))) return {};
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  }
  return scheme;
}

bool IsPartFile(const std::string& name) {
  return name.size() > 11 && name.compare(0, 5, "part-") == 0 &&
         name.compare(name.size() - 6, 6, ".jsonl") == 0;
}

// A file, or the published part files of a directory in name order.
absl::StatusOr<std::vector<std::string>> OutputFiles(std::string_view uri, const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    if (!ec || ec == std::errc::no_such_file_or_directory) {
      return absl::NotFoundError(absl::StrCat("'", AbslView(uri), "': no such file or directory"));
    }
    return absl::InvalidArgumentError(absl::StrCat("'", AbslView(uri), "': ", ec.message()));
  }
  if (fs::is_regular_file(st)) return std::vector<std::string>{path};
  if (!fs::is_directory(st)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(uri), "' is neither a regular file nor a directory"));
  }
  std::vector<std::string> files;
  fs::directory_iterator it(path, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Hidden files (in-progress parts) start with '.', so they never match.
    if (!IsPartFile(name)) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    files.push_back(it->path().string());
  }
  if (ec) return absl::InvalidArgumentError(absl::StrCat("cannot list '", AbslView(uri), "': ", ec.message()));
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat("'", AbslView(uri), "' is a directory without published part files (part-*.jsonl)"));
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::Status ReadFileOutput(std::string_view uri, const std::string& path, OutputLineVisitor visit) {
  KAPPA_ASSIGN_OR_RETURN(std::vector<std::string> files, OutputFiles(uri, path));
  LineBatch batch;
  for (const std::string& file : files) {
    KAPPA_ASSIGN_OR_RETURN(std::unique_ptr<LineReader> reader, LineReader::Open(file, 0, /*follow=*/false));
    int64_t number = 0;
    while (true) {
      KAPPA_ASSIGN_OR_RETURN(LineReader::Result result, reader->Read(4096, &batch));
      if (result != LineReader::Result::kLines) break;
      for (size_t i = 0; i < batch.size(); ++i) {
        KAPPA_RETURN_IF_ERROR(visit(OutputLine{batch.line(i), batch.padded_capacity(i), file, ++number}));
      }
    }
  }
  return absl::OkStatus();
}

// A JSON string literal of (the start of) `text`: a safe one-line excerpt for errors.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 120;
  std::string out;
  json::AppendString(text.substr(0, kMax), &out);
  if (text.size() > kMax) out.append("...");
  return out;
}

std::string Where(const OutputLine& line) { return absl::StrCat(AbslView(line.origin), ":", line.number); }

// Parses lines and writes their canonical form. Keeps the parser and scratch buffers
// between rows, so a row costs no allocation once they have grown.
class Canonicalizer {
 public:
  // Parses `text` (which has `padded_capacity` readable bytes) and sets *row to its
  // canonical form. The error is simdjson's message.
  absl::Status Parse(std::string_view text, size_t padded_capacity, std::string* row) {
    const char* data = text.data();
    if (padded_capacity < text.size() + simdjson::SIMDJSON_PADDING) {
      padded_.resize(text.size() + simdjson::SIMDJSON_PADDING);
      std::memcpy(padded_.data(), text.data(), text.size());
      data = padded_.data();
    }
    simdjson::error_code error = parser_.parse(data, text.size(), /*realloc_if_needed=*/false).get(doc_);
    if (error) return absl::InvalidArgumentError(simdjson::error_message(error));
    row->clear();
    Append(doc_, 0, row);
    return absl::OkStatus();
  }

  // The canonical key of the row last parsed: {"f1":v1,"f2":v2} in the order of `fields`.
  // The error names what is missing.
  absl::Status Key(const std::vector<std::string>& fields, std::string* key) {
    if (!doc_.is_object()) return absl::InvalidArgumentError("row is not an object");
    simdjson::dom::object object = doc_.get_object().value_unsafe();
    key->assign("{");
    for (size_t i = 0; i < fields.size(); ++i) {
      simdjson::dom::element value;
      if (object.at_key(fields[i]).get(value)) {
        return absl::InvalidArgumentError(absl::StrCat("row has no field '", fields[i], "'"));
      }
      if (i > 0) key->push_back(',');
      json::AppendString(fields[i], key);
      key->push_back(':');
      Append(value, 0, key);
    }
    key->push_back('}');
    return absl::OkStatus();
  }

 private:
  using Field = std::pair<std::string_view, simdjson::dom::element>;

  void Append(simdjson::dom::element e, size_t depth, std::string* out) {
    switch (e.type()) {
      case simdjson::dom::element_type::ARRAY: {
        out->push_back('[');
        bool first = true;
        simdjson::dom::array array = e.get_array().value_unsafe();
        for (simdjson::dom::element item : array) {
          if (!first) out->push_back(',');
          first = false;
          Append(item, depth + 1, out);
        }
        out->push_back(']');
        break;
      }
      case simdjson::dom::element_type::OBJECT: {
        // One scratch vector per nesting depth; a deque keeps references to it valid while
        // deeper levels add theirs.
        while (fields_.size() <= depth) fields_.emplace_back();
        std::vector<Field>& fields = fields_[depth];
        fields.clear();
        simdjson::dom::object object = e.get_object().value_unsafe();
        for (simdjson::dom::key_value_pair kv : object) fields.emplace_back(kv.key, kv.value);
        std::stable_sort(fields.begin(), fields.end(),
                         [](const Field& x, const Field& y) { return x.first < y.first; });
        out->push_back('{');
        for (size_t i = 0; i < fields.size(); ++i) {
          if (i > 0) out->push_back(',');
          json::AppendString(fields[i].first, out);
          out->push_back(':');
          Append(fields[i].second, depth + 1, out);
        }
        out->push_back('}');
        break;
      }
      case simdjson::dom::element_type::INT64:
        json::AppendInt(e.get_int64().value_unsafe(), out);
        break;
      case simdjson::dom::element_type::UINT64: {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, e.get_uint64().value_unsafe());
        out->append(buf, r.ptr);
        break;
      }
      case simdjson::dom::element_type::DOUBLE:
        AppendRounded(e.get_double().value_unsafe(), out);
        break;
      case simdjson::dom::element_type::STRING:
        json::AppendString(e.get_string().value_unsafe(), out);
        break;
      case simdjson::dom::element_type::BOOL:
        out->append(e.get_bool().value_unsafe() ? "true" : "false");
        break;
      case simdjson::dom::element_type::NULL_VALUE:
        out->append("null");
        break;
    }
  }

  // A number written with a fraction or exponent, rounded to 3 decimals without trailing
  // zeros: 1.0004 → 1, 2.50 → 2.5, 5.0 → 5 (the same as the integer 5), -0.0001 → 0.
  static void AppendRounded(double v, std::string* out) {
    char buf[400];  // the largest double has 309 digits before the point
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 3);
    std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
    while (s.back() == '0') s.remove_suffix(1);
    if (s.back() == '.') s.remove_suffix(1);
    if (s == "-0") s = "0";
    out->append(s);
  }

  simdjson::dom::parser parser_;
  simdjson::dom::element doc_;
  std::string padded_;
  std::deque<std::vector<Field>> fields_;
};

// Owns the canonical strings the tables point at; views stay valid for its lifetime.
class StringArena {
 public:
  std::string_view Add(std::string_view s) {
    if (s.size() > left_) {
      size_t size = std::max(kBlockSize, s.size());
      blocks_.push_back(std::make_unique<char[]>(size));
      next_ = blocks_.back().get();
      left_ = size;
    }
    std::memcpy(next_, s.data(), s.size());
    std::string_view stored(next_, s.size());
    next_ += s.size();
    left_ -= s.size();
    return stored;
  }

 private:
  static constexpr size_t kBlockSize = size_t{1} << 20;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

// The two multisets: every distinct canonical row once, with its count in A and in B (and
// its key), and with a key the row count of every key in A and in B.
class Comparison {
 public:
  struct Counts {
    int64_t a = 0;
    int64_t b = 0;
  };
  struct RowCounts {
    Counts counts;
    std::string_view key;
  };
  using RowTable = absl::flat_hash_map<std::string_view, RowCounts>;

  // Counts one row for side 0 (A) or 1 (B). `key` is empty without --key.
  void Add(int side, std::string_view row, std::string_view key) {
    auto it = rows_.lazy_emplace(row, [&](const RowTable::constructor& ctor) {
      ctor(arena_.Add(row), RowCounts{{}, key.empty() ? std::string_view() : StoredKey(key)});
    });
    ++(side == 0 ? it->second.counts.a : it->second.counts.b);
    if (!key.empty()) ++(side == 0 ? keys_[it->second.key].a : keys_[it->second.key].b);
  }

  void Finish(DiffResult* result) const {
    std::vector<const RowTable::value_type*> differing;
    for (const auto& entry : rows_) {
      const Counts& c = entry.second.counts;
      result->rows_a += c.a;
      result->rows_b += c.b;
      if (c.a == c.b) continue;
      result->only_a += std::max<int64_t>(c.a - c.b, 0);
      result->only_b += std::max<int64_t>(c.b - c.a, 0);
      differing.push_back(&entry);
    }
    if (result->key.empty()) {
      FinishRows(std::move(differing), result);
    } else {
      FinishKeys(differing, result);
    }
  }

 private:
  std::string_view StoredKey(std::string_view key) {
    auto it = keys_.lazy_emplace(key, [&](const KeyTable::constructor& ctor) { ctor(arena_.Add(key), Counts{}); });
    return it->first;
  }

  static size_t Limit(int64_t max_diffs, size_t n) { return std::min(static_cast<size_t>(max_diffs), n); }

  // Sorts the first `limit` rows of `rows` by their canonical form and adds them to
  // entry's only_a / only_b.
  static void ListRows(std::vector<const RowTable::value_type*>& rows, size_t limit, DiffEntry* entry) {
    auto by_row = [](const RowTable::value_type* x, const RowTable::value_type* y) { return x->first < y->first; };
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(limit), rows.end(), by_row);
    for (size_t i = 0; i < limit; ++i) {
      const Counts& c = rows[i]->second.counts;
      std::vector<DiffRow>& side = c.a > c.b ? entry->only_a : entry->only_b;
      side.push_back(DiffRow{std::string(rows[i]->first), std::abs(c.a - c.b)});
    }
  }

  static void FinishRows(std::vector<const RowTable::value_type*> differing, DiffResult* result) {
    result->total_diffs = static_cast<int64_t>(differing.size());
    size_t limit = Limit(result->max_diffs, differing.size());
    DiffEntry all;
    ListRows(differing, limit, &all);
    // One entry per row, in canonical order across both sides.
    size_t ia = 0, ib = 0;
    while (ia < all.only_a.size() || ib < all.only_b.size()) {
      DiffEntry entry;
      if (ib == all.only_b.size() || (ia < all.only_a.size() && all.only_a[ia].row < all.only_b[ib].row)) {
        entry.only_a.push_back(std::move(all.only_a[ia++]));
      } else {
        entry.only_b.push_back(std::move(all.only_b[ib++]));
      }
      result->diffs.push_back(std::move(entry));
    }
  }

  void FinishKeys(const std::vector<const RowTable::value_type*>& differing, DiffResult* result) const {
    for (const auto& [key, counts] : keys_) {
      if (counts.a > 0) ++result->keys_a;
      if (counts.b > 0) ++result->keys_b;
    }
    absl::flat_hash_set<std::string_view> differing_keys;
    for (const auto* row : differing) differing_keys.insert(row->second.key);
    result->keys_differ = static_cast<int64_t>(differing_keys.size());
    result->total_diffs = result->keys_differ;

    std::vector<std::string_view> keys(differing_keys.begin(), differing_keys.end());
    size_t limit = Limit(result->max_diffs, keys.size());
    std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(limit), keys.end());
    keys.resize(limit);
    absl::flat_hash_map<std::string_view, std::vector<const RowTable::value_type*>> rows_of;
    for (std::string_view key : keys) rows_of[key];
    for (const auto* row : differing) {
      auto it = rows_of.find(row->second.key);
      if (it != rows_of.end()) it->second.push_back(row);
    }
    for (std::string_view key : keys) {
      std::vector<const RowTable::value_type*>& rows = rows_of[key];
      DiffEntry entry;
      entry.key = std::string(key);
      const Counts& counts = keys_.find(key)->second;
      entry.key_rows_a = counts.a;
      entry.key_rows_b = counts.b;
      size_t shown = Limit(result->max_diffs, rows.size());
      ListRows(rows, shown, &entry);
      entry.rows_left_out = static_cast<int64_t>(rows.size() - shown);
      result->diffs.push_back(std::move(entry));
    }
  }

  using KeyTable = absl::flat_hash_map<std::string_view, Counts>;

  StringArena arena_;
  RowTable rows_;
  KeyTable keys_;
};

// Reads one side into `comparison`: canonical rows, keys, and with upsert the last row
// per key only.
absl::Status ReadSide(int side, const DiffOptions& options, Canonicalizer* canonicalizer, Comparison* comparison,
                      int64_t* lines_read) {
  const std::string& uri = side == 0 ? options.a : options.b;
  const bool keyed = !options.key.empty();
  absl::flat_hash_map<std::string, std::string> last;  // upsert: key → row
  std::string row, key;
  absl::Status status = ReadOutputLines(uri, [&](const OutputLine& line) -> absl::Status {
    // Blank lines are not rows (the file source skips them too).
    if (line.text.find_first_not_of(" \t") == std::string_view::npos) return absl::OkStatus();
    if (absl::Status s = canonicalizer->Parse(line.text, line.padded_capacity, &row); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(line), ": malformed JSON (", s.message(), "): ", Excerpt(line.text)));
    }
    ++*lines_read;
    if (!keyed) {
      comparison->Add(side, row, {});
      return absl::OkStatus();
    }
    if (absl::Status s = canonicalizer->Key(options.key, &key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(Where(line), ": ", s.message(), " (--key ",
                                                     absl::StrJoin(options.key, ","), "): ", Excerpt(row)));
    }
    if (options.upsert) {
      last[key] = row;
    } else {
      comparison->Add(side, row, key);
    }
    return absl::OkStatus();
  }, options.kafka);
  KAPPA_RETURN_IF_ERROR(status);
  // Erasing as we go frees each row's copy once the comparison holds it.
  for (auto it = last.begin(); it != last.end();) {
    comparison->Add(side, it->second, it->first);
    last.erase(it++);
  }
  return absl::OkStatus();
}

std::string Plural(int64_t n, std::string_view word) {
  return absl::StrCat(n, " ", AbslView(word), n == 1 ? "" : "s");
}

void PrintRows(std::string_view marker, const std::vector<DiffRow>& rows, std::ostream& out) {
  for (const DiffRow& r : rows) {
    out << marker << ' ' << r.row;
    if (r.count > 1) out << "  (x" << r.count << ")";
    out << '\n';
  }
}

}  // namespace

absl::Status ReadOutputLines(std::string_view uri, OutputLineVisitor visit, const kafka::KafkaSettings& settings) {
  std::string_view scheme = SchemeOf(uri);
  if (scheme.empty()) {
    if (uri.empty()) return absl::InvalidArgumentError(absl::StrCat("empty output URI; use ", kAcceptedForms));
    return ReadFileOutput(uri, std::string(uri), visit);
  }
  if (scheme == "file") {
    std::string_view path = uri.substr(scheme.size() + 1);
    if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("'", AbslView(uri), "': file: needs a path"));
    if (path.find('?') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", AbslView(uri), "': outputs are read to their end and take no ?parameters"));
    }
    return ReadFileOutput(uri, std::string(path), visit);
  }
  if (scheme == "kafka") {
    auto parsed = ParseUri(uri);
    if (!parsed.ok()) return parsed.status();
    auto endpoint = kafka::ParseEndpoint(*parsed, settings, {});
    if (!endpoint.ok()) return endpoint.status();
    auto values = kafka::ReadTopic(*endpoint);
    if (!values.ok()) return absl::Status(values.status().code(), absl::StrCat(AbslView(uri), ": ", values.status().message()));
    std::string origin = endpoint->Describe();
    int64_t number = 0;
    for (const std::string& v : *values) {
      KAPPA_RETURN_IF_ERROR(visit(OutputLine{v, v.size(), origin, ++number}));
    }
    return absl::OkStatus();
  }

  // A plain path that happens to contain a colon ("run:2/out.jsonl").
  std::error_code ec;
  if (fs::exists(std::string(uri), ec)) return ReadFileOutput(uri, std::string(uri), visit);
  if (scheme == "stdout") {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(uri), "' cannot be read back; compare outputs written to ", kAcceptedForms));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", AbslView(uri), "': unknown output URI; use ", kAcceptedForms));
}

absl::StatusOr<std::string> CanonicalJson(std::string_view json) {
  Canonicalizer canonicalizer;
  std::string row;
  KAPPA_RETURN_IF_ERROR(canonicalizer.Parse(json, json.size(), &row));
  return row;
}

absl::StatusOr<DiffResult> DiffOutputs(const DiffOptions& options) {
  if (options.upsert && options.key.empty()) return absl::InvalidArgumentError("--upsert needs --key");
  for (const std::string& field : options.key) {
    if (field.empty()) return absl::InvalidArgumentError("--key has an empty field name");
  }
  if (options.max_diffs < 0) return absl::InvalidArgumentError("--max-diffs must not be negative");

  DiffResult result;
  result.a = options.a;
  result.b = options.b;
  result.key = options.key;
  result.upsert = options.upsert;
  result.max_diffs = options.max_diffs;
  Canonicalizer canonicalizer;
  Comparison comparison;
  KAPPA_RETURN_IF_ERROR(ReadSide(0, options, &canonicalizer, &comparison, &result.lines_read_a));
  KAPPA_RETURN_IF_ERROR(ReadSide(1, options, &canonicalizer, &comparison, &result.lines_read_b));
  comparison.Finish(&result);
  return result;
}

void PrintDiffReport(const DiffResult& r, std::ostream& out) {
  const bool keyed = !r.key.empty();
  if (r.equal()) {
    out << "outputs are equal: " << Plural(r.rows_a, "row");
    if (keyed) out << ", " << Plural(r.keys_a, "key");
    if (r.upsert) out << " (last row per key; " << r.lines_read_a << " and " << r.lines_read_b << " rows read)";
    out << '\n';
    return;
  }
  auto side = [&](int64_t rows, const std::string& uri, int64_t read) {
    out << rows << " (" << uri;
    if (r.upsert) out << "; last row per key of " << read << " read";
    out << ")\n";
  };
  out << "rows in A:      ";
  side(r.rows_a, r.a, r.lines_read_a);
  out << "rows in B:      ";
  side(r.rows_b, r.b, r.lines_read_b);
  out << "rows only in A: " << r.only_a << '\n';
  out << "rows only in B: " << r.only_b << '\n';
  if (keyed) {
    out << "keys (" << absl::StrJoin(r.key, ",") << ") in A: " << r.keys_a << ", in B: " << r.keys_b
        << ", differing: " << r.keys_differ << '\n';
  }
  for (const DiffEntry& e : r.diffs) {
    if (keyed) {
      out << "key " << e.key << ": A has " << Plural(e.key_rows_a, "row") << ", B has "
          << Plural(e.key_rows_b, "row") << '\n';
    }
    PrintRows("<", e.only_a, out);
    PrintRows(">", e.only_b, out);
    if (e.rows_left_out > 0) out << "... " << Plural(e.rows_left_out, "more differing row") << " of this key\n";
  }
  int64_t left_out = r.total_diffs - static_cast<int64_t>(r.diffs.size());
  if (left_out > 0) {
    out << "... " << left_out << " more " << (keyed ? "differing keys" : "differing rows")
        << " (--max-diffs " << r.max_diffs << ")\n";
  }
}

int RunDiff(const DiffOptions& options, std::ostream& out, std::ostream& err) {
  absl::StatusOr<DiffResult> result = DiffOutputs(options);
  if (!result.ok()) {
    err << "kappa: " << result.status().message() << '\n';
    return 2;
  }
  PrintDiffReport(*result, out);
  return result->equal() ? 0 : 1;
}

}  // namespace kappa::connectors
