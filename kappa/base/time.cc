#include "kappa/base/time.h"

#include <chrono>

namespace kappa {
namespace {

class SystemClock : public Clock {
 public:
  Timestamp NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock* Clock::System() {
  static SystemClock clock;
  return &clock;
}

}  // namespace kappa
