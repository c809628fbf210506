#include "kappa/runtime/restart.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kappa {
namespace {

constexpr char kForms[] =
    "use fixed:ATTEMPTS:DELAY, exponential:INITIAL:MAX[:RESET_AFTER], failure-rate:N:PER:DELAY or none "
    "(durations like 500ms, 10s, 1m)";

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--restart '", text, "': ", why, "; ", kForms));
}

bool ParseNonNegativeDuration(absl::string_view text, absl::Duration* out) {
  return absl::ParseDuration(text, out) && *out >= absl::ZeroDuration() && *out != absl::InfiniteDuration();
}

std::string Format(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

RestartStrategy RestartStrategy::FixedDelay(int attempts, absl::Duration delay) {
  RestartStrategy s;
  s.kind = Kind::kFixedDelay;
  s.max_attempts = attempts;
  s.delay = delay;
  return s;
}

RestartStrategy RestartStrategy::ExponentialDelay(absl::Duration initial, absl::Duration max,
                                                  absl::Duration reset_after) {
  RestartStrategy s;
  s.kind = Kind::kExponentialDelay;
  s.initial = initial;
  s.max = max;
  s.reset_after = reset_after;
  return s;
}

RestartStrategy RestartStrategy::FailureRate(int max_failures, absl::Duration interval, absl::Duration delay) {
  RestartStrategy s;
  s.kind = Kind::kFailureRate;
  s.max_failures = max_failures;
  s.interval = interval;
  s.delay = delay;
  return s;
}

absl::StatusOr<RestartStrategy> RestartStrategy::Parse(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  const absl::string_view name = parts[0];
  auto duration = [&](size_t i, absl::string_view what, absl::Duration* out) -> absl::Status {
    if (!ParseNonNegativeDuration(parts[i], out)) {
      return Bad(text, absl::StrCat(what, " '", parts[i], "' is not a duration"));
    }
    return absl::OkStatus();
  };
  auto count = [&](size_t i, absl::string_view what, int* out) -> absl::Status {
    if (!absl::SimpleAtoi(parts[i], out) || *out < 1) {
      return Bad(text, absl::StrCat(what, " '", parts[i], "' is not a whole number of at least 1"));
    }
    return absl::OkStatus();
  };
  absl::Status s;
  if (name == "none") {
    if (parts.size() != 1) return Bad(text, "none takes no values");
    return None();
  }
  if (name == "fixed") {
    if (parts.size() != 3) return Bad(text, "fixed takes ATTEMPTS and DELAY");
    RestartStrategy r = FixedDelay(0, absl::ZeroDuration());
    if (s = count(1, "ATTEMPTS", &r.max_attempts); !s.ok()) return s;
    if (s = duration(2, "DELAY", &r.delay); !s.ok()) return s;
    return r;
  }
  if (name == "exponential") {
    if (parts.size() != 3 && parts.size() != 4) return Bad(text, "exponential takes INITIAL, MAX and optionally RESET_AFTER");
    RestartStrategy r = ExponentialDelay(absl::ZeroDuration(), absl::ZeroDuration());
    if (s = duration(1, "INITIAL", &r.initial); !s.ok()) return s;
    if (s = duration(2, "MAX", &r.max); !s.ok()) return s;
    if (parts.size() == 4) {
      if (s = duration(3, "RESET_AFTER", &r.reset_after); !s.ok()) return s;
    }
    if (r.initial <= absl::ZeroDuration()) return Bad(text, "INITIAL must be more than 0");
    if (r.max < r.initial) return Bad(text, "MAX must be at least INITIAL");
    if (r.reset_after <= absl::ZeroDuration()) return Bad(text, "RESET_AFTER must be more than 0");
    return r;
  }
  if (name == "failure-rate") {
    if (parts.size() != 4) return Bad(text, "failure-rate takes N, PER and DELAY");
    RestartStrategy r = FailureRate(0, absl::ZeroDuration(), absl::ZeroDuration());
    if (s = count(1, "N", &r.max_failures); !s.ok()) return s;
    if (s = duration(2, "PER", &r.interval); !s.ok()) return s;
    if (s = duration(3, "DELAY", &r.delay); !s.ok()) return s;
    if (r.interval <= absl::ZeroDuration()) return Bad(text, "PER must be more than 0");
    return r;
  }
  return Bad(text, absl::StrCat("unknown strategy '", name, "'"));
}

std::string RestartStrategy::ToString() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kFixedDelay:
      return absl::StrCat("fixed:", max_attempts, ":", Format(delay));
    case Kind::kExponentialDelay:
      return absl::StrCat("exponential:", Format(initial), ":", Format(max), ":", Format(reset_after));
    case Kind::kFailureRate:
      return absl::StrCat("failure-rate:", max_failures, ":", Format(interval), ":", Format(delay));
  }
  return "none";
}

std::optional<absl::Duration> RestartTracker::OnFailure(absl::Time started, absl::Time now) {
  std::optional<absl::Duration> wait;
  switch (strategy_.kind) {
    case RestartStrategy::Kind::kNone:
      gave_up_ = "the restart strategy is none";
      break;
    case RestartStrategy::Kind::kFixedDelay:
      if (restarts_ < strategy_.max_attempts) {
        wait = strategy_.delay;
      } else {
        gave_up_ = absl::StrCat(strategy_.ToString(), " allows ", strategy_.max_attempts, " restarts and all were used");
      }
      break;
    case RestartStrategy::Kind::kExponentialDelay:
      // A run that went long enough without failing has recovered: start over at INITIAL.
      if (next_backoff_ == absl::ZeroDuration() || now - started >= strategy_.reset_after) {
        next_backoff_ = strategy_.initial;
      }
      wait = next_backoff_;
      next_backoff_ = std::min(next_backoff_ * 2, strategy_.max);
      break;
    case RestartStrategy::Kind::kFailureRate:
      failures_.push_back(now);
      while (!failures_.empty() && failures_.front() <= now - strategy_.interval) failures_.pop_front();
      if (static_cast<int>(failures_.size()) <= strategy_.max_failures) {
        wait = strategy_.delay;
      } else {
        gave_up_ = absl::StrCat(failures_.size(), " failures within ", Format(strategy_.interval), ", more than ",
                                strategy_.ToString(), " allows");
      }
      break;
  }
  if (wait) ++restarts_;
  return wait;
}

}  // namespace kappa
