#pragma once
// One decoded packet, as the flow engine and the feature profiles see it. The decoder fills it from a
// captured frame without allocating; the profile then derives what it counts as payload and header
// bytes (the two reference extractors disagree on padding and trailers, see docs/features.md), so the
// decoder records offsets and lengths rather than a finished payload size.
//
// Offsets are frame offsets (byte 0 = first byte of the link header). For tunnels (IP-in-IP) every IP
// field describes the innermost IP header and the offsets point into the same frame, so the arithmetic
// below works unchanged. Payload arithmetic the profiles use (decoder.hpp has helpers):
//   cicids2017 payload = caplen - l4_offset - l4_header_len            (padding/trailers count)
//   corrected  payload = max(0, L - l4_offset - l4_header_len), where
//              L = min(caplen, ip_offset + ip_total_len)  if ethernet_ii_before_ip && ip_total_len != 0
//              L = caplen                                 otherwise (VLAN, tunnels, SLL, raw IP, TSO)
// l4_header_len is the TCP header length actually captured: data offset * 4, or less when snaplen cut
// the options (the reference's "recorded length"; the decoder rejects the cases where the reference
// could not read flags/window, docs/features.md §2.3 U4). So neither formula goes below 0 for
// snaplen-truncated packets: they count only what was captured.
// Reference quirks not applied here (docs/decoding.md lists all differences): for IP-in-IP the
// reference keeps the OUTER addresses with the inner ports, flowguard reports the inner packet
// (tunnel_depth > 0); for an Ethernet II IPv4 packet with total length 0 (TSO capture) the cicids2017
// reference trims the frame to the IP header and loses the transport header, flowguard keeps it.
// The fields are meaningful only when decode_packet() returned DecodeStatus::decoded.

#include "core/ip_address.hpp"

#include <cstdint>

namespace flowguard::capture {

namespace tcp_flag {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20,
                              ece = 0x40, cwr = 0x80;
}

// The L4 header an ICMP error quotes (IPv4 type 3/12, ICMPv6 types 1-4): the cicids2017 reference reads
// such errors as TCP/UDP packets with the quoted ports, flags and window.
struct QuotedL4 {
  bool present = false;
  std::uint8_t protocol = 0;  // 6 or 17
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t tcp_flags = 0;
  std::uint16_t tcp_window = 0;
  std::uint32_t l4_offset = 0;      // frame offset of the quoted TCP/UDP header
  std::uint32_t l4_header_len = 0;  // quoted TCP data offset * 4, or 8 for UDP
  bool first_fragment = true;       // quoted datagram's fragment offset == 0
};

struct DecodedPacket {
  std::int64_t ts_us = 0;     // capture timestamp, microseconds since the epoch (sub-µs truncated)
  std::uint32_t caplen = 0;   // captured bytes
  std::uint32_t wirelen = 0;  // original length on the wire

  // Network layer (outermost IP header that carries the flow; tunnels are followed to the inner one).
  IpAddress src, dst;               // family 4 or 6
  std::uint8_t ip_protocol = 0;     // IANA protocol of the transport header (after IPv6 extension headers)
  std::uint32_t ip_offset = 0;      // frame offset of the IP header
  std::uint32_t ip_header_len = 0;  // IPv4 IHL*4, IPv6 40 + extension headers
  std::uint32_t ip_total_len = 0;   // IPv4 total length field (0 in TSO captures: then the frame length
                                    // bounds the packet), IPv6 payload length + 40 (0 for jumbograms)
  bool ip_fragment_later = false;   // fragment offset != 0: no transport header in this packet
  bool ip_more_fragments = false;   // MF set (a first fragment carries a partial transport payload)
  // Plain Ethernet II directly before the IP header (no VLAN tag, no tunnel): the only case in which
  // the reference trims the Ethernet trailer (padding) to the IP total length.
  bool ethernet_ii_before_ip = false;

  // Link layer.
  std::uint16_t vlan_id = 0;  // outermost 802.1Q/802.1ad VLAN id, 0 if untagged
  std::uint8_t vlan_depth = 0;
  std::uint8_t tunnel_depth = 0;  // IP-in-IP headers skipped to reach the IP header described above

  // Transport layer; l4_header_len == 0 means no transport header was decoded.
  std::uint32_t l4_offset = 0;
  std::uint32_t l4_header_len = 0;  // TCP data offset * 4 (captured part), UDP 8, ICMP/ICMPv6 8 (or the
                                    // 4..7 bytes captured); 0 for fragments and other protocols
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t tcp_flags = 0;    // tcp_flag::*
  std::uint16_t tcp_window = 0;  // raw, unscaled
  std::uint8_t icmp_type = 0, icmp_code = 0;
  QuotedL4 quoted;  // only for ICMP errors
};

}  // namespace flowguard::capture
