#pragma once
// `--decode reference`: an emulation of the reference extractor's packet decoding (the jnetpcap native
// header scanner as CICFlowMeter uses it, docs/features.md of the shared specification §2.1-§2.3), for
// byte-exact drop-in output on odd captures.
//
// The reference ignores the link type: every frame is scanned as Ethernet (pass 1), and when that yields
// no usable IPv4 packet the whole frame is scanned again as if an IPv4 header started at byte 0 (pass 2).
// This is what turns ARP frames into 8.6.0.1 -> 8.0.6.4 "pseudo-IPv4" packets and IPv6 frames into
// 134.221.96.x packets (or drops them, depending on the first MAC byte). flowguard's native decoder
// (decoder.hpp) is the default because those pseudo-flows are artefacts; this mode exists so that a
// capture with such frames gives exactly the reference's rows.
//
// The result is a DecodedPacket whose fields make the feature profiles compute what the reference
// computes: addresses from the first recorded IPv4 header (outer header for ICMP errors and IP-in-IP),
// ports/flags/window and l4_offset/l4_header_len from the L4 header the profile selects (corrected: ICMP,
// TCP, UDP; cicids2017: TCP, UDP, so an ICMP error quoting TCP/UDP is read as that packet), and the
// scanner's working length L (trailer trimmed only right after a plain Ethernet header) expressed as
// ethernet_ii_before_ip + ip_total_len = L - ip_offset, which is how the corrected profile's payload
// formula reads it. Two things depend on the reference build (native library r1425 vs r1500), so the
// scan must know the profile: rule U3 (an IPv4 header reaching past the captured bytes) and trailer
// trimming with IP total length 0 (both r1500, i.e. corrected, only).
//
// Like decode_packet(): never allocates, never throws, checks the length before every read.

#include "decode/decode_counters.hpp"
#include "decode/decoder.hpp"
#include "decode/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace flowguard::capture {

// How flowguard-capture decodes frames (--decode).
enum class DecodeMode : std::uint8_t {
  native,     // real link types, IPv6 flows, no pseudo-flows (default)
  reference,  // the reference's jnetpcap scan, pseudo-flows included
};

// The reference build whose scanner quirks are emulated (one per feature profile).
enum class ReferenceBuild : std::uint8_t {
  cicids2017,  // jnetpcap native r1425
  corrected,   // jnetpcap native r1500: rule U3, no trailer trimming when IP total length is 0
};

// Scans one frame as the reference does (link type ignored). Returns `decoded` for a usable packet
// (note `reference_fallback_pass` when pass 2 produced it), else `not_ip` / `reference_unusable`: the
// reference discards the frame. `out` is reset first.
DecodeResult decode_reference(ReferenceBuild build, std::span<const std::byte> frame, std::int64_t ts_us,
                              std::uint32_t wirelen, DecodedPacket& out) noexcept;

// Same, and counts the outcome and reason in `counters`.
DecodeStatus decode_reference(ReferenceBuild build, std::span<const std::byte> frame, std::int64_t ts_us,
                              std::uint32_t wirelen, DecodedPacket& out, DecodeCounters& counters) noexcept;

}  // namespace flowguard::capture
