// Fuzzes the connector URI parser (connectors/uri.h): ParseUri on the whole input, then
// BoolParam and ParsePosition on what it found, as the connectors read them
// (`follow=`, `start=`, `end=`), and ParsePosition on the whole input as `--from` reads it.
// A parsed URI must keep its text and split it consistently.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kappa/connectors/uri.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kappa::connectors::ParsePosition(text, "--from");
  absl::StatusOr<kappa::connectors::Uri> uri = kappa::connectors::ParseUri(text);
  if (!uri.ok()) return 0;
  if (uri->text != text || uri->scheme.empty() || text.substr(0, uri->scheme.size()) != uri->scheme ||
      text.find(uri->path) == std::string_view::npos) {
    std::abort();
  }
  for (const char* key : {"follow", "tail", "exactly_once"}) (void)kappa::connectors::BoolParam(*uri, key, false);
  for (const auto& [key, value] : uri->params) {
    absl::StatusOr<kappa::connectors::Position> pos = kappa::connectors::ParsePosition(value, key);
    if (pos.ok() && pos->kind == kappa::connectors::Position::Kind::kOffsets && pos->offsets.empty()) std::abort();
  }
  return 0;
}
