#pragma once
// A packet as one feature profile sees it: the decoder's DecodedPacket reduced to the fields the flow
// arithmetic uses, with protocol, payload and header bytes already mapped by that profile's rules
// (the two references disagree on padding, ICMP and UDP header bytes; see docs/features.md).

#include "core/ip_address.hpp"

#include <cstdint>

namespace flowguard::capture::features {

struct ProfilePacket {
  std::int64_t ts = 0;  // µs
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t protocol = 0;   // as the profile reports it (0 = "other")
  std::uint8_t tcp_flags = 0;  // tcp_flag::*, 0 for non-TCP
  std::int32_t window = 0;     // raw TCP window; the profile's default for non-TCP
  std::int64_t payload = 0;    // L4 payload bytes the profile counts
  std::int64_t header = 0;     // L4 header bytes the profile counts
  std::int16_t icmp_type = -1, icmp_code = -1;
  std::uint16_t vlan_id = 0;

  bool has(std::uint8_t flag) const { return (tcp_flags & flag) != 0; }

  // The default state, field by field (keep in step with the members above). `*this = ProfilePacket{}`
  // made GCC build a temporary on the stack and reload it with wider loads than the stores that wrote
  // it: a store-forwarding stall on every packet.
  void reset() {
    ts = 0;
    src = IpAddress{};
    dst = IpAddress{};
    src_port = dst_port = 0;
    protocol = 0;
    tcp_flags = 0;
    window = 0;
    payload = 0;
    header = 0;
    icmp_type = icmp_code = -1;
    vlan_id = 0;
  }
};

}  // namespace flowguard::capture::features
