// Fuzzes the Nexmark JSON-lines decoder (connectors/nexmark/json.h): any line is decoded
// or refused with an error; an event that decodes encodes to JSON that decodes to the
// same event (compared through its encoding).
//
// The first byte's low bit selects in-place parsing (the line in a buffer with padding)
// or the decoder's own copy.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kappa/connectors/nexmark/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool in_place = (data[0] & 1) != 0;
  std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string padded(line);
  padded.resize(line.size() + kappa::nexmark::kJsonPadding, ' ');

  static kappa::nexmark::EventDecoder decoder;
  absl::StatusOr<kappa::nexmark::Event> event =
      decoder.Decode(std::string_view(padded.data(), line.size()), in_place ? padded.size() : 0);
  if (!event.ok()) {
    if (event.status().message().empty()) std::abort();  // errors always say what is wrong
    return 0;
  }
  const std::string encoded = kappa::nexmark::ToJson(*event);
  absl::StatusOr<kappa::nexmark::Event> again = decoder.Decode(encoded);
  if (!again.ok() || kappa::nexmark::ToJson(*again) != encoded) {
    std::fprintf(stderr, "round trip failed: %s\nencoded: %s\n", again.status().ToString().c_str(), encoded.c_str());
    std::abort();
  }
  return 0;
}
