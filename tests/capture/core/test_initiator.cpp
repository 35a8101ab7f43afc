// The initiator rule (core/initiator.hpp), case by case, and the engine filling it into every record.
#include "core/initiator.hpp"
#include "fixtures/test_flow_packets.hpp"

#include <catch2/catch.hpp>

using namespace flowguard::capture;
using namespace flowguard::test;

namespace {

constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;

Initiator tcp_first(std::uint8_t flags, std::uint16_t sport, std::uint16_t dport) {
  return decide_initiator(FirstPacket{6, flags, sport, dport, -1});
}
Initiator udp_first(std::uint16_t sport, std::uint16_t dport) { return decide_initiator(FirstPacket{17, 0, sport, dport, -1}); }
Initiator icmp_first(std::int16_t type, bool v6 = false) {
  return decide_initiator(FirstPacket{static_cast<std::uint8_t>(v6 ? 58 : 1), 0, 0, 0, type});
}

constexpr Initiator src_hs{FlowSide::src, InitiatorBasis::handshake};
constexpr Initiator dst_hs{FlowSide::dst, InitiatorBasis::handshake};
constexpr Initiator src_port{FlowSide::src, InitiatorBasis::service_port};
constexpr Initiator dst_port{FlowSide::dst, InitiatorBasis::service_port};
constexpr Initiator src_first{FlowSide::src, InitiatorBasis::first_packet};

}  // namespace

TEST_CASE("initiator: a handshake decides, whatever the ports say", "[initiator]") {
  CHECK(tcp_first(syn, 51000, 80) == src_hs);
  CHECK(tcp_first(syn, 80, 51000) == src_hs);           // a SYN from port 80 still opened the flow
  CHECK(tcp_first(syn | ack, 80, 51000) == dst_hs);     // the capture missed the SYN: the receiver opened it
  CHECK(tcp_first(syn | ack, 51000, 80) == dst_hs);     // backscatter of a spoofed SYN flood: never the victim
  CHECK(tcp_first(syn | 0x40 | 0x80, 51000, 22) == src_hs);  // ECN-setup SYN (ECE+CWR) is still a SYN
}

TEST_CASE("initiator: without a handshake the side on the service port is the responder", "[initiator]") {
  CHECK(tcp_first(ack, 51000, 443) == src_port);
  CHECK(tcp_first(psh | ack, 443, 51000) == dst_port);  // capture started mid-connection, server speaks first
  CHECK(tcp_first(rst, 80, 40000) == dst_port);         // a reset from the web server
  CHECK(tcp_first(fin | ack, 1500, 22) == src_port);
  CHECK(udp_first(53211, 53) == src_port);
  CHECK(udp_first(53, 53211) == dst_port);              // a DNS answer seen first
  CHECK(udp_first(123, 40000) == dst_port);
  // Both above 1023: the lower one is the service when the other is ephemeral (>= 49152).
  CHECK(udp_first(50000, 8080) == src_port);
  CHECK(udp_first(8080, 50000) == dst_port);
  CHECK(tcp_first(ack, 3306, 60001) == dst_port);
}

TEST_CASE("initiator: otherwise the first packet's sender, marked weak", "[initiator]") {
  CHECK(udp_first(5000, 6000) == src_first);    // both registered, neither ephemeral
  CHECK(udp_first(50000, 60000) == src_first);  // both ephemeral
  CHECK(udp_first(53, 123) == src_first);       // both well-known
  CHECK(udp_first(5353, 5353) == src_first);    // same port
  CHECK(decide_initiator(FirstPacket{47, 0, 0, 0, -1}) == src_first);  // GRE: no ports
  CHECK(decide_initiator(FirstPacket{17, 0, 0, 0, -1}) == src_first);
}

TEST_CASE("initiator: ICMP requests open, replies and errors answer", "[initiator]") {
  CHECK(icmp_first(8) == src_hs);    // echo request
  CHECK(icmp_first(0) == dst_hs);    // echo reply: the sender answered a request
  CHECK(icmp_first(3) == dst_hs);    // destination unreachable
  CHECK(icmp_first(11) == dst_hs);   // time exceeded
  CHECK(icmp_first(13) == src_hs);   // timestamp request
  CHECK(icmp_first(14) == dst_hs);   // timestamp reply
  CHECK(icmp_first(5) == dst_hs);    // redirect comes from a router answering traffic
  CHECK(icmp_first(128, true) == src_hs);  // ICMPv6 echo request
  CHECK(icmp_first(129, true) == dst_hs);  // ICMPv6 echo reply
  CHECK(icmp_first(1, true) == dst_hs);    // ICMPv6 destination unreachable
  CHECK(icmp_first(135, true) == src_hs);  // neighbour solicitation
  CHECK(icmp_first(136, true) == dst_hs);  // neighbour advertisement
  CHECK(icmp_first(42) == src_first);      // unassigned type: no role known
  CHECK(icmp_first(8, true) == src_first);  // an IPv4 type number means nothing in ICMPv6
}

TEST_CASE("engine: every record carries its flow's initiator, kept across a timeout split",
          "[initiator][engine]") {
  CollectingSink sink;
  EngineConfig config;
  config.timeouts.flow_us = 10 * sec;
  auto engine = FlowEngine::create(config, {&sink});
  const Endpoint client{ip4(10, 0, 0, 1), 51000}, server{ip4(10, 0, 0, 2), 443};
  const Endpoint scanner{ip4(10, 0, 0, 66), 40000}, victim{ip4(10, 0, 0, 10), 8080};
  // A connection whose first packet is the server's SYN-ACK (the SYN was missed), then data past the
  // 10 s timeout (split, orientation and initiator inherited).
  engine->on_packet(flowguard::test::tcp(t0, server, client, syn | ack));
  engine->on_packet(flowguard::test::tcp(t0 + 100, client, server, ack));
  engine->on_packet(flowguard::test::tcp(t0 + 11 * sec, server, client, psh | ack, 100));
  // A mid-connection capture of UDP towards a service port, and a scanner's SYN.
  engine->on_packet(flowguard::test::udp(t0 + 200, Endpoint{ip4(10, 0, 0, 3), 53}, Endpoint{ip4(10, 0, 0, 4), 53000}, 40));
  engine->on_packet(flowguard::test::tcp(t0 + 300, scanner, victim, syn));
  engine->finish();

  int checked = 0;
  for (const auto& rec : sink.records) {
    const FlowReport& r = rec.report;
    INFO("flow " << r.flow_id << " src port " << r.src_port);
    if (r.src_port == 443) {  // both pieces of the split connection: src is the server, the client opened it
      CHECK(r.initiator == FlowSide::dst);
      CHECK(r.initiator_basis == InitiatorBasis::handshake);
      const IpAddress* opener = r.initiator_address();
      const IpAddress* answerer = r.initiator_address(true);
      CHECK((opener != nullptr && *opener == client.ip));
      CHECK((answerer != nullptr && *answerer == server.ip));
      ++checked;
    } else if (r.src_port == 53) {
      CHECK(r.initiator == FlowSide::dst);
      CHECK(r.initiator_basis == InitiatorBasis::service_port);
      ++checked;
    } else if (r.src_port == 40000) {
      CHECK(r.initiator == FlowSide::src);
      CHECK(r.initiator_basis == InitiatorBasis::handshake);
      ++checked;
    }
  }
  CHECK(checked == 4);
}
