// flowguard-capture's host-context columns and snapshot rows end to end: a pcap written by the test
// (real libpcap reading, real decoder, real flow engine and host-context table), read back from the CSV
// that --csv-groups host_context --csv-snapshots produces.
#include "features/profile.hpp"
#include "fixtures/frame_builder.hpp"
#include "fixtures/pcap_writer.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace flowguard::test;
using flowguard::capture::features::csv_header;
using flowguard::capture::features::Profile;

namespace {

const std::string binary = FLOWGUARD_CAPTURE_BINARY;

int run(const std::string& args, const std::string& log) {
  const int status = std::system((binary + " " + args + " >" + log + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t col(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<std::size_t>(it - header.begin());
  }
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
  return fields;
}

Csv read_csv(const std::string& path) {
  std::ifstream in(path);
  Csv c;
  std::string line;
  std::getline(in, line);
  c.header = split(line);
  while (std::getline(in, line)) c.rows.push_back(split(line));
  return c;
}

constexpr std::int64_t base_s = 1'600'000'000;
constexpr V4 scanner{10, 0, 0, 66}, target{10, 0, 0, 10}, client{10, 0, 0, 1}, server{10, 0, 0, 20};

TestPacket tcp(std::int64_t at_us, V4 src, V4 dst, std::uint16_t sport, std::uint16_t dport, std::uint8_t flags,
               std::size_t payload = 0) {
  FrameBuilder b;
  b.ethernet(0x0800).ipv4(src, dst, 6).tcp(sport, dport, flags, 1000);
  if (payload) b.payload(payload);
  b.pad_to(60);
  return {base_s + at_us / 1'000'000, static_cast<std::uint32_t>(at_us % 1'000'000), b.build()};
}

// A scanner sends SYNs to 50 ports of one host within 0.5 s and each is refused with RST+ACK; a benign
// client makes two short HTTP requests; a long benign download lasts 12 s (one data packet per 100 ms).
std::vector<TestPacket> traffic() {
  std::vector<TestPacket> pk;
  constexpr std::uint8_t syn = 0x02, ack = 0x10, psh = 0x08, fin = 0x01, rst = 0x04;
  for (int i = 0; i < 50; ++i) {
    const std::int64_t t = 100'000 + i * 10'000;
    const auto port = static_cast<std::uint16_t>(1000 + i * 7);
    pk.push_back(tcp(t, scanner, target, 40000, port, syn));
    pk.push_back(tcp(t + 200, target, scanner, port, 40000, rst | ack));
  }
  for (int c = 0; c < 2; ++c) {
    const std::int64_t t = 200'000 + c * 300'000;
    const auto sport = static_cast<std::uint16_t>(51000 + c);
    pk.push_back(tcp(t, client, server, sport, 80, syn));
    pk.push_back(tcp(t + 100, server, client, 80, sport, syn | ack));
    pk.push_back(tcp(t + 200, client, server, sport, 80, ack));
    pk.push_back(tcp(t + 300, client, server, sport, 80, psh | ack, 100));
    pk.push_back(tcp(t + 400, server, client, 80, sport, psh | ack, 500));
    pk.push_back(tcp(t + 500, client, server, sport, 80, fin | ack));
    pk.push_back(tcp(t + 600, server, client, 80, sport, fin | ack));
    pk.push_back(tcp(t + 700, client, server, sport, 80, ack));
  }
  // The long flow: client port 52000 to server port 443, 12 s.
  pk.push_back(tcp(1'000'000, client, server, 52000, 443, syn));
  pk.push_back(tcp(1'000'100, server, client, 443, 52000, syn | ack));
  pk.push_back(tcp(1'000'200, client, server, 52000, 443, ack));
  for (int i = 1; i <= 120; ++i) pk.push_back(tcp(1'000'200 + i * 100'000, server, client, 443, 52000, ack, 1000));
  std::stable_sort(pk.begin(), pk.end(), [](const TestPacket& a, const TestPacket& b) {
    return a.ts_sec != b.ts_sec ? a.ts_sec < b.ts_sec : a.ts_frac < b.ts_frac;
  });
  return pk;
}

double num(const std::vector<std::string>& row, std::size_t col) { return std::stod(row.at(col)); }

}  // namespace

TEST_CASE("--csv-groups host_context and --csv-snapshots: scanner, benign client, long flow",
          "[app][csv][host_context]") {
  TempDir dir;
  const std::string pcap = dir.file("in.pcap");
  write_pcap(pcap, traffic());
  const std::string csv = dir.file("hc.csv");
  REQUIRE(run("-r " + pcap + " --csv " + csv +
                  " --no-server --csv-groups host_context --csv-snapshots --stats-interval 0",
              dir.file("log")) == 0);
  const Csv c = read_csv(csv);

  // Header: "Record Kind", the profile's columns, the 27 group columns, then Label.
  const auto base = split(std::string(csv_header(Profile::corrected)));
  REQUIRE(c.header.size() == 1 + base.size() + 27);
  CHECK(c.header.front() == "Record Kind");
  CHECK(c.header[1] == base.front());
  CHECK(c.header.back() == "Label");
  CHECK(c.header[base.size()] == "hc_src_flows_1s");
  CHECK(c.header[base.size() + 26] == "hc_svc_sources_10s");
  for (const auto& r : c.rows) REQUIRE(r.size() == c.header.size());

  const std::size_t kind = 0, src = c.col("Src IP"), dport = c.col("Dst Port");
  const std::size_t flows1 = c.col("hc_src_flows_1s"), ports1 = c.col("hc_src_dst_ports_1s");
  const std::size_t failed1 = c.col("hc_src_failed_1s"), hosts1 = c.col("hc_src_dst_hosts_1s");
  const std::size_t short10 = c.col("hc_src_short_share_10s"), svc_src = c.col("hc_svc_sources_10s");

  // The scanner's last refused connection sees ~50 flows, ~50 distinct ports (linear counting, 128
  // bits: within 15 %), one host and ~50 failures in the last second.
  double max_flows = 0, max_ports = 0, max_failed = 0, max_hosts = 0;
  int scanner_rows = 0;
  for (const auto& r : c.rows) {
    if (r[src] != "10.0.0.66" || r[kind] != "final") continue;
    ++scanner_rows;
    max_flows = std::max(max_flows, num(r, flows1));
    max_ports = std::max(max_ports, num(r, ports1));
    max_failed = std::max(max_failed, num(r, failed1));
    max_hosts = std::max(max_hosts, num(r, hosts1));
    CHECK(num(r, svc_src) <= 1.1);  // each scanned port: one source
  }
  CHECK(scanner_rows == 50);
  CHECK(max_flows == Approx(50).margin(1));
  CHECK(max_ports == Approx(50).epsilon(0.15));
  CHECK(max_failed >= 45);
  CHECK(max_failed <= 50);
  CHECK(max_hosts == Approx(1).epsilon(0.1));

  // The benign client: a handful of flows, no failures.
  int client_rows = 0;
  for (const auto& r : c.rows) {
    if (r[src] != "10.0.0.1") continue;
    ++client_rows;
    CHECK(num(r, flows1) <= 3.5);
    CHECK(num(r, failed1) == 0);
    CHECK(num(r, ports1) <= 3);
    CHECK(num(r, short10) <= 0.5);
  }
  CHECK(client_rows >= 3);

  // The long flow has snapshot rows (every 5 s and every 1000 packets by default) before its final row,
  // sharing its Flow ID.
  std::map<std::string, std::vector<std::string>> kinds_by_flow;
  for (const auto& r : c.rows)
    if (r[dport] == "443") kinds_by_flow[r[1]].push_back(r[kind]);
  REQUIRE(kinds_by_flow.size() == 1);
  const auto& kinds = kinds_by_flow.begin()->second;
  REQUIRE(kinds.size() >= 3);
  CHECK(std::count(kinds.begin(), kinds.end(), "snapshot") >= 2);
  CHECK(kinds.back() == "final");

  // Without the options the CSV is the reference's, and snapshots are not written.
  const std::string plain = dir.file("plain.csv");
  REQUIRE(run("-r " + pcap + " --csv " + plain + " --no-server --stats-interval 0", dir.file("log")) == 0);
  const Csv p = read_csv(plain);
  CHECK(p.header == base);
  std::size_t finals = 0;
  for (const auto& r : c.rows) finals += r[kind] == "final" ? 1 : 0;
  CHECK(p.rows.size() == finals);

  // Usage errors: the group needs host context on, and both options need --csv.
  CHECK(run("-r " + pcap + " --csv " + plain + " --no-server --csv-groups host_context --host-context off",
            dir.file("log")) == 2);
  CHECK(run("-r " + pcap + " --no-server --csv-snapshots", dir.file("log")) == 2);
  CHECK(run("-r " + pcap + " --csv " + plain + " --no-server --csv-groups nope", dir.file("log")) == 2);
}
