// Profile corrected: every quirk of the spec's checklist (docs/features.md §6, C1..C9), with expected
// values worked out by hand from the spec, run through the real flow engine.
#include "features/cicids2017.hpp"
#include "features/corrected.hpp"
#include "features/feature_row.hpp"
#include "fixtures/test_flow_packets.hpp"

#include "flow/flow_engine.hpp"
#include "output/csv_writer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

using namespace flowguard::test;
using flowguard::capture::EngineConfig;
using flowguard::capture::features::Profile;
namespace flag = flowguard::capture::tcp_flag;

namespace {

constexpr Profile P = Profile::corrected;

struct Run : ProfileRun {
  explicit Run(EngineConfig c = {}) : ProfileRun(P, c, 7) {}
};

double f(const Record& r, std::string_view name) { return feature(r, P, name); }

std::string csv_line(const Record& rec) {
  flowguard::capture::FlowReport r = rec.report;
  r.features = rec.features;
  r.feature_integral = rec.integral;
  return flowguard::capture::output::CsvWriter::format_row(r, P);
}

const Endpoint client{ip4(10, 251, 2, 1), 60594};
const Endpoint server{ip4(10, 251, 2, 2), 53};
const Endpoint a{ip4(10, 0, 0, 1), 40000}, b{ip4(10, 0, 0, 2), 80};

}  // namespace

TEST_CASE("corrected worked example 5.7: DNS exchange", "[profile][corrected]") {
  Run run;
  run << udp(t0, client, server, 47) << udp(t0 + 231, server, client, 232);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  const Record& r = rows[0];
  CHECK(f(r, "Packet Length Mean") == 139.5);
  CHECK(f(r, "Packet Length Std") == 130.8147545195113);
  CHECK(f(r, "Packet Length Variance") == 17112.5);
  CHECK(f(r, "Average Packet Size") == 139.5);
  CHECK(f(r, "Subflow Fwd Packets") == 0);  // C6: 1 / 2
  CHECK(f(r, "Subflow Fwd Bytes") == 23);   // 47 / 2
  CHECK(f(r, "Subflow Bwd Packets") == 0);
  CHECK(f(r, "Subflow Bwd Bytes") == 116);
  CHECK(f(r, "FWD Init Win Bytes") == 0);
  CHECK(f(r, "Bwd Init Win Bytes") == 0);
  CHECK(f(r, "Fwd Header Length") == 8);
  CHECK(f(r, "Bwd Header Length") == 8);
  CHECK(f(r, "Fwd Seg Size Min") == 8);
  CHECK(f(r, "ICMP Code") == -1);
  CHECK(f(r, "ICMP Type") == -1);
  CHECK(f(r, "Total TCP Flow Time") == 0);
  CHECK(f(r, "Flow Bytes/s") == 1207792.2077922078);
}

TEST_CASE("corrected C2: payload trimmed to the IP total length, padding kept after VLAN and for totLen 0",
          "[profile][corrected]") {
  Run run;
  auto plain = tcp(t0, a, b, flag::ack);  // 60-byte frame, 6 bytes of padding
  auto tagged = tcp(t0 + 1, a, b, flag::ack);
  tagged.ethernet_ii_before_ip = false;  // VLAN-tagged: the reference does not trim
  tagged.l4_offset += 4;
  tagged.ip_offset += 4;
  tagged.caplen = 64;
  auto tso = tcp(t0 + 2, a, b, flag::ack, 100);
  tso.ip_total_len = 0;  // TSO capture: counts up to caplen (154 - 34 - 20)
  run << plain << tagged << tso;
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  CHECK(f(rows[0], "Fwd Packet Length Min") == 0.0);
  CHECK(f(rows[0], "Total Length of Fwd Packet") == 0.0 + 6.0 + 100.0);
}

TEST_CASE("corrected C1: ICMP is protocol 1, split only when type and code both differ",
          "[profile][corrected]") {
  Run run;
  run << icmp(t0, client.ip, server.ip, 8, 0) << icmp(t0 + 10, server.ip, client.ip, 0, 0)
      << icmp(t0 + 20, server.ip, client.ip, 3, 3) << icmp(t0 + 30, client.ip, server.ip, 3, 1);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].report.protocol == 1);
  CHECK(f(rows[0], "Total Fwd Packet") == 1);
  CHECK(f(rows[0], "Total Bwd packets") == 1);
  CHECK(f(rows[0], "ICMP Type") == 8);
  CHECK(f(rows[0], "ICMP Code") == 0);
  CHECK(f(rows[0], "Total Length of Fwd Packet") == 0.0);
  CHECK(f(rows[0], "Fwd Header Length") == 0);
  // The 3/3 packet started a new flow with its own orientation (server -> client) under the old key;
  // 3/1 has the same type, so it joins.
  CHECK(rows[1].report.src == server.ip);
  CHECK(rows[1].report.key_src == client.ip);
  CHECK(f(rows[1], "ICMP Type") == 3);
  CHECK(f(rows[1], "ICMP Code") == 3);
  CHECK(f(rows[1], "Total Bwd packets") == 1);
}

