// Profile cicids2017: every quirk of the spec's checklist (docs/features.md §6, Q1..Q14), with expected
// values worked out by hand from the spec, run through the real flow engine.
#include "fixtures/test_flow_packets.hpp"

#include "flow/flow_engine.hpp"
#include "output/csv_writer.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace flowguard::test;
using flowguard::capture::EngineConfig;
using flowguard::capture::features::Profile;
namespace flag = flowguard::capture::tcp_flag;

namespace {

constexpr Profile P = Profile::cicids2017;

struct Run : ProfileRun {
  explicit Run(EngineConfig c = {}) : ProfileRun(P, c, 42) {}
};

double f(const Record& r, std::string_view name) { return feature(r, P, name); }

const Endpoint client{ip4(10, 251, 2, 1), 60594};
const Endpoint server{ip4(10, 251, 2, 2), 53};

}  // namespace

TEST_CASE("cicids2017 worked example 4.6: DNS exchange after a TCP packet", "[profile][cicids2017]") {
  Run run;
  // An earlier unrelated TCP packet sets the stale UDP header length to 20 (Q2).
  run << tcp(t0 - 5 * sec, {ip4(10, 9, 9, 9), 1}, {ip4(10, 9, 9, 8), 2}, flag::ack);
  run << udp(t0, client, server, 47) << udp(t0 + 231, server, client, 232);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);  // Q5: the one-packet TCP flow is not written
  const Record& r = rows[0];
  CHECK(r.report.protocol == 17);
  CHECK(r.report.src == client.ip);
  CHECK(f(r, "Packet Length Mean") == 108.66666666666666);  // Q7: LEN = {47, 47, 232}
  CHECK(f(r, "Packet Length Std") == 106.80979980008077);
  CHECK(f(r, "Packet Length Variance") == 11408.333333333332);
  CHECK(f(r, "Min Packet Length") == 47.0);
  CHECK(f(r, "Average Packet Size") == 163.0);  // 326 / 2
  CHECK(f(r, "Subflow Fwd Packets") == 1);
  CHECK(f(r, "Subflow Fwd Bytes") == 47);
  CHECK(f(r, "Subflow Bwd Packets") == 1);
  CHECK(f(r, "Subflow Bwd Bytes") == 232);
  CHECK(f(r, "Init_Win_bytes_forward") == -1);
  CHECK(f(r, "Init_Win_bytes_backward") == -1);
  CHECK(f(r, "Fwd Header Length") == 20);  // Q2: stale TCP header length
  CHECK(f(r, "Bwd Header Length") == 20);
  CHECK(f(r, "Fwd Header Length.1") == 20);  // Q14
  CHECK(f(r, "Flow Bytes/s") == 1207792.2077922078);
  CHECK(f(r, "Flow Duration") == 231);
}

TEST_CASE("cicids2017 Q2: UDP before any TCP packet has header length -1", "[profile][cicids2017]") {
  Run run;
  run << udp(t0, client, server, 10) << udp(t0 + 10, client, server, 10);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  CHECK(f(rows[0], "Fwd Header Length") == -2);
  CHECK(f(rows[0], "min_seg_size_forward") == -1);
}

TEST_CASE("cicids2017 Q1: Ethernet padding counts as TCP payload", "[profile][cicids2017]") {
  Run run;
  const Endpoint a{ip4(10, 0, 0, 1), 40000}, b{ip4(10, 0, 0, 2), 80};
  run << tcp(t0, a, b, flag::ack) << tcp(t0 + 100, b, a, flag::ack, 1000);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  // A pure ACK in a 60-byte frame: 60 - 34 - 20 = 6 bytes of "payload".
  CHECK(f(rows[0], "Total Length of Fwd Packets") == 6.0);
  CHECK(f(rows[0], "Total Length of Bwd Packets") == 1000.0);
  CHECK(f(rows[0], "act_data_pkt_fwd") == 0);  // Q12: the first packet is never counted
}

