// `--decode reference` (capture/decode/reference_scan.*): the emulation of the reference's jnetpcap
// scan, rule by rule (shared spec §2.1-§2.3), on frames built in code. Each case checks the decoded
// packet AND what the two feature profiles make of it (protocol, ports, payload, header bytes), since
// the point of the mode is that the profiles then print the reference's numbers.
#include "decode/reference_scan.hpp"
#include "features/cicids2017.hpp"
#include "features/corrected.hpp"
#include "fixtures/frame_builder.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <random>

using namespace flowguard::capture;
using namespace flowguard::test;
using features::ProfilePacket;

namespace {

struct Result {
  DecodeResult result;
  DecodedPacket packet;
  ProfilePacket as;  // the profile's view (valid when decoded)
};

// Decodes from an exactly-sized heap copy so the sanitizer build flags any read past the frame, then
// maps the packet with the profile that belongs to `build`.
Result scan(ReferenceBuild build, const Bytes& frame, std::size_t len = SIZE_MAX) {
  len = std::min(len, frame.size());
  std::unique_ptr<std::byte[]> copy{new std::byte[len == 0 ? 1 : len]};
  std::copy_n(frame.begin(), len, copy.get());
  Result r;
  r.result = decode_reference(build, std::span<const std::byte>{copy.get(), len}, 5'000'000, 1500, r.packet);
  if (r.result.status == DecodeStatus::decoded) {
    if (build == ReferenceBuild::corrected) {
      features::CorrectedProfile{features::Timeouts{}}.to_packet(r.packet, r.as);
    } else {
      features::Cicids2017Profile{features::Timeouts{}}.to_packet(r.packet, r.as);
    }
  }
  return r;
}

IpAddress addr4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress r;
  r.family = 4;
  r.bytes[0] = a, r.bytes[1] = b, r.bytes[2] = c, r.bytes[3] = d;
  return r;
}
IpAddress addr4(V4 a) { return addr4(a[0], a[1], a[2], a[3]); }

// Overwrites the destination MAC (its first byte is what pass 2 reads as version/IHL).
Bytes with_dst_mac(Bytes frame, std::initializer_list<std::uint8_t> mac) {
  std::size_t i = 0;
  for (auto b : mac) frame[i++] = std::byte{b};
  return frame;
}

// An ARP request as captured: 42 bytes, or padded to the 60-byte Ethernet minimum. The source MAC starts
// 00:00 so that pass 2 reads a zero fragment offset from it (bytes 6-7).
Bytes arp_frame(std::initializer_list<std::uint8_t> dst_mac, bool padded) {
  FrameBuilder b;
  b.raw({0, 0, 0, 0, 0, 0})
      .raw({0x00, 0x00, 0x5e, 0x00, 0x53, 0x01})
      .be16(0x0806)
      .be16(1)
      .be16(0x0800)
      .u8(6)
      .u8(4)
      .be16(1);                                        // htype, ptype, hlen, plen, op
  b.raw({0x02, 0, 0, 0, 0, 0x01}).raw({10, 0, 0, 1});  // sender
  b.raw({0, 0, 0, 0, 0, 0}).raw({10, 0, 0, 2});        // target
  if (padded) b.pad_to(60);
  return with_dst_mac(b.build(), dst_mac);
}

constexpr auto both = {ReferenceBuild::cicids2017, ReferenceBuild::corrected};
constexpr std::uint8_t ack = tcp_flag::ack, syn = tcp_flag::syn;

const char* name(ReferenceBuild b) { return b == ReferenceBuild::corrected ? "corrected" : "cicids2017"; }

}  // namespace

