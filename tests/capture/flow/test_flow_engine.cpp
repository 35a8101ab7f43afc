// Flow table and engine mechanics: bounded table with eviction, the idle-expiry sweep (which must not
// change any output), snapshots, flow ids, key hashing.
#include "fixtures/test_flow_packets.hpp"

#include "flow/flow_engine.hpp"
#include "flow/flow_table.hpp"
#include "output/csv_writer.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

using namespace flowguard::test;
using flowguard::capture::EngineConfig;
using flowguard::capture::FlowEngine;
using flowguard::capture::FlowKey;
using flowguard::capture::FlowTable;
using flowguard::capture::RecordKind;
using flowguard::capture::features::Profile;
namespace flag = flowguard::capture::tcp_flag;

namespace {

// Sum of this process's mappings and their number, from /proc/self/maps.
struct Mappings {
  std::size_t count = 0, bytes = 0;
};
Mappings mappings() {
  Mappings m;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    in >> std::hex >> lo >> dash >> hi;
    ++m.count;
    m.bytes += hi - lo;
  }
  return m;
}

Endpoint host(std::uint8_t n, std::uint16_t port) { return {ip4(10, 0, 1, n), port}; }

std::vector<std::string> csv_lines(const CollectingSink& sink, Profile profile) {
  std::vector<std::string> out;
  for (const auto& rec : sink.finals()) {
    auto r = rec.report;
    r.features = rec.features;
    r.feature_integral = rec.integral;
    out.push_back(flowguard::capture::output::CsvWriter::format_row(r, profile));
  }
  return out;
}

}  // namespace

TEST_CASE("flow table: insert, find and erase agree with a reference map under churn", "[flow][table]") {
  FlowTable table(512, 99);
  std::map<std::uint32_t, std::uint32_t> model;  // key id -> slot
  std::mt19937 rng(1);
  auto key_of = [](std::uint32_t id) {
    return FlowKey::make(ip4(10, 0, static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)), 1000,
                         ip4(10, 1, 0, 1), 80, 6);
  };
  for (int step = 0; step < 20000; ++step) {
    const std::uint32_t id = rng() % 2000;
    const FlowKey k = key_of(id);
    const auto h = table.hash(k);
    const auto found = table.find(k, h);
    const auto it = model.find(id);
    REQUIRE((found != FlowTable::npos) == (it != model.end()));
    if (it != model.end()) {
      REQUIRE(found == it->second);
      table.erase(found);
      model.erase(it);
    } else if (!table.full()) {
      model[id] = table.insert(k, h);
    }
  }
  REQUIRE(table.size() == model.size());
  for (const auto& [id, slot] : model) {
    const FlowKey k = key_of(id);
    REQUIRE(table.find(k, table.hash(k)) == slot);
    REQUIRE(table.at(slot).key == k);
  }
}

TEST_CASE("flow key: seeded hash, reversed key, raw-byte equality", "[flow][table]") {
  const FlowKey k = FlowKey::make(ip4(1, 2, 3, 4), 10, ip4(5, 6, 7, 8), 20, 17);
  const FlowKey r = k.reversed();
  CHECK(r.address_a() == ip4(5, 6, 7, 8));
  CHECK(r.port_a == 20);
  CHECK_FALSE(r == k);
  CHECK(r.reversed() == k);
  flowguard::capture::FlowKeyHasher h1(1), h2(2);
  CHECK(h1(k) != h2(k));
  CHECK(h1(k) == flowguard::capture::FlowKeyHasher(1)(k));
}

TEST_CASE("engine: a full table evicts the least recently seen flow and counts it", "[flow][engine]") {
  for (const Profile profile : {Profile::corrected, Profile::cicids2017}) {
    CollectingSink sink;
    EngineConfig c;
    c.profile = profile;
    c.max_flows = 4;
    c.hash_seed = 5;
    auto engine = FlowEngine::create(c, {&sink});
    for (std::uint8_t i = 1; i <= 6; ++i) {
      // Two packets per flow so that cicids2017 writes them too; flow i last seen at t0 + i s.
      engine->on_packet(udp(t0 + i * sec, host(i, 1000), host(200, 53), 10));
      engine->on_packet(udp(t0 + i * sec + 1, host(200, 53), host(i, 1000), 10));
      CHECK(engine->stats().table_used <= 4);
    }
    auto s = engine->stats();
    CHECK(s.flows_evicted == 2);
    CHECK(s.flows_active == 4);
    REQUIRE(sink.finals().size() == 2);
    // The evicted ones are the oldest: hosts 1 and 2, emitted complete.
    std::set<std::uint8_t> evicted;
    for (const auto& r : sink.finals()) {
      evicted.insert(r.report.src.bytes[3]);
      CHECK(r.report.fwd_packets + r.report.bwd_packets == 2);
    }
    CHECK(evicted == std::set<std::uint8_t>{1, 2});
    engine->finish();
    CHECK(sink.finals().size() == 6);
    CHECK(engine->stats().flows_active == 0);
    CHECK(engine->stats().bytes_per_flow >= sizeof(flowguard::capture::FlowRecord));
  }
}

