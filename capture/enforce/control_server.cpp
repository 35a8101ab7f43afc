#include "enforce/control_server.hpp"

#include "common/throttle.hpp"
#include "common/unix_socket.hpp"
#include "framing.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace flowguard::capture::enforce {
namespace {

using Clock = std::chrono::steady_clock;

struct Client {
  int fd;
  wire::FrameDecoder decoder;
  std::string out;
  bool closing = false;  // close once `out` is written
  Clock::time_point last_active = Clock::now();
  Clock::time_point frame_started{};  // when the partial frame in `decoder` began
  bool partial() const { return decoder.buffered() > 0; }
  // Idle between requests counts from the last byte; a partial frame from its first byte.
  Clock::time_point deadline(std::chrono::milliseconds t) const {
    return (partial() ? frame_started : last_active) + t;
  }
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
  if (options_.check_peers) {
    struct stat st {};
    if (::stat(options_.path.c_str(), &st) != 0) st.st_gid = ::getegid();
    auto policy = priv::make_peer_policy(options_.allow_groups, st.st_gid);
    if (!policy) {
      ::close(listen_fd_);
      ::unlink(options_.path.c_str());
      throw Exception(std::move(policy).error());
    }
    peers_ = std::move(*policy);
  }
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
  RetryBackoff backoff;
  LogThrottle log_errors, log_refused;
  Clock::time_point accept_paused_until{};  // after an accept() resource error: do not poll the listener
  const auto close_client = [](Client& c) {
    ::close(c.fd);
    c.fd = -1;
  };
  for (;;) {
    const auto now = Clock::now();
    const bool listen_ok = now >= accept_paused_until;
    fds.clear();
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    fds.push_back({listen_ok ? listen_fd_ : -1, POLLIN, 0});  // a negative fd is ignored by poll()
    Clock::time_point next = listen_ok ? Clock::time_point::max() : accept_paused_until;
    for (const auto& c : clients) {
      fds.push_back(
          {c->fd, static_cast<short>((c->closing ? 0 : POLLIN) | (c->out.empty() ? 0 : POLLOUT)), 0});
      if (c->out.empty()) next = std::min(next, c->deadline(options_.idle_timeout));
    }
    int timeout_ms = -1;
    if (next != Clock::time_point::max())
      timeout_ms = static_cast<int>(std::clamp<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1, 0, 60000));
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket: poll: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;
    // Existing clients first (their pollfd slots match `clients` by index), then new connections.
    for (std::size_t i = 0; i + 2 < fds.size(); ++i) {
      Client& c = *clients[i];
      const short ev = fds[i + 2].revents;
      bool drop = (ev & (POLLERR | POLLNVAL)) != 0;
      if (!drop && (ev & (POLLIN | POLLHUP)) && !c.closing) {
        const ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          drop = true;
        } else if (n > 0) {
          const bool was_partial = c.partial();
          c.last_active = Clock::now();
          if (!was_partial) c.frame_started = c.last_active;
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
          // A frame that began in this read but is still incomplete started now.
          if (c.partial() && !was_partial) c.frame_started = c.last_active;
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
        if (n > 0) {
          c.out.erase(0, static_cast<std::size_t>(n));
          c.last_active = Clock::now();
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          drop = true;
        }
      }
      if (!drop && c.out.empty() && Clock::now() >= c.deadline(options_.idle_timeout)) {
        timeouts_.fetch_add(1);
        spdlog::debug("control socket: closing a connection {} for {} ms",
                      c.partial() ? "stopped mid-frame" : "idle", options_.idle_timeout.count());
        drop = true;
      }
      if (drop || (c.closing && c.out.empty())) close_client(c);
    }
    std::erase_if(clients, [](const auto& c) { return c->fd < 0; });

    if (listen_ok && (fds[1].revents & POLLIN)) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
          const int err = errno;
          if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) break;
          accept_errors_.fetch_add(1);
          std::uint64_t suppressed = 0;
          if (log_errors.allow(suppressed))
            spdlog::warn("control socket: accept failed: {} ({} similar suppressed)", std::strerror(err),
                         suppressed);
          // Out of descriptors: the listener stays readable, so polling it again at once would spin.
          if (accept_error_is_resource(err)) accept_paused_until = Clock::now() + backoff.failed();
          break;
        }
        backoff.succeeded();
        {
          if (auto why = priv::check_peer(fd, peers_); !why.empty()) {
            refused_.fetch_add(1);
            std::uint64_t suppressed = 0;
            if (log_refused.allow(suppressed))
              spdlog::warn("control socket: refused a connection: {} ({} similar suppressed)", why,
                           suppressed);
            ::close(fd);
            continue;
          }
        }
        if (clients.size() >= options_.max_clients) {
          // Full: close the connection idle longest (not one with a reply pending), so idle
          // connections never lock an operator out.
          Client* victim = nullptr;
          for (const auto& c : clients)
            if (c->out.empty() && (!victim || (c->partial() != victim->partial()
                                                   ? !c->partial()
                                                   : c->last_active < victim->last_active)))
              victim = c.get();
          if (victim) {
            refused_.fetch_add(1);
            close_client(*victim);
            std::erase_if(clients, [](const auto& c) { return c->fd < 0; });
          }
        }
        if (clients.size() >= options_.max_clients) {
          refused_.fetch_add(1);
          ::close(fd);
          continue;
        }
        clients.push_back(
            std::make_unique<Client>(Client{fd, wire::FrameDecoder(options_.max_frame_bytes), {}, false}));
      }
    }
  }
  for (const auto& c : clients) ::close(c->fd);
}

}  // namespace flowguard::capture::enforce
