// Decoder tests on frames built in code: every link type, VLAN/QinQ, IPv4 options and fragments, IPv6
// extension headers, tunnels, TCP/UDP/ICMP/ICMPv6, ICMP error quoting, padding, malformed input.
#include "decode/decoder.hpp"
#include "fixtures/frame_builder.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <string>

using namespace flowguard::capture;
using namespace flowguard::test;

namespace {

struct Decoded {
  DecodeResult result;
  DecodedPacket packet;
};

// Decodes from an exactly-sized heap copy so the sanitizer build flags any read past the frame.
Decoded decode(int link_type, const Bytes& frame, std::size_t len = SIZE_MAX) {
  len = std::min(len, frame.size());
  std::unique_ptr<std::byte[]> copy{new std::byte[len == 0 ? 1 : len]};
  std::copy_n(frame.begin(), len, copy.get());
  Decoded d;
  d.result = decode_packet(link_type, std::span<const std::byte>{copy.get(), len}, 1'000'000, 1500, d.packet);
  return d;
}

IpAddress addr4(V4 a) {
  IpAddress r;
  r.family = 4;
  std::copy(a.begin(), a.end(), r.bytes.begin());
  return r;
}
IpAddress addr6(const V6& a) {
  IpAddress r;
  r.family = 6;
  std::copy(a.begin(), a.end(), r.bytes.begin());
  return r;
}

const V6 six_a = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1});
const V6 six_b = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2});

constexpr std::uint8_t ack = tcp_flag::ack, syn = tcp_flag::syn, psh = tcp_flag::psh;

void require_decoded(const Decoded& d) {
  INFO("reason " << decode_reason_name(d.result.reason));
  REQUIRE(d.result.status == DecodeStatus::decoded);
}

}  // namespace

TEST_CASE("Ethernet/IPv4/TCP: addresses, ports, flags, window, offsets", "[decode]") {
  const auto frame = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 6)
                         .tcp(40000, 80, syn | ack, 29200)
                         .payload(100)
                         .build();
  const auto d = decode(link_type::ethernet, frame);
  require_decoded(d);
  const auto& p = d.packet;
  CHECK(p.ts_us == 1'000'000);
  CHECK(p.caplen == frame.size());
  CHECK(p.wirelen == 1500);
  CHECK(p.src == addr4(host_a));
  CHECK(p.dst == addr4(host_b));
  CHECK(p.ip_protocol == 6);
  CHECK(p.ip_offset == 14);
  CHECK(p.ip_header_len == 20);
  CHECK(p.ip_total_len == 20 + 20 + 100);
  CHECK(p.ethernet_ii_before_ip);
  CHECK(p.vlan_id == 0);
  CHECK(p.vlan_depth == 0);
  CHECK(p.tunnel_depth == 0);
  CHECK(p.l4_offset == 34);
  CHECK(p.l4_header_len == 20);
  CHECK(p.src_port == 40000);
  CHECK(p.dst_port == 80);
  CHECK(p.tcp_flags == (syn | ack));
  CHECK(p.tcp_window == 29200);
  CHECK_FALSE(p.ip_fragment_later);
  CHECK_FALSE(p.quoted.present);
  CHECK(cicids2017_payload_len(p) == 100);
  CHECK(corrected_payload_len(p) == 100);
}

TEST_CASE("Ethernet padding: counted by cicids2017, trimmed by corrected only for plain Ethernet II",
          "[decode]") {
  // Pure ACK: 54 bytes, padded to the 60-byte Ethernet minimum.
  const auto plain =
      FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 6).tcp(1, 2, ack, 100).pad_to(60).build();
  const auto p = decode(link_type::ethernet, plain);
  require_decoded(p);
  CHECK(p.packet.ethernet_ii_before_ip);
  CHECK(p.packet.ip_total_len == 40);
  CHECK(cicids2017_payload_len(p.packet) == 6);
  CHECK(corrected_payload_len(p.packet) == 0);

  // Same segment after an 802.1Q tag, padded to 64: the reference does not trim after VLAN.
  const auto tagged = FrameBuilder{}
                          .ethernet(0x8100)
                          .vlan(42, 0x0800)
                          .ipv4(host_a, host_b, 6)
                          .tcp(1, 2, ack, 100)
                          .pad_to(64)
                          .build();
  const auto t = decode(link_type::ethernet, tagged);
  require_decoded(t);
  CHECK_FALSE(t.packet.ethernet_ii_before_ip);
  CHECK(t.packet.vlan_id == 42);
  CHECK(t.packet.vlan_depth == 1);
  CHECK(t.packet.l4_offset == 38);
  CHECK(cicids2017_payload_len(t.packet) == 6);
  CHECK(corrected_payload_len(t.packet) == 6);
}

