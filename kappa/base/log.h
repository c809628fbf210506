// The process's logger: what Kappa says about itself while it runs (restores, skipped
// checkpoints, warnings, retries, the Kafka client's own messages), as opposed to a
// command's results and usage errors, which it prints directly.
//
// One line per message on stderr: "kappa: " and, for anything but info, the level
// ("kappa: warning: ...", "kappa: debug: ..."). Messages below the process's level are
// dropped before they are formatted; `kappa --log-level` sets it (default info). spdlog
// underneath; any thread may log, and lines from different threads never interleave.
//
//   if (LogEnabled(LogLevel::kDebug)) LogDebug(absl::StrCat("opened ", n, " partitions"));
//   LogWarning(absl::StrCat("skipping ", why));
#ifndef KAPPA_BASE_LOG_H_
#define KAPPA_BASE_LOG_H_

#include <string_view>

#include "absl/status/statusor.h"

namespace kappa {

enum class LogLevel { kTrace, kDebug, kInfo, kWarning, kError, kOff };

// "trace", "debug", "info", "warn" (or "warning"), "error", "off"; anything else is an
// InvalidArgument error naming the levels.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text);

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel level) { return level != LogLevel::kOff && level >= GetLogLevel(); }

void Log(LogLevel level, std::string_view message);
inline void LogTrace(std::string_view message) { Log(LogLevel::kTrace, message); }
inline void LogDebug(std::string_view message) { Log(LogLevel::kDebug, message); }
inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(std::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(std::string_view message) { Log(LogLevel::kError, message); }

}  // namespace kappa

#endif  // KAPPA_BASE_LOG_H_
