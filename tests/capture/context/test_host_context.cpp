// The host-context table (capture/context): windowed values on packet time, the bounded tables under a
// million sources, stale handles after eviction, and the flow engine putting the values on its records.
#include "context/host_context.hpp"
#include "fixtures/test_flow_packets.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <map>
#include <string>

using namespace flowguard::capture;
using namespace flowguard::capture::context;
using namespace flowguard::test;

namespace {

constexpr std::uint8_t syn = 0x02, rst = 0x04, ack = 0x10, psh = 0x08;
// A whole second, so a burst lies in one bucket of every window.
constexpr std::int64_t T = 1'700'000'000LL * sec;

std::map<std::string, float> named(std::span<const float, feature_count> v) {
  std::map<std::string, float> m;
  const auto names = feature_names();
  for (std::size_t i = 0; i < feature_count; ++i) m[std::string(names[i])] = v[i];
  return m;
}

IpAddress addr(std::uint32_t n) { return ip4(10, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)); }

std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("host context: the group has 27 features in the announced order", "[host_context]") {
  const auto names = feature_names();
  REQUIRE(names.size() == 27);
  CHECK(names.front() == "hc_src_flows_1s");
  CHECK(names[3] == "hc_src_dst_ports_1s");
  CHECK(names[23] == "hc_src_bytes_60s");
  CHECK(names[24] == "hc_src_open_flows");
  CHECK(names.back() == "hc_svc_sources_10s");
  CHECK(group_name == "host_context");
}

