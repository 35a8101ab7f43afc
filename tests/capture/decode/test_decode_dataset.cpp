// Decodes every real capture in ../shared (Zeek's edge-case traces, the parity inputs, the DDoS
// captures) through PacketSource: nothing crashes, every packet lands in exactly one outcome, and
// specific traces decode the way their name promises. Skips with a message when ../shared is absent.
#include "decode/decoder.hpp"
#include "source/packet_source.hpp"

#include <catch2/catch.hpp>
#include "support/skip.hpp"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

using namespace flowguard::capture;
namespace fs = std::filesystem;

namespace {

fs::path shared_dir() {
  const char* env = std::getenv("FLOWGUARD_SHARED_DIR");
  return env != nullptr && *env != '\0' ? fs::path{env} : fs::path{};
}

// Empty when the shared captures are there, else why the test cannot run.
std::string missing_shared() {
  const auto dir = shared_dir();
  if (!dir.empty() && fs::is_directory(dir / "data" / "pcaps" / "edge")) return {};
  std::string why =
      "shared data not found (set FLOWGUARD_SHARED_DIR to the directory holding data/pcaps/edge); ";
  why += "looked in '";
  why += dir.string();
  why += "'";
  return why;
}

struct Summary {
  int link_type = 0;
  DecodeCounters counters;
  std::uint64_t v4 = 0, v6 = 0, tcp = 0, udp = 0, icmp = 0, vlan_tagged = 0, fragments_later = 0,
                tunnelled = 0, quoted = 0, ethernet_ii = 0;
  std::map<std::uint16_t, std::uint64_t> vlan_ids;
  ReadStatus end = ReadStatus::packet;
  std::string error;
};

Summary decode_file(const fs::path& path) {
  FileOptions o;
  o.path = path.string();
  auto src = PacketSource::open_file(o);
  Summary s;
  s.link_type = src->link_type();
  RawPacket raw;
  DecodedPacket p;
  for (;;) {
    const auto st = src->next(raw);
    if (st != ReadStatus::packet) {
      s.end = st;
      s.error = src->last_error();
      break;
    }
    REQUIRE(raw.data.size() == raw.caplen);
    if (decode_packet(s.link_type, raw.data, raw.ts_us, raw.wirelen, p, s.counters) != DecodeStatus::decoded)
      continue;
    REQUIRE(p.ts_us == raw.ts_us);
    REQUIRE(p.caplen == raw.caplen);
    REQUIRE((p.src.family == 4 || p.src.family == 6));
    REQUIRE(p.ip_offset + p.ip_header_len <= p.caplen);
    if (p.l4_header_len != 0) {
      REQUIRE(p.l4_offset + p.l4_header_len <= p.caplen);
      REQUIRE(cicids2017_payload_len(p) >= 0);
      REQUIRE(corrected_payload_len(p) <= cicids2017_payload_len(p));
    }
    if (p.quoted.present) REQUIRE(p.quoted.l4_offset + p.quoted.l4_header_len <= p.caplen);
    (p.src.family == 4 ? s.v4 : s.v6)++;
    if (p.ip_protocol == 6 && p.l4_header_len != 0) ++s.tcp;
    if (p.ip_protocol == 17 && p.l4_header_len != 0) ++s.udp;
    if ((p.ip_protocol == 1 || p.ip_protocol == 58) && p.l4_header_len != 0) ++s.icmp;
    if (p.vlan_depth > 0) {
      ++s.vlan_tagged;
      ++s.vlan_ids[p.vlan_id];
    }
    if (p.ip_fragment_later) ++s.fragments_later;
    if (p.tunnel_depth > 0) ++s.tunnelled;
    if (p.quoted.present) ++s.quoted;
    if (p.ethernet_ii_before_ip) ++s.ethernet_ii;
  }
  const auto& c = s.counters;
  REQUIRE(c.packets == c.decoded + c.malformed + c.not_ip + c.unsupported_link_type);
  REQUIRE(c.packets == src->stats().packets_read);
  return s;
}

std::string describe(const fs::path& path, const Summary& s) {
  std::string out = path.filename().string() + " linktype " + std::to_string(s.link_type) + ":";
  s.counters.for_each_nonzero([&](std::string_view name, std::uint64_t v) {
    out += " ";
    out += name;
    out += "=" + std::to_string(v);
  });
  return out;
}

Summary edge(const char* name) {
  const auto path = shared_dir() / "data" / "pcaps" / "edge" / name;
  INFO(path.string());
  REQUIRE(fs::exists(path));
  auto s = decode_file(path);
  INFO(describe(path, s));
  CHECK(s.end == ReadStatus::end_of_input);
  return s;
}

}  // namespace

TEST_CASE("every shared capture decodes without crashing and accounts for every packet", "[dataset]") {
  if (const auto why = missing_shared(); !why.empty()) FLOWGUARD_SKIP(why);
  std::vector<fs::path> files;
  for (const char* sub : {"data/pcaps/edge", "data/parity", "data/pcaps/ddos"}) {
    const auto dir = shared_dir() / sub;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".pcap" || ext == ".pcapng")) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 50);
  std::uint64_t total = 0;
  for (const auto& f : files) {
    INFO(f.string());
    const auto s = decode_file(f);
    UNSCOPED_INFO(describe(f, s));
    total += s.counters.packets;
    // Files may end in a libpcap read error (a truncated last record); anything else is a real end.
    CHECK((s.end == ReadStatus::end_of_input || s.end == ReadStatus::error));
    if (s.end == ReadStatus::error) WARN(f.filename().string() << ": " << s.error);
  }
  CHECK(total > 40000);
}

