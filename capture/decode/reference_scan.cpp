#include "decode/reference_scan.hpp"

#include <algorithm>
#include <memory>

namespace flowguard::capture {

namespace {

using Bytes = std::span<const std::byte>;

constexpr std::uint8_t u8(Bytes f, std::int64_t off) noexcept {
  return std::to_integer<std::uint8_t>(f[static_cast<std::size_t>(off)]);
}
constexpr std::uint16_t be16(Bytes f, std::int64_t off) noexcept {
  return static_cast<std::uint16_t>((u8(f, off) << 8) | u8(f, off + 1));
}

// Header kinds of the scanner (§2.1). END stops the pass.
enum class Kind : std::uint8_t { none, ethernet, vlan, ipv4, ipv6, tcp, udp, icmp, arp, payload, end };

// jnetpcap's ethertype lookup: MPLS, PPPoE, LLDP, ... are not decoded (their bytes become payload).
constexpr Kind lookup_ethertype(std::uint16_t type) noexcept {
  switch (type) {
    case 0x0800:
      return Kind::ipv4;
    case 0x0806:
      return Kind::arp;
    case 0x86DD:
      return Kind::ipv6;
    case 0x8100:
    case 0x88A8:
    case 0x9100:
      return Kind::vlan;
    default:
      return Kind::payload;  // 802.3 lengths (< 0x600) included: LLC/SNAP is not emulated
  }
}

constexpr Kind ip_next(std::uint8_t protocol) noexcept {
  switch (protocol) {
    case 1:
      return Kind::icmp;
    case 4:
      return Kind::ipv4;
    case 6:
      return Kind::tcp;
    case 17:
      return Kind::udp;
    default:
      return Kind::payload;  // L2TP (115) and SCTP (132) carry no header the profiles read
  }
}

// A recorded header (its offset and recorded, possibly truncated, length).
struct Recorded {
  bool present = false;
  std::int64_t offset = 0;
  std::int64_t length = 0;
};

// What the profiles need from one pass: the first instance of each header kind, and the working length
// L at the end of the pass (trimming happens only at the first IP header after Ethernet, so this is also
// L as the transport headers saw it).
struct PassResult {
  std::int64_t working_len = 0;
  Recorded ip, tcp, udp, icmp;
  std::uint8_t tcp_data_offset = 0;  // raw data-offset nibble of the first TCP header
  bool vlan = false;
  std::uint16_t vlan_id = 0;
};

// Cap on recorded headers per pass; each records at least one byte, so this only bounds pathological
// IP-in-IP chains (jnetpcap has a similar fixed header table).
constexpr int max_headers = 64;

// One header scan (§2.1) starting with `first` at offset 0.
void scan(Bytes f, Kind first, ReferenceBuild build, PassResult& r) noexcept {
  const auto caplen = static_cast<std::int64_t>(f.size());
  std::int64_t L = caplen;
  std::int64_t o = 0;
  Kind k = first;
  Kind previous = Kind::none;
  for (int recorded = 0; recorded < max_headers && o < L;) {
    const std::int64_t rem = L - o;
    std::int64_t h = 0;
    std::int64_t p = 0;  // explicit payload length; 0 = "not set"
    Kind next = Kind::end;
    switch (k) {
      case Kind::ethernet:
        if (rem >= 14) {
          h = 14;
          next = lookup_ethertype(be16(f, o + 12));
        }
        break;
      case Kind::vlan:
        if (rem >= 4) {
          h = 4;
          if (!r.vlan) {
            r.vlan = true;
            r.vlan_id = be16(f, o) & 0x0FFF;
          }
          next = lookup_ethertype(be16(f, o + 2));
        }
        break;
      case Kind::ipv4:
        if (rem >= 20) {
          h = (u8(f, o) & 0x0F) * 4;  // the version nibble is never checked
          if (h == 0) break;
          const std::int64_t total = be16(f, o + 2);
          // Trailer trimming: only directly after a plain Ethernet header. r1500 keeps the trailer when
          // the total length is 0 (TSO captures); r1425 trims the frame to nothing after the header.
          const bool trim_allowed = build == ReferenceBuild::cicids2017 || total != 0;
          if (previous == Kind::ethernet && trim_allowed && total <= L && L - o - total > 0) L = o + total;
          p = total - h;
          const std::uint16_t frag = be16(f, o + 6);
          const bool more_fragments = (frag & 0x2000) != 0;
          const bool later_fragment = (frag & 0x1FFF) != 0;
          if (more_fragments || later_fragment) p = L - h - o;
          next = later_fragment ? Kind::payload : ip_next(u8(f, o + 9));
        }
        break;
      case Kind::ipv6:
        if (rem >= 40) {
          const std::int64_t total = std::int64_t{be16(f, o + 4)} + 40;
          if (previous == Kind::ethernet && total <= L && L - o - total > 0) L = o + total;
          std::uint8_t nh = u8(f, o + 6);
          h = 40;
          next = Kind::payload;
          // Extension headers are skipped as (byte1 + 1) * 8 bytes while their bytes are there.
          for (int ext = 0; ext < max_headers; ++ext) {
            if (nh == 0 || nh == 43 || nh == 44 || nh == 50 || nh == 51 || nh == 60 || nh == 135) {
              if (L - o - h < 2) break;
              const std::uint8_t following = u8(f, o + h);
              h += (std::int64_t{u8(f, o + h + 1)} + 1) * 8;
              nh = following;
              continue;
            }
            switch (nh) {
              case 1:
                next = Kind::icmp;
                break;
              case 4:
                next = Kind::ipv4;
                break;
              case 6:
                next = Kind::tcp;
                break;
              case 17:
                next = Kind::udp;
                break;
              default:
                next = Kind::payload;
                break;  // 58 (ICMPv6), 132 (SCTP), anything else
            }
            break;
          }
          p = total - h;
        }
        break;
      case Kind::tcp:
        if (rem >= 20) {
          h = (u8(f, o + 12) >> 4) * 4;
          if (h != 0 && !r.tcp.present) r.tcp_data_offset = static_cast<std::uint8_t>(h / 4);
          next = Kind::payload;
        }
        break;
      case Kind::udp:
        if (rem >= 8) {
          h = 8;
          next = Kind::payload;
        }
        break;
      case Kind::icmp:
        if (rem >= 4) {
          h = 8;
          const std::uint8_t type = u8(f, o);
          // Errors quote the offending datagram, which is scanned as IPv4.
          next = (type == 3 || type == 12) ? Kind::ipv4 : Kind::end;
        }
        break;
      case Kind::arp:
        if (rem >= 8) {
          h = (std::int64_t{u8(f, o + 4)} + u8(f, o + 5)) * 2 + 8;
          next = Kind::end;
        }
        break;
      case Kind::payload:
        h = rem;
        next = Kind::end;
        break;
      case Kind::none:
      case Kind::end:
        return;
    }
    if (h == 0) {
      if (k == Kind::payload) break;
      k = Kind::payload;  // an unreadable header: the rest is payload
      continue;
    }
    // Record, with jnetpcap's truncation. A negative explicit payload can leave an over-long header
    // untruncated (it then reaches past L; rule U3 below).
    if (p == 0) p = std::max<std::int64_t>(0, L - (o + h));
    if (o + h + p > L) {
      p = o + h > L ? 0 : std::max<std::int64_t>(0, L - (o + h));
      if (o + h > L) h = std::max<std::int64_t>(0, L - o);
    }
    Recorded* first_of_kind = k == Kind::ipv4   ? &r.ip
                              : k == Kind::tcp  ? &r.tcp
                              : k == Kind::udp  ? &r.udp
                              : k == Kind::icmp ? &r.icmp
                                                : nullptr;
    if (first_of_kind != nullptr && !first_of_kind->present) *first_of_kind = {true, o, h};
    ++recorded;
    previous = k;
    o += h;
    if (next == Kind::end) break;
    k = next;
  }
  r.working_len = L;
}

// §2.3 U4: jnetpcap reads flags and window, then only the first TCP option.
bool tcp_readable(Bytes f, const PassResult& r) noexcept {
  const std::int64_t len = r.tcp.length;
  if (len < 16) return false;
  if (r.tcp_data_offset > 5) {
    if (len <= 20) return false;
    const std::uint8_t first_option = u8(f, r.tcp.offset + 20);
    if (first_option != 0 && first_option != 1 && len <= 21) return false;
  }
  return true;
}

void set_tcp(Bytes f, const PassResult& r, DecodedPacket& out) noexcept {
  const std::int64_t o = r.tcp.offset;
  out.ip_protocol = 6;
  out.l4_offset = static_cast<std::uint32_t>(o);
  out.l4_header_len = static_cast<std::uint32_t>(r.tcp.length);
  out.src_port = be16(f, o);
  out.dst_port = be16(f, o + 2);
  out.tcp_flags = u8(f, o + 13);
  out.tcp_window = be16(f, o + 14);
}

void set_udp(Bytes f, const PassResult& r, DecodedPacket& out) noexcept {
  const std::int64_t o = r.udp.offset;
  out.ip_protocol = 17;
  out.l4_offset = static_cast<std::uint32_t>(o);
  out.l4_header_len = 8;
  out.src_port = be16(f, o);
  out.dst_port = be16(f, o + 2);
}

// §2.3: builds the packet record from one pass, or returns false when the pass is not usable.
bool build_packet(Bytes f, ReferenceBuild build, const PassResult& r, DecodedPacket& out) noexcept {
  const auto caplen = static_cast<std::int64_t>(f.size());
  if (!r.ip.present) return false;                                                             // U1
  if (r.ip.length < 20) return false;                                                          // U2
  if (build == ReferenceBuild::corrected && r.ip.offset + r.ip.length > caplen) return false;  // U3

  // The L4 header each build tries first; U4 applies only when TCP is the one selected.
  const bool icmp = build == ReferenceBuild::corrected && r.icmp.present;
  const bool tcp = !icmp && r.tcp.present;
  if (tcp && !tcp_readable(f, r)) return false;  // U4

  // A recorded IPv4 header has at least 20 bytes inside L <= caplen, so its addresses are readable.
  const std::int64_t ip = r.ip.offset;
  out.src.family = out.dst.family = 4;
  for (int i = 0; i < 4; ++i) {
    out.src.bytes[static_cast<std::size_t>(i)] = u8(f, ip + 12 + i);
    out.dst.bytes[static_cast<std::size_t>(i)] = u8(f, ip + 16 + i);
  }
  out.ip_offset = static_cast<std::uint32_t>(ip);
  out.ip_header_len = static_cast<std::uint32_t>(r.ip.length);
  const std::uint16_t frag = be16(f, ip + 6);
  out.ip_more_fragments = (frag & 0x2000) != 0;
  out.ip_fragment_later = (frag & 0x1FFF) != 0;
  out.ip_protocol = u8(f, ip + 9);  // overwritten below when an L4 header is selected
  // The working length as the corrected profile's payload formula reads it: a trimmed L is "Ethernet II
  // with total length L - ip_offset", an untrimmed one counts up to caplen.
  const std::int64_t L = r.working_len;
  out.ethernet_ii_before_ip = L < caplen && L > ip;
  out.ip_total_len = out.ethernet_ii_before_ip ? static_cast<std::uint32_t>(L - ip) : be16(f, ip + 2);
  out.vlan_id = r.vlan_id;
  out.vlan_depth = r.vlan ? 1 : 0;

  if (icmp) {
    out.ip_protocol = 1;
    out.l4_offset = static_cast<std::uint32_t>(r.icmp.offset);
    out.l4_header_len = static_cast<std::uint32_t>(r.icmp.length);
    out.icmp_type = u8(f, r.icmp.offset);
    out.icmp_code = u8(f, r.icmp.offset + 1);
  } else if (tcp) {
    set_tcp(f, r, out);
  } else if (r.udp.present) {
    set_udp(f, r, out);
  } else {
    // "other": no transport header; the profiles report protocol 0 with zero lengths. The ICMP of
    // cicids2017 lands here too unless the error quoted a TCP/UDP header (then that header was selected).
    out.l4_header_len = 0;
    if (out.ip_protocol == 6 || out.ip_protocol == 17 || out.ip_protocol == 1) out.ip_protocol = 0;
  }
  // Selected transport headers were found by the scan itself, so non-first fragments never have one.
  out.ip_fragment_later = out.ip_fragment_later && out.l4_header_len == 0;
  return true;
}

}  // namespace

DecodeResult decode_reference(ReferenceBuild build, std::span<const std::byte> frame, std::int64_t ts_us,
                              std::uint32_t wirelen, DecodedPacket& out) noexcept {
  std::construct_at(&out);
  out.ts_us = ts_us;
  out.caplen = static_cast<std::uint32_t>(frame.size());
  out.wirelen = wirelen;

  PassResult pass;
  scan(frame, Kind::ethernet, build, pass);
  if (build_packet(frame, build, pass, out)) return {DecodeStatus::decoded, DecodeReason::none};

  // Pass 2, the reference's VPN/L2TP fallback: the whole frame as IPv4, without trailer trimming.
  if (frame.size() >= 6) {
    std::construct_at(&out);
    out.ts_us = ts_us;
    out.caplen = static_cast<std::uint32_t>(frame.size());
    out.wirelen = wirelen;
    pass = PassResult{};
    scan(frame, Kind::ipv4, build, pass);
    if (build_packet(frame, build, pass, out))
      return {DecodeStatus::decoded, DecodeReason::reference_fallback_pass};
  }
  return {DecodeStatus::not_ip, DecodeReason::reference_unusable};
}

DecodeStatus decode_reference(ReferenceBuild build, std::span<const std::byte> frame, std::int64_t ts_us,
                              std::uint32_t wirelen, DecodedPacket& out, DecodeCounters& counters) noexcept {
  const DecodeResult r = decode_reference(build, frame, ts_us, wirelen, out);
  counters.count(r.status, r.reason);
  return r.status;
}

}  // namespace flowguard::capture
