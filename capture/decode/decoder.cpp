#include "decode/decoder.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>

namespace flowguard::capture {

namespace {

using Bytes = std::span<const std::byte>;

// Bounded big-/little-endian reads. Callers check has() first; the reads themselves index the span, so
// a missed check is a bounds bug caught by the sanitizer build, not silent garbage.
constexpr bool has(Bytes f, std::size_t off, std::size_t n) noexcept {
  return off <= f.size() && n <= f.size() - off;
}
constexpr std::uint8_t u8(Bytes f, std::size_t off) noexcept { return std::to_integer<std::uint8_t>(f[off]); }
constexpr std::uint16_t be16(Bytes f, std::size_t off) noexcept {
  return static_cast<std::uint16_t>((u8(f, off) << 8) | u8(f, off + 1));
}
constexpr std::uint16_t le16(Bytes f, std::size_t off) noexcept {
  return static_cast<std::uint16_t>((u8(f, off + 1) << 8) | u8(f, off));
}
constexpr std::uint32_t be32(Bytes f, std::size_t off) noexcept {
  return (std::uint32_t{be16(f, off)} << 16) | be16(f, off + 2);
}
constexpr std::uint32_t le32(Bytes f, std::size_t off) noexcept {
  return (std::uint32_t{le16(f, off + 2)} << 16) | le16(f, off);
}

namespace ethertype {
constexpr std::uint16_t ipv4 = 0x0800, arp = 0x0806, rarp = 0x8035, ipv6 = 0x86DD, vlan = 0x8100,
                        qinq = 0x88A8, qinq_old = 0x9100, qinq_old2 = 0x9200, mpls = 0x8847,
                        mpls_multicast = 0x8848, pppoe_session = 0x8864;
constexpr std::uint16_t min_ethertype = 0x0600;  // smaller values are 802.3 lengths
}  // namespace ethertype

namespace ipproto {
constexpr std::uint8_t hop_by_hop = 0, icmp = 1, ipip = 4, tcp = 6, udp = 17, ipv6 = 41, routing = 43,
                       fragment = 44, esp = 50, ah = 51, icmpv6 = 58, no_next = 59, dest_opts = 60,
                       mobility = 135;
}

constexpr int max_tunnel_depth = 4;
constexpr int max_ipv6_ext_headers = 16;
constexpr std::uint32_t tcp_min_header = 20, udp_header = 8, icmp_min_header = 4, icmp_header = 8;

enum class L3 : std::uint8_t { ipv4, ipv6, by_version };

struct L3Start {
  std::size_t offset = 0;
  L3 kind = L3::by_version;
  bool ethernet_ii = false;
};

// Default-initialises in place: `out = DecodedPacket{}` builds a temporary and copies it, which costs a
// measurable share of a ~40 ns decode.
static_assert(std::is_trivially_destructible_v<DecodedPacket>);
void reset(DecodedPacket& out) noexcept { std::construct_at(&out); }

constexpr DecodeResult fail(DecodeReason r) noexcept { return {DecodeStatus::malformed, r}; }
constexpr DecodeResult not_ip(DecodeReason r) noexcept { return {DecodeStatus::not_ip, r}; }
constexpr DecodeResult ok(DecodeReason note = DecodeReason::none) noexcept {
  return {DecodeStatus::decoded, note};
}

// ---------------------------------------------------------------------------------------------------
// Link layer: find where the IP header starts. Returns decoded (with `start` set) or why there is none.

DecodeResult dispatch_ethertype(Bytes f, std::size_t off, std::uint16_t type, bool plain_ethernet,
                                DecodedPacket& out, L3Start& start) noexcept {
  // Every iteration consumes at least 4 bytes, so the loop ends with the frame.
  for (;;) {
    switch (type) {
      case ethertype::ipv4:
      case ethertype::ipv6:
        start = {off, type == ethertype::ipv4 ? L3::ipv4 : L3::ipv6, plain_ethernet};
        return ok();
      case ethertype::vlan:
      case ethertype::qinq:
      case ethertype::qinq_old:
      case ethertype::qinq_old2:
        if (!has(f, off, 4)) return fail(DecodeReason::truncated_vlan);
        if (out.vlan_depth == 0) out.vlan_id = be16(f, off) & 0x0FFF;
        if (out.vlan_depth < 255) ++out.vlan_depth;
        type = be16(f, off + 2);
        off += 4;
        plain_ethernet = false;
        continue;
      case ethertype::mpls:
      case ethertype::mpls_multicast: {
        // Pop the label stack; the payload type is not signalled, so guess IP from the version nibble
        // (what Zeek and Suricata do). A pseudowire (Ethernet over MPLS) is reported as not IP.
        for (;;) {
          if (!has(f, off, 4)) return fail(DecodeReason::truncated_encapsulation);
          const bool bottom = (u8(f, off + 2) & 0x01) != 0;
          off += 4;
          if (bottom) break;
        }
        if (!has(f, off, 1)) return fail(DecodeReason::truncated_encapsulation);
        const auto version = u8(f, off) >> 4;
        if (version != 4 && version != 6) return not_ip(DecodeReason::non_ip_other);
        start = {off, version == 4 ? L3::ipv4 : L3::ipv6, false};
        return ok();
      }
      case ethertype::pppoe_session: {
        // 6-byte PPPoE header, then the 2-byte PPP protocol.
        if (!has(f, off, 8)) return fail(DecodeReason::truncated_encapsulation);
        const auto ppp = be16(f, off + 6);
        off += 8;
        if (ppp == 0x0021)
          type = ethertype::ipv4;
        else if (ppp == 0x0057)
          type = ethertype::ipv6;
        else
          return not_ip(DecodeReason::non_ip_other);
        plain_ethernet = false;
        continue;
      }
      case ethertype::arp:
      case ethertype::rarp:
        return not_ip(DecodeReason::non_ip_arp);
      default:
        break;
    }
    if (type < ethertype::min_ethertype) {
      // 802.3 length field: only LLC/SNAP with a zero OUI carries an ethertype (STP, CDP... do not).
      if (has(f, off, 8) && u8(f, off) == 0xAA && u8(f, off + 1) == 0xAA && u8(f, off + 2) == 0x03 &&
          u8(f, off + 3) == 0 && u8(f, off + 4) == 0 && u8(f, off + 5) == 0) {
        type = be16(f, off + 6);
        off += 8;
        plain_ethernet = false;
        if (type >= ethertype::min_ethertype) continue;
      }
    }
    return not_ip(DecodeReason::non_ip_other);
  }
}

bool is_af_inet6(std::uint32_t af) noexcept {
  // Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30.
  return af == 10 || af == 23 || af == 24 || af == 28 || af == 30;
}

DecodeResult decode_null_loop(Bytes f, L3Start& start) noexcept {
  if (!has(f, 0, 4)) return fail(DecodeReason::truncated_link);
  // DLT_NULL is in the capturing host's byte order and some writers get DLT_LOOP wrong too: accept
  // whichever order gives a known family (the values are small, so the other order never does).
  const std::uint32_t le = le32(f, 0), be = be32(f, 0);
  const std::uint32_t af = le < 256 ? le : be;
  if (af == 2) {
    start = {4, L3::ipv4, false};
    return ok();
  }
  if (is_af_inet6(af)) {
    start = {4, L3::ipv6, false};
    return ok();
  }
  return not_ip(DecodeReason::non_ip_other);
}

constexpr std::uint16_t arphrd_netlink = 824;

DecodeResult decode_nflog(Bytes& f, L3Start& start) noexcept {
  // 4-byte header (family, version, resource id), then TLVs with host-order (little-endian in
  // practice) 16-bit length and type, each padded to 4 bytes; type 9 is the packet payload.
  if (!has(f, 0, 4)) return fail(DecodeReason::truncated_link);
  const auto family = u8(f, 0);
  std::size_t off = 4;
  while (has(f, off, 4)) {
    const std::size_t len = le16(f, off);
    const auto type = le16(f, off + 2);
    if (len < 4 || !has(f, off, len)) return fail(DecodeReason::truncated_encapsulation);
    if (type == 9) {
      f = f.first(off + len);  // the IP packet ends with the TLV, not with the frame
      if (family == 2)
        start = {off + 4, L3::ipv4, false};
      else if (family == 10)
        start = {off + 4, L3::ipv6, false};
      else
        return not_ip(DecodeReason::non_ip_other);
      return ok();
    }
    off += (len + 3) & ~std::size_t{3};
  }
  if (off < f.size()) return fail(DecodeReason::truncated_encapsulation);  // a TLV header cut off
  return not_ip(DecodeReason::non_ip_other);  // no payload TLV: a log entry without packet bytes
}

DecodeResult find_l3(int link_type, Bytes& f, DecodedPacket& out, L3Start& start) noexcept {
  switch (link_type) {
    case link_type::ethernet:
      if (!has(f, 0, 14)) return fail(DecodeReason::truncated_link);
      return dispatch_ethertype(f, 14, be16(f, 12), true, out, start);
    case link_type::linux_sll:
      if (!has(f, 0, 16)) return fail(DecodeReason::truncated_link);
      if (be16(f, 2) == arphrd_netlink) return not_ip(DecodeReason::non_ip_other);
      return dispatch_ethertype(f, 16, be16(f, 14), false, out, start);
    case link_type::linux_sll2:
      if (!has(f, 0, 20)) return fail(DecodeReason::truncated_link);
      if (be16(f, 8) == arphrd_netlink) return not_ip(DecodeReason::non_ip_other);
      return dispatch_ethertype(f, 20, be16(f, 0), false, out, start);
    case link_type::raw:
    case link_type::raw_openbsd:
    case link_type::raw_linktype:
      start = {0, L3::by_version, false};
      return ok();
    case link_type::ipv4:
      start = {0, L3::ipv4, false};
      return ok();
    case link_type::ipv6:
      start = {0, L3::ipv6, false};
      return ok();
    case link_type::null:
    case link_type::loop:
      return decode_null_loop(f, start);
    case link_type::nflog:
      return decode_nflog(f, start);
    default:
      return {DecodeStatus::unsupported_link_type, DecodeReason::unsupported_link_type};
  }
}

// ---------------------------------------------------------------------------------------------------
// Transport layer.

// Where a header that does not fit ended: at the IP datagram's declared end (the IP header lies) or
// at the end of what was captured (snaplen or a cut frame).
DecodeReason short_header(std::size_t end, Bytes f, DecodeReason truncated) noexcept {
  return end < f.size() ? DecodeReason::ip_total_len_too_small : truncated;
}

struct TcpHeader {
  std::uint16_t src_port, dst_port, window;
  std::uint8_t flags;
  std::uint32_t recorded_len;
  bool options_cut;
};

// Reads a TCP header at `off` with `end` as the last usable byte + 1. Mirrors the reference's
// usability rule U4 (docs/features.md §2.3): the header length is what was captured of it, and a
// header whose options are cut where jnetpcap cannot decode them is unusable.
DecodeReason read_tcp(Bytes f, std::size_t off, std::size_t end, TcpHeader& t) noexcept {
  const std::size_t avail = end > off ? end - off : 0;
  if (avail < tcp_min_header) return short_header(end, f, DecodeReason::truncated_tcp);
  const std::uint32_t declared = static_cast<std::uint32_t>(u8(f, off + 12) >> 4) * 4;
  if (declared < tcp_min_header) return DecodeReason::bad_tcp_offset;
  const auto recorded = static_cast<std::uint32_t>(std::min<std::size_t>(declared, avail));
  if (declared > tcp_min_header) {
    if (recorded <= 20) return DecodeReason::truncated_tcp_options;
    const auto first_option = u8(f, off + 20);
    if (first_option > 1 && recorded <= 21) return DecodeReason::truncated_tcp_options;
  }
  t = {be16(f, off), be16(f, off + 2), be16(f, off + 14), u8(f, off + 13), recorded, recorded < declared};
  return DecodeReason::none;
}

struct Ipv6Chain {
  std::uint8_t next = 0;
  std::size_t l4_offset = 0;
  bool fragment_later = false;
  bool more_fragments = false;
};

// Skips IPv6 extension headers starting at `off` with next header `nh`.
DecodeReason walk_ipv6_extensions(Bytes f, std::size_t off, std::size_t end, std::uint8_t nh,
                                  Ipv6Chain& chain) noexcept {
  for (int i = 0; i <= max_ipv6_ext_headers; ++i) {
    std::size_t len = 0;
    switch (nh) {
      case ipproto::hop_by_hop:
      case ipproto::routing:
      case ipproto::dest_opts:
      case ipproto::mobility:
        if (!has(f, off, 2) || off + 2 > end) return DecodeReason::ipv6_ext_truncated;
        len = (std::size_t{u8(f, off + 1)} + 1) * 8;
        break;
      case ipproto::ah:
        if (!has(f, off, 2) || off + 2 > end) return DecodeReason::ipv6_ext_truncated;
        len = (std::size_t{u8(f, off + 1)} + 2) * 4;  // AH counts 4-byte units, minus 2
        break;
      case ipproto::fragment: {
        if (!has(f, off, 8) || off + 8 > end) return DecodeReason::ipv6_ext_truncated;
        const auto frag = be16(f, off + 2);
        chain.fragment_later = (frag >> 3) != 0;
        chain.more_fragments = (frag & 0x1) != 0;
        len = 8;
        break;
      }
      default:
        chain.next = nh;
        chain.l4_offset = off;
        return DecodeReason::none;
    }
    if (!has(f, off, len) || off + len > end) return DecodeReason::ipv6_ext_truncated;
    nh = u8(f, off);
    off += len;
    if (chain.fragment_later) {  // the rest of a later fragment is payload, not headers
      chain.next = nh;
      chain.l4_offset = off;
      return DecodeReason::none;
    }
  }
  return DecodeReason::ipv6_ext_truncated;  // absurd chain length: treat as garbage
}

// The TCP/UDP header quoted by an ICMP error, read as the cicids2017 reference reads it: present only
// for the first fragment of the quoted datagram with a full UDP (8) / TCP (20) header.
void read_quoted(Bytes f, std::size_t off, std::size_t end, bool v6, QuotedL4& q) noexcept {
  std::uint8_t proto = 0;
  std::size_t l4 = 0;
  if (!v6) {
    if (!has(f, off, 20) || off + 20 > end || (u8(f, off) >> 4) != 4) return;
    const std::size_t ihl = static_cast<std::size_t>(u8(f, off) & 0x0F) * 4;
    if (ihl < 20) return;
    q.first_fragment = (be16(f, off + 6) & 0x1FFF) == 0;
    proto = u8(f, off + 9);
    l4 = off + ihl;
  } else {
    if (!has(f, off, 40) || off + 40 > end || (u8(f, off) >> 4) != 6) return;
    Ipv6Chain chain;
    if (walk_ipv6_extensions(f, off + 40, end, u8(f, off + 6), chain) != DecodeReason::none) return;
    q.first_fragment = !chain.fragment_later;
    proto = chain.next;
    l4 = chain.l4_offset;
  }
  if (!q.first_fragment) return;
  if (proto == ipproto::tcp) {
    TcpHeader t{};
    if (read_tcp(f, l4, end, t) != DecodeReason::none) return;
    q = {true,           proto, t.src_port, t.dst_port, t.flags, t.window, static_cast<std::uint32_t>(l4),
         t.recorded_len, true};
  } else if (proto == ipproto::udp) {
    if (!has(f, l4, udp_header) || l4 + udp_header > end) return;
    q = {true, proto, be16(f, l4), be16(f, l4 + 2), 0, 0, static_cast<std::uint32_t>(l4), udp_header, true};
  }
}

DecodeResult decode_l4(Bytes f, std::size_t off, std::size_t end, bool v6, DecodedPacket& out,
                       DecodeReason note) noexcept {
  const std::uint8_t proto = out.ip_protocol;
  const std::size_t avail = end > off ? end - off : 0;
  out.l4_offset = static_cast<std::uint32_t>(off);
  if (proto == ipproto::tcp) {
    TcpHeader t{};
    if (const auto r = read_tcp(f, off, end, t); r != DecodeReason::none) return fail(r);
    out.src_port = t.src_port;
    out.dst_port = t.dst_port;
    out.tcp_flags = t.flags;
    out.tcp_window = t.window;
    out.l4_header_len = t.recorded_len;
    if (t.options_cut && note == DecodeReason::none) return ok(DecodeReason::tcp_options_cut);
    return ok(note);
  }
  if (proto == ipproto::udp) {
    if (avail < udp_header) return fail(short_header(end, f, DecodeReason::truncated_udp));
    out.src_port = be16(f, off);
    out.dst_port = be16(f, off + 2);
    out.l4_header_len = udp_header;
    return ok(note);
  }
  if ((proto == ipproto::icmp && !v6) || (proto == ipproto::icmpv6 && v6)) {
    if (avail < icmp_min_header) return fail(short_header(end, f, DecodeReason::truncated_icmp));
    out.icmp_type = u8(f, off);
    out.icmp_code = u8(f, off + 1);
    out.l4_header_len = static_cast<std::uint32_t>(std::min<std::size_t>(icmp_header, avail));
    const bool error =
        v6 ? (out.icmp_type >= 1 && out.icmp_type <= 4) : (out.icmp_type == 3 || out.icmp_type == 12);
    if (error && avail > icmp_header) read_quoted(f, off + icmp_header, end, v6, out.quoted);
    return ok(note);
  }
  out.l4_offset = 0;  // a protocol we do not read: an IP-level packet
  return ok(note);
}

// ---------------------------------------------------------------------------------------------------
// Network layer.

DecodeResult decode_ip(Bytes f, L3Start start, int depth, DecodedPacket& out) noexcept;

// An inner (tunnelled) IP header replaces everything the outer one filled in; capture and link fields
// stay.
void reset_network_fields(DecodedPacket& out) noexcept {
  const DecodedPacket keep = out;
  reset(out);
  out.ts_us = keep.ts_us;
  out.caplen = keep.caplen;
  out.wirelen = keep.wirelen;
  out.vlan_id = keep.vlan_id;
  out.vlan_depth = keep.vlan_depth;
  out.tunnel_depth = keep.tunnel_depth;
}

DecodeResult decode_ipv4(Bytes f, std::size_t off, bool ethernet_ii, int depth, DecodedPacket& out) noexcept {
  if (!has(f, off, 20)) return fail(DecodeReason::truncated_ip);
  if ((u8(f, off) >> 4) != 4) return fail(DecodeReason::bad_ip_version);
  const std::size_t ihl = static_cast<std::size_t>(u8(f, off) & 0x0F) * 4;
  if (ihl < 20) return fail(DecodeReason::bad_ihl);  // reference U2: unusable
  if (!has(f, off, ihl)) return fail(DecodeReason::truncated_ip);
  const std::size_t total = be16(f, off + 2);
  if (total != 0 && total < ihl) return fail(DecodeReason::ip_total_len_too_small);
  const auto frag = be16(f, off + 6);

  if (depth > 0)
    reset_network_fields(out);  // the outer header's fields go; the first header finds `out` fresh
  out.src.family = out.dst.family = 4;
  for (std::size_t i = 0; i < 4; ++i) {
    out.src.bytes[i] = u8(f, off + 12 + i);
    out.dst.bytes[i] = u8(f, off + 16 + i);
  }
  out.ip_protocol = u8(f, off + 9);
  out.ip_offset = static_cast<std::uint32_t>(off);
  out.ip_header_len = static_cast<std::uint32_t>(ihl);
  out.ip_total_len = static_cast<std::uint32_t>(total);
  out.ip_more_fragments = (frag & 0x2000) != 0;
  out.ip_fragment_later = (frag & 0x1FFF) != 0;
  out.ethernet_ii_before_ip = ethernet_ii;

  // TSO/GSO captures carry total length 0: the frame bounds the datagram then.
  const std::size_t end = total != 0 ? std::min(f.size(), off + total) : f.size();
  const DecodeReason note = total == 0 ? DecodeReason::ip_total_len_zero : DecodeReason::none;
  if (out.ip_fragment_later) return ok(DecodeReason::ip_fragment_later);

  const std::size_t l4 = off + ihl;
  if (out.ip_protocol == ipproto::ipip || out.ip_protocol == ipproto::ipv6) {
    return decode_ip(f.first(end), {l4, out.ip_protocol == ipproto::ipip ? L3::ipv4 : L3::ipv6, false},
                     depth + 1, out);
  }
  return decode_l4(f, l4, end, false, out, note);
}

DecodeResult decode_ipv6(Bytes f, std::size_t off, bool ethernet_ii, int depth, DecodedPacket& out) noexcept {
  if (!has(f, off, 40)) return fail(DecodeReason::truncated_ip);
  if ((u8(f, off) >> 4) != 6) return fail(DecodeReason::bad_ip_version);
  const std::size_t payload_len = be16(f, off + 4);
  // Payload length 0 with a hop-by-hop header is a jumbogram (or a BIG TCP/GSO capture): the length is
  // unknown, like IPv4 total length 0. Otherwise 0 really means a bare 40-byte header.
  const bool unknown_len = payload_len == 0 && u8(f, off + 6) == ipproto::hop_by_hop;
  const std::size_t total = unknown_len ? 0 : payload_len + 40;

  const std::size_t end = total != 0 ? std::min(f.size(), off + total) : f.size();
  Ipv6Chain chain;
  if (const auto r = walk_ipv6_extensions(f, off + 40, end, u8(f, off + 6), chain); r != DecodeReason::none) {
    return fail(r);
  }

  if (depth > 0)
    reset_network_fields(out);  // the outer header's fields go; the first header finds `out` fresh
  out.src.family = out.dst.family = 6;
  for (std::size_t i = 0; i < 16; ++i) {
    out.src.bytes[i] = u8(f, off + 8 + i);
    out.dst.bytes[i] = u8(f, off + 24 + i);
  }
  out.ip_protocol = chain.next;
  out.ip_offset = static_cast<std::uint32_t>(off);
  out.ip_header_len = static_cast<std::uint32_t>(chain.l4_offset - off);
  out.ip_total_len = static_cast<std::uint32_t>(total);
  out.ip_more_fragments = chain.more_fragments;
  out.ip_fragment_later = chain.fragment_later;
  out.ethernet_ii_before_ip = ethernet_ii;
  if (chain.fragment_later) return ok(DecodeReason::ip_fragment_later);

  if (chain.next == ipproto::ipip || chain.next == ipproto::ipv6) {
    return decode_ip(f.first(end),
                     {chain.l4_offset, chain.next == ipproto::ipip ? L3::ipv4 : L3::ipv6, false}, depth + 1,
                     out);
  }
  return decode_l4(f, chain.l4_offset, end, true, out, DecodeReason::none);
}

DecodeResult decode_ip(Bytes f, L3Start start, int depth, DecodedPacket& out) noexcept {
  if (depth > max_tunnel_depth) return fail(DecodeReason::tunnel_too_deep);
  L3 kind = start.kind;
  if (kind == L3::by_version) {
    if (!has(f, start.offset, 1)) return fail(DecodeReason::truncated_ip);
    const auto version = u8(f, start.offset) >> 4;
    if (version == 4)
      kind = L3::ipv4;
    else if (version == 6)
      kind = L3::ipv6;
    else
      return fail(DecodeReason::bad_ip_version);
  }
  out.tunnel_depth = static_cast<std::uint8_t>(depth);
  return kind == L3::ipv4 ? decode_ipv4(f, start.offset, start.ethernet_ii, depth, out)
                          : decode_ipv6(f, start.offset, start.ethernet_ii, depth, out);
}

}  // namespace

DecodeResult decode_packet(int link_type, std::span<const std::byte> frame, std::int64_t ts_us,
                           std::uint32_t wirelen, DecodedPacket& out) noexcept {
  reset(out);
  out.ts_us = ts_us;
  out.caplen = static_cast<std::uint32_t>(frame.size());
  out.wirelen = wirelen;
  L3Start start;
  Bytes f = frame;
  if (const auto r = find_l3(link_type, f, out, start); r.status != DecodeStatus::decoded) return r;
  return decode_ip(f, start, 0, out);
}

DecodeStatus decode_packet(int link_type, std::span<const std::byte> frame, std::int64_t ts_us,
                           std::uint32_t wirelen, DecodedPacket& out, DecodeCounters& counters) noexcept {
  const auto r = decode_packet(link_type, frame, ts_us, wirelen, out);
  counters.count(r.status, r.reason);
  return r.status;
}

bool is_supported_link_type(int lt) noexcept {
  switch (lt) {
    case link_type::null:
    case link_type::ethernet:
    case link_type::raw:
    case link_type::raw_openbsd:
    case link_type::raw_linktype:
    case link_type::loop:
    case link_type::linux_sll:
    case link_type::ipv4:
    case link_type::ipv6:
    case link_type::linux_sll2:
    case link_type::nflog:
      return true;
    default:
      return false;
  }
}

std::int64_t cicids2017_payload_len(const DecodedPacket& p) noexcept {
  if (p.l4_header_len == 0) return 0;
  return std::int64_t{p.caplen} - p.l4_offset - p.l4_header_len;
}

std::int64_t corrected_payload_len(const DecodedPacket& p) noexcept {
  if (p.l4_header_len == 0) return 0;
  std::int64_t limit = p.caplen;
  if (p.ethernet_ii_before_ip && p.ip_total_len != 0) {
    limit = std::min<std::int64_t>(limit, std::int64_t{p.ip_offset} + p.ip_total_len);
  }
  return std::max<std::int64_t>(0, limit - p.l4_offset - p.l4_header_len);
}

}  // namespace flowguard::capture