TEST_CASE("VLAN stacks: 802.1ad, QinQ 0x9100, triple tags report the outermost id", "[decode]") {
  for (std::uint16_t outer_tpid : {std::uint16_t{0x88A8}, std::uint16_t{0x9100}, std::uint16_t{0x8100}}) {
    const auto frame = FrameBuilder{}
                           .ethernet(outer_tpid)
                           .vlan(100, 0x8100)
                           .vlan(200, 0x0800)
                           .ipv4(host_a, host_b, 17)
                           .udp(5353, 53)
                           .payload(10)
                           .build();
    const auto d = decode(link_type::ethernet, frame);
    require_decoded(d);
    CHECK(d.packet.vlan_id == 100);
    CHECK(d.packet.vlan_depth == 2);
    CHECK(d.packet.ip_offset == 22);
    CHECK(d.packet.dst_port == 53);
    CHECK_FALSE(d.packet.ethernet_ii_before_ip);
  }
  const auto triple = FrameBuilder{}
                          .ethernet(0x88A8)
                          .vlan(7, 0x8100)
                          .vlan(8, 0x8100)
                          .vlan(9, 0x86DD)
                          .ipv6(six_a, six_b, 17)
                          .udp(1, 2)
                          .build();
  const auto d = decode(link_type::ethernet, triple);
  require_decoded(d);
  CHECK(d.packet.vlan_id == 7);
  CHECK(d.packet.vlan_depth == 3);
  CHECK(d.packet.src == addr6(six_a));
}

TEST_CASE("MPLS, PPPoE and LLC/SNAP carry IP", "[decode]") {
  const auto mpls = FrameBuilder{}
                        .ethernet(0x8847)
                        .raw({0x00, 0x01, 0x00, 0x40})
                        .raw({0x00, 0x02, 0x01, 0x40})
                        .ipv4(host_a, host_b, 17)
                        .udp(1, 2)
                        .build();
  const auto m = decode(link_type::ethernet, mpls);
  require_decoded(m);
  CHECK(m.packet.ip_offset == 22);
  CHECK_FALSE(m.packet.ethernet_ii_before_ip);

  const auto pppoe = FrameBuilder{}
                         .ethernet(0x8864)
                         .raw({0x11, 0x00, 0x00, 0x01, 0x00, 0x00})
                         .be16(0x0021)
                         .ipv4(host_a, host_b, 6)
                         .tcp(1, 2, syn, 10)
                         .build();
  const auto pp = decode(link_type::ethernet, pppoe);
  require_decoded(pp);
  CHECK(pp.packet.ip_offset == 22);
  CHECK(pp.packet.tcp_flags == syn);

  const auto lcp = FrameBuilder{}
                       .ethernet(0x8864)
                       .raw({0x11, 0x00, 0x00, 0x01, 0x00, 0x00})
                       .be16(0xC021)
                       .zeros(10)
                       .build();
  CHECK(decode(link_type::ethernet, lcp).result.reason == DecodeReason::non_ip_other);

  const auto snap = FrameBuilder{}
                        .ethernet(0)
                        .raw({0xAA, 0xAA, 0x03, 0, 0, 0})
                        .be16(0x0800)
                        .ipv4(host_a, host_b, 17)
                        .udp(1, 2)
                        .build();
  const auto s = decode(link_type::ethernet, snap);
  require_decoded(s);
  CHECK(s.packet.ip_offset == 22);

  const auto stp = FrameBuilder{}.ethernet(38).raw({0x42, 0x42, 0x03}).zeros(35).build();
  CHECK(decode(link_type::ethernet, stp).result.reason == DecodeReason::non_ip_other);
}

TEST_CASE("Non-IP frames are not-IP, not malformed", "[decode]") {
  const auto arp = FrameBuilder{}.ethernet(0x0806).zeros(28).pad_to(60).build();
  const auto a = decode(link_type::ethernet, arp);
  CHECK(a.result.status == DecodeStatus::not_ip);
  CHECK(a.result.reason == DecodeReason::non_ip_arp);
  const auto lldp = FrameBuilder{}.ethernet(0x88CC).zeros(40).build();
  CHECK(decode(link_type::ethernet, lldp).result.status == DecodeStatus::not_ip);
  const auto vlan_arp = FrameBuilder{}.ethernet(0x8100).vlan(5, 0x0806).zeros(28).build();
  CHECK(decode(link_type::ethernet, vlan_arp).result.reason == DecodeReason::non_ip_arp);
}