TEST_CASE("host context: a scanner's burst over 1 s, 10 s and 60 s windows", "[host_context]") {
  HostContextTable table({});
  const IpAddress scanner = ip4(10, 0, 0, 66), victim = ip4(10, 0, 0, 10);
  std::vector<FlowContext> flows(50);
  for (int i = 0; i < 50; ++i) {
    const std::int64_t t = T + 100'000 + i * 10'000;
    FlowStart s;
    s.initiator = scanner;
    s.responder = victim;
    s.responder_port = static_cast<std::uint16_t>(1000 + i);
    s.protocol = 6;
    s.ts = t;
    s.expects_answer = true;
    table.flow_started(flows[i], s);
    table.packet(flows[i], scanner, true, syn, 0, t);
    table.packet(flows[i], scanner, false, rst | ack, 0, t + 100);  // refused
    table.flow_ended(flows[i], scanner, 2, 0, t + 100);
  }
  std::array<float, feature_count> v{};
  table.values(flows.back(), scanner, victim, 1049, 6, T + 700'000, v);
  auto m = named(v);
  CHECK(m["hc_src_flows_1s"] == 50);
  CHECK(m["hc_src_flows_10s"] == 50);
  CHECK(m["hc_src_flows_60s"] == 50);
  CHECK(m["hc_src_dst_ports_1s"] == Approx(50).epsilon(0.15));
  CHECK(m["hc_src_dst_hosts_1s"] == Approx(1).epsilon(0.05));
  CHECK(m["hc_src_failed_1s"] == 50);
  CHECK(m["hc_src_short_share_1s"] == 1.0f);
  CHECK(m["hc_src_same_size_share_1s"] == Approx(49.0 / 50));  // the first flow had no equal before it
  CHECK(m["hc_src_packets_1s"] == 50);  // the scanner's SYNs only (the RSTs are the victim's)
  CHECK(m["hc_src_bytes_1s"] == 0);
  CHECK(m["hc_src_open_flows"] == 0);
  CHECK(m["hc_svc_flows_10s"] == 1);  // this flow's service (port 1049) saw one flow from one source
  CHECK(m["hc_svc_sources_10s"] == Approx(1).epsilon(0.05));

  // 1.5 s later the 1 s window keeps half of the previous second; 10 s and 60 s keep everything.
  table.values(flows.back(), scanner, victim, 1049, 6, T + 1'500'000, v);
  m = named(v);
  CHECK(m["hc_src_flows_1s"] == Approx(25));
  CHECK(m["hc_src_failed_1s"] == Approx(25));
  CHECK(m["hc_src_flows_10s"] == 50);
  // Past every window: nothing is left (but nothing is gone from the table either).
  table.values(flows.back(), scanner, victim, 1049, 6, T + 200 * sec, v);
  m = named(v);
  CHECK(m["hc_src_flows_60s"] == 0);
  CHECK(m["hc_src_dst_ports_60s"] == 0);
  CHECK(m["hc_svc_flows_10s"] == 0);
}

TEST_CASE("host context: a benign client's few connections stay small", "[host_context]") {
  HostContextTable table({});
  const IpAddress client = ip4(10, 0, 0, 1), server = ip4(10, 0, 0, 20);
  FlowContext a, b;
  for (FlowContext* f : {&a, &b}) {
    const std::int64_t t = T + (f == &a ? 0 : 300'000);
    FlowStart s{client, server, 443, 6, t, true, true, false};
    table.flow_started(*f, s);
    table.packet(*f, client, true, syn, 0, t);
    table.packet(*f, client, false, syn | ack, 0, t + 100);
    table.packet(*f, client, true, psh | ack, 300, t + 200);
    table.packet(*f, client, false, psh | ack, 5000, t + 300);
  }
  table.flow_ended(a, client, 12, 5300, T + 400'000);
  std::array<float, feature_count> v{};
  table.values(b, client, server, 443, 6, T + 500'000, v);
  auto m = named(v);
  CHECK(m["hc_src_flows_1s"] == 2);
  CHECK(m["hc_src_dst_ports_1s"] == Approx(1).epsilon(0.05));
  CHECK(m["hc_src_failed_1s"] == 0);
  CHECK(m["hc_src_short_share_1s"] == 0);
  CHECK(m["hc_src_same_size_share_1s"] == 0);
  CHECK(m["hc_src_packets_1s"] == 4);
  CHECK(m["hc_src_bytes_1s"] == 600);
  CHECK(m["hc_src_open_flows"] == 1);
  CHECK(m["hc_svc_flows_10s"] == 2);
  CHECK(m["hc_svc_sources_10s"] == Approx(1).epsilon(0.05));
  // A SYN that is never answered counts as failed when its flow ends.
  FlowContext c;
  table.flow_started(c, FlowStart{client, server, 8443, 6, T + 600'000, true, true, false});
  table.packet(c, client, true, syn, 0, T + 600'000);
  table.flow_ended(c, client, 1, 0, T + 700'000);
  table.values(b, client, server, 443, 6, T + 800'000, v);
  CHECK(named(v)["hc_src_failed_1s"] == 1);
}

TEST_CASE("host context: a million distinct sources stay within the cap, evictions counted",
          "[host_context][cap]") {
  HostContextConfig config;  // the default cap (65 536 sources and services)
  HostContextTable table(config);
  const HostContextStats empty = table.stats();
  REQUIRE(empty.sources_capacity == 65'536);
  REQUIRE(empty.bytes_per_source > 0);
  const std::size_t rss_before = resident_bytes();
  const IpAddress victim = ip4(192, 168, 0, 1);
  constexpr std::uint32_t sources = 1'000'000;
  FlowContext f;
  for (std::uint32_t i = 0; i < sources; ++i) {
    const std::int64_t t = T + i * 10;  // 100 000 new sources per second: a spoofed flood
    table.flow_started(f, FlowStart{addr(i), victim, static_cast<std::uint16_t>(i), 6, t, true, true, false});
    table.packet(f, addr(i), true, syn, 0, t);
    table.flow_ended(f, addr(i), 1, 0, t);
  }
  const HostContextStats s = table.stats();
  INFO("bytes per source " << s.bytes_per_source << ", per service " << s.bytes_per_service << ", total "
                           << s.bytes_total << ", RSS growth " << resident_bytes() - rss_before);
  CHECK(s.sources_used == s.sources_capacity);
  CHECK(s.sources_evicted == sources - s.sources_capacity);
  CHECK(s.services_used == s.services_capacity);  // 65 536 distinct destination ports
  CHECK(s.bytes_total == empty.bytes_total);      // nothing grew
  // Memory: at most the preallocated tables (touched in full now) plus a little slack.
  CHECK(resident_bytes() - rss_before <= s.bytes_total + (8u << 20));
  // The latest source is there with its flow; the first was evicted long ago.
  std::array<float, feature_count> v{};
  table.values(f, addr(sources - 1), victim, static_cast<std::uint16_t>(sources - 1), 6, T + sources * 10, v);
  CHECK(named(v)["hc_src_flows_1s"] == 1);
  FlowContext gone;
  table.values(gone, addr(0), victim, 0, 6, T + sources * 10, v);
  CHECK(named(v)["hc_src_flows_60s"] == 0);
}

TEST_CASE("host context: a flow whose source was evicted finds it again by address", "[host_context]") {
  HostContextConfig config;
  config.max_sources = 2;
  config.max_services = 2;
  HostContextTable table(config);
  const IpAddress a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2), c = ip4(10, 0, 0, 3), server = ip4(10, 0, 0, 9);
  FlowContext fa, fb, fc;
  table.flow_started(fa, FlowStart{a, server, 80, 6, T, true, false, false});
  table.flow_started(fb, FlowStart{b, server, 80, 6, T + 1, true, false, false});
  table.flow_started(fc, FlowStart{c, server, 80, 6, T + 2, true, false, false});  // evicts a (oldest)
  CHECK(table.stats().sources_evicted == 1);
  table.packet(fa, a, true, ack, 100, T + 3);  // a's handle is stale: looked up again (re-created)
  CHECK(table.stats().stale_handles == 1);
  std::array<float, feature_count> v{};
  table.values(fa, a, server, 80, 6, T + 4, v);
  CHECK(named(v)["hc_src_packets_1s"] == 1);
  CHECK(named(v)["hc_src_flows_1s"] == 0);  // its flow start was lost with the evicted entry
  table.flow_ended(fa, a, 1, 100, T + 5);   // open count never goes below zero
  table.values(fa, a, server, 80, 6, T + 6, v);
  CHECK(named(v)["hc_src_open_flows"] == 0);
}

TEST_CASE("engine with host context: every record carries the group, taken at the flow's activity",
          "[host_context][engine]") {
  HostContextTable table({});
  CollectingSink sink;
  EngineConfig config;
  config.snapshot_packets = 3;
  auto engine = FlowEngine::create(config, {&sink}, &table);
  const Endpoint client{ip4(10, 0, 0, 1), 51000}, server{ip4(10, 0, 0, 2), 443};
  engine->on_packet(flowguard::test::tcp(T, client, server, syn));
  engine->on_packet(flowguard::test::tcp(T + 100, server, client, syn | ack));
  engine->on_packet(flowguard::test::tcp(T + 200, client, server, ack));  // 3rd packet: a snapshot
  for (int i = 0; i < 20; ++i) {
    const Endpoint scanner{ip4(10, 0, 0, 66), 40000};
    const Endpoint port{ip4(10, 0, 0, 2), static_cast<std::uint16_t>(2000 + i)};
    engine->on_packet(flowguard::test::tcp(T + 1000 + i * 1000, scanner, port, syn));
    engine->on_packet(flowguard::test::tcp(T + 1100 + i * 1000, port, scanner, rst | ack));
  }
  engine->finish();
  REQUIRE(!sink.records.empty());
  const auto names = feature_names();
  const auto col = [&](std::string_view n) {
    return static_cast<std::size_t>(std::find(names.begin(), names.end(), n) - names.begin());
  };
  int snapshots = 0, scanner_finals = 0;
  float max_failed = 0;
  for (const auto& r : sink.records) {
    REQUIRE(r.group.size() == feature_count);
    if (r.report.kind == RecordKind::snapshot) {
      ++snapshots;
      CHECK(r.group[col("hc_src_packets_1s")] == 2);  // the client's SYN and ACK
      CHECK(r.group[col("hc_src_open_flows")] == 1);
    }
    if (r.report.src_port == 40000 && r.report.kind == RecordKind::final_record) {
      ++scanner_finals;
      max_failed = std::max(max_failed, r.group[col("hc_src_failed_1s")]);
      CHECK(r.report.initiator == FlowSide::src);
    }
  }
  CHECK(snapshots == 1);
  CHECK(scanner_finals == 20);
  // Emitted at end of input right after their activity: values as of then, all 20 refusals counted.
  CHECK(max_failed == 20);
}