TEST_CASE("cicids2017 Q3: ICMP errors quoting UDP become UDP, other ICMP is protocol 0",
          "[profile][cicids2017]") {
  Run run;
  auto err = icmp(t0, ip4(10, 0, 0, 9), client.ip, 3, 3, 40);  // 82-byte frame
  err.quoted.present = true;
  err.quoted.protocol = 17;
  err.quoted.src_port = 60594;
  err.quoted.dst_port = 53;
  err.quoted.l4_offset = 34 + 8 + 20;
  err.quoted.l4_header_len = 8;
  run << err << err;
  run << icmp(t0 + 1, client.ip, server.ip, 8, 0) << icmp(t0 + 2, server.ip, client.ip, 0, 0);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 2);
  bool saw_udp = false, saw_other = false;
  for (const auto& r : rows) {
    if (r.report.protocol == 17) {
      saw_udp = true;
      CHECK(r.report.src_port == 60594);
      CHECK(r.report.dst_port == 53);
      CHECK(r.report.src == ip4(10, 0, 0, 9));             // outer addresses
      CHECK(f(r, "Total Length of Fwd Packets") == 24.0);  // 2 x (82 - 62 - 8), Q1 arithmetic
    } else {
      saw_other = true;
      CHECK(r.report.protocol == 0);
      CHECK(r.report.src_port == 0);
      CHECK(f(r, "Total Length of Fwd Packets") == 0.0);
      CHECK(f(r, "Init_Win_bytes_forward") == -1);
    }
  }
  CHECK(saw_udp);
  CHECK(saw_other);
}

TEST_CASE(
    "cicids2017 Q4/Q5/Q8: FIN closes at once, the teardown rest is a new flow, flags of first packet only",
    "[profile][cicids2017]") {
  Run run;
  const Endpoint a{ip4(10, 0, 0, 1), 40000}, b{ip4(10, 0, 0, 2), 80};
  run << tcp(t0, a, b, flag::syn, 0, 1000) << tcp(t0 + 10, b, a, flag::syn | flag::ack, 0, 2000)
      << tcp(t0 + 20, a, b, flag::ack | flag::psh, 100, 1001)
      << tcp(t0 + 30, a, b, flag::fin | flag::ack, 0, 1002)
      << tcp(t0 + 40, b, a, flag::fin | flag::ack, 0, 2001) << tcp(t0 + 50, a, b, flag::ack, 0, 1003)
      << tcp(t0 + 60, b, a, flag::rst, 0, 0);  // RST does nothing to the lifecycle
  const auto rows = run.finish();
  REQUIRE(rows.size() == 2);
  const Record& first = rows[0];
  CHECK(f(first, "Total Fwd Packets") == 3);
  CHECK(f(first, "Total Backward Packets") == 1);
  CHECK(f(first, "Flow Duration") == 30);
  // Q8: only the first packet (SYN) is counted, and its SYN lands under "PSH Flag Count".
  CHECK(f(first, "PSH Flag Count") == 1);
  CHECK(f(first, "SYN Flag Count") == 0);
  CHECK(f(first, "ACK Flag Count") == 0);
  CHECK(f(first, "URG Flag Count") == 0);
  CHECK(f(first, "Fwd PSH Flags") == 0);
  CHECK(f(first, "Init_Win_bytes_forward") == 1000);
  CHECK(f(first, "Init_Win_bytes_backward") == 2000);
  CHECK(f(first, "act_data_pkt_fwd") == 2);  // the data packet and the FIN: 6 padding bytes count (Q1)
  // The second FIN opened a new flow (first packet FIN+ACK: under "URG" and "ACK"); ACK and RST joined.
  const Record& rest = rows[1];
  CHECK(rest.report.src == b.ip);            // opened by b's FIN
  CHECK(f(rest, "Total Fwd Packets") == 2);  // b's FIN and RST
  CHECK(f(rest, "Total Backward Packets") == 1);
  CHECK(f(rest, "URG Flag Count") == 1);
  CHECK(f(rest, "ACK Flag Count") == 1);
  CHECK(f(rest, "FIN Flag Count") == 0);  // the RST of a later packet is not counted
  CHECK(f(rest, "Init_Win_bytes_backward") == 1003);
}

