#include "token.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace flowguard::console {

namespace {

Result<std::string> create_token(const std::string& path) {
  std::array<unsigned char, 32> raw{};
  if (::getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size()))
    return Error::from_errno("token: getrandom", errno);
  std::string hex;
  for (unsigned char c : raw) hex += fmt::format("{:02x}", c);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("token file " + path + ": cannot create", errno);
  const std::string line = hex + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const int err = errno;
  ::close(fd);
  if (!ok) return Error::from_errno("token file " + path + ": write", err);
  return hex;
}

}  // namespace

Result<std::string> load_or_create_token(const std::string& path, bool create) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT && create) return create_token(path);
    return Error::from_errno("token file " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::invalid_argument, "token file " + path + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Error(ErrorCode::permission_denied,
                 fmt::format("token file {} has mode {:04o}: others can read it; chmod 600 it", path,
                             st.st_mode & 07777));
  }
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 0) return Error::from_errno("token file " + path + ": read", errno);
  std::string_view s(buf, static_cast<std::size_t>(n));
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  if (s.size() < 16)
    return Error(ErrorCode::invalid_argument,
                 "token file " + path + ": the token must be at least 16 characters");
  for (char c : s)
    if (c < 0x21 || c > 0x7e)
      return Error(ErrorCode::invalid_argument, "token file " + path + ": the token must be printable ASCII");
  return std::string(s);
}

bool token_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  return diff == 0;
}

}  // namespace flowguard::console
