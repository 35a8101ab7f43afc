#pragma once
// The one Unix-socket library of both processes (agent link, control client, both control servers, the
// inference server's listener). Plain POSIX, no Asio: an Asio user adopts the listening fd.
//
// Path policy, the same everywhere: a path longer than sockaddr_un allows is an error naming the limit
// (never truncated); an existing non-socket file is never replaced; a socket file another process still
// listens on is "in use"; a socket file nobody listens on (left by a crash) is stale and replaced.

#include "common/result.hpp"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace flowguard::net {

// Longest usable path (bytes, without the terminating NUL).
inline constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;

// Owning file descriptor: closed on destruction, move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  int release() noexcept {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

struct UnixAddress {
  sockaddr_un addr{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// `what` names the socket in messages ("agent socket", "control socket", "flowguard-infer socket").
// Errors: invalid_argument for an empty path or one longer than kMaxSocketPath:
//   "control socket path '<path>' is too long for a Unix socket (<n> bytes, 107 bytes max)".
Status validate_path(std::string_view path, std::string_view what = "socket");
Result<UnixAddress> make_address(std::string_view path, std::string_view what = "socket");

struct ListenOptions {
  std::string what = "socket";  // for messages
  mode_t mode = 0660;           // the socket file never has wider access, not even before chmod
  int backlog = SOMAXCONN;
  bool nonblocking = false;  // the listening fd (accepted fds are set separately)
  bool create_parent =
      false;  // create missing parent directories (mode 0750); else a missing one is an error
};

struct Listener {
  Fd fd;
  bool replaced_stale = false;  // a stale socket file was removed first (callers log it)
};

// Validates the path, applies the file policy above, binds with `mode` and listens.
// Errors: invalid_argument (path), not_found (missing directory), already_exists (in use, or not a
// socket), io_error / permission_denied (system calls).
Result<Listener> listen(const std::string& path, const ListenOptions& options);

// Connects a blocking SOCK_STREAM socket, waiting at most `timeout` for the connection.
// Errors: invalid_argument (path), not_found / unavailable (nobody there: ENOENT / ECONNREFUSED),
// timeout, io_error.
Result<Fd> connect(const std::string& path, std::chrono::milliseconds timeout,
                   std::string_view what = "socket");

// Accepts one connection (EINTR retried). The accepted fd is close-on-exec, blocking unless
// `nonblocking`. Error timeout (EAGAIN) when the listener is non-blocking and nothing is pending.
Result<Fd> accept(int listen_fd, bool nonblocking = false);

// True when something accepts connections on `path` now.
bool is_listening(const std::string& path);

Status set_nonblocking(int fd, bool on = true);
// SO_RCVTIMEO / SO_SNDTIMEO: blocking reads/writes fail with `timeout` after this long (0 = never).
Status set_io_timeout(int fd, std::chrono::milliseconds timeout);

// Blocking helpers (EINTR retried, never SIGPIPE). write_all: all bytes or an error.
Status write_all(int fd, std::span<const std::byte> bytes);
Status write_all(int fd, std::string_view bytes);
// Reads what is available (at most out.size(), at least 1 byte). Error connection_closed at EOF.
Result<std::size_t> read_some(int fd, std::span<std::byte> out);
// Waits until `fd` is readable; false on timeout. Error on poll failure.
Result<bool> wait_readable(int fd, std::chrono::milliseconds timeout);

}  // namespace flowguard::net
