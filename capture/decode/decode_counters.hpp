#pragma once
// What the decoder saw, by outcome and by reason. Every packet handed to decode_packet() ends in exactly
// one outcome, so  packets == decoded + not_ip + unsupported_link_type + malformed  always holds.
// Reasons explain the outcome (malformed, not-IP) or note something about a decoded packet; a packet
// counts at most one reason.

#include "core/agent_metrics.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowguard::capture {

enum class DecodeStatus : std::uint8_t {
  decoded,                // an IP packet: DecodedPacket is filled
  not_ip,                 // a well-formed frame that carries no IP (ARP, LLDP, STP, other ethertypes)
  unsupported_link_type,  // the capture's link type is not one the decoder knows
  malformed,              // truncated or inconsistent headers: counted, skipped
};

enum class DecodeReason : std::uint8_t {
  none,
  // malformed: the packet is skipped
  truncated_link,           // frame shorter than its link header (Ethernet, SLL, NULL/LOOP, ...)
  truncated_vlan,           // 802.1Q/802.1ad tag cut off
  truncated_encapsulation,  // MPLS label stack, PPPoE or NFLOG TLVs cut off or inconsistent
  truncated_ip,            // fewer bytes than the fixed IPv4 (20) / IPv6 (40) header, or IPv4 options cut off
  bad_ip_version,          // version nibble disagrees with the link layer's protocol field
  bad_ihl,                 // IPv4 IHL < 5
  ip_total_len_too_small,  // IPv4 total length (non-zero) shorter than the headers it must contain
  ipv6_ext_truncated,      // an IPv6 extension header cut off
  tunnel_too_deep,         // more nested IP-in-IP than the decoder follows
  truncated_tcp,           // fewer than 20 TCP header bytes (flags/window unreadable)
  bad_tcp_offset,          // TCP data offset < 5
  truncated_tcp_options,   // data offset > 5 but the options are cut off where the reference cannot read them
  truncated_udp,           // fewer than 8 UDP header bytes
  truncated_icmp,          // fewer than 4 ICMP/ICMPv6 header bytes
  // not IP: the frame is skipped but is not an error
  non_ip_arp,    // ARP / RARP
  non_ip_other,  // any other ethertype / SLL protocol / address family / 802.3 LLC frame
  // unsupported link type
  unsupported_link_type,
  // notes on decoded packets (the packet is used)
  ip_total_len_zero,  // IPv4 total length 0 (TSO/GSO capture): the frame length is used instead
  ip_fragment_later,  // non-first fragment: IP-level packet without a transport header
  tcp_options_cut,    // snaplen cut the TCP options; decoded with the captured header length
  // --decode reference (reference_scan.hpp)
  reference_unusable,       // not_ip: neither scan pass gave a usable IPv4 packet; the reference discards it
  reference_fallback_pass,  // note: decoded by pass 2 (whole frame as IPv4): raw IP or a pseudo-packet
  count_
};

inline constexpr std::size_t decode_reason_count = static_cast<std::size_t>(DecodeReason::count_);

// Stable snake_case name of a reason, for logs and metrics ("truncated_tcp", ...).
std::string_view decode_reason_name(DecodeReason reason);
std::string_view decode_status_name(DecodeStatus status);

struct DecodeCounters {
  std::uint64_t packets = 0;
  std::uint64_t decoded = 0;
  std::uint64_t not_ip = 0;
  std::uint64_t unsupported_link_type = 0;
  std::uint64_t malformed = 0;
  std::array<std::uint64_t, decode_reason_count> by_reason{};

  void count(DecodeStatus status, DecodeReason reason) {
    ++packets;
    switch (status) {
      case DecodeStatus::decoded:
        ++decoded;
        break;
      case DecodeStatus::not_ip:
        ++not_ip;
        break;
      case DecodeStatus::unsupported_link_type:
        ++unsupported_link_type;
        break;
      case DecodeStatus::malformed:
        ++malformed;
        break;
    }
    ++by_reason[static_cast<std::size_t>(reason)];
  }
  std::uint64_t reason(DecodeReason r) const { return by_reason[static_cast<std::size_t>(r)]; }

  // Calls fn(name, value) for the outcome totals and every non-zero reason, in a stable order.
  template <typename Fn>
  void for_each_nonzero(Fn&& fn) const {
    fn(std::string_view{"packets"}, packets);
    fn(std::string_view{"decoded"}, decoded);
    fn(std::string_view{"not_ip"}, not_ip);
    fn(std::string_view{"unsupported_link_type"}, unsupported_link_type);
    fn(std::string_view{"malformed"}, malformed);
    for (std::size_t i = 1; i < decode_reason_count; ++i) {
      if (by_reason[i] != 0) fn(decode_reason_name(static_cast<DecodeReason>(i)), by_reason[i]);
    }
  }
};

// Registers the counters in the agent's registry (read on the capture thread by AgentMetrics::publish()):
// the outcome counters in the stats line, the reasons as one labelled family (JSON/Prometheus/`stats`).
void register_decode_metrics(AgentMetrics& metrics, const DecodeCounters& counters);

}  // namespace flowguard::capture
