// Result<T> / Status / Error / Exception: the one error shape of both processes.
#include <catch2/catch.hpp>

#include "common/result.hpp"

#include <cerrno>
#include <memory>
#include <string>

using flowguard::Error;
using flowguard::ErrorCode;
using flowguard::Exception;
using flowguard::Result;
using flowguard::Status;

namespace {

Result<int> parse_port(const std::string& s) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
    return Error{ErrorCode::invalid_argument, "port '" + s + "' is not a number"};
  const int v = std::stoi(s);
  if (v > 65535) return Error{ErrorCode::invalid_argument, "port " + s + " is out of range"};
  return v;
}

Status check_even(const std::string& s) {
  auto p = parse_port(s);
  if (!p) return std::move(p).error();  // propagates unchanged
  if (*p % 2 != 0) return Error{ErrorCode::invalid_argument, "odd"};
  return {};
}

}  // namespace

TEST_CASE("Result holds a value or a typed error") {
  const auto good = parse_port("8080");
  REQUIRE(good.ok());
  CHECK(static_cast<bool>(good));
  CHECK(*good == 8080);
  CHECK(good.value_or(1) == 8080);

  const auto bad = parse_port("http");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::invalid_argument);
  CHECK(bad.error().message == "port 'http' is not a number");
  CHECK(bad.value_or(1) == 1);
  CHECK(bad.error().describe() == "invalid_argument: port 'http' is not a number");
}

TEST_CASE("reading the value of an error throws the error instead of reading garbage") {
  const auto bad = parse_port("99999");
  try {
    (void)bad.value();
    FAIL("value() of an error returned");
  } catch (const Exception& e) {
    CHECK(e.code() == ErrorCode::invalid_argument);
    CHECK(std::string(e.what()) == "port 99999 is out of range");
  }
}

TEST_CASE("value_or_throw turns an error into flowguard::Exception at a boundary") {
  CHECK(parse_port("22").value_or_throw() == 22);
  CHECK_THROWS_AS(parse_port("").value_or_throw(), Exception);
  CHECK_THROWS_WITH(parse_port("x").value_or_throw(), "port 'x' is not a number");
  // Exception is a std::runtime_error, so existing catch sites keep working.
  CHECK_THROWS_AS(parse_port("x").value_or_throw(), std::runtime_error);
}

TEST_CASE("Status propagates errors and is ok by default") {
  CHECK(check_even("22").ok());
  const auto odd = check_even("23");
  REQUIRE_FALSE(odd.ok());
  CHECK(odd.error().message == "odd");
  const auto nan = check_even("a");
  REQUIRE_FALSE(nan);
  CHECK(nan.error().message == "port 'a' is not a number");
  CHECK(flowguard::ok_status().ok());
  CHECK_NOTHROW(Status{}.value_or_throw());
  CHECK_THROWS_WITH(check_even("3").value_or_throw(), "odd");
}

TEST_CASE("Result works with move-only values") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  REQUIRE(r);
  auto p = std::move(r).value();
  CHECK(*p == 7);
}

TEST_CASE("errors from system calls name the call and map errno to a code") {
  const auto e = Error::from_errno("open '/x'", ENOENT);
  CHECK(e.code == ErrorCode::not_found);
  CHECK(e.message == "open '/x': No such file or directory");
  CHECK(Error::from_errno("connect", ECONNREFUSED).code == ErrorCode::unavailable);
  CHECK(Error::from_errno("bind", EACCES).code == ErrorCode::permission_denied);
  CHECK(Error::from_errno("x", EIO).code == ErrorCode::io_error);
  CHECK(flowguard::to_string(ErrorCode::timeout) == "timeout");
}
