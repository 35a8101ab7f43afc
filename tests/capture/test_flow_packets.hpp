#pragma once
// Synthetic DecodedPackets for flow/profile tests (what the decoder would produce for an untagged
// Ethernet II / IPv4 frame), and a FlowSink that keeps copies of what it receives.

#include "decode/packet.hpp"
#include "features/profile.hpp"
#include "flow/flow_engine.hpp"
#include "core/flow_report.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::test {

using capture::DecodedPacket;
using capture::IpAddress;

inline IpAddress ip4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = 4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

struct Endpoint {
  IpAddress ip;
  std::uint16_t port = 0;
};

inline constexpr std::int64_t sec = 1'000'000;
// 2017-07-05 11:46:12.897241 UTC: a realistic capture time (the profiles treat ts < 2 µs specially).
inline constexpr std::int64_t t0 = 1'499'255'172'897'241;

// Ethernet (14) + IPv4 (20) + L4 header + payload, padded to the 60-byte Ethernet minimum.
inline DecodedPacket ipv4_packet(std::int64_t ts, Endpoint s, Endpoint d, std::uint8_t proto,
                                 std::uint32_t l4_header_len, std::uint32_t payload) {
  DecodedPacket p;
  p.ts_us = ts;
  p.src = s.ip;
  p.dst = d.ip;
  p.ip_protocol = proto;
  p.ip_offset = 14;
  p.ip_header_len = 20;
  p.ip_total_len = 20 + l4_header_len + payload;
  p.ethernet_ii_before_ip = true;
  p.l4_offset = 34;
  p.l4_header_len = l4_header_len;
  p.caplen = std::max<std::uint32_t>(60, 34 + l4_header_len + payload);
  p.wirelen = p.caplen;
  p.src_port = s.port;
  p.dst_port = d.port;
  return p;
}

inline DecodedPacket tcp(std::int64_t ts, Endpoint s, Endpoint d, std::uint8_t flags, std::uint32_t payload = 0,
                         std::uint16_t window = 8192, std::uint32_t header = 20) {
  DecodedPacket p = ipv4_packet(ts, s, d, 6, header, payload);
  p.tcp_flags = flags;
  p.tcp_window = window;
  return p;
}

inline DecodedPacket udp(std::int64_t ts, Endpoint s, Endpoint d, std::uint32_t payload) {
  return ipv4_packet(ts, s, d, 17, 8, payload);
}

inline DecodedPacket icmp(std::int64_t ts, IpAddress s, IpAddress d, std::uint8_t type, std::uint8_t code,
                          std::uint32_t payload = 32) {
  DecodedPacket p = ipv4_packet(ts, {s, 0}, {d, 0}, 1, 8, payload);
  p.icmp_type = type;
  p.icmp_code = code;
  return p;
}

// A copy of one FlowReport, owning its features.
struct Record {
  capture::FlowReport report;
  std::vector<double> features;
  std::vector<std::uint8_t> integral;
};

class CollectingSink final : public capture::FlowSink {
 public:
  void on_flow(const capture::FlowReport& r) override {
    Record rec{r, {r.features.begin(), r.features.end()},
               {r.feature_integral.begin(), r.feature_integral.end()}};
    rec.report.features = {};
    rec.report.feature_integral = {};
    records.push_back(std::move(rec));
  }
  void on_time(std::int64_t now) override { last_time = now; }

  std::vector<Record> finals() const {
    std::vector<Record> out;
    for (const auto& r : records) {
      if (r.report.kind == capture::RecordKind::final_record) out.push_back(r);
    }
    return out;
  }

  std::vector<Record> records;
  std::int64_t last_time = 0;
};

inline std::size_t feature_index(capture::features::Profile profile, std::string_view name) {
  const auto names = capture::features::feature_names(profile);
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::invalid_argument("no feature named " + std::string(name));
  return static_cast<std::size_t>(it - names.begin());
}

inline double feature(const Record& r, capture::features::Profile profile, std::string_view name) {
  return r.features.at(feature_index(profile, name));
}


// Packets through the real flow engine under one profile (fixed hash seed), records collected.
struct ProfileRun {
  CollectingSink sink;
  std::unique_ptr<capture::FlowEngine> engine;
  ProfileRun(capture::features::Profile profile, capture::EngineConfig c, std::uint64_t seed) {
    c.profile = profile;
    c.hash_seed = seed;
    engine = capture::FlowEngine::create(c, {&sink});
  }
  ProfileRun& operator<<(const DecodedPacket& p) {
    engine->on_packet(p);
    return *this;
  }
  std::vector<Record> finish() {
    engine->finish();
    return sink.finals();
  }
};

}  // namespace flowguard::test
