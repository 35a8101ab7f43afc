#include "control_client.hpp"

#include "framing.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace flowguard::control {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

v1::ControlResponse call(const std::string& path, const v1::ControlRequest& request, std::chrono::milliseconds timeout,
                         const std::string& peer) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) throw ControlError(fmt::format("socket path '{}' is too long", path));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw ControlError(fmt::format("socket(): {}", std::strerror(errno)));
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
    throw ControlError(fmt::format("cannot connect to {} at {}: {} — is the {} running?", peer, path,
                                   std::strerror(errno), peer == "flowguard-infer" ? "server" : "agent"));
  const auto frame = wire::encode_frame(request);
  for (std::size_t off = 0; off < frame.size();) {
    const auto n = ::send(s.fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw ControlError(fmt::format("sending to {} at {} failed: {}", peer, path, std::strerror(errno)));
    off += static_cast<std::size_t>(n);
  }
  wire::FrameDecoder dec(wire::kDefaultMaxFrameBytes);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    std::string_view payload;
    if (dec.next(payload)) {
      v1::ControlResponse resp;
      std::string why;
      if (!wire::parse_payload(payload, resp, why))
        throw ControlError(fmt::format("{} at {} answered garbage: {}", peer, path, why));
      return resp;
    }
    if (dec.failed()) throw ControlError(fmt::format("{} at {}: {}", peer, path, wire::to_string(dec.error())));
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) throw ControlError(fmt::format("{} at {} did not answer within {} ms", peer, path, timeout.count()));
    pollfd p{s.fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    const auto n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ControlError(fmt::format("reading from {} at {} failed: {}", peer, path, std::strerror(errno)));
    if (n == 0) throw ControlError(fmt::format("{} at {} closed the connection without an answer", peer, path));
    dec.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

}  // namespace flowguard::control
