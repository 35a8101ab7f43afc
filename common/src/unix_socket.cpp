#include "common/unix_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace flowguard::net {
namespace {

std::string quoted(std::string_view what, std::string_view path) {
  std::string s(what);
  s += " '";
  s += path;
  s += "'";
  return s;
}

Error sys_error(std::string_view what, std::string_view path, std::string_view op, int err) {
  std::string ctx(op);
  ctx += " ";
  ctx += quoted(what, path);
  return Error::from_errno(ctx, err);
}

// Connect with a deadline: non-blocking connect, poll for writability, read SO_ERROR. Returns the errno
// (0 on success, ETIMEDOUT on timeout).
int connect_with_timeout(int fd, const UnixAddress& a, std::chrono::milliseconds timeout) {
  if (::connect(fd, a.get(), a.length) == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) return errno;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return errno;
    if (rc == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
  }
}

}  // namespace

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status validate_path(std::string_view path, std::string_view what) {
  if (path.empty()) return Error{ErrorCode::invalid_argument, std::string(what) + " path is empty"};
  if (path.size() > kMaxSocketPath)
    return Error{ErrorCode::invalid_argument, std::string(what) + " path '" + std::string(path) +
                                                  "' is too long for a Unix socket (" +
                                                  std::to_string(path.size()) + " bytes, " +
                                                  std::to_string(kMaxSocketPath) + " bytes max)"};
  if (path.find('\0') != std::string_view::npos)
    return Error{ErrorCode::invalid_argument, std::string(what) + " path contains a NUL byte"};
  return {};
}

Result<UnixAddress> make_address(std::string_view path, std::string_view what) {
  if (auto st = validate_path(path, what); !st) return std::move(st).error();
  UnixAddress a;
  a.addr.sun_family = AF_UNIX;
  std::memcpy(a.addr.sun_path, path.data(), path.size());
  a.addr.sun_path[path.size()] = '\0';
  a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

bool is_listening(const std::string& path) {
  auto a = make_address(path);
  if (!a) return false;
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), a->get(), a->length) == 0;
}

Result<Listener> listen(const std::string& path, const ListenOptions& o) {
  auto addr = make_address(path, o.what);
  if (!addr) return std::move(addr).error();
  namespace fs = std::filesystem;
  const auto dir = fs::path(path).parent_path();
  std::error_code fec;
  if (!dir.empty() && !fs::is_directory(dir, fec)) {
    if (!o.create_parent)
      return Error{ErrorCode::not_found, "cannot create " + quoted(o.what, path) + ": directory '" +
                                             dir.string() + "' does not exist"};
    if (!fs::create_directories(dir, fec) && fec)
      return Error{ErrorCode::io_error, "cannot create directory '" + dir.string() + "' for " +
                                            quoted(o.what, path) + ": " + fec.message()};
    fs::permissions(dir, fs::perms(0750), fec);
  }

  Listener out;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Error{ErrorCode::already_exists,
                   o.what + " path '" + path + "' exists and is not a socket; refusing to replace it"};
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return Error::from_errno("socket()", errno);
    const int rc = ::connect(probe.get(), addr->get(), addr->length);
    const int err = errno;
    if (rc == 0)
      return Error{
          ErrorCode::already_exists,
          quoted(o.what, path) + " is in use: another process is already listening on it; stop it first"};
    if (err != ECONNREFUSED && err != ENOENT) return sys_error(o.what, path, "cannot probe existing", err);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return sys_error(o.what, path, "cannot remove stale", errno);
    out.replaced_stale = true;
  } else if (errno != ENOENT) {
    return sys_error(o.what, path, "cannot inspect", errno);
  }

  out.fd = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (o.nonblocking ? SOCK_NONBLOCK : 0), 0));
  if (!out.fd) return Error::from_errno("socket()", errno);
  // Create the socket file without the bits `mode` excludes from the first instant, then make it exact.
  const mode_t old = ::umask(static_cast<mode_t>(~o.mode & 0777));
  const int brc = ::bind(out.fd.get(), addr->get(), addr->length);
  const int berr = errno;
  ::umask(old);
  if (brc != 0) return sys_error(o.what, path, "cannot bind", berr);
  if (::chmod(path.c_str(), o.mode) != 0 || ::listen(out.fd.get(), o.backlog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return sys_error(o.what, path, "cannot listen on", err);
  }
  return out;
}

Result<Fd> connect(const std::string& path, std::chrono::milliseconds timeout, std::string_view what) {
  auto addr = make_address(path, what);
  if (!addr) return std::move(addr).error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::from_errno("socket()", errno);
  if (const int err = connect_with_timeout(fd.get(), *addr, timeout); err != 0) {
    if (err == ETIMEDOUT)
      return Error{ErrorCode::timeout, "connecting to " + quoted(what, path) + " timed out after " +
                                           std::to_string(timeout.count()) + " ms"};
    return sys_error(what, path, "cannot connect to", err);
  }
  if (auto st = set_nonblocking(fd.get(), false); !st) return std::move(st).error();
  return fd;
}

Result<Fd> accept(int listen_fd, bool nonblocking) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
    if (fd >= 0) return Fd(fd);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{ErrorCode::timeout, "no pending connection"};
    return Error::from_errno("accept()", errno);
  }
}

Status set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return Error::from_errno("fcntl(F_GETFL)", errno);
  const int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) != 0) return Error::from_errno("fcntl(F_SETFL)", errno);
  return {};
}

Status set_io_timeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    return Error::from_errno("setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)", errno);
  return {};
}

Status write_all(int fd, std::span<const std::byte> bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("send()", errno);
    if (n == 0) return Error{ErrorCode::connection_closed, "send(): peer closed the connection"};
    off += static_cast<std::size_t>(n);
  }
  return {};
}

Status write_all(int fd, std::string_view bytes) {
  return write_all(fd, std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

Result<std::size_t> read_some(int fd, std::span<std::byte> out) {
  for (;;) {
    const auto n = ::recv(fd, out.data(), out.size(), 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return Error{ErrorCode::connection_closed, "the peer closed the connection"};
    if (errno == EINTR) continue;
    return Error::from_errno("recv()", errno);
  }
}

Result<bool> wait_readable(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
               .count());
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return Error::from_errno("poll()", errno);
  }
}

}  // namespace flowguard::net
