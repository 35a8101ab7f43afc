// common/log_safe.hpp and common/throttle.hpp: what a peer can put in a log line, and how often.
#include "common/log_safe.hpp"
#include "common/throttle.hpp"

#include <catch2/catch.hpp>

using flowguard::log_safe;

TEST_CASE("log_safe: control characters and non-ASCII are escaped, so one string is one line") {
  CHECK(log_safe("agent-1") == "agent-1");
  CHECK(log_safe("a\nb\rc\td") == "a\\x0ab\\x0dc\\x09d");
  CHECK(log_safe("\x1b[31mred") == "\\x1b[31mred");  // no terminal escapes
  CHECK(log_safe("caf\xc3\xa9") == "caf\\xc3\\xa9");
  CHECK(log_safe("back\\slash") == "back\\\\slash");  // an escape cannot be faked either
  CHECK(log_safe(std::string_view("nul\0x", 5)) == "nul\\x00x");
  const std::string forged = "x\n[2026-01-01 00:00:00.000] [info] FORGED";
  CHECK(log_safe(forged).find('\n') == std::string::npos);
}

TEST_CASE("log_safe: long strings are capped and say how much was left out") {
  const std::string big(1 << 20, 'A');
  const auto s = log_safe(big, 16);
  CHECK(s == std::string(16, 'A') + "...(+1048560 bytes)");
  CHECK(log_safe(big).size() < 200);
}

TEST_CASE("LogThrottle lets one line through per interval and counts the rest, RetryBackoff doubles") {
  using Clock = flowguard::LogThrottle::Clock;
  flowguard::LogThrottle t(std::chrono::seconds(10));
  const auto t0 = Clock::time_point{} + std::chrono::hours(1);
  std::uint64_t suppressed = 99;
  CHECK(t.allow(suppressed, t0));
  CHECK(suppressed == 0);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(t.allow(suppressed, t0 + std::chrono::seconds(5)));
  CHECK(t.allow(suppressed, t0 + std::chrono::seconds(11)));
  CHECK(suppressed == 1000);

  flowguard::RetryBackoff b(std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  CHECK(b.failed().count() == 10);
  CHECK(b.failed().count() == 20);
  for (int i = 0; i < 20; ++i) b.failed();
  CHECK(b.failed().count() == 1000);
  b.succeeded();
  CHECK(b.failed().count() == 10);
  CHECK(flowguard::accept_error_is_resource(EMFILE));
  CHECK_FALSE(flowguard::accept_error_is_resource(ECONNABORTED));
}