TEST_CASE("Link types: SLL, SLL2, raw IP, NULL/LOOP in both byte orders, NFLOG", "[decode]") {
  const auto ip = FrameBuilder{}.ipv4(host_c, host_d, 17).udp(123, 123).payload(48).build();
  const auto ip6 = FrameBuilder{}.ipv6(six_a, six_b, 6).tcp(22, 50000, psh | ack, 500).payload(3).build();

  SECTION("Linux SLL") {
    const auto d = decode(link_type::linux_sll, FrameBuilder{}.sll(0x0800).raw(ip).build());
    require_decoded(d);
    CHECK(d.packet.ip_offset == 16);
    CHECK(d.packet.l4_offset == 36);
    CHECK(d.packet.src == addr4(host_c));
    CHECK_FALSE(d.packet.ethernet_ii_before_ip);
    CHECK(decode(link_type::linux_sll, FrameBuilder{}.sll(0x0806).zeros(28).build()).result.reason ==
          DecodeReason::non_ip_arp);
    CHECK(decode(link_type::linux_sll, FrameBuilder{}.sll(0x0800, 824).raw(ip).build()).result.status ==
          DecodeStatus::not_ip);
  }
  SECTION("Linux SLL2") {
    const auto d = decode(link_type::linux_sll2, FrameBuilder{}.sll2(0x86DD).raw(ip6).build());
    require_decoded(d);
    CHECK(d.packet.ip_offset == 20);
    CHECK(d.packet.src == addr6(six_a));
    CHECK(d.packet.src_port == 22);
    CHECK(d.packet.tcp_flags == (psh | ack));
    CHECK(cicids2017_payload_len(d.packet) == 3);
  }
  SECTION("raw IP, every alias") {
    for (int lt : {link_type::raw, link_type::raw_openbsd, link_type::raw_linktype}) {
      const auto d4 = decode(lt, ip);
      require_decoded(d4);
      CHECK(d4.packet.ip_offset == 0);
      CHECK(d4.packet.src.family == 4);
      const auto d6 = decode(lt, ip6);
      require_decoded(d6);
      CHECK(d6.packet.src.family == 6);
    }
    require_decoded(decode(link_type::ipv4, ip));
    require_decoded(decode(link_type::ipv6, ip6));
    CHECK(decode(link_type::ipv4, ip6).result.reason == DecodeReason::bad_ip_version);
    CHECK(decode(link_type::ipv6, ip).result.reason == DecodeReason::bad_ip_version);
    auto bad = ip;
    bad[0] = std::byte{0x55};
    CHECK(decode(link_type::raw, bad).result.reason == DecodeReason::bad_ip_version);
  }
  SECTION("NULL and LOOP, both byte orders, every AF_INET6 value") {
    for (int lt : {link_type::null, link_type::loop}) {
      for (bool le : {true, false}) {
        const auto d4 = decode(lt, FrameBuilder{}.null_af(2, le).raw(ip).build());
        require_decoded(d4);
        CHECK(d4.packet.ip_offset == 4);
        for (std::uint32_t af6 : {10u, 24u, 28u, 30u}) {
          const auto d6 = decode(lt, FrameBuilder{}.null_af(af6, le).raw(ip6).build());
          require_decoded(d6);
          CHECK(d6.packet.src.family == 6);
        }
        CHECK(decode(lt, FrameBuilder{}.null_af(7, le).raw(ip).build()).result.status ==
              DecodeStatus::not_ip);
      }
    }
  }
  SECTION("NFLOG") {
    const auto frame = nflog_frame(2, ip);
    const auto d = decode(link_type::nflog, frame);
    require_decoded(d);
    CHECK(d.packet.ip_offset == 16);
    CHECK(d.packet.src_port == 123);
    CHECK(decode(link_type::nflog, nflog_frame(10, ip6)).packet.src.family == 6);
  }
  SECTION("unsupported link type") {
    const auto d = decode(147, ip);
    CHECK(d.result.status == DecodeStatus::unsupported_link_type);
    CHECK_FALSE(is_supported_link_type(147));
    CHECK(is_supported_link_type(link_type::linux_sll2));
  }
}

TEST_CASE("IPv4 options move the transport header", "[decode]") {
  const auto frame = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 6, Ipv4Options{}.ihl(8))
                         .tcp(1234, 443, ack, 1000, 8, 1)
                         .payload(5)
                         .build();
  const auto d = decode(link_type::ethernet, frame);
  require_decoded(d);
  CHECK(d.packet.ip_header_len == 32);
  CHECK(d.packet.l4_offset == 14 + 32);
  CHECK(d.packet.l4_header_len == 32);
  CHECK(cicids2017_payload_len(d.packet) == 5);
}

TEST_CASE("IPv4 fragments: the first decodes L4, later ones are IP-level", "[decode]") {
  const auto first = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 17, Ipv4Options{}.fragment(0x2000))
                         .udp(5000, 6000)
                         .payload(1472)
                         .build();
  const auto f = decode(link_type::ethernet, first);
  require_decoded(f);
  CHECK(f.packet.ip_more_fragments);
  CHECK_FALSE(f.packet.ip_fragment_later);
  CHECK(f.packet.dst_port == 6000);
  CHECK(f.packet.l4_header_len == 8);

  const auto later = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 17, Ipv4Options{}.fragment(185))
                         .payload(100)
                         .build();
  const auto l = decode(link_type::ethernet, later);
  require_decoded(l);
  CHECK(l.result.reason == DecodeReason::ip_fragment_later);
  CHECK(l.packet.ip_fragment_later);
  CHECK(l.packet.ip_protocol == 17);
  CHECK(l.packet.l4_header_len == 0);
  CHECK(l.packet.src_port == 0);
  CHECK(l.packet.dst_port == 0);
  CHECK(cicids2017_payload_len(l.packet) == 0);
}

