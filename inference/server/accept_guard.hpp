#pragma once
// accept() failures on the agent and control sockets: counted, logged at most once per 10 s, and after
// a resource error (EMFILE, ENFILE, ...) a pause of 10 ms doubling to 1 s. The listener stays readable
// while the process is out of descriptors, so retrying at once would spin a core (issue 15: 746,386 log
// lines in 5 s).
#include "asio_types.hpp"

#include "common/metrics.hpp"
#include "common/throttle.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace flowguard::inference {

class AcceptGuard {
 public:
  AcceptGuard(asio::io_context& ioc, std::string what) : pause_(ioc), what_(std::move(what)) {}
  // After a failed accept: counts, maybe logs, waits when the failure is a resource one.
  awaitable<void> failed(const error_code& failure, metrics::Counter* errors) {
    if (errors) errors->inc();
    std::uint64_t suppressed = 0;
    if (log_.allow(suppressed))
      spdlog::warn("accept on {} failed: {} ({} similar suppressed)", what_, failure.message(), suppressed);
    if (!accept_error_is_resource(failure.value())) co_return;
    pause_.expires_after(backoff_.failed());
    error_code ec;
    co_await pause_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  void succeeded() { backoff_.succeeded(); }

 private:
  asio::steady_timer pause_;
  std::string what_;
  RetryBackoff backoff_;
  LogThrottle log_;
};

}  // namespace flowguard::inference