TEST_CASE("reference: plain Ethernet/IPv4/TCP, padding counted by cicids2017 only", "[decode][reference]") {
  const auto frame =
      FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 6).tcp(40000, 80, ack, 501).pad_to(60).build();
  REQUIRE(frame.size() == 60);
  for (auto build : both) {
    INFO(name(build));
    const auto r = scan(build, frame);
    REQUIRE(r.result.status == DecodeStatus::decoded);
    CHECK(r.result.reason == DecodeReason::none);  // pass 1
    CHECK(r.packet.src == addr4(host_a));
    CHECK(r.packet.dst == addr4(host_b));
    CHECK(r.as.protocol == 6);
    CHECK(r.as.src_port == 40000);
    CHECK(r.as.dst_port == 80);
    CHECK(r.as.tcp_flags == ack);
    CHECK(r.as.window == 501);
    CHECK(r.as.header == 20);
    // 60 - 14 - 20 - 20 = 6 bytes of padding: counted by cicids2017, trimmed by corrected.
    CHECK(r.as.payload == (build == ReferenceBuild::cicids2017 ? 6 : 0));
  }
}

TEST_CASE("reference: ARP becomes the pseudo-IPv4 packet 8.6.0.1 -> 8.0.6.4 through pass 2",
          "[decode][reference]") {
  for (bool padded : {true, false}) {
    const auto frame = arp_frame({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, padded);
    for (auto build : both) {
      INFO(name(build) << (padded ? " padded" : " 42 bytes"));
      const auto r = scan(build, frame);
      // Broadcast: IHL 15 -> a 60-byte header truncated to the frame, so usable in both builds.
      REQUIRE(r.result.status == DecodeStatus::decoded);
      CHECK(r.result.reason == DecodeReason::reference_fallback_pass);
      CHECK(r.packet.src == addr4(8, 6, 0, 1));
      CHECK(r.packet.dst == addr4(8, 0, 6, 4));
      CHECK(r.as.protocol == 0);
      CHECK(r.as.src_port == 0);
      CHECK(r.as.dst_port == 0);
      CHECK(r.as.payload == 0);
      CHECK(r.as.header == 0);
    }
  }
}

TEST_CASE("reference: un-padded ARP with an over-long pseudo header is dropped by corrected only (U3)",
          "[decode][reference]") {
  // dst MAC 0b:00:00:20:..: IHL 11 (44 bytes) with "total length" 0x0020 = 32 < 44. The explicit payload
  // is negative, so the header stays untruncated and reaches past the 42 captured bytes.
  const auto bare = arp_frame({0x0b, 0x00, 0x00, 0x20, 0x00, 0x01}, false);
  REQUIRE(bare.size() == 42);
  const auto r1425 = scan(ReferenceBuild::cicids2017, bare);
  REQUIRE(r1425.result.status == DecodeStatus::decoded);
  CHECK(r1425.packet.src == addr4(8, 6, 0, 1));
  CHECK(r1425.packet.dst == addr4(8, 0, 6, 4));
  const auto r1500 = scan(ReferenceBuild::corrected, bare);
  CHECK(r1500.result.status == DecodeStatus::not_ip);
  CHECK(r1500.result.reason == DecodeReason::reference_unusable);

  // Padded to 60 bytes the 44-byte header fits: both builds keep it.
  const auto padded = arp_frame({0x0b, 0x00, 0x00, 0x20, 0x00, 0x01}, true);
  for (auto build : both) {
    INFO(name(build));
    CHECK(scan(build, padded).result.status == DecodeStatus::decoded);
  }
}

TEST_CASE("reference: source MAC bytes read as a fragment offset make a 42-byte ARP over-long (U3)",
          "[decode][reference]") {
  // Source MAC 02:00:..: pass 2 sees fragment offset 0x200, so the explicit payload is L - h - o < 0 and
  // the broadcast's 60-byte pseudo header stays untruncated past the 42 captured bytes.
  auto frame = arp_frame({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false);
  frame[6] = std::byte{0x02};
  CHECK(scan(ReferenceBuild::cicids2017, frame).packet.src == addr4(8, 6, 0, 1));
  CHECK(scan(ReferenceBuild::cicids2017, frame).result.status == DecodeStatus::decoded);
  CHECK(scan(ReferenceBuild::corrected, frame).result.status == DecodeStatus::not_ip);
}

TEST_CASE("reference: ARP whose first MAC byte gives IHL < 5 is discarded (U1/U2)", "[decode][reference]") {
  for (auto build : both) {
    INFO(name(build));
    // 00: IHL 0, no IPv4 header recorded at all; 52: IHL 2 (8 bytes) < 20.
    for (std::uint8_t first : {0x00, 0x52}) {
      const auto r = scan(build, arp_frame({first, 0x54, 0x00, 0x12, 0x34, 0x56}, true));
      CHECK(r.result.status == DecodeStatus::not_ip);
      CHECK(r.result.reason == DecodeReason::reference_unusable);
    }
  }
}

TEST_CASE("reference: IPv6 frames are 134.221.96.x pseudo packets or dropped by the first MAC byte",
          "[decode][reference]") {
  const V6 s6 = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), d6 = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2});
  const auto frame = FrameBuilder{}.ethernet(0x86DD).ipv6(s6, d6, 17).udp(5353, 5353).payload(12).build();
  for (auto build : both) {
    INFO(name(build));
    // 56:..: IHL 6 -> pseudo-IPv4 from bytes 12-19 (86 dd 60 00 | 00 00 00 14: 20-byte IPv6 payload).
    const auto pseudo = scan(build, with_dst_mac(frame, {0x56}));
    REQUIRE(pseudo.result.status == DecodeStatus::decoded);
    CHECK(pseudo.result.reason == DecodeReason::reference_fallback_pass);
    CHECK(pseudo.packet.src == addr4(134, 221, 96, 0));
    CHECK(pseudo.packet.dst == addr4(0, 0, 0, 20));
    CHECK(pseudo.packet.src.family == 4);
    // 33:33 (multicast) and 00: low nibble below 5.
    for (std::uint8_t first : {0x33, 0x00}) {
      const auto r = scan(build, with_dst_mac(frame, {first}));
      CHECK(r.result.status == DecodeStatus::not_ip);
    }
  }
}

