#pragma once
// The one error shape outside the packet path, shared by both processes: a code a caller can branch on
// and a message an operator can act on. Functions return Result<T> / Status (result.hpp); exceptions
// carry the same Error and are thrown only at start-up and at process boundaries.

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace flowguard {

enum class ErrorCode {
  invalid_argument,    // bad option, path, name or value given by the caller/operator
  not_found,           // a file, socket, model or entry that does not exist
  already_exists,      // something else holds the name (a live socket, a registered metric)
  permission_denied,   // the OS refused
  io_error,            // a system call failed for another reason
  timeout,             // no answer in time
  connection_closed,   // the peer went away
  protocol_error,      // the peer sent something malformed or unexpected
  unavailable,         // not ready (no model, server stopping); retrying later may work
  resource_exhausted,  // a bound was hit (queue, table, registry)
  internal,            // a bug: an invariant did not hold
};

std::string_view to_string(ErrorCode code);

struct Error {
  Error() = default;
  Error(ErrorCode c, std::string m, int os = 0) : code(c), message(std::move(m)), os_error(os) {}

  ErrorCode code = ErrorCode::internal;
  std::string message;
  int os_error =
      0;  // errno of the failed system call, when there was one (callers may word their own message)

  // "<code>: <message>" for logs where the code matters; operators usually see `message` alone.
  std::string describe() const;
  // An Error for a failed system call: "<what>: <strerror(err)>", code derived from errno.
  static Error from_errno(std::string_view what, int err);
};

// Thrown at start-up and process boundaries only (bad options, unreadable files, a model that fails to
// load). what() is the message; error() keeps the code.
class Exception : public std::runtime_error {
 public:
  explicit Exception(Error error);
  Exception(ErrorCode code, std::string message) : Exception(Error{code, std::move(message)}) {}
  const Error& error() const noexcept { return error_; }
  ErrorCode code() const noexcept { return error_.code; }

 private:
  Error error_;
};

}  // namespace flowguard