TEST_CASE("parity inputs are Ethernet/IPv4 and decode almost entirely", "[dataset]") {
  if (const auto why = missing_shared(); !why.empty()) FLOWGUARD_SKIP(why);
  const auto dir = shared_dir() / "data" / "parity";
  int inputs = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(e.path())) {
      const auto ext = f.path().extension().string();
      if (ext != ".pcap" && ext != ".pcapng") continue;
      ++inputs;
      const auto s = decode_file(f.path());
      INFO(describe(f.path(), s));
      CHECK(s.link_type == link_type::ethernet);
      CHECK(s.end == ReadStatus::end_of_input);
      CHECK(s.counters.malformed == 0);
      CHECK(s.v4 > 0);
      // A handful of non-IP frames (ARP) at most, as docs/features.md says.
      CHECK(s.counters.decoded + 20 >= s.counters.packets);
    }
  }
  CHECK(inputs >= 10);
}

TEST_CASE("edge traces decode the way their names promise", "[dataset]") {
  if (const auto why = missing_shared(); !why.empty()) FLOWGUARD_SKIP(why);
  SECTION("802.1Q: TCP inside VLAN, no Ethernet-II trimming") {
    const auto s = edge("http-vlan-0.pcap");
    CHECK(s.tcp > 0);
    CHECK(s.vlan_tagged == s.counters.decoded);
    CHECK(s.vlan_ids.size() == 1);  // priority-tagged frames: VLAN id 0
    CHECK(s.vlan_ids.count(0) == 1);
    CHECK(s.ethernet_ii == 0);
  }
  SECTION("QinQ: two tags, outer id reported") {
    const auto s = edge("http-qinq-0.pcap");
    CHECK(s.tcp > 0);
    CHECK(s.vlan_tagged == s.counters.decoded);
  }
  SECTION("Linux SLL2 and SLL") {
    const auto s2 = edge("linux_dlt_sll2.pcap");
    CHECK(s2.link_type == link_type::linux_sll2);
    CHECK(s2.counters.decoded > 0);
    CHECK(s2.counters.malformed == 0);
    const auto s1 = edge("linuxsll-arp.pcap");
    CHECK(s1.link_type == link_type::linux_sll);
    CHECK(s1.counters.reason(DecodeReason::non_ip_arp) > 0);
  }
  SECTION("IPv6 traces give family 6") {
    for (const char* name : {"communityid_ipv6.pcap", "ftp_ipv6.pcap", "communityid_icmp6.pcap"}) {
      const auto s = edge(name);
      CHECK(s.v6 > 0);
      CHECK(s.counters.malformed == 0);
    }
    CHECK(edge("communityid_icmp6.pcap").icmp > 0);
    const auto frag = edge("ipv6-http-atomic-frag.pcap");
    CHECK(frag.v6 > 0);
    CHECK(frag.tcp > 0);
  }
  SECTION("IPv4 fragments: later fragments have no transport header") {
    std::uint64_t later = 0;
    for (const char* name : {"ipv4_fragmented-1.pcap", "ipv4_fragmented-2.pcap", "ipv4_fragmented-3.pcap",
                             "ipv4_fragmented-4.pcap"}) {
      later += edge(name).fragments_later;
    }
    CHECK(later > 0);
  }
  SECTION("tunnels are followed to the inner packet") {
    for (const char* name : {"tunnels_4in4.pcap", "tunnels_6in4.pcap", "tunnels_4in6.pcap"}) {
      const auto s = edge(name);
      CHECK(s.tunnelled > 0);
    }
    CHECK(edge("tunnels_6in4.pcap").v6 > 0);
    CHECK(edge("tunnels_4in6.pcap").v4 > 0);
  }
  SECTION("TCP headers cut by snaplen: decoded with the captured length when flags/window are there") {
    // snaplen 68: the SYN's options are cut after 34 bytes, the first option (MSS) is readable, so the
    // reference uses the packet (docs/features.md §2.3 U4) and so do we, noting the cut.
    const auto s = edge("tcp_truncated-header.pcap");
    CHECK(s.counters.malformed == 0);
    CHECK(s.counters.reason(DecodeReason::tcp_options_cut) > 0);
    CHECK(s.tcp == s.counters.decoded);
  }
  SECTION("PPPoE, MPLS, NFLOG and raw IP reach IP") {
    CHECK(edge("pppoe.pcap").counters.decoded > 0);
    CHECK(edge("pppoe-over-qinq.pcap").counters.decoded > 0);
    CHECK(edge("mpls-in-vlan.pcap").counters.decoded > 0);
    const auto nflog = edge("nflog-http.pcap");
    CHECK(nflog.link_type == link_type::nflog);
    CHECK(nflog.tcp > 0);
    CHECK(edge("raw_packets.pcap").counters.decoded > 0);
  }
  SECTION("ICMP traces") {
    const auto s = edge("icmp_5-pings.pcap");
    CHECK(s.icmp == s.counters.decoded);
    CHECK(s.icmp >= 5);
  }
}
