#include "link/judge_scope.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>

using namespace flowguard::capture;

namespace {

IpAddress ip(const char* text) {
  IpAddress a;
  if (inet_pton(AF_INET, text, a.bytes.data()) == 1) {
    a.family = 4;
  } else {
    REQUIRE(inet_pton(AF_INET6, text, a.bytes.data()) == 1);
    a.family = 6;
  }
  return a;
}

FlowReport flow(const char* src, const char* dst) {
  FlowReport r;
  r.src = ip(src);
  r.dst = ip(dst);
  return r;
}

}  // namespace

TEST_CASE("unicast conversations are judged") {
  CHECK(in_default_judge_scope(flow("10.200.0.66", "10.200.0.10")));
  CHECK(in_default_judge_scope(flow("2001:db8::1", "2001:db8::2")));
  CHECK(in_default_judge_scope(flow("fe80::1", "fe80::2")));
  CHECK(in_default_judge_scope(flow("223.255.255.255", "192.0.2.1")));
}

TEST_CASE("multicast, broadcast and unspecified-source flows are out of scope") {
  CHECK_FALSE(in_default_judge_scope(flow("0.0.0.0", "224.0.0.22")));        // IGMP report
  CHECK_FALSE(in_default_judge_scope(flow("10.0.0.1", "239.255.255.250")));  // SSDP
  CHECK_FALSE(in_default_judge_scope(flow("0.0.0.0", "255.255.255.255")));   // DHCP discover
  CHECK_FALSE(in_default_judge_scope(flow("10.0.0.1", "255.255.255.255")));
  CHECK_FALSE(in_default_judge_scope(flow("::", "ff02::1:ff00:10")));            // DAD neighbour solicitation
  CHECK_FALSE(in_default_judge_scope(flow("2001:db8::20", "ff02::1:ff00:10")));  // neighbour solicitation
  CHECK_FALSE(in_default_judge_scope(flow("224.0.0.251", "10.0.0.1")));          // reversed orientation
  CHECK_FALSE(in_default_judge_scope(flow("0.0.0.0", "10.0.0.1")));
}
