#pragma once
// The Asio vocabulary of flowguard-infer's I/O side (sessions, control service, lifecycle).
// Boost 1.74 Asio with C++20 on GCC 12 needs <utility> first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace flowguard::inference {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using local = asio::local::stream_protocol;
using boost::system::error_code;

// Wakes a coroutine parked on `t` (timers used as condition variables on the io thread).
inline void wake(asio::steady_timer& t) { t.cancel(); }

}  // namespace flowguard::inference