TEST_CASE("IPv6 extension headers, AH, ESP, no-next-header", "[decode]") {
  const auto frame = FrameBuilder{}
                         .ethernet(0x86DD)
                         .ipv6(six_a, six_b, 0)
                         .ipv6_ext(60, 0)
                         .ipv6_ext(43, 1)
                         .ipv6_ext(51, 0)
                         .ipv6_ah(135, 4)
                         .ipv6_ext(6, 0)
                         .tcp(1, 2, syn, 64)
                         .build();
  const auto d = decode(link_type::ethernet, frame);
  require_decoded(d);
  CHECK(d.packet.ip_protocol == 6);
  CHECK(d.packet.ip_header_len == 40 + 8 + 16 + 8 + 24 + 8);
  CHECK(d.packet.l4_offset == 14 + d.packet.ip_header_len);
  CHECK(d.packet.ip_total_len == d.packet.ip_header_len + 20);
  CHECK(d.packet.tcp_flags == syn);
  CHECK(d.packet.ethernet_ii_before_ip);

  const auto esp =
      FrameBuilder{}.ethernet(0x86DD).ipv6(six_a, six_b, 0).ipv6_ext(50, 0).be32(0x100).payload(40).build();
  const auto e = decode(link_type::ethernet, esp);
  require_decoded(e);
  CHECK(e.packet.ip_protocol == 50);
  CHECK(e.packet.l4_header_len == 0);

  const auto none = FrameBuilder{}.ethernet(0x86DD).ipv6(six_a, six_b, 59).build();
  const auto n = decode(link_type::ethernet, none);
  require_decoded(n);
  CHECK(n.packet.ip_protocol == 59);
  CHECK(n.packet.ip_total_len == 40);

  auto cut = FrameBuilder{}.ethernet(0x86DD).ipv6(six_a, six_b, 0).ipv6_ext(6, 2).tcp(1, 2, syn, 1).build();
  CHECK(decode(link_type::ethernet, cut, 14 + 40 + 20).result.reason == DecodeReason::ipv6_ext_truncated);
}

TEST_CASE("IPv6 fragments: first decodes L4, later is IP-level", "[decode]") {
  const auto first = FrameBuilder{}
                         .ethernet(0x86DD)
                         .ipv6(six_a, six_b, 44)
                         .ipv6_fragment(17, 0, true)
                         .udp(53, 5353)
                         .payload(200)
                         .build();
  const auto f = decode(link_type::ethernet, first);
  require_decoded(f);
  CHECK(f.packet.ip_more_fragments);
  CHECK_FALSE(f.packet.ip_fragment_later);
  CHECK(f.packet.ip_protocol == 17);
  CHECK(f.packet.src_port == 53);
  CHECK(f.packet.l4_offset == 14 + 48);

  const auto later = FrameBuilder{}
                         .ethernet(0x86DD)
                         .ipv6(six_a, six_b, 0)
                         .ipv6_ext(44, 0)
                         .ipv6_fragment(17, 26, false)
                         .payload(100)
                         .build();
  const auto l = decode(link_type::ethernet, later);
  require_decoded(l);
  CHECK(l.packet.ip_fragment_later);
  CHECK(l.packet.ip_protocol == 17);
  CHECK(l.packet.l4_header_len == 0);
  CHECK(l.packet.src_port == 0);

  const auto atomic = FrameBuilder{}
                          .ethernet(0x86DD)
                          .ipv6(six_a, six_b, 44)
                          .ipv6_fragment(6, 0, false)
                          .tcp(80, 1025, ack, 9)
                          .build();
  const auto a = decode(link_type::ethernet, atomic);
  require_decoded(a);
  CHECK_FALSE(a.packet.ip_more_fragments);
  CHECK(a.packet.src_port == 80);
}

TEST_CASE("Tunnels 4in4, 6in4, 4in6, 6in6 are followed to the inner packet", "[decode]") {
  const V4 outer_a{198, 51, 100, 1}, outer_b{198, 51, 100, 2};
  const auto in4 = FrameBuilder{}
                       .ethernet(0x0800)
                       .ipv4(outer_a, outer_b, 4)
                       .ipv4(host_a, host_b, 6)
                       .tcp(1111, 2222, syn, 3)
                       .pad_to(60)
                       .build();
  const auto a = decode(link_type::ethernet, in4);
  require_decoded(a);
  CHECK(a.packet.src == addr4(host_a));
  CHECK(a.packet.dst == addr4(host_b));
  CHECK(a.packet.tunnel_depth == 1);
  CHECK(a.packet.ip_offset == 34);
  CHECK(a.packet.ip_total_len == 40);
  CHECK(a.packet.l4_offset == 54);
  CHECK(a.packet.src_port == 1111);
  CHECK_FALSE(a.packet.ethernet_ii_before_ip);

  const auto six_in_four = FrameBuilder{}
                               .ethernet(0x0800)
                               .ipv4(outer_a, outer_b, 41)
                               .ipv6(six_a, six_b, 17)
                               .udp(9, 10)
                               .payload(4)
                               .build();
  const auto b = decode(link_type::ethernet, six_in_four);
  require_decoded(b);
  CHECK(b.packet.src == addr6(six_a));
  CHECK(b.packet.l4_offset == 14 + 20 + 40);
  CHECK(cicids2017_payload_len(b.packet) == 4);

  const auto four_in_six =
      FrameBuilder{}.ethernet(0x86DD).ipv6(six_a, six_b, 4).ipv4(host_c, host_d, 1).icmp(8, 0).build();
  const auto c = decode(link_type::ethernet, four_in_six);
  require_decoded(c);
  CHECK(c.packet.src == addr4(host_c));
  CHECK(c.packet.ip_protocol == 1);
  CHECK(c.packet.icmp_type == 8);

  const auto six_in_six = FrameBuilder{}
                              .ethernet(0x86DD)
                              .ipv6(six_b, six_a, 0)
                              .ipv6_ext(41, 0)
                              .ipv6(six_a, six_b, 6)
                              .tcp(7, 8, ack, 1)
                              .build();
  const auto d = decode(link_type::ethernet, six_in_six);
  require_decoded(d);
  CHECK(d.packet.src == addr6(six_a));
  CHECK(d.packet.ip_offset == 14 + 48);
  CHECK(d.packet.tunnel_depth == 1);

  // Tunnels nest, but not forever.
  FrameBuilder deep;
  deep.ethernet(0x0800);
  for (int i = 0; i < 8; ++i) deep.ipv4(host_a, host_b, 4);
  deep.ipv4(host_a, host_b, 17).udp(1, 2);
  CHECK(decode(link_type::ethernet, deep.build()).result.reason == DecodeReason::tunnel_too_deep);
}