TEST_CASE("reference: IPv4 inside IPv6 is decoded as the inner IPv4 in pass 1", "[decode][reference]") {
  const V6 s6 = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), d6 = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 2});
  const auto frame = FrameBuilder{}
                         .ethernet(0x86DD)
                         .ipv6(s6, d6, 4)
                         .ipv4(host_c, host_d, 6)
                         .tcp(1234, 443, syn, 64240)
                         .build();
  for (auto build : both) {
    INFO(name(build));
    const auto r = scan(build, frame);
    REQUIRE(r.result.status == DecodeStatus::decoded);
    CHECK(r.result.reason == DecodeReason::none);
    CHECK(r.packet.src == addr4(host_c));
    CHECK(r.packet.dst == addr4(host_d));
    CHECK(r.as.protocol == 6);
    CHECK(r.as.dst_port == 443);
    CHECK(r.as.payload == 0);
  }
}

TEST_CASE("reference: IHL below 5 makes the packet unusable (U1, U2)", "[decode][reference]") {
  for (auto build : both) {
    INFO(name(build));
    for (std::uint8_t ihl : {0, 1, 4}) {
      INFO("ihl " << int(ihl));
      const auto frame = FrameBuilder{}
                             .ethernet(0x0800)
                             .ipv4(host_a, host_b, 17, Ipv4Options{}.ihl(ihl))
                             .zeros(20)
                             .udp(1, 2)
                             .payload(4)
                             .build();
      // Pass 2 reads the MAC 02:.. as IHL 2: unusable too.
      const auto r = scan(build, frame);
      CHECK(r.result.status == DecodeStatus::not_ip);
      CHECK(r.result.reason == DecodeReason::reference_unusable);
    }
  }
}