TEST_CASE("corrected C3/C7/C8: FIN/FIN/ACK then SYN starts a new flow - first-packet flags",
          "[profile][corrected]") {
  Run run;
  run << tcp(t0, a, b, flag::syn | flag::rst, 0, 1000)  // odd first packet: its RST is not in the RST columns
      << tcp(t0 + 10, b, a, flag::syn | flag::ack, 0, 2000)
      << tcp(t0 + 20, a, b, flag::ack | flag::psh, 100, 1001)
      << tcp(t0 + 30, a, b, flag::fin | flag::ack, 0, 1002)
      << tcp(t0 + 40, b, a, flag::fin | flag::ack, 0, 2001)
      << tcp(t0 + 50, a, b, flag::ack, 0, 1003)     // FIN2 -> READY
      << tcp(t0 + 60, a, b, flag::ack, 0, 1004)     // READY keeps absorbing non-SYN packets
      << tcp(t0 + 1000, b, a, flag::syn, 0, 3000);  // new flow, b's orientation, same Flow ID
  const auto rows = run.finish();
  REQUIRE(rows.size() == 2);
  const Record& first = rows[0];
  CHECK(f(first, "Total Fwd Packet") == 5);
  CHECK(f(first, "Total Bwd packets") == 2);
  CHECK(f(first, "FIN Flag Count") == 2);
  CHECK(f(first, "SYN Flag Count") == 2);
  CHECK(f(first, "RST Flag Count") == 1);  // the flag columns do count the first packet
  CHECK(f(first, "Fwd RST Flags") == 0);   // C7
  CHECK(f(first, "ACK Flag Count") == 6);
  CHECK(f(first, "PSH Flag Count") == 1);
  CHECK(f(first, "Fwd PSH Flags") == 1);
  CHECK(f(first, "FWD Init Win Bytes") == 1000);  // C8
  CHECK(f(first, "Bwd Init Win Bytes") == 2001);  // last backward window
  CHECK(f(first, "Fwd Act Data Pkts") == 1);
  CHECK(f(first, "Total TCP Flow Time") == 60);
  const Record& next = rows[1];
  CHECK(next.report.src == b.ip);
  CHECK(next.report.key_src == a.ip);  // the stored key never re-orients
  CHECK(csv_line(next).rfind("10.0.0.1-10.0.0.2-40000-80-6,10.0.0.2,80,10.0.0.1,40000,6,", 0) == 0);
  CHECK(f(next, "Total TCP Flow Time") == 0);
}

TEST_CASE("corrected C3: SYN+ACK after teardown and TCP timeout inherit the orientation and the TCP time",
          "[profile][corrected]") {
  Run run;
  run << tcp(t0, a, b, flag::ack, 10, 100) << tcp(t0 + 5, b, a, flag::rst, 0, 0)  // RST -> READY
      << tcp(t0 + 100, b, a, flag::syn | flag::ack, 0, 555)                       // inherits, cum = 5 + 95
      << tcp(t0 + 100 + 121 * sec, b, a, flag::ack, 0, 666);  // TCP timeout: inherits again
  const auto rows = run.finish();
  REQUIRE(rows.size() == 3);
  CHECK(f(rows[0], "Total TCP Flow Time") == 5);
  CHECK(rows[1].report.src == a.ip);
  CHECK(f(rows[1], "Total Fwd Packet") == 0);  // first packet booked backward
  CHECK(f(rows[1], "Total Bwd packets") == 1);
  CHECK(f(rows[1], "FWD Init Win Bytes") == 0);
  CHECK(f(rows[1], "Bwd Init Win Bytes") == 555);
  CHECK(f(rows[1], "Fwd Seg Size Min") == 0);
  CHECK(f(rows[1], "Fwd Packet Length Max") == 0);  // empty forward statistics print the int 0
  CHECK(rows[1].integral[feature_index(P, "Fwd Packet Length Max")] == 1);
  CHECK(f(rows[1], "Total TCP Flow Time") == 100);
  CHECK(f(rows[2], "Total TCP Flow Time") == 100 + 121 * sec);
}