TEST_CASE("UDP, ICMP and ICMPv6", "[decode]") {
  const auto udp =
      FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 17).udp(33000, 53).payload(30).build();
  const auto u = decode(link_type::ethernet, udp);
  require_decoded(u);
  CHECK(u.packet.l4_header_len == 8);
  CHECK(cicids2017_payload_len(u.packet) == 30);

  const auto echo = FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 1).icmp(8, 0).payload(56).build();
  const auto e = decode(link_type::ethernet, echo);
  require_decoded(e);
  CHECK(e.packet.icmp_type == 8);
  CHECK(e.packet.icmp_code == 0);
  CHECK(e.packet.l4_header_len == 8);
  CHECK(e.packet.src_port == 0);
  CHECK_FALSE(e.packet.quoted.present);

  const auto echo6 = FrameBuilder{}.ethernet(0x86DD).ipv6(six_a, six_b, 58).icmp(128, 0).payload(8).build();
  const auto e6 = decode(link_type::ethernet, echo6);
  require_decoded(e6);
  CHECK(e6.packet.ip_protocol == 58);
  CHECK(e6.packet.icmp_type == 128);

  const auto gre = FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 47).payload(20).build();
  const auto g = decode(link_type::ethernet, gre);
  require_decoded(g);
  CHECK(g.packet.ip_protocol == 47);
  CHECK(g.packet.l4_header_len == 0);
  CHECK(g.packet.l4_offset == 0);
}

TEST_CASE("ICMP errors record the quoted TCP/UDP header", "[decode]") {
  // Port unreachable quoting the UDP datagram host_b -> host_c:4444 (original total length 300).
  const auto unreach = FrameBuilder{}
                           .ethernet(0x0800)
                           .ipv4(host_a, host_b, 1)
                           .icmp(3, 3)
                           .ipv4(host_b, host_c, 17, Ipv4Options{}.total(300))
                           .udp(5555, 4444)
                           .payload(20)
                           .build();
  const auto u = decode(link_type::ethernet, unreach);
  require_decoded(u);
  CHECK(u.packet.icmp_type == 3);
  CHECK(u.packet.icmp_code == 3);
  CHECK(u.packet.src == addr4(host_a));
  REQUIRE(u.packet.quoted.present);
  CHECK(u.packet.quoted.protocol == 17);
  CHECK(u.packet.quoted.src_port == 5555);
  CHECK(u.packet.quoted.dst_port == 4444);
  CHECK(u.packet.quoted.l4_offset == 14 + 20 + 8 + 20);
  CHECK(u.packet.quoted.l4_header_len == 8);

  // Parameter problem (12) quoting a TCP segment with options.
  const auto param = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 1)
                         .icmp(12, 0)
                         .ipv4(host_b, host_c, 6, Ipv4Options{}.total(60))
                         .tcp(80, 9999, syn | ack, 1234, 6, 2)
                         .build();
  const auto t = decode(link_type::ethernet, param);
  require_decoded(t);
  REQUIRE(t.packet.quoted.present);
  CHECK(t.packet.quoted.protocol == 6);
  CHECK(t.packet.quoted.tcp_flags == (syn | ack));
  CHECK(t.packet.quoted.tcp_window == 1234);
  CHECK(t.packet.quoted.l4_header_len == 24);

  // RFC 792 minimum quote: 8 bytes of TCP are not a readable header.
  const auto short_quote = FrameBuilder{}
                               .ethernet(0x0800)
                               .ipv4(host_a, host_b, 1)
                               .icmp(3, 1)
                               .ipv4(host_b, host_c, 6, Ipv4Options{}.total(60))
                               .raw({0, 80, 0, 81, 0, 0, 0, 1})
                               .build();
  const auto s = decode(link_type::ethernet, short_quote);
  require_decoded(s);
  CHECK_FALSE(s.packet.quoted.present);

  // A quoted non-first fragment has no transport header.
  const auto frag = FrameBuilder{}
                        .ethernet(0x0800)
                        .ipv4(host_a, host_b, 1)
                        .icmp(3, 3)
                        .ipv4(host_b, host_c, 17, Ipv4Options{}.fragment(10).total(300))
                        .udp(1, 2)
                        .build();
  const auto fr = decode(link_type::ethernet, frag);
  require_decoded(fr);
  CHECK_FALSE(fr.packet.quoted.present);
  CHECK_FALSE(fr.packet.quoted.first_fragment);

  // Time exceeded (11) is not read as a quoted packet by the reference.
  const auto ttl = FrameBuilder{}
                       .ethernet(0x0800)
                       .ipv4(host_a, host_b, 1)
                       .icmp(11, 0)
                       .ipv4(host_b, host_c, 17, Ipv4Options{}.total(300))
                       .udp(1, 2)
                       .build();
  CHECK_FALSE(decode(link_type::ethernet, ttl).packet.quoted.present);

  // ICMPv6 destination unreachable quoting IPv6/UDP.
  const auto unreach6 = FrameBuilder{}
                            .ethernet(0x86DD)
                            .ipv6(six_a, six_b, 58)
                            .icmp(1, 4)
                            .ipv6(six_b, six_a, 17, 100)
                            .udp(7000, 8000)
                            .build();
  const auto u6 = decode(link_type::ethernet, unreach6);
  require_decoded(u6);
  REQUIRE(u6.packet.quoted.present);
  CHECK(u6.packet.quoted.dst_port == 8000);
  CHECK(u6.packet.quoted.l4_offset == 14 + 40 + 8 + 40);
}

