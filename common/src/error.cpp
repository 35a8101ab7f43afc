#include "common/error.hpp"

#include <cerrno>
#include <cstring>

namespace flowguard {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::already_exists:
      return "already_exists";
    case ErrorCode::permission_denied:
      return "permission_denied";
    case ErrorCode::io_error:
      return "io_error";
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::connection_closed:
      return "connection_closed";
    case ErrorCode::protocol_error:
      return "protocol_error";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::resource_exhausted:
      return "resource_exhausted";
    case ErrorCode::internal:
      return "internal";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string s(to_string(code));
  s += ": ";
  s += message;
  return s;
}

Error Error::from_errno(std::string_view what, int err) {
  ErrorCode code = ErrorCode::io_error;
  switch (err) {
    case ENOENT:
      code = ErrorCode::not_found;
      break;
    case EACCES:
    case EPERM:
      code = ErrorCode::permission_denied;
      break;
    case EEXIST:
    case EADDRINUSE:
      code = ErrorCode::already_exists;
      break;
    case ETIMEDOUT:
    case EAGAIN:
      code = ErrorCode::timeout;
      break;
    case ECONNREFUSED:
      code = ErrorCode::unavailable;
      break;
    case EPIPE:
    case ECONNRESET:
      code = ErrorCode::connection_closed;
      break;
    case EINVAL:
    case ENAMETOOLONG:
      code = ErrorCode::invalid_argument;
      break;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
      code = ErrorCode::resource_exhausted;
      break;
    default:
      break;
  }
  std::string msg(what);
  msg += ": ";
  char buf[256];
  msg += ::strerror_r(err, buf, sizeof buf);  // GNU strerror_r: thread-safe, returns the text
  return Error{code, std::move(msg), err};
}

Exception::Exception(Error error) : std::runtime_error(error.message), error_(std::move(error)) {}

}  // namespace flowguard
