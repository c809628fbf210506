// Where a keyed operator's state backend failure (a StateError thrown from deep inside
// state access) turns back into an absl::Status, at the operator's Status-returning
// boundaries: Open, SnapshotState, a timer service's Init. Records and timers need no
// helper: a StateError thrown there propagates and fails the task (StreamTask::Step).
//
//   absl::Status SnapshotState(int64_t, checkpoint::TaskSnapshot*) override {
//     return CatchStateError([&] { timers_.Flush(); });
//   }
//
// Called on the operator's task thread, like everything an operator does.
#ifndef KAPPA_OPERATORS_STATE_ERRORS_H_
#define KAPPA_OPERATORS_STATE_ERRORS_H_

#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "kappa/state/keyed_state.h"

namespace kappa::operators {

// Runs fn(): OK, or the status of the StateError it threw. Other exceptions propagate.
template <typename Fn>
absl::Status CatchStateError(Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
  } catch (const StateError& e) {
    return e.status();
  }
  return absl::OkStatus();
}

// Runs a user function's Open(): an exception from it cannot be skipped like a record's,
// so it becomes a StateError (FailedPrecondition "Open() threw: ...") that fails the
// start. A StateError passes through unchanged.
template <typename Fn>
void RunUserOpen(Fn&& open) {
  try {
    std::forward<Fn>(open)();
  } catch (const StateError&) {
    throw;
  } catch (const std::exception& e) {
    throw StateError(absl::FailedPreconditionError(std::string("Open() threw: ") + e.what()));
  }
}

}  // namespace kappa::operators

#endif  // KAPPA_OPERATORS_STATE_ERRORS_H_
