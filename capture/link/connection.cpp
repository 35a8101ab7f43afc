#include "link/connection.hpp"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace flowguard::capture {

Result<Handshake> connect_and_handshake(const LinkOptions& opts, const v1::AgentMessage& hello,
                                        const std::atomic<bool>& stopping) {
  using Clock = std::chrono::steady_clock;
  auto fd = net::connect(opts.socket_path, opts.hello_timeout, "flowguard-infer socket");
  if (!fd) {
    return Error{fd.error().code, fmt::format("cannot connect to flowguard-infer at {}: {}", opts.socket_path,
                                              fd.error().message)};
  }
  Handshake h{std::move(fd).value(), {}, wire::FrameDecoder{}};
  if (const Status st = net::write_all(h.fd.get(), wire::encode_frame(hello)); !st) {
    return Error{st.error().code,
                 fmt::format("sending Hello to {} failed: {}", opts.socket_path, st.error().message)};
  }
  const auto deadline = Clock::now() + opts.hello_timeout;
  std::array<std::byte, 16384> buf;
  while (!stopping.load()) {
    std::string_view payload;
    if (h.decoder.next(payload)) {
      v1::ServerMessage msg;
      std::string why;
      if (!wire::parse_payload(payload, msg, why))
        return Error{ErrorCode::protocol_error, "flowguard-infer answered the Hello with garbage: " + why};
      if (msg.has_hello_ack()) {
        h.ack = msg.hello_ack();
        return h;
      }
      if (msg.has_error())
        return Error{ErrorCode::protocol_error,
                     "flowguard-infer refused the Hello: " + msg.error().message()};
      continue;
    }
    if (h.decoder.failed())
      return Error{ErrorCode::protocol_error, "flowguard-infer sent an oversized frame"};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Error{ErrorCode::timeout,
                   fmt::format("flowguard-infer at {} did not answer the Hello within {} ms",
                               opts.socket_path, opts.hello_timeout.count())};
    }
    // Short slices so a stop request is noticed.
    auto readable = net::wait_readable(h.fd.get(), std::min(left, std::chrono::milliseconds(100)));
    if (!readable) return readable.error();
    if (!*readable) continue;
    auto n = net::read_some(h.fd.get(), buf);
    if (!n) {
      return Error{
          ErrorCode::connection_closed,
          fmt::format("flowguard-infer at {} closed the connection during the handshake", opts.socket_path)};
    }
    h.decoder.feed(std::span<const std::byte>(buf.data(), *n));
  }
  return Error{ErrorCode::unavailable, "stopping"};
}

}  // namespace flowguard::capture