TEST_CASE("Malformed headers are rejected with their reason", "[decode]") {
  const auto base = [](Ipv4Options o) {
    return FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 6, o).tcp(1, 2, ack, 3).build();
  };
  CHECK(decode(link_type::ethernet, base(Ipv4Options{}.ihl(4))).result.reason == DecodeReason::bad_ihl);
  CHECK(decode(link_type::ethernet, base(Ipv4Options{}.ihl(0))).result.reason == DecodeReason::bad_ihl);
  CHECK(decode(link_type::ethernet, base(Ipv4Options{}.ip_version(6))).result.reason ==
        DecodeReason::bad_ip_version);
  CHECK(decode(link_type::ethernet, base(Ipv4Options{}.total(19))).result.reason ==
        DecodeReason::ip_total_len_too_small);
  // Total length says the datagram ends inside the TCP header although more bytes were captured.
  CHECK(decode(link_type::ethernet, base(Ipv4Options{}.total(30))).result.reason ==
        DecodeReason::ip_total_len_too_small);

  const auto bad_offset =
      FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 6).tcp(1, 2, ack, 3, 4).zeros(8).build();
  CHECK(decode(link_type::ethernet, bad_offset).result.reason == DecodeReason::bad_tcp_offset);

  // IPv4 total length 0 (TSO capture): decoded, the frame length bounds the packet.
  const auto tso = FrameBuilder{}
                       .ethernet(0x0800)
                       .ipv4(host_a, host_b, 6, Ipv4Options{}.total(0))
                       .tcp(1, 2, ack, 3)
                       .payload(3000)
                       .build();
  const auto t = decode(link_type::ethernet, tso);
  require_decoded(t);
  CHECK(t.result.reason == DecodeReason::ip_total_len_zero);
  CHECK(t.packet.ip_total_len == 0);
  CHECK(corrected_payload_len(t.packet) == 3000);
}

TEST_CASE("TCP options cut by snaplen follow the reference's usability rule", "[decode]") {
  // Data offset 8 (32-byte header), first option MSS (kind 2).
  const auto frame = FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 6).tcp(1, 2, syn, 3, 8, 2).build();
  const std::size_t tcp = 34;
  CHECK(decode(link_type::ethernet, frame, tcp + 20).result.reason == DecodeReason::truncated_tcp_options);
  CHECK(decode(link_type::ethernet, frame, tcp + 21).result.reason == DecodeReason::truncated_tcp_options);
  const auto d22 = decode(link_type::ethernet, frame, tcp + 22);
  require_decoded(d22);
  CHECK(d22.packet.l4_header_len == 22);
  CHECK(cicids2017_payload_len(d22.packet) == 0);
  CHECK(corrected_payload_len(d22.packet) == 0);

  // First option NOP (kind 1): 21 captured header bytes are enough.
  const auto nop = FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 6).tcp(1, 2, syn, 3, 8, 1).build();
  CHECK(decode(link_type::ethernet, nop, tcp + 20).result.reason == DecodeReason::truncated_tcp_options);
  const auto n21 = decode(link_type::ethernet, nop, tcp + 21);
  require_decoded(n21);
  CHECK(n21.packet.l4_header_len == 21);

  // Fewer than 20 bytes of TCP: unusable (flags/window may be missing).
  for (std::size_t n = tcp; n < tcp + 20; ++n) {
    CHECK(decode(link_type::ethernet, frame, n).result.reason == DecodeReason::truncated_tcp);
  }
}

