// Retries of user functions and the dead letters they end in.
//
// A user function (Map, FlatMap, a process function, an async call) may carry a
// RetryPolicy. A call that throws a retriable failure is tried again after a backoff
// that grows exponentially (initial · multiplier^(attempt-1), capped at max_backoff, with
// ±jitter); the record waits in a queue ordered by due time and never blocks the records
// behind it. Fresh input goes before due retries up to a bound, after which the waiting
// retries backpressure the input, so memory stays bounded. Waiting retries and their
// attempt counts are operator state: part of every checkpoint, back after a restore.
//
// After the last attempt, or at once for a failure that is not retriable
// (PermanentError, or what the policy's `retriable` says no to), the record becomes a
// DeadLetter on the job's dead-letter output (`--dead-letter URI`), which is a sink like
// any other: exactly once with checkpoints.
#ifndef KAPPA_RUNTIME_RETRY_H_
#define KAPPA_RUNTIME_RETRY_H_

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kappa/base/time.h"

namespace kappa {

// Thrown by a user function for a failure no retry can fix (a poison record): the record
// becomes a dead letter at once.
class PermanentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RetryPolicy {
  int max_attempts = 1;  // 1: no retry
  absl::Duration initial_backoff = absl::Milliseconds(100);
  double multiplier = 2.0;
  absl::Duration max_backoff = absl::Seconds(30);
  double jitter = 0.2;  // each backoff is scaled by a factor in [1 - jitter, 1 + jitter]
  // An attempt that takes longer fails with a timeout (retriable). Zero: no limit. Async
  // calls enforce it; a synchronous function cannot be interrupted, so for Map and
  // FlatMap an attempt that returned late counts as failed.
  absl::Duration attempt_timeout = absl::ZeroDuration();
  // Which failures are worth another attempt. Null: everything but PermanentError.
  std::function<bool(const std::exception&)> retriable;
  // How many records may wait for a retry in one operator instance before they
  // backpressure its input (fresh records go first until then).
  int max_waiting = 10'000;

  // Whether `failure` (the attempt's exception) is worth another attempt.
  bool IsRetriable(const std::exception& failure) const {
    if (dynamic_cast<const PermanentError*>(&failure) != nullptr) return false;
    return !retriable || retriable(failure);
  }
  // The wait before attempt `attempt` + 1 after attempt `attempt` (1-based) failed:
  // initial · multiplier^(attempt-1), capped at max_backoff, scaled by a factor in
  // [1 - jitter, 1 + jitter] taken from `random` (any 64-bit value, e.g. a hash of the
  // record and the attempt, so that a replay waits the same).
  absl::Duration Backoff(int attempt, uint64_t random) const {
    double ms = absl::ToDoubleMilliseconds(initial_backoff);
    for (int i = 1; i < attempt && ms < absl::ToDoubleMilliseconds(max_backoff); ++i) ms *= multiplier;
    ms = std::min(ms, absl::ToDoubleMilliseconds(max_backoff));
    const double unit = static_cast<double>(random >> 11) / static_cast<double>(uint64_t{1} << 53);  // [0, 1)
    ms *= 1.0 - jitter + 2.0 * jitter * unit;
    return absl::Milliseconds(std::max(0.0, ms));
  }

  static RetryPolicy None() { return RetryPolicy{}; }
  static RetryPolicy Exponential(int max_attempts, absl::Duration initial, absl::Duration max) {
    RetryPolicy p;
    p.max_attempts = max_attempts;
    p.initial_backoff = initial;
    p.max_backoff = max;
    return p;
  }
};

// A record given up on: one JSON object on the dead-letter output, e.g.
//   {"record":{...},"errors":["503 Service Unavailable","timeout after 2000 ms"],"attempts":2,
//    "first_failure":1764930000000,"last_failure":1764930000400,"operator":"enrich",
//    "partition":3,"offset":1234,"ts":1700000001000,"kind":"user"}
struct DeadLetter {
  std::string record;  // the record as JSON (the operator's input), or the raw input if not decodable
  bool record_is_json = true;  // false: `record` is raw text (a decode failure) and is written as a string
  std::vector<std::string> errors;  // one per attempt, oldest first
  int attempts = 0;
  int64_t first_failure_ms = 0;  // epoch ms
  int64_t last_failure_ms = 0;
  std::string operator_name;     // the operator's uid
  int partition = -1;            // the source partition and offset the record came from, when known
  int64_t offset = -1;
  Timestamp ts = 0;              // the record's event time
  std::string kind = "user";     // user | decode | timeout
};

}  // namespace kappa

#endif  // KAPPA_RUNTIME_RETRY_H_