TEST_CASE("engine: the sweep emits flows idle longer than the timeout before the end of input",
          "[flow][engine]") {
  CollectingSink sink;
  EngineConfig c;
  c.hash_seed = 3;
  auto engine = FlowEngine::create(c, {&sink});
  engine->on_packet(udp(t0, host(1, 1000), host(2, 53), 10));
  engine->on_packet(udp(t0 + 10, host(2, 53), host(1, 1000), 10));
  // Unrelated traffic 121 s later drives packet time forward.
  for (int i = 0; i < 8; ++i) engine->on_packet(udp(t0 + 121 * sec + i, host(3, 1000), host(4, 53), 10));
  CHECK(engine->stats().flows_expired == 1);
  REQUIRE(sink.finals().size() == 1);
  CHECK(sink.finals()[0].report.src == host(1, 0).ip);
  CHECK(sink.last_time == t0 + 121 * sec + 7);
}

TEST_CASE("engine: sweeping changes no output, also when an expired conversation resumes", "[flow][engine]") {
  // Each scenario: a conversation idle for more than the flow timeout that then resumes from the other
  // side (the references split it keeping the old orientation / Flow ID / TCP time), plus filler.
  for (const Profile profile : {Profile::corrected, Profile::cicids2017}) {
    std::vector<std::string> outputs[2];
    std::uint64_t expired[2] = {0, 0};
    for (int variant = 0; variant < 2; ++variant) {
      CollectingSink sink;
      EngineConfig c;
      c.profile = profile;
      c.hash_seed = 11;
      c.sweep_per_packet = variant == 0 ? 0 : 4;
      auto engine = FlowEngine::create(c, {&sink});
      const Endpoint a = host(1, 40000), b = host(2, 80), u = host(5, 5353), v = host(6, 53);
      engine->on_packet(tcp(t0, a, b, flag::syn, 0, 100));
      engine->on_packet(tcp(t0 + 10, b, a, flag::syn | flag::ack, 0, 200));
      engine->on_packet(tcp(t0 + 20, a, b, flag::ack | flag::psh, 50, 101));
      engine->on_packet(udp(t0 + 30, u, v, 20));
      engine->on_packet(udp(t0 + 40, v, u, 20));
      for (int i = 0; i < 16; ++i) engine->on_packet(udp(t0 + 130 * sec + i, host(9, 1), host(10, 2), 1));
      engine->on_packet(tcp(t0 + 200 * sec, b, a, flag::ack | flag::psh, 70, 300));
      engine->on_packet(udp(t0 + 200 * sec + 1, v, u, 30));
      engine->on_packet(tcp(t0 + 200 * sec + 2, a, b, flag::ack, 0, 102));
      engine->finish();
      outputs[variant] = csv_lines(sink, profile);
      expired[variant] = engine->stats().flows_expired;
    }
    CHECK(expired[0] == 0);
    CHECK(expired[1] == 2);
    std::multiset<std::string> without(outputs[0].begin(), outputs[0].end());
    std::multiset<std::string> with(outputs[1].begin(), outputs[1].end());
    CHECK(without == with);
    CHECK(without.size() >= 4);  // cicids2017 drops the 1-packet UDP successor
  }
}

TEST_CASE("engine: snapshots every N packets and every T seconds share the final record's flow id",
          "[flow][engine][snapshot]") {
  CollectingSink sink;
  EngineConfig c;
  c.hash_seed = 1;
  c.snapshot_packets = 2;
  auto engine = FlowEngine::create(c, {&sink});
  for (int i = 0; i < 5; ++i) engine->on_packet(udp(t0 + i * 1000, host(1, 1), host(2, 2), 10 + i));
  engine->finish();
  REQUIRE(sink.records.size() == 3);
  CHECK(sink.records[0].report.kind == RecordKind::snapshot);
  CHECK(sink.records[0].report.fwd_packets == 2);
  CHECK(sink.records[1].report.kind == RecordKind::snapshot);
  CHECK(sink.records[1].report.fwd_packets == 4);
  CHECK(sink.records[2].report.kind == RecordKind::final_record);
  CHECK(sink.records[2].report.fwd_packets == 5);
  for (const auto& r : sink.records) CHECK(r.report.flow_id == sink.records[2].report.flow_id);
  CHECK(engine->stats().snapshot_records == 2);

  CollectingSink timed;
  EngineConfig t;
  t.hash_seed = 1;
  t.snapshot_interval_us = 10 * sec;
  auto engine2 = FlowEngine::create(t, {&timed});
  for (int i = 0; i <= 25; ++i) engine2->on_packet(udp(t0 + i * sec, host(1, 1), host(2, 2), 10));
  engine2->finish();
  std::vector<std::uint64_t> snapshot_packets;
  for (const auto& r : timed.records) {
    if (r.report.kind == RecordKind::snapshot) snapshot_packets.push_back(r.report.fwd_packets);
  }
  CHECK(snapshot_packets == std::vector<std::uint64_t>{11, 21});  // at +10 s and +20 s
}