TEST_CASE("reference: TCP header rules (U4) and recorded header length", "[decode][reference]") {
  const auto base = [](std::uint8_t data_offset, std::uint8_t first_option) {
    return FrameBuilder{}
        .ethernet(0x0800)
        .ipv4(host_a, host_b, 6)
        .tcp(1000, 2000, ack, 77, data_offset, first_option)
        .payload(30)
        .build();
  };
  for (auto build : both) {
    INFO(name(build));
    // Data offset 3: a 12-byte header, flags/window unreadable.
    CHECK(scan(build, base(3, 1)).result.status == DecodeStatus::not_ip);
    // Data offset 4: 16 bytes recorded, usable; the rest counts as payload.
    const auto do4 = scan(build, base(4, 1));
    REQUIRE(do4.result.status == DecodeStatus::decoded);
    CHECK(do4.as.protocol == 6);
    CHECK(do4.as.header == 16);
    CHECK(do4.as.payload == 4 + 30);
    CHECK(do4.as.window == 77);

    // Data offset 6 (24 bytes) cut by the snaplen: 14 + 20 + 20 captured -> recorded 20 -> unusable.
    const auto do6_mss = base(6, 2);
    CHECK(scan(build, do6_mss, 54).result.status == DecodeStatus::not_ip);
    // 21 bytes captured: unusable when the first option is not EOL/NOP...
    CHECK(scan(build, do6_mss, 55).result.status == DecodeStatus::not_ip);
    // ...usable with a NOP, with the captured 21 bytes as header length.
    const auto nop = scan(build, base(6, 1), 55);
    REQUIRE(nop.result.status == DecodeStatus::decoded);
    CHECK(nop.as.header == 21);
    CHECK(nop.as.payload == 0);
    // 22 bytes captured: the option kind no longer matters.
    const auto mss22 = scan(build, do6_mss, 56);
    REQUIRE(mss22.result.status == DecodeStatus::decoded);
    CHECK(mss22.as.header == 22);

    // Fewer than 20 TCP bytes: no TCP header recorded; still an IPv4 packet of protocol 0.
    const auto short_tcp = scan(build, base(5, 1), 14 + 20 + 19);
    REQUIRE(short_tcp.result.status == DecodeStatus::decoded);
    CHECK(short_tcp.as.protocol == 0);
    CHECK(short_tcp.as.src_port == 0);
  }
}

TEST_CASE("reference: VLAN-tagged frames keep their padding in both builds", "[decode][reference]") {
  const auto frame = FrameBuilder{}
                         .ethernet(0x8100)
                         .vlan(42, 0x0800)
                         .ipv4(host_a, host_b, 6)
                         .tcp(40000, 80, ack, 501)
                         .pad_to(64)
                         .build();
  const auto qinq = FrameBuilder{}
                        .ethernet(0x88A8)
                        .vlan(7, 0x8100)
                        .vlan(42, 0x0800)
                        .ipv4(host_a, host_b, 17)
                        .udp(53, 53)
                        .pad_to(64)
                        .build();
  for (auto build : both) {
    INFO(name(build));
    const auto r = scan(build, frame);
    REQUIRE(r.result.status == DecodeStatus::decoded);
    CHECK(r.as.payload == 64 - 14 - 4 - 20 - 20);  // trimming only right after Ethernet
    CHECK(r.packet.vlan_id == 42);
    const auto q = scan(build, qinq);
    REQUIRE(q.result.status == DecodeStatus::decoded);
    CHECK(q.as.protocol == 17);
    CHECK(q.as.payload == 64 - 14 - 8 - 20 - 8);
  }
}

TEST_CASE("reference: IP total length 0 (TSO capture) trims nothing in corrected, everything in cicids2017",
          "[decode][reference]") {
  const auto frame = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 6, Ipv4Options{}.total(0))
                         .tcp(40000, 80, ack, 501)
                         .payload(100)
                         .build();
  const auto r1500 = scan(ReferenceBuild::corrected, frame);
  REQUIRE(r1500.result.status == DecodeStatus::decoded);
  CHECK(r1500.as.protocol == 6);
  CHECK(r1500.as.payload == 100);
  const auto r1425 = scan(ReferenceBuild::cicids2017, frame);
  REQUIRE(r1425.result.status == DecodeStatus::decoded);
  CHECK(r1425.packet.src == addr4(host_a));
  CHECK(r1425.as.protocol == 0);  // the working length ends at the IP header: no transport header
  CHECK(r1425.as.payload == 0);
}

