// Restart strategies: what a run does when a task fails (a state backend error, a sink or
// broker error the client gave up on, a user error that fails the task). Flink's three
// strategies and `none`:
//
//   fixed:ATTEMPTS:DELAY              at most ATTEMPTS restarts over the whole run, DELAY
//                                     before each
//   exponential:INITIAL:MAX[:RESET]   never gives up; waits INITIAL, then twice as long
//                                     after each failure up to MAX; a run that went
//                                     RESET (default 1h) without a failure starts over at
//                                     INITIAL
//   failure-rate:N:PER:DELAY          restarts after DELAY as long as the failures within
//                                     the last PER (this one included) are at most N
//   none                              the first failure ends the run
//
// Durations are absl::ParseDuration's: 500ms, 10s, 1m, 2h (a bare 0 is zero).
//
// A restart is in-process: the job is planned, restored and wired again from the latest
// complete checkpoint (without checkpoints: from the beginning of its sources), exactly as
// a new process would after a crash. A fatal error (checkpoint.h IsFatal: fenced, the
// checkpoint directory taken over) never restarts.
//
//   ExecutionOptions options;
//   options.checkpoint_dir = "/var/lib/kappa/clicks";
//   options.restart = RestartStrategy::FailureRate(3, absl::Minutes(10), absl::Seconds(5));
//   absl::StatusOr<ExecutionResult> result = job->Execute(options);  // result->restarts
#ifndef KAPPA_RUNTIME_RESTART_H_
#define KAPPA_RUNTIME_RESTART_H_

#include <deque>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kappa {

struct RestartStrategy {
  enum class Kind { kNone, kFixedDelay, kExponentialDelay, kFailureRate };
  Kind kind = Kind::kNone;
  int max_attempts = 0;                               // fixed: restarts over the whole run
  absl::Duration delay = absl::ZeroDuration();        // fixed, failure-rate
  absl::Duration initial = absl::ZeroDuration();      // exponential
  absl::Duration max = absl::ZeroDuration();          // exponential
  absl::Duration reset_after = absl::Hours(1);        // exponential
  int max_failures = 0;                               // failure-rate: per `interval`
  absl::Duration interval = absl::ZeroDuration();     // failure-rate

  static RestartStrategy None() { return RestartStrategy{}; }
  static RestartStrategy FixedDelay(int attempts, absl::Duration delay);
  static RestartStrategy ExponentialDelay(absl::Duration initial, absl::Duration max,
                                          absl::Duration reset_after = absl::Hours(1));
  static RestartStrategy FailureRate(int max_failures, absl::Duration interval, absl::Duration delay);

  // The default of `kappa run` and `kappa replay` with checkpoints: a few failures now and
  // then are survived for ever, a failure that comes back at every restart (a bug, a
  // misconfiguration) ends the run within a minute or so instead of looping.
  static RestartStrategy DefaultWithCheckpoints() {
    return FailureRate(3, absl::Minutes(10), absl::Seconds(5));
  }

  // Parses the forms above; InvalidArgument with one line naming what is wrong.
  static absl::StatusOr<RestartStrategy> Parse(absl::string_view text);
  // The form Parse reads, e.g. "fixed:3:1s".
  std::string ToString() const;
  bool restarts() const { return kind != Kind::kNone; }
};

// A strategy applied to one run: called once per failure, on the thread that runs the
// job. Pure arithmetic over the times it is given (no clock of its own), so that tests
// can drive it.
class RestartTracker {
 public:
  explicit RestartTracker(RestartStrategy strategy) : strategy_(strategy) {}

  // The run failed at `now`; its last (re)start was at `started`. Returns how long to wait
  // before restarting, or nullopt: the strategy gives up.
  std::optional<absl::Duration> OnFailure(absl::Time started, absl::Time now);

  int restarts() const { return restarts_; }
  const RestartStrategy& strategy() const { return strategy_; }
  // Why OnFailure last gave up, e.g. "fixed:3:1s allows 3 restarts and all were used".
  const std::string& gave_up() const { return gave_up_; }

 private:
  RestartStrategy strategy_;
  int restarts_ = 0;
  absl::Duration next_backoff_ = absl::ZeroDuration();  // exponential; zero: initial
  std::deque<absl::Time> failures_;                     // failure-rate: within `interval`
  std::string gave_up_;
};

}  // namespace kappa

#endif  // KAPPA_RUNTIME_RESTART_H_
