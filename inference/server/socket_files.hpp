#pragma once
// The server's socket files: where the control socket goes by default, and binding a listener with the
// shared path policy (common/unix_socket.hpp): mode 0660, a stale file replaced, a live server or a
// non-socket refused, a too-long path the same error as everywhere else.

#include "common/unix_socket.hpp"

#include <string>

namespace flowguard::inference {

// "/run/flowguard/infer.sock" -> "/run/flowguard/infer.ctl" (a path not ending in .sock gets ".ctl"
// appended).
std::string default_control_path(const std::string& socket_path);

// Binds and listens on `path` (non-blocking fd, for Asio to adopt). Logs a replaced stale file.
// Throws flowguard::Exception (start-up) with a sentence an operator can act on.
net::Fd listen_socket_file(const std::string& path, const std::string& what);

}  // namespace flowguard::inference