TEST_CASE("Truncation at every length: no crash, a truncation reason, full decode once headers fit",
          "[decode]") {
  struct Case {
    const char* name;
    int link_type;
    Bytes frame;
    std::size_t headers_end;  // first length at which the packet decodes
  };
  const std::vector<Case> cases{
      {"eth/ipv4/tcp+opts", link_type::ethernet,
       FrameBuilder{}
           .ethernet(0x0800)
           .ipv4(host_a, host_b, 6, Ipv4Options{}.ihl(6))
           .tcp(1, 2, syn, 3, 6, 1)
           .payload(9)
           .build(),
       14 + 24 + 21},
      {"qinq/ipv4/udp", link_type::ethernet,
       FrameBuilder{}
           .ethernet(0x88A8)
           .vlan(1, 0x8100)
           .vlan(2, 0x0800)
           .ipv4(host_a, host_b, 17)
           .udp(1, 2)
           .payload(5)
           .build(),
       22 + 20 + 8},
      {"eth/ipv6/ext/frag/tcp", link_type::ethernet,
       FrameBuilder{}
           .ethernet(0x86DD)
           .ipv6(six_a, six_b, 0)
           .ipv6_ext(44, 1)
           .ipv6_fragment(6, 0, true)
           .tcp(1, 2, ack, 3)
           .payload(7)
           .build(),
       14 + 40 + 16 + 8 + 20},
      {"sll2/4in6/icmp-error", link_type::linux_sll2,
       FrameBuilder{}
           .sll2(0x86DD)
           .ipv6(six_a, six_b, 4)
           .ipv4(host_a, host_b, 1)
           .icmp(3, 3)
           .ipv4(host_b, host_c, 17, Ipv4Options{}.total(100))
           .udp(1, 2)
           .build(),
       20 + 40 + 20 + 4},
      {"null/ipv4/udp", link_type::null,
       FrameBuilder{}.null_af(2, true).ipv4(host_a, host_b, 17).udp(1, 2).build(), 4 + 20 + 8},
      {"nflog/ipv4/tcp", link_type::nflog,
       nflog_frame(2, FrameBuilder{}.ipv4(host_a, host_b, 6).tcp(1, 2, ack, 3).build()), 16 + 40},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto full = decode(c.link_type, c.frame);
    require_decoded(full);
    DecodeCounters counters;
    for (std::size_t len = 0; len <= c.frame.size(); ++len) {
      INFO("length " << len);
      std::unique_ptr<std::byte[]> copy{new std::byte[len == 0 ? 1 : len]};
      std::copy_n(c.frame.begin(), len, copy.get());
      DecodedPacket p;
      const auto status =
          decode_packet(c.link_type, std::span<const std::byte>{copy.get(), len}, 0, 0, p, counters);
      if (len < c.headers_end) {
        // NFLOG cut exactly between TLVs is a log entry without a packet: not IP rather than malformed.
        if (c.link_type == link_type::nflog && status == DecodeStatus::not_ip) continue;
        CHECK(status == DecodeStatus::malformed);
        continue;
      }
      REQUIRE(status == DecodeStatus::decoded);
      CHECK(p.src == full.packet.src);
      CHECK(p.src_port == full.packet.src_port);
      CHECK(p.ip_offset == full.packet.ip_offset);
      CHECK(p.l4_offset == full.packet.l4_offset);
      CHECK(p.caplen == len);
      CHECK(cicids2017_payload_len(p) >= 0);
      CHECK(corrected_payload_len(p) <= cicids2017_payload_len(p));
    }
    CHECK(counters.packets == c.frame.size() + 1);
    CHECK(counters.packets ==
          counters.decoded + counters.malformed + counters.not_ip + counters.unsupported_link_type);
    CHECK(counters.malformed > 0);
    if (c.link_type != link_type::nflog) CHECK(counters.not_ip == 0);
  }
}

TEST_CASE("Counters: outcome totals add up and every reason has a unique name", "[decode]") {
  DecodeCounters c;
  DecodedPacket p;
  const auto good = FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 17).udp(1, 2).build();
  const auto arp = FrameBuilder{}.ethernet(0x0806).zeros(28).build();
  CHECK(decode_packet(link_type::ethernet, good, 0, 0, p, c) == DecodeStatus::decoded);
  CHECK(decode_packet(link_type::ethernet, arp, 0, 0, p, c) == DecodeStatus::not_ip);
  CHECK(decode_packet(link_type::ethernet, std::span<const std::byte>{good}.first(20), 0, 0, p, c) ==
        DecodeStatus::malformed);
  CHECK(decode_packet(9999, good, 0, 0, p, c) == DecodeStatus::unsupported_link_type);
  CHECK(c.packets == 4);
  CHECK(c.decoded == 1);
  CHECK(c.not_ip == 1);
  CHECK(c.malformed == 1);
  CHECK(c.unsupported_link_type == 1);
  CHECK(c.reason(DecodeReason::non_ip_arp) == 1);
  CHECK(c.reason(DecodeReason::truncated_ip) == 1);

  std::set<std::string> names;
  for (std::size_t i = 0; i < decode_reason_count; ++i) {
    const auto name = decode_reason_name(static_cast<DecodeReason>(i));
    CHECK_FALSE(name.empty());
    CHECK(name != "invalid");
    names.emplace(name);
  }
  CHECK(names.size() == decode_reason_count);
  std::vector<std::string> printed;
  c.for_each_nonzero([&](std::string_view n, std::uint64_t) { printed.emplace_back(n); });
  CHECK(printed.size() == 5 + 3);  // totals + non_ip_arp, truncated_ip, unsupported_link_type
}

