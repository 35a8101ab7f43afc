#pragma once
// Input layout shared by the packet-path fuzz targets and make-fuzz-seeds, so seeds cut from real
// captures mean the same thing to the fuzzer as they did on the wire.
//
// fuzz_packet_decoder: [link selector][flags][frame ...]
// fuzz_flow_engine:    [link selector][flags] then records [u16 LE length][u16 LE gap in ms][frame]
//   link selector: index (mod count) into kLinkTypes;
//   flags bit 0: reference decoder (jnetpcap scan) instead of the native one; bit 1: cicids2017 profile
//   (else corrected); bit 2: snapshots every 3 packets; bits 4-6: flow table size 2^(bits) (tiny tables
//   force evictions).

#include "decode/link_types.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fgfuzz {

namespace lt = flowguard::capture::link_type;
inline constexpr std::array<int, 11> kLinkTypes{
    lt::null,      lt::ethernet, lt::raw,  lt::raw_openbsd, lt::raw_linktype, lt::loop,
    lt::linux_sll, lt::ipv4,     lt::ipv6, lt::nflog,       lt::linux_sll2};

inline std::uint8_t link_selector(int link_type) {
  for (std::size_t i = 0; i < kLinkTypes.size(); ++i)
    if (kLinkTypes[i] == link_type) return static_cast<std::uint8_t>(i);
  return 1;  // Ethernet
}

inline constexpr std::uint8_t kReference = 1, kCicids = 2, kSnapshots = 4;

// Iterates the records of a flow-engine input; stops at the first truncated one.
struct RecordReader {
  std::span<const std::uint8_t> rest;
  bool next(std::span<const std::byte>& frame, std::uint32_t& gap_ms) {
    if (rest.size() < 4) return false;
    const std::size_t len = rest[0] | (rest[1] << 8);
    gap_ms = rest[2] | (rest[3] << 8);
    if (rest.size() - 4 < len) return false;
    frame = std::as_bytes(rest.subspan(4, len));
    rest = rest.subspan(4 + len);
    return true;
  }
};

}  // namespace fgfuzz
