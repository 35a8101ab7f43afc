#include "enforce/allowlist.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace flowguard::capture::enforce;
using namespace flowguard::capture::enforce::test;

namespace {
Cidr cidr(const char* text) {
  auto c = parse_cidr(text);
  if (!c) FAIL(text << ": " << c.error().message);
  return *c;
}
}  // namespace

TEST_CASE("addresses parse strictly and format canonically", "[address]") {
  CHECK(format_address(addr("10.0.0.5")) == "10.0.0.5");
  CHECK(format_address(addr("2001:DB8:0:0::1")) == "2001:db8::1");
  CHECK(canonical(addr("::ffff:192.0.2.7")).family == 4);
  CHECK(format_address(addr("::ffff:192.0.2.7")) == "192.0.2.7");
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1 ", "1.2.3.4; flush ruleset", "::g",
                          "10.0.0.1/32", "0x0a.0.0.1"}) {
    INFO(bad);
    CHECK_FALSE(parse_address(bad).has_value());
  }
  CHECK_FALSE(is_blockable(addr("0.0.0.0")));
  CHECK_FALSE(is_blockable(addr("255.255.255.255")));
  CHECK_FALSE(is_blockable(addr("224.0.0.1")));
  CHECK_FALSE(is_blockable(addr("::")));
  CHECK_FALSE(is_blockable(addr("ff02::1")));
  CHECK(is_blockable(addr("198.51.100.4")));
  CHECK(is_blockable(addr("2001:db8::4")));
}

TEST_CASE("IPv4 CIDR matching respects the prefix bit by bit", "[allowlist]") {
  const Cidr c = cidr("192.168.16.0/20");
  CHECK(c.to_string() == "192.168.16.0/20");
  CHECK(c.contains(addr("192.168.16.1")));
  CHECK(c.contains(addr("192.168.31.255")));
  CHECK_FALSE(c.contains(addr("192.168.32.0")));
  CHECK_FALSE(c.contains(addr("192.168.15.255")));
  CHECK_FALSE(c.contains(addr("2001:db8::1")));
  // Host bits in the text are cleared, a bare address is a /32, /0 matches every IPv4 address.
  CHECK(cidr("10.1.2.3/8").to_string() == "10.0.0.0/8");
  CHECK(cidr("10.1.2.3").contains(addr("10.1.2.3")));
  CHECK_FALSE(cidr("10.1.2.3").contains(addr("10.1.2.4")));
  CHECK(cidr("0.0.0.0/0").contains(addr("203.0.113.9")));
  CHECK(cidr("10.0.0.0/8").contains(addr("::ffff:10.9.9.9")));
}

TEST_CASE("IPv6 CIDR matching respects the prefix bit by bit", "[allowlist]") {
  const Cidr c = cidr("2001:db8:abcd:0012::/63");
  CHECK(c.contains(addr("2001:db8:abcd:12::1")));
  CHECK(c.contains(addr("2001:db8:abcd:13:ffff::1")));
  CHECK_FALSE(c.contains(addr("2001:db8:abcd:14::1")));
  CHECK_FALSE(c.contains(addr("10.0.0.1")));
  CHECK(cidr("::1/128").contains(addr("::1")));
  CHECK_FALSE(cidr("::1/128").contains(addr("::2")));
  CHECK(cidr("::ffff:10.0.0.0/104").contains(addr("10.200.1.1")));  // v4-mapped form folds to IPv4
}

TEST_CASE("malformed CIDRs are refused with a reason", "[allowlist]") {
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/8x", "/8",
                          "host.example/32", "10.0.0.0/-1"}) {
    INFO(bad);
    const auto r = parse_cidr(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == flowguard::ErrorCode::invalid_argument);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("allowlist file: comments, blank lines, and a clear error for a bad line", "[allowlist]") {
  TempDir dir;
  {
    std::ofstream f(dir / "allow.txt");
    f << "# office networks\n\n192.0.2.0/24   # HQ\n  2001:db8:1::/48\n\t198.51.100.7\n";
  }
  Allowlist a;
  a.load_file(dir / "allow.txt");
  REQUIRE(a.entries().size() == 3);
  CHECK(a.contains(addr("192.0.2.200")));
  CHECK(a.contains(addr("2001:db8:1:ffff::1")));
  CHECK(a.contains(addr("198.51.100.7")));
  CHECK_FALSE(a.contains(addr("198.51.100.8")));
  {
    std::ofstream f(dir / "bad.txt");
    f << "192.0.2.0/24\n10.0.0.0/40\n";
  }
  Allowlist b;
  CHECK_THROWS_WITH(b.load_file(dir / "bad.txt"),
                    Catch::Contains("bad.txt:2") && Catch::Contains("10.0.0.0/40"));
  CHECK_THROWS(b.load_file(dir / "missing.txt"));
}

TEST_CASE("default allowlist covers loopback and this host's own addresses", "[allowlist]") {
  Allowlist a;
  CHECK_FALSE(a.contains(addr("127.0.0.1")));
  a.add_loopback();
  CHECK(a.contains(addr("127.0.0.1")));
  CHECK(a.contains(addr("127.255.0.9")));
  CHECK(a.contains(addr("::1")));
  CHECK_FALSE(a.contains(addr("10.11.12.13")));
  Allowlist h;
  h.add_host_addresses();
  // Whatever the interfaces are, loopback is one of them on Linux.
  CHECK(h.contains(addr("127.0.0.1")));
}
