#pragma once
// Who opened a flow: the one rule the agent uses to say which address of a flow is the initiator (the
// only side enforcement may block) and which is the responder (a server answering a scan, a victim's
// backscatter to spoofed sources: never blocked). It looks at the flow's first packet only, in the
// flow's own orientation (src = the first packet's sender), and is kept with the flow for its life
// (a timeout split that inherits the orientation inherits the initiator too).
//
// Order of evidence, strongest first:
//  1. handshake: TCP SYN without ACK from src => src; a flow that starts with SYN+ACK from src => dst
//     (the capture missed the SYN). ICMP: a request (echo, timestamp, ...) sender is the initiator, a
//     reply's or an error's sender is the responder. Basis `handshake`.
//  2. service port: the side on the service port is the responder: a port < 1024 against one >= 1024,
//     or else the lower port when one is < 49152 and the other >= 49152 (ephemeral range). Basis
//     `service_port`.
//  3. otherwise the first packet's sender (src). Basis `first_packet` (weak; policy may refuse to block).

#include <cstdint>

namespace flowguard::capture {

// Numbered as the wire's FlowSide / InitiatorBasis (proto/flowguard/v1/flowguard.proto).
enum class FlowSide : std::uint8_t { unspecified = 0, src = 1, dst = 2 };
enum class InitiatorBasis : std::uint8_t { unspecified = 0, handshake = 1, service_port = 2, first_packet = 3 };

struct Initiator {
  FlowSide side = FlowSide::unspecified;
  InitiatorBasis basis = InitiatorBasis::unspecified;
  friend bool operator==(const Initiator&, const Initiator&) = default;
};

// What the rule reads from a flow's first packet (src = that packet's sender).
struct FirstPacket {
  std::uint8_t protocol = 0;   // IANA number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...)
  std::uint8_t tcp_flags = 0;  // tcp_flag bits (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10), 0 if not TCP
  std::uint16_t src_port = 0, dst_port = 0;
  std::int16_t icmp_type = -1;  // -1 if not ICMP
};

namespace initiator_detail {

inline constexpr std::uint8_t syn = 0x02, ack = 0x10;
inline constexpr std::uint16_t well_known_end = 1024, ephemeral_begin = 49152;

// ICMP (IPv4) and ICMPv6 message types by role. Unlisted types (redirects, router/neighbour traffic
// that is neither asked nor answered here) fall through to the weaker rules.
inline constexpr bool icmp4_request(int t) { return t == 8 || t == 10 || t == 13 || t == 15 || t == 17; }
inline constexpr bool icmp4_answer(int t) {
  return t == 0 || t == 9 || t == 14 || t == 16 || t == 18 ||       // replies, router advertisement
         t == 3 || t == 4 || t == 5 || t == 11 || t == 12;          // errors (unreachable, quench, ...)
}
inline constexpr bool icmp6_request(int t) { return t == 128 || t == 130 || t == 133 || t == 135; }
inline constexpr bool icmp6_answer(int t) {
  return t == 129 || t == 131 || t == 134 || t == 136 ||  // echo reply, MLD report, RA, NA
         (t >= 1 && t <= 4);                               // errors
}

}  // namespace initiator_detail

constexpr Initiator decide_initiator(const FirstPacket& p) {
  using namespace initiator_detail;
  if (p.protocol == 6) {
    const bool s = (p.tcp_flags & syn) != 0, a = (p.tcp_flags & ack) != 0;
    if (s && !a) return {FlowSide::src, InitiatorBasis::handshake};
    if (s && a) return {FlowSide::dst, InitiatorBasis::handshake};
  } else if (p.protocol == 1 || p.protocol == 58) {
    const int t = p.icmp_type;
    const bool v6 = p.protocol == 58;
    if (v6 ? icmp6_request(t) : icmp4_request(t)) return {FlowSide::src, InitiatorBasis::handshake};
    if (v6 ? icmp6_answer(t) : icmp4_answer(t)) return {FlowSide::dst, InitiatorBasis::handshake};
    return {FlowSide::src, InitiatorBasis::first_packet};
  }
  const std::uint16_t sp = p.src_port, dp = p.dst_port;
  if (sp != 0 && dp != 0 && sp != dp) {
    const bool s_low = sp < well_known_end, d_low = dp < well_known_end;
    if (d_low && !s_low) return {FlowSide::src, InitiatorBasis::service_port};
    if (s_low && !d_low) return {FlowSide::dst, InitiatorBasis::service_port};
    const bool s_eph = sp >= ephemeral_begin, d_eph = dp >= ephemeral_begin;
    if (!s_low && !d_low && s_eph != d_eph)
      return {d_eph ? FlowSide::dst : FlowSide::src, InitiatorBasis::service_port};
  }
  return {FlowSide::src, InitiatorBasis::first_packet};
}

}  // namespace flowguard::capture