TEST_CASE("Mutated frames: any bytes under any link type decode safely and consistently", "[decode]") {
  // Deterministic mutation fuzzing: flip bytes of valid frames, cut them anywhere, and decode them
  // under every link type. The sanitizer build turns any out-of-bounds read into a failure; here the
  // decoded results must be self-consistent.
  const std::vector<Bytes> seeds{
      FrameBuilder{}
          .ethernet(0x0800)
          .ipv4(host_a, host_b, 6, Ipv4Options{}.ihl(6))
          .tcp(1, 2, syn, 3, 7, 1)
          .payload(20)
          .build(),
      FrameBuilder{}
          .ethernet(0x8100)
          .vlan(3, 0x86DD)
          .ipv6(six_a, six_b, 0)
          .ipv6_ext(44, 0)
          .ipv6_fragment(17, 0, true)
          .udp(1, 2)
          .payload(9)
          .build(),
      FrameBuilder{}
          .ethernet(0x0800)
          .ipv4(host_a, host_b, 1)
          .icmp(3, 3)
          .ipv4(host_b, host_c, 6, Ipv4Options{}.total(80))
          .tcp(4, 5, ack, 6)
          .build(),
      FrameBuilder{}
          .sll2(0x86DD)
          .ipv6(six_a, six_b, 58)
          .icmp(1, 0)
          .ipv6(six_b, six_a, 6, 60)
          .tcp(1, 2, ack, 3)
          .build(),
      FrameBuilder{}
          .null_af(2, true)
          .ipv4(host_a, host_b, 41)
          .ipv6(six_a, six_b, 4)
          .ipv4(host_c, host_d, 17)
          .udp(8, 9)
          .build(),
      nflog_frame(2, FrameBuilder{}.ipv4(host_a, host_b, 17).udp(1, 2).payload(7).build()),
      FrameBuilder{}.ethernet(0x8847).raw({0, 1, 1, 64}).ipv4(host_a, host_b, 6).tcp(1, 2, syn, 3).build(),
  };
  const int link_types[] = {link_type::ethernet, link_type::linux_sll, link_type::linux_sll2,
                            link_type::raw,      link_type::null,      link_type::loop,
                            link_type::nflog,    link_type::ipv6};
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto rnd = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  DecodeCounters counters;
  std::uint64_t decoded = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    Bytes frame = seeds[rnd() % seeds.size()];
    const int flips = 1 + static_cast<int>(rnd() % 4);
    for (int i = 0; i < flips; ++i) frame[rnd() % frame.size()] = std::byte{static_cast<std::uint8_t>(rnd())};
    const std::size_t len = rnd() % 3 == 0 ? rnd() % (frame.size() + 1) : frame.size();
    std::unique_ptr<std::byte[]> copy{new std::byte[len == 0 ? 1 : len]};
    std::copy_n(frame.begin(), len, copy.get());
    for (int lt : link_types) {
      DecodedPacket p;
      if (decode_packet(lt, std::span<const std::byte>{copy.get(), len}, 0, 0, p, counters) !=
          DecodeStatus::decoded) {
        continue;
      }
      ++decoded;
      REQUIRE((p.src.family == 4 || p.src.family == 6));
      REQUIRE(p.ip_offset + (p.src.family == 4 ? 20u : 40u) <= len);
      REQUIRE(p.ip_offset + p.ip_header_len <= len);
      if (p.l4_header_len != 0) {
        REQUIRE(p.l4_offset >= p.ip_offset + p.ip_header_len);
        REQUIRE(p.l4_offset + p.l4_header_len <= len);
        REQUIRE(corrected_payload_len(p) <= cicids2017_payload_len(p));
        REQUIRE(cicids2017_payload_len(p) >= 0);
      }
      if (p.quoted.present) REQUIRE(p.quoted.l4_offset + p.quoted.l4_header_len <= len);
      REQUIRE_FALSE((p.ip_fragment_later && p.l4_header_len != 0));
    }
  }
  CHECK(counters.packets == 30000u * std::size(link_types));
  CHECK(counters.packets ==
        counters.decoded + counters.malformed + counters.not_ip + counters.unsupported_link_type);
  CHECK(decoded == counters.decoded);
  CHECK(counters.decoded > 10000);  // mutations mostly hit payload bytes: many frames still decode
  CHECK(counters.malformed > 1000);
}
