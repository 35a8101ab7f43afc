#pragma once
// One connection to flowguard-infer: connect to its Unix socket (common/unix_socket: a path too long
// for sun_path is the same clear error as everywhere else) and exchange Hello / HelloAck. The link
// decides what a refusal means; this only reports what happened.

#include "common/result.hpp"
#include "common/unix_socket.hpp"
#include "link/link_options.hpp"

#include "flowguard/v1/flowguard.pb.h"
#include "framing.hpp"

#include <atomic>

namespace flowguard::capture {

struct Handshake {
  net::Fd fd;
  v1::HelloAck ack;            // accepted or not: the caller checks
  wire::FrameDecoder decoder;  // bytes the server sent after the HelloAck stay buffered here
};

// Errors: the socket's (invalid_argument for a bad path, not_found/unavailable when nobody listens,
// timeout), timeout when no HelloAck came within options.hello_timeout, protocol_error for garbage or
// an Error message, connection_closed when the server hung up. `stopping` aborts the wait.
Result<Handshake> connect_and_handshake(const LinkOptions& options, const v1::AgentMessage& hello,
                                        const std::atomic<bool>& stopping);

}  // namespace flowguard::capture
