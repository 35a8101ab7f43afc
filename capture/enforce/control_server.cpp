#include "enforce/control_server.hpp"

#include "common/unix_socket.hpp"
#include "framing.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace flowguard::capture::enforce {
namespace {

struct Client {
  int fd;
  wire::FrameDecoder decoder;
  std::string out;
  bool closing = false;  // close once `out` is written
};

}  // namespace

ControlServer::ControlServer(ControlServerOptions options, ControlHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  // The shared socket-file policy (common/unix_socket.hpp): a too-long path, a live agent on the path or
  // a non-socket file are start-up errors; a stale socket of a previous run is replaced.
  net::ListenOptions lo;
  lo.what = "control socket";
  lo.mode = static_cast<mode_t>(options_.mode);
  lo.backlog = 16;
  lo.nonblocking = true;
  lo.create_parent = true;
  auto listener = net::listen(options_.path, lo).value_or_throw();
  if (listener.replaced_stale)
    spdlog::info("control socket: replaced the stale socket file {}", options_.path);
  listen_fd_ = listener.fd.release();
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(listen_fd_);
    ::unlink(options_.path.c_str());
    throw Exception(Error::from_errno("control socket: pipe()", err));
  }
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
  if (!thread_.joinable()) return;
  const char c = 'x';
  [[maybe_unused]] auto n = ::write(wake_pipe_[1], &c, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
  ::unlink(options_.path.c_str());
}

void ControlServer::run() {
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<pollfd> fds;
  char buf[4096];
  for (;;) {
    fds.clear();
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : clients) {
      fds.push_back(
          {c->fd, static_cast<short>((c->closing ? 0 : POLLIN) | (c->out.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket: poll: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        if (clients.size() >= options_.max_clients) {
          refused_.fetch_add(1);
          ::close(fd);
          continue;
        }
        clients.push_back(
            std::make_unique<Client>(Client{fd, wire::FrameDecoder(options_.max_frame_bytes), {}, false}));
      }
    }
    for (std::size_t i = 0; i + 2 < fds.size(); ++i) {
      Client& c = *clients[i];
      const short ev = fds[i + 2].revents;
      bool drop = (ev & (POLLERR | POLLNVAL)) != 0;
      if (!drop && (ev & (POLLIN | POLLHUP)) && !c.closing) {
        const ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          drop = true;
        } else if (n > 0) {
          c.decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
          std::string_view payload;
          while (c.decoder.next(payload)) {
            requests_.fetch_add(1);
            flowguard::v1::ControlRequest request;
            flowguard::v1::ControlResponse response;
            std::string why;
            if (!wire::parse_payload(payload, request, why)) {
              response.set_ok(false);
              response.set_error("malformed ControlRequest: " + why);
            } else {
              response = handler_(request);
            }
            if (wire::append_frame(response, c.out) != wire::FrameError::none) {
              flowguard::v1::ControlResponse fail;
              fail.set_ok(false);
              fail.set_error("response too large");
              wire::append_frame(fail, c.out);
            }
          }
          if (c.decoder.failed()) {
            bad_frames_.fetch_add(1);
            spdlog::warn("control socket: closing a connection: {} (declared {} bytes)",
                         wire::to_string(c.decoder.error()), c.decoder.declared_length());
            c.closing = true;
          }
          if (c.out.size() > options_.max_pending_output) drop = true;  // a client that never reads
        }
      }
      if (!drop && !c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0)
          c.out.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
          drop = true;
      }
      if (drop || (c.closing && c.out.empty())) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(clients, [](const auto& c) { return c->fd < 0; });
  }
  for (const auto& c : clients) ::close(c->fd);
}

}  // namespace flowguard::capture::enforce
