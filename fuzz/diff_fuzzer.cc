// Fuzzes `kappa diff` (app/diff.h): two JSON-lines outputs are written to files and
// compared as multisets of canonical rows, the way `kappa diff A B` reads them.
//
// Input: a selector byte, a max-diffs byte, then output A, a NUL byte and output B (no
// NUL: B is A again). Selector bits 0-1: no key, --key id, --key id --upsert, --key id,k;
// bit 2: B is a directory of part files (file:DIR/) rather than one file.
//
// Checked: comparing A with itself finds them equal; comparing B with A fails exactly when
// A with B fails and reports the mirror image (only_a and only_b swapped); the report and
// RunDiff's exit code agree with the result; errors are one line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "kappa/app/diff.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t selector = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t nul = rest.find('\0');
  std::string_view a = rest.substr(0, nul);
  std::string_view b = nul == std::string_view::npos ? a : rest.substr(nul + 1);

  const std::string& dir = kappa::fuzz::ScratchDir();
  kappa::fuzz::WriteFile(dir + "/a.jsonl", a);
  std::string b_uri;
  if (selector & 4) {
    kappa::fuzz::ResetDir(dir + "/b");
    kappa::fuzz::WriteFile(dir + "/b/part-00000.jsonl", b);
    kappa::fuzz::WriteFile(dir + "/b/.part-00001.jsonl.inprogress", a);  // hidden: skipped
    b_uri = "file:" + dir + "/b/";
  } else {
    kappa::fuzz::WriteFile(dir + "/b.jsonl", b);
    b_uri = dir + "/b.jsonl";
  }

  kappa::connectors::DiffOptions options;
  options.a = "file:" + dir + "/a.jsonl";
  options.b = b_uri;
  switch (selector & 3) {
    case 0:
      break;
    case 1:
      options.key = {"id"};
      break;
    case 2:
      options.key = {"id"};
      options.upsert = true;
      break;
    case 3:
      options.key = {"id", "k"};
      break;
  }
  options.max_diffs = data[1] % 16;

  absl::StatusOr<kappa::connectors::DiffResult> ab = kappa::connectors::DiffOutputs(options);
  std::swap(options.a, options.b);
  absl::StatusOr<kappa::connectors::DiffResult> ba = kappa::connectors::DiffOutputs(options);
  Check(ab.ok() == ba.ok(), "A vs B and B vs A fail alike");
  std::ostringstream out, err;
  int code = kappa::connectors::RunDiff(options, out, err);
  if (!ab.ok()) {
    Check(ab.status().message().find('\n') == std::string_view::npos, "an error is one line");
    Check(code == 2, "RunDiff exits 2 on an input DiffOutputs refuses");
    return 0;
  }
  Check(ab->only_a == ba->only_b && ab->only_b == ba->only_a, "B vs A mirrors A vs B");
  Check(ab->rows_a == ba->rows_b && ab->rows_b == ba->rows_a, "row counts mirror");
  Check(ab->equal() == ba->equal(), "equality is symmetric");
  Check(code == (ba->equal() ? 0 : 1), "RunDiff's exit code follows the result");
  Check(static_cast<int64_t>(ab->diffs.size()) <= options.max_diffs, "at most max_diffs differences kept");
  std::ostringstream report;
  kappa::connectors::PrintDiffReport(*ab, report);
  Check(!report.str().empty(), "a report is printed");

  options.b = options.a;
  absl::StatusOr<kappa::connectors::DiffResult> same = kappa::connectors::DiffOutputs(options);
  Check(same.ok() && same->equal(), "an output equals itself");
  return 0;
}