TEST_CASE("engine: flow ids are unique per flow, successors get new ids", "[flow][engine]") {
  CollectingSink sink;
  EngineConfig c;
  c.hash_seed = 1;
  auto engine = FlowEngine::create(c, {&sink});
  const Endpoint a = host(1, 40000), b = host(2, 80);
  engine->on_packet(tcp(t0, a, b, flag::syn));
  engine->on_packet(tcp(t0 + 1, b, a, flag::rst));
  engine->on_packet(tcp(t0 + 2, a, b, flag::syn));  // READY + SYN: successor
  engine->on_packet(udp(t0 + 3, a, b, 5));
  engine->finish();
  std::set<std::uint64_t> ids;
  for (const auto& r : sink.finals()) ids.insert(r.report.flow_id);
  CHECK(ids.size() == 3);
  CHECK(engine->stats().flows_created == 3);
  CHECK(engine->stats().flows_ended == 1);
}

TEST_CASE("engine: IPv6 flows use the same arithmetic, cicids2017 orders keys by signed bytes over 16 bytes",
          "[flow][engine][ipv6]") {
  auto v6 = [](std::uint8_t last) {
    flowguard::capture::IpAddress ip;
    ip.family = 6;
    ip.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
    return ip;
  };
  auto packet = [&](std::int64_t ts, std::uint8_t s, std::uint16_t sp, std::uint8_t d, std::uint16_t dp,
                    std::uint32_t payload) {
    auto p = udp(ts, {v6(s), sp}, {v6(d), dp}, payload);
    p.ip_header_len = 40;
    p.l4_offset = 54;
    p.ip_total_len = 40 + 8 + payload;
    p.caplen = 54 + 8 + payload;
    return p;
  };
  for (const Profile profile : {Profile::corrected, Profile::cicids2017}) {
    CollectingSink sink;
    EngineConfig c;
    c.profile = profile;
    c.hash_seed = 2;
    auto engine = FlowEngine::create(c, {&sink});
    // 2001:db8::1 -> 2001:db8::ff: byte 15 is 0x01 vs 0xff (-1 as a signed byte), so the canonical
    // cicids2017 key starts with ::ff although ::1 sent the first packet.
    engine->on_packet(packet(t0, 0x01, 5353, 0xff, 53, 30));
    engine->on_packet(packet(t0 + 100, 0xff, 53, 0x01, 5353, 120));
    engine->finish();
    const auto rows = sink.finals();
    REQUIRE(rows.size() == 1);
    const auto& r = rows[0];
    CHECK(r.report.src == v6(0x01));
    CHECK(r.report.fwd_packets == 1);
    CHECK(r.report.bwd_packets == 1);
    CHECK(r.report.fwd_bytes == 30);
    CHECK(r.report.bwd_bytes == 120);
    CHECK(r.report.key_src == (profile == Profile::cicids2017 ? v6(0xff) : v6(0x01)));
    auto rep = r.report;
    rep.features = r.features;
    rep.feature_integral = r.integral;
    const std::string line = flowguard::capture::output::CsvWriter::format_row(rep, profile);
    CHECK(line.rfind(profile == Profile::cicids2017 ? "2001:db8::ff-2001:db8::1-53-5353-17,2001:db8::1,5353,"
                                                    : "2001:db8::1-2001:db8::ff-5353-53-17,2001:db8::1,5353,",
                     0) == 0);
  }
}

TEST_CASE("building and destroying flow tables of odd sizes returns all their address space") {
  // Record and index sizes that are not page multiples used to leave each block's tail mapped (munmap
  // of an unaligned address fails with EINVAL): up to 2 MiB per block, per table, for good.
  { FlowTable warm(1000, 1); }  // first use of the allocator and the vectors' arenas
  const Mappings before = mappings();
  for (std::uint32_t i = 0; i < 200; ++i) {
    FlowTable table(1000 + i * 37, i);
    REQUIRE(table.capacity() == 1000 + i * 37);
  }
  const Mappings after = mappings();
  INFO("mappings " << before.count << " -> " << after.count << ", bytes " << before.bytes << " -> "
                   << after.bytes);
  CHECK(after.count <= before.count + 2);
  CHECK(after.bytes <= before.bytes + (std::size_t{4} << 20));  // a leak would be ~200 * 2 * 1 MiB on average
}