TEST_CASE("reference: a short total length ends the scan at the IP header", "[decode][reference]") {
  // total length 10 < IHL*4: trimmed to 10 bytes after Ethernet, the 20-byte header stays untruncated.
  const auto frame = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 6, Ipv4Options{}.total(10))
                         .tcp(40000, 80, ack, 501)
                         .payload(10)
                         .build();
  for (auto build : both) {
    INFO(name(build));
    const auto r = scan(build, frame);
    REQUIRE(r.result.status == DecodeStatus::decoded);
    CHECK(r.as.protocol == 0);
  }
}

TEST_CASE("reference: raw-IP captures are decoded by pass 2 (link type ignored)", "[decode][reference]") {
  const auto frame = FrameBuilder{}.ipv4(host_c, host_d, 17).udp(4000, 53).payload(40).build();
  for (auto build : both) {
    INFO(name(build));
    const auto r = scan(build, frame);
    REQUIRE(r.result.status == DecodeStatus::decoded);
    CHECK(r.result.reason == DecodeReason::reference_fallback_pass);
    CHECK(r.packet.src == addr4(host_c));
    CHECK(r.packet.dst == addr4(host_d));
    CHECK(r.as.protocol == 17);
    CHECK(r.as.src_port == 4000);
    CHECK(r.as.payload == 40);
  }
  // Too short for either pass.
  CHECK(scan(ReferenceBuild::corrected, frame, 5).result.status == DecodeStatus::not_ip);
}

TEST_CASE("reference: ICMP errors quote IPv4 (UDP/TCP packets in cicids2017, ICMP in corrected)",
          "[decode][reference]") {
  const auto udp_error = FrameBuilder{}
                             .ethernet(0x0800)
                             .ipv4(host_b, host_a, 1)
                             .icmp(3, 3)
                             .ipv4(host_a, host_b, 17)
                             .udp(40000, 53)
                             .payload(4)
                             .build();
  const auto r1425 = scan(ReferenceBuild::cicids2017, udp_error);
  REQUIRE(r1425.result.status == DecodeStatus::decoded);
  CHECK(r1425.packet.src == addr4(host_b));  // outer addresses, quoted ports
  CHECK(r1425.as.protocol == 17);
  CHECK(r1425.as.src_port == 40000);
  CHECK(r1425.as.dst_port == 53);
  CHECK(r1425.as.payload == 4);
  const auto r1500 = scan(ReferenceBuild::corrected, udp_error);
  REQUIRE(r1500.result.status == DecodeStatus::decoded);
  CHECK(r1500.as.protocol == 1);
  CHECK(r1500.as.icmp_type == 3);
  CHECK(r1500.as.icmp_code == 3);
  CHECK(r1500.as.src_port == 0);
  CHECK(r1500.as.payload == 0);

  // Quoted TCP: flags and window of the quoted header in cicids2017.
  const auto tcp_error = FrameBuilder{}
                             .ethernet(0x0800)
                             .ipv4(host_b, host_a, 1)
                             .icmp(3, 1)
                             .ipv4(host_a, host_b, 6)
                             .tcp(40000, 22, syn, 1024)
                             .build();
  const auto t = scan(ReferenceBuild::cicids2017, tcp_error);
  REQUIRE(t.result.status == DecodeStatus::decoded);
  CHECK(t.as.protocol == 6);
  CHECK(t.as.tcp_flags == syn);
  CHECK(t.as.window == 1024);
  CHECK(t.as.header == 20);

  // A quoted TCP header with unreadable options is selected (and discards the packet) only in
  // cicids2017; corrected selects ICMP first and never applies U4.
  const auto cut = FrameBuilder{}
                       .ethernet(0x0800)
                       .ipv4(host_b, host_a, 1)
                       .icmp(3, 1)
                       .ipv4(host_a, host_b, 6)
                       .tcp(40000, 22, syn, 1024, 8, 2)
                       .build();
  const std::size_t cut_len = 14 + 20 + 8 + 20 + 20;
  CHECK(scan(ReferenceBuild::cicids2017, cut, cut_len).result.status == DecodeStatus::not_ip);
  const auto c = scan(ReferenceBuild::corrected, cut, cut_len);
  REQUIRE(c.result.status == DecodeStatus::decoded);
  CHECK(c.as.protocol == 1);

  // Echo requests quote nothing: protocol 0 in cicids2017.
  const auto echo = FrameBuilder{}.ethernet(0x0800).ipv4(host_a, host_b, 1).icmp(8, 0).payload(56).build();
  const auto e = scan(ReferenceBuild::cicids2017, echo);
  REQUIRE(e.result.status == DecodeStatus::decoded);
  CHECK(e.as.protocol == 0);
  CHECK(e.as.payload == 0);
  CHECK(scan(ReferenceBuild::corrected, echo).as.icmp_type == 8);
}

