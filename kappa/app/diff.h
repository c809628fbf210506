// Comparing two job outputs as multisets of JSON rows: what `kappa diff A B` runs.
//
// Rows compare as JSON values, not as text. Each row is reduced to a canonical form:
// object keys sorted, no whitespace, strings re-escaped the one way json::AppendString
// writes them, integers exact and every other number rounded to 3 decimals (the Nexmark
// contract: "prices and averages that are fractions compare to 3 decimals"), so 5.0 and 5
// are the same row. The outputs are equal when every canonical row occurs equally often in
// both.
//
//   kappa::connectors::DiffOptions options;
//   options.a = "file:expected.jsonl";
//   options.b = "file:out/";
//   options.key = {"auction"};
//   KAPPA_ASSIGN_OR_RETURN(kappa::connectors::DiffResult result, DiffOutputs(options));
//   PrintDiffReport(result, std::cout);  // "outputs are equal: N rows", or counts and < / > rows
//   if (!result.equal()) ...
//
// Inputs are read through ReadOutputLines, which dispatches on the URI's scheme; a new kind
// of output (a Kafka topic) is one more branch there.
#ifndef KAPPA_APP_DIFF_H_
#define KAPPA_APP_DIFF_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kappa/connectors/kafka/kafka_client.h"

namespace kappa::connectors {

// One line of an output, as ReadOutputLines hands it over.
struct OutputLine {
  std::string_view text;   // without its '\n' (and a '\r' before it)
  // Readable bytes starting at text.data(), at least text.size(). Parsers that need padding
  // past the end (simdjson needs SIMDJSON_PADDING) copy the line when this is too small.
  size_t padded_capacity = 0;
  std::string_view origin;  // where the line is, for errors: a file path
  int64_t number = 0;       // 1-based line number within origin
};

using OutputLineVisitor = absl::FunctionRef<absl::Status(const OutputLine&)>;

// Calls `visit` with every line of the output at `uri`, in order, and stops at the first
// error it returns. Accepted forms:
//   file:PATH, PATH  a JSON-lines file;
//   file:DIR/, DIR   the published part files DIR/part-*.jsonl in name order (hidden
//                    files, such as in-progress parts, and other files are skipped);
//   kafka://BOOTSTRAP/TOPIC, kafka:TOPIC (bootstrap from `kafka`)
//                    every message of the topic up to its end when reading starts, in
//                    partition and offset order.
// Errors (InvalidArgument, NotFound, ...) are one line naming the URI; `stdout:` and
// unknown schemes are refused with the accepted forms.
absl::Status ReadOutputLines(std::string_view uri, OutputLineVisitor visit,
                             const kafka::KafkaSettings& kafka = {});

struct DiffOptions {
  std::string a;  // output URIs, see ReadOutputLines
  std::string b;
  // Top-level fields that identify a row. Empty: rows compare as a whole. Otherwise rows
  // are grouped by key and the report lists differing keys; a row without one of the
  // fields (or that is not an object) is an error.
  std::vector<std::string> key;
  // Keep only the last row per key of each input (file order; part files in name order):
  // the reading of an upsert output. Requires `key`.
  bool upsert = false;
  // Differences kept in DiffResult::diffs (and so printed); with `key`, also the row lines
  // shown per key.
  int64_t max_diffs = 10;
  kafka::KafkaSettings kafka;  // for kafka: outputs (--kafka, --kafka-config)
};

// A canonical row that one side has more often than the other.
struct DiffRow {
  std::string row;    // canonical form
  int64_t count = 1;  // how many more times this side has it
};

// One difference: without a key, a single row (in only_a or only_b); with a key, the key
// and its rows that differ.
struct DiffEntry {
  std::string key;          // canonical key, {"field":value,...} in --key order; empty without
  int64_t key_rows_a = 0;   // with a key: rows with this key in A and in B
  int64_t key_rows_b = 0;
  std::vector<DiffRow> only_a;
  std::vector<DiffRow> only_b;
  int64_t rows_left_out = 0;  // with a key: differing rows not listed (over max_diffs)
};

struct DiffResult {
  std::string a, b;  // the URIs compared
  std::vector<std::string> key;
  bool upsert = false;
  int64_t max_diffs = 10;

  int64_t lines_read_a = 0;  // rows read (before keeping the last per key)
  int64_t lines_read_b = 0;
  int64_t rows_a = 0;  // rows compared (with upsert: one per key)
  int64_t rows_b = 0;
  int64_t only_a = 0;  // rows in A not matched in B, counted with multiplicity
  int64_t only_b = 0;
  int64_t keys_a = 0;  // with a key: distinct keys in A, in B, and keys whose rows differ
  int64_t keys_b = 0;
  int64_t keys_differ = 0;
  int64_t total_diffs = 0;  // differing rows (distinct) without a key, differing keys with one

  // The first max_diffs differences in the order of their canonical row (or key), so the
  // report does not depend on the order of rows in the inputs.
  std::vector<DiffEntry> diffs;

  bool equal() const { return only_a == 0 && only_b == 0; }
};

// Reads both outputs and compares them. Errors (unreadable input, a malformed line naming
// file:line, a row without a key field, bad options) are InvalidArgument, NotFound, ...
absl::StatusOr<DiffResult> DiffOutputs(const DiffOptions& options);

// The report: when equal, one line saying so with the row count; otherwise the counts,
// then the differences, `< ROW` for rows only in A and `> ROW` for rows only in B (with
// "  (xN)" when a row is N times more often on that side), under a `key K: ...` line each
// when keyed.
void PrintDiffReport(const DiffResult& result, std::ostream& out);

// The `kappa diff` command: compares, prints the report to `out` or one line starting
// with "kappa: " to `err`, and returns the exit code: 0 equal, 1 different, 2 bad usage or
// unreadable or malformed input.
int RunDiff(const DiffOptions& options, std::ostream& out, std::ostream& err);

// The canonical form of one JSON value (exposed for tests and other comparers).
absl::StatusOr<std::string> CanonicalJson(std::string_view json);

}  // namespace kappa::connectors

#endif  // KAPPA_APP_DIFF_H_
