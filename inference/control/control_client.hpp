#pragma once
// Blocking client for the control sockets (flowguardctl and tests): one ControlRequest frame out, one
// ControlResponse frame back. Plain POSIX through common/unix_socket.hpp, no Asio, no LibTorch.

#include "common/error.hpp"
#include "flowguard/v1/control.pb.h"

#include <chrono>
#include <string>

namespace flowguard::control {

// The shared boundary exception (flowguardctl prints what() and exits 1).
using ControlError = flowguard::Exception;

// `peer` names the process for messages ("flowguard-infer"). Throws ControlError, e.g.
// "cannot connect to flowguard-infer at /run/flowguard/infer.ctl: No such file or directory — is the
// server running?", or on a timeout / malformed answer.
v1::ControlResponse call(const std::string& socket_path, const v1::ControlRequest& request,
                         std::chrono::milliseconds timeout, const std::string& peer);

}  // namespace flowguard::control
