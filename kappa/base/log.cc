#include "kappa/base/log.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace kappa {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

// Not registered with spdlog's global registry: a program embedding Kappa keeps its own
// default logger.
spdlog::logger& Logger() {
  static spdlog::logger* logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* l = new spdlog::logger("kappa", std::move(sink));
    l->set_pattern("kappa: %v");
    l->set_level(spdlog::level::trace);  // filtered by g_level before formatting
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(std::string(text));
  if (t == "trace") return LogLevel::kTrace;
  if (t == "debug") return LogLevel::kDebug;
  if (t == "info") return LogLevel::kInfo;
  if (t == "warn" || t == "warning") return LogLevel::kWarning;
  if (t == "error") return LogLevel::kError;
  if (t == "off") return LogLevel::kOff;
  return absl::InvalidArgumentError(
      absl::StrCat("--log-level '", std::string(text), "': use trace, debug, info, warn, error or off"));
}

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  spdlog::string_view_t m(message.data(), message.size());
  switch (level) {
    case LogLevel::kTrace:
      Logger().log(spdlog::level::trace, "trace: {}", m);
      break;
    case LogLevel::kDebug:
      Logger().log(spdlog::level::debug, "debug: {}", m);
      break;
    case LogLevel::kInfo:
      Logger().log(spdlog::level::info, m);
      break;
    case LogLevel::kWarning:
      Logger().log(spdlog::level::warn, "warning: {}", m);
      break;
    case LogLevel::kError:
      Logger().log(spdlog::level::err, "error: {}", m);
      break;
    case LogLevel::kOff:
      break;
  }
}

}  // namespace kappa
