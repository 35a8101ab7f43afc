#include "control_client.hpp"

#include "common/unix_socket.hpp"
#include "framing.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>

namespace flowguard::control {

v1::ControlResponse call(const std::string& path, const v1::ControlRequest& request,
                         std::chrono::milliseconds timeout, const std::string& peer) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto conn = net::connect(path, timeout, peer + " control socket");
  if (!conn) {
    const auto& e = conn.error();
    if (e.os_error == 0) throw ControlError(e);  // a bad path or a timeout: the library's sentence
    throw ControlError(
        e.code, fmt::format("cannot connect to {} at {}: {} — is the {} running?", peer, path,
                            std::strerror(e.os_error), peer == "flowguard-infer" ? "server" : "agent"));
  }
  const int fd = conn->get();
  if (auto st = net::write_all(fd, wire::encode_frame(request)); !st)
    throw ControlError(st.error().code,
                       fmt::format("sending to {} at {} failed: {}", peer, path, st.error().message));
  wire::FrameDecoder dec(wire::kDefaultMaxFrameBytes);
  std::array<std::byte, 16384> buf{};
  for (;;) {
    std::string_view payload;
    if (dec.next(payload)) {
      v1::ControlResponse resp;
      std::string why;
      if (!wire::parse_payload(payload, resp, why))
        throw ControlError(ErrorCode::protocol_error,
                           fmt::format("{} at {} answered garbage: {}", peer, path, why));
      return resp;
    }
    if (dec.failed())
      throw ControlError(ErrorCode::protocol_error,
                         fmt::format("{} at {}: {}", peer, path, wire::to_string(dec.error())));
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const auto ready = left.count() > 0 ? net::wait_readable(fd, left) : Result<bool>(false);
    if (!ready) throw ControlError(ready.error());
    if (!*ready)
      throw ControlError(ErrorCode::timeout,
                         fmt::format("{} at {} did not answer within {} ms", peer, path, timeout.count()));
    const auto n = net::read_some(fd, buf);
    if (!n) {
      if (n.error().code == ErrorCode::connection_closed)
        throw ControlError(ErrorCode::connection_closed,
                           fmt::format("{} at {} closed the connection without an answer", peer, path));
      throw ControlError(n.error().code,
                         fmt::format("reading from {} at {} failed: {}", peer, path, n.error().message));
    }
    dec.feed(std::span<const std::byte>(buf.data(), *n));
  }
}

}  // namespace flowguard::control
