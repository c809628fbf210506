// Event time and processing time.
//
// Every record carries an event timestamp: int64 milliseconds since the Unix epoch.
// kMinTimestamp is "no watermark yet"; kMaxTimestamp is the final watermark a bounded
// source emits, which fires every remaining window and timer.
#ifndef KAPPA_BASE_TIME_H_
#define KAPPA_BASE_TIME_H_

#include <atomic>
#include <cstdint>
#include <limits>

namespace kappa {

using Timestamp = int64_t;

inline constexpr Timestamp kMinTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr Timestamp kMaxTimestamp = std::numeric_limits<int64_t>::max();

// Processing-time source. The runtime reads time only through a Clock so that tests
// can drive processing-time timers and idleness with a ManualClock instead of sleeps.
// Thread-safe: any worker may call NowMillis().
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp NowMillis() const = 0;

  // The process-wide wall clock.
  static Clock* System();
};

// A clock that only moves when told to. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(Timestamp start = 0) : now_(start) {}
  Timestamp NowMillis() const override { return now_.load(std::memory_order_acquire); }
  void Advance(Timestamp millis) { now_.fetch_add(millis, std::memory_order_acq_rel); }
  void Set(Timestamp millis) { now_.store(millis, std::memory_order_release); }

 private:
  std::atomic<Timestamp> now_;
};

}  // namespace kappa

#endif  // KAPPA_BASE_TIME_H_
