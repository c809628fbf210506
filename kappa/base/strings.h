// Debian's Abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW
// is 0), which does not convert to or from std::string_view. These bridge the two.
#ifndef KAPPA_BASE_STRINGS_H_
#define KAPPA_BASE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace kappa {

inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view StdView(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace kappa

#endif  // KAPPA_BASE_STRINGS_H_