TEST_CASE("cicids2017 Q6: timeout split inherits the orientation and books the first packet forward",
          "[profile][cicids2017]") {
  Run run;
  const Endpoint a{ip4(10, 0, 0, 1), 40000}, b{ip4(10, 0, 0, 2), 80};
  run << tcp(t0, a, b, flag::ack, 10, 111) << tcp(t0 + 1000, b, a, flag::ack, 10, 222);
  // Exactly +120 s is not a split (strict '>'), +120 s + 1 µs is.
  run << tcp(t0 + 120 * sec, b, a, flag::ack, 10, 333)
      << tcp(t0 + 120 * sec + 1, b, a, flag::psh | flag::ack, 5, 444)
      << tcp(t0 + 120 * sec + 2, b, a, flag::ack, 0, 555);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 2);
  CHECK(f(rows[0], "Total Fwd Packets") == 1);
  CHECK(f(rows[0], "Total Backward Packets") == 2);
  const Record& split = rows[1];
  CHECK(split.report.src == a.ip);  // inherited, although the first packet came from b
  CHECK(split.report.src_port == 40000);
  CHECK(f(split, "Total Fwd Packets") == 1);       // the b->a packet, booked forward
  CHECK(f(split, "Total Backward Packets") == 1);  // the next b->a packet is backward (src != flow src)
  CHECK(f(split, "Init_Win_bytes_forward") == 444);
  CHECK(f(split, "Fwd PSH Flags") == 1);
  CHECK(f(split, "Init_Win_bytes_backward") == 555);
}

TEST_CASE("cicids2017 Q10/Q11: subflow at tiny timestamps, Down/Up long division", "[profile][cicids2017]") {
  Run run;
  const Endpoint a{ip4(10, 0, 0, 1), 1000}, b{ip4(10, 0, 0, 2), 2000};
  run << udp(1, a, b, 10) << udp(2, a, b, 10) << udp(3, b, a, 10) << udp(4, b, a, 10) << udp(5, b, a, 10);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  CHECK(f(rows[0], "Subflow Fwd Packets") == 0);  // first ts 1 µs: sfCount stays 0
  CHECK(f(rows[0], "Subflow Bwd Bytes") == 0);
  CHECK(f(rows[0], "Down/Up Ratio") == 1.0);  // 3 / 2 in long division
}

TEST_CASE("cicids2017 Q13: 12-hour timestamp without AM/PM, duplicated header column",
          "[profile][cicids2017][csv]") {
  Run run;
  const std::int64_t half_past_midnight = 1'795'221'005LL * sec + 123;  // 2026-11-21 00:30:05 UTC
  const Endpoint a{ip4(147, 32, 84, 165), 1000}, b{ip4(10, 0, 0, 2), 2000};
  run << udp(half_past_midnight, a, b, 10) << udp(half_past_midnight + 5, b, a, 10);
  const auto rows = run.finish();
  REQUIRE(rows.size() == 1);
  flowguard::capture::FlowReport r = rows[0].report;
  r.features = rows[0].features;
  r.feature_integral = rows[0].integral;
  const std::string line = flowguard::capture::output::CsvWriter::format_row(r, P);
  CHECK(line.rfind(
            "147.32.84.165-10.0.0.2-1000-2000-17,147.32.84.165,1000,10.0.0.2,2000,17,21/11/2026 12:30:05,5,",
            0) == 0);
  CHECK(line.substr(line.size() - 7) == ",BOTNET");
}
