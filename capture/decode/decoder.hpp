#pragma once
// Frame decoder: one captured frame in, one DecodedPacket (or a counted reason why not) out.
//
// decode_packet() reads the link layer named by `link_type` (Ethernet with 802.1Q/802.1ad/QinQ, MPLS,
// PPPoE and LLC/SNAP; Linux SLL and SLL2; raw IPv4/IPv6; BSD NULL/LOOP in either byte order; NFLOG),
// then IPv4 (options, fragments) or IPv6 (extension headers, fragments), follows IP-in-IP tunnels
// (4in4, 6in4, 4in6, 6in6) to the innermost IP header, and reads the TCP/UDP/ICMP/ICMPv6 header,
// including the TCP/UDP header an ICMP error quotes. It never allocates, never throws, and checks the
// length before every read: a frame of any content and any length is safe to pass.
//
// This is a native decoder. Where the reference extractor mis-decodes (docs/features.md §2.2: it reads
// every frame as Ethernet and builds pseudo-flows from ARP/IPv6/SLL frames) flowguard decodes the real
// link layer instead. On plain Ethernet/IPv4 frames the result is what §2.3 calls a usable packet, with
// the same addresses, ports, flags, window, L4 offset and L4 header length.

#include "decode/decode_counters.hpp"
#include "decode/link_types.hpp"
#include "decode/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowguard::capture {

struct DecodeResult {
  DecodeStatus status = DecodeStatus::decoded;
  DecodeReason reason = DecodeReason::none;  // why not decoded, or a note on a decoded packet
};

// Decodes one frame. `out` is reset first and is meaningful only when the status is `decoded`.
DecodeResult decode_packet(int link_type, std::span<const std::byte> frame, std::int64_t ts_us,
                           std::uint32_t wirelen, DecodedPacket& out) noexcept;

// Same, and counts the outcome and reason in `counters`.
DecodeStatus decode_packet(int link_type, std::span<const std::byte> frame, std::int64_t ts_us,
                           std::uint32_t wirelen, DecodedPacket& out, DecodeCounters& counters) noexcept;

// True for the link types decode_packet() understands (to reject a capture at start-up with a clear
// message rather than counting every packet as unsupported).
bool is_supported_link_type(int link_type) noexcept;

// The payload a profile assigns to a packet, derived from the offsets the decoder records (see
// packet.hpp). Both return 0 when no transport header was decoded.
//   cicids2017: every captured byte after the L4 header, Ethernet padding included.
//   corrected:  bytes after the L4 header up to L, where L = min(caplen, ip_offset + ip_total_len) when
//               plain Ethernet II precedes the IP header and ip_total_len != 0 (the trailer is trimmed),
//               else L = caplen (after VLAN tags, tunnels, TSO captures, the trailer counts).
std::int64_t cicids2017_payload_len(const DecodedPacket& p) noexcept;
std::int64_t corrected_payload_len(const DecodedPacket& p) noexcept;

}  // namespace flowguard::capture