TEST_CASE("reference: non-first fragments carry no ports, first fragments do", "[decode][reference]") {
  const auto later = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 17, Ipv4Options{}.fragment(185))
                         .payload(80)
                         .build();
  const auto first = FrameBuilder{}
                         .ethernet(0x0800)
                         .ipv4(host_a, host_b, 17, Ipv4Options{}.fragment(0x2000))
                         .udp(53, 4000)
                         .payload(72)
                         .build();
  for (auto build : both) {
    INFO(name(build));
    const auto l = scan(build, later);
    REQUIRE(l.result.status == DecodeStatus::decoded);
    CHECK(l.as.protocol == 0);
    CHECK(l.as.src_port == 0);
    const auto f = scan(build, first);
    REQUIRE(f.result.status == DecodeStatus::decoded);
    CHECK(f.as.protocol == 17);
    CHECK(f.as.payload == 72);
  }
}

TEST_CASE("reference: any bytes of any length are safe and counted once", "[decode][reference]") {
  std::mt19937 rng(12345);
  const std::vector<Bytes> seeds = {
      FrameBuilder{}
          .ethernet(0x0800)
          .ipv4(host_a, host_b, 1)
          .icmp(3, 3)
          .ipv4(host_a, host_b, 6)
          .tcp(1, 2, ack, 3, 15)
          .build(),
      FrameBuilder{}
          .ethernet(0x8100)
          .vlan(1, 0x86DD)
          .ipv6(v6({1}), v6({2}), 0)
          .ipv6_ext(4, 3)
          .ipv4(host_a, host_b, 4)
          .ipv4(host_c, host_d, 17)
          .udp(1, 2)
          .build(),
      arp_frame({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false),
  };
  DecodeCounters counters;
  std::uint64_t frames = 0;
  for (auto build : both) {
    for (const auto& seed : seeds) {
      for (std::size_t len = 0; len <= seed.size(); ++len) {
        scan(build, seed, len);
        for (int flip = 0; flip < 20; ++flip) {
          Bytes mutated(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(len));
          for (auto& b : mutated) {
            if (rng() % 4 == 0) b = std::byte{static_cast<std::uint8_t>(rng())};
          }
          std::unique_ptr<std::byte[]> copy{new std::byte[mutated.empty() ? 1 : mutated.size()]};
          std::copy(mutated.begin(), mutated.end(), copy.get());
          DecodedPacket p;
          ++frames;
          if (decode_reference(build, {copy.get(), mutated.size()}, 0, 0, p, counters) ==
              DecodeStatus::decoded) {
            CHECK(p.l4_offset + p.l4_header_len <= mutated.size());
            CHECK(p.ip_offset + 20 <= mutated.size());
          }
        }
      }
    }
  }
  CHECK(counters.packets == frames);
  CHECK(counters.decoded + counters.not_ip == frames);
  CHECK(counters.decoded > 0);
  CHECK(counters.not_ip > 0);
}
