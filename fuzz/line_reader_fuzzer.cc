// Fuzzes the file log's line reader (base/line_reader.h), the framing of every `file:`
// source: the input after a 4-byte header is written to a partition file and read back
// with the chunk size, line limit and batch size the header picks (small chunks make
// lines straddle buffers and buffers grow).
//
// Checked: the lines returned, with their offsets, are exactly the file's lines (the
// '\n' and a '\r' before it stripped; an unterminated last line included, a '\r' at its
// end stripped too); each line
// starts where the one before ended; a line over the limit is an error that names the
// file; reopening at any returned end offset reads the same remaining lines; the padding
// after every line is readable (ASan checks it).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "kappa/base/line_reader.h"

namespace {

struct Line {
  std::string text;
  int64_t offset, end_offset;
};

// Reads the whole file from `offset`; false when the reader failed.
bool ReadAll(const std::string& path, int64_t offset, const kappa::LineReader::Options& options, size_t max_lines,
             std::vector<Line>* out, absl::Status* error) {
  auto reader = kappa::LineReader::Open(path, offset, /*follow=*/false, options);
  if (!reader.ok()) {
    *error = reader.status();
    return false;
  }
  kappa::LineBatch batch;
  while (true) {
    absl::StatusOr<kappa::LineReader::Result> r = (*reader)->Read(max_lines, &batch);
    if (!r.ok()) {
      *error = r.status();
      return false;
    }
    if (*r == kappa::LineReader::Result::kEnd) return true;
    if (*r != kappa::LineReader::Result::kLines || batch.empty() || batch.size() > max_lines) std::abort();
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string_view line = batch.line(i);
      if (batch.padded_capacity(i) < line.size() + kappa::LineBatch::kLinePadding) std::abort();
      // Touch the last byte of the padding: ASan reports it when it is not readable.
      (void)static_cast<volatile const char*>(line.data())[batch.padded_capacity(i) - 1];
      out->push_back({std::string(line), batch.offset(i), batch.end_offset(i)});
    }
    if ((*reader)->offset() != out->back().end_offset) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  kappa::LineReader::Options options;
  options.chunk_size = 1 + data[0] % 64;
  options.max_line_bytes = 1 + data[1];
  const size_t max_lines = 1 + data[2] % 8;
  const uint8_t reopen_at = data[3];
  std::string_view content(reinterpret_cast<const char*>(data + 4), size - 4);
  const std::string path = kappa::fuzz::ScratchDir() + "/part-0.jsonl";
  kappa::fuzz::WriteFile(path, content);

  // What the file holds: its lines, each with its offset and end offset.
  std::vector<Line> expected;
  bool too_long = false;
  for (size_t at = 0; at < content.size();) {
    size_t nl = content.find('\n', at);
    size_t end = nl == std::string_view::npos ? content.size() : nl;
    std::string_view text = content.substr(at, end - at);
    // The limit applies to the line without its '\n' (a '\r' before it counts).
    if (text.size() > options.max_line_bytes) too_long = true;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (too_long) break;
    size_t next = nl == std::string_view::npos ? content.size() : nl + 1;
    expected.push_back({std::string(text), static_cast<int64_t>(at), static_cast<int64_t>(next)});
    at = next;
  }

  std::vector<Line> got;
  absl::Status error;
  bool ok = ReadAll(path, 0, options, max_lines, &got, &error);
  if (!ok) {
    // The only error a readable file can give is a line over the limit, named with the file.
    if (!too_long || error.message().find(path) == std::string_view::npos) {
      std::fprintf(stderr, "unexpected error: %s\n", error.ToString().c_str());
      std::abort();
    }
  } else if (too_long) {
    std::fprintf(stderr, "a line over %zu bytes was read\n", options.max_line_bytes);
    std::abort();
  }
  // Every line returned, up to an error, is the file's line at that offset.
  if (got.size() > expected.size() || (ok && got.size() != expected.size())) std::abort();
  for (size_t i = 0; i < got.size(); ++i) {
    const Line& g = got[i];
    const Line& e = expected[i];
    if (g.text != e.text || g.offset != e.offset || g.end_offset != e.end_offset) {
      std::fprintf(stderr, "line %zu: got '%s' [%lld, %lld), expected '%s' [%lld, %lld)\n", i, g.text.c_str(),
                   static_cast<long long>(g.offset), static_cast<long long>(g.end_offset), e.text.c_str(),
                   static_cast<long long>(e.offset), static_cast<long long>(e.end_offset));
      std::abort();
    }
  }
  if (!ok || got.empty()) return 0;

  // Resuming at a returned end offset reads the rest, as a restored source does.
  const size_t from = reopen_at % got.size();
  std::vector<Line> rest;
  if (!ReadAll(path, got[from].end_offset, options, max_lines, &rest, &error)) {
    std::fprintf(stderr, "reopening at %lld: %s\n", static_cast<long long>(got[from].end_offset),
                 error.ToString().c_str());
    std::abort();
  }
  if (rest.size() != got.size() - from - 1) std::abort();
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i].text != got[from + 1 + i].text || rest[i].offset != got[from + 1 + i].offset) std::abort();
  }
  return 0;
}
