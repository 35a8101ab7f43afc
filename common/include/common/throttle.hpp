#pragma once
// Recurring failures a peer can provoke (accept() at the fd limit, refused connections, timeouts) must
// neither spin a core nor flood the log: LogThrottle lets one line through per interval and counts what
// it swallowed; RetryBackoff is the capped exponential wait before retrying. Single-threaded (each
// accept loop owns its own).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace flowguard {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(std::chrono::milliseconds interval = std::chrono::seconds(10)) : interval_(interval) {}
  // True when a line may be written now; then `suppressed` is the number of calls swallowed since the
  // previous line (the caller says "(N similar suppressed)").
  bool allow(std::uint64_t& suppressed, Clock::time_point now = Clock::now()) {
    if (started_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    started_ = true;
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::chrono::milliseconds interval_;
  Clock::time_point last_{};
  bool started_ = false;
  std::uint64_t suppressed_ = 0;
};

class RetryBackoff {
 public:
  RetryBackoff(std::chrono::milliseconds min = std::chrono::milliseconds(10),
               std::chrono::milliseconds max = std::chrono::milliseconds(1000))
      : min_(min), max_(max), next_(min) {}
  // After a failure: how long to wait before the next attempt (doubles up to max).
  std::chrono::milliseconds failed() {
    const auto d = next_;
    next_ = std::min(next_ * 2, max_);
    return d;
  }
  void succeeded() { next_ = min_; }

 private:
  std::chrono::milliseconds min_, max_, next_;
};

// accept() errors that mean "out of a resource, the same call fails again at once" (back off), as
// opposed to a failure of one connection (ECONNABORTED, EPROTO: just go on).
inline bool accept_error_is_resource(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

}  // namespace flowguard