TEST_CASE("corrected C4/C5: non-TCP timeout split takes the packet's direction - 1-packet flows are written",
          "[profile][corrected]") {
  Run run;
  run << udp(t0, client, server, 47) << udp(t0 + 121 * sec, server, client, 100);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].report.src == server.ip);
  CHECK(rows[1].report.key_src == client.ip);  // old Flow ID string kept
  for (const auto& r : rows) {
    CHECK(std::isnan(f(r, "Flow IAT Mean")));
    CHECK(std::isinf(f(r, "Flow Packets/s")));
    CHECK(f(r, "Fwd Packets/s") == 0.0);
    CHECK(f(r, "Subflow Fwd Bytes") == r.report.fwd_bytes);  // C6: one packet, sfCount 1
  }
  CHECK(std::isinf(f(rows[0], "Flow Bytes/s")));
  const std::string line = csv_line(rows[0]);
  CHECK(line.find(",Infinity,Infinity,NaN,NaN,NaN,NaN,0,0,0,0,0,") != std::string::npos);
  CHECK(line.substr(line.size() - 16) == ",NeedManualLabel");
}

TEST_CASE("corrected 5.6: bulk of four forward packets within a second", "[profile][corrected]") {
  Run run;
  run << tcp(t0, a, b, flag::ack | flag::psh, 100) << tcp(t0 + 100'000, a, b, flag::ack, 100)
      << tcp(t0 + 200'000, a, b, flag::ack, 100) << tcp(t0 + 300'000, a, b, flag::ack, 100)
      << tcp(t0 + 400'000, a, b, flag::ack, 50)  // a fifth packet extends the bulk
      << tcp(t0 + 500'000, b, a, flag::ack, 0);  // no payload: no backward bulk
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  CHECK(f(rows[0], "Fwd Bytes/Bulk Avg") == 450);
  CHECK(f(rows[0], "Fwd Packet/Bulk Avg") == 5);
  CHECK(f(rows[0], "Fwd Bulk Rate Avg") == 1125);  // (long)(450 / 0.4)
  CHECK(f(rows[0], "Bwd Bytes/Bulk Avg") == 0);
}

TEST_CASE("corrected 3.4: active and idle periods", "[profile][corrected]") {
  Run run;
  run << udp(t0, client, server, 1) << udp(t0 + 1 * sec, client, server, 1)
      << udp(t0 + 7 * sec, client, server, 1)        // gap 6 s > 5 s: active 1 s, idle 6 s
      << udp(t0 + 7 * sec + 500, client, server, 1)  // a 500 µs active period, closed by the next gap
      << udp(t0 + 20 * sec, client, server, 1);      // idle 13 s - 500 µs; the last period stays open
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  CHECK(f(rows[0], "Active Mean") == (1e6 + 500) / 2);
  CHECK(f(rows[0], "Active Min") == 500);
  CHECK(f(rows[0], "Idle Max") == 13 * 1e6 - 500);
  CHECK(f(rows[0], "Idle Min") == 6e6);
}

TEST_CASE("profile registry: every profile is complete, named once and dispatched to its own class",
          "[profile][registry]") {
  using namespace flowguard::capture::features;
  for (const Profile p : all_profiles) {
    const ProfileTraits t = profile_traits(p);
    INFO(t.name);
    REQUIRE(parse_profile(t.name) == p);
    const auto names = feature_names(p);
    CHECK(names.size() == t.feature_count);
    CHECK(names.size() <= max_feature_count);
    // Identifier columns + statistics + Label: the header names every column once.
    CHECK(static_cast<std::size_t>(std::count(t.csv_header.begin(), t.csv_header.end(), ',')) ==
          7 + t.feature_count);
    std::set<std::string_view> unique(names.begin(), names.end());
    CHECK(unique.size() == names.size());
    CHECK(visit_profile(p, []<typename C>(std::type_identity<C>) { return C::id; }) == p);
  }
  CHECK_FALSE(parse_profile("nsl-kdd").has_value());
  const auto legacy = feature_names(Profile::cicids2017);
  CHECK(std::count(legacy.begin(), legacy.end(), "Fwd Header Length") == 1);
  CHECK(std::count(legacy.begin(), legacy.end(), "Fwd Header Length.1") == 1);
}
