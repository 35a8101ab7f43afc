#pragma once
// Result<T>: a value or an Error (GCC 12 has no std::expected). Status = Result<void>.
//
//   Result<Fd> r = net::listen(path, opts);
//   if (!r) return r.error();          // propagate (Error converts to any Result)
//   Fd fd = std::move(r).value();
//   ...
//   auto fd = net::listen(path, opts).value_or_throw();   // at start-up: throws flowguard::Exception

#include "common/error.hpp"

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace flowguard {

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Error>, "Result<Error> is ambiguous");

 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok(). Reading the value of an error is a bug; it throws rather than reading garbage.
  T& value() & { return std::get<0>(checked()); }
  const T& value() const& { return std::get<0>(checked()); }
  T&& value() && { return std::get<0>(std::move(checked())); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !ok().
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

  // For start-up and process boundaries: the value, or flowguard::Exception carrying the error.
  T value_or_throw() && {
    if (!ok()) throw Exception(std::get<1>(std::move(v_)));
    return std::get<0>(std::move(v_));
  }

 private:
  std::variant<T, Error>& checked() {
    if (!ok()) throw Exception(std::get<1>(v_));
    return v_;
  }
  const std::variant<T, Error>& checked() const {
    if (!ok()) throw Exception(std::get<1>(v_));
    return v_;
  }

  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;                                // success
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return *error_; }  // precondition: !ok()
  Error&& error() && { return std::move(*error_); }

  void value_or_throw() && {
    if (error_) throw Exception(std::move(*error_));
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace flowguard
