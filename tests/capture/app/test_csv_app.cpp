// flowguard-capture end to end: a pcap written by the test (real libpcap reading, real decoder), the
// CSV it produces for both profiles, and the exit codes of the command line.
#include "features/profile.hpp"
#include "fixtures/frame_builder.hpp"
#include "fixtures/pcap_writer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
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

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A counter from the agent's --metrics-json document, by its stats key (-1 when absent).
long long metric(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  const auto doc = nlohmann::json::parse(in);
  for (const auto& m : doc.at("metrics")) {
    if (m.value("key", "") == key) return m.at("value").get<long long>();
  }
  return -1;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path, std::string& header) {
  std::ifstream in(path);
  std::getline(in, header);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

// A TCP exchange (handshake, 100 bytes of data in a padded 60-byte frame, FIN teardown), a DNS-like
// UDP exchange over IPv6, and an ARP frame.
std::vector<TestPacket> sample_traffic() {
  std::vector<TestPacket> pk;
  const std::int64_t s = 1'600'000'000;
  auto tcp = [&](std::uint32_t us, bool from_client, std::uint8_t flags, std::size_t payload) {
    FrameBuilder b;
    b.ethernet(0x0800);
    if (from_client) {
      b.ipv4(host_a, host_b, 6).tcp(40000, 80, flags, 1000);
    } else {
      b.ipv4(host_b, host_a, 6).tcp(80, 40000, flags, 2000);
    }
    if (payload) b.payload(payload);
    b.pad_to(60);
    pk.push_back({s, us, b.build()});
  };
  tcp(0, true, 0x02, 0);
  tcp(100, false, 0x12, 0);
  tcp(200, true, 0x10, 0);
  tcp(300, true, 0x18, 4);  // 4 bytes of data + 2 bytes of Ethernet padding
  tcp(400, false, 0x11, 0);
  tcp(500, true, 0x11, 0);
  tcp(600, false, 0x10, 0);
  const V6 c6 = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), s6 = v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53});
  {
    FrameBuilder b;
    b.ethernet(0x86DD).ipv6(c6, s6, 17).udp(5353, 53).payload(30);
    pk.push_back({s, 700, b.build()});
  }
  {
    FrameBuilder b;
    b.ethernet(0x86DD).ipv6(s6, c6, 17).udp(53, 5353).payload(120);
    pk.push_back({s, 900, b.build()});
  }
  {
    FrameBuilder b;
    b.ethernet(0x0806).zeros(28).pad_to(60);
    pk.push_back({s, 1000, b.build()});
  }
  return pk;
}

}  // namespace

TEST_CASE("flowguard-capture writes the reference CSV for both profiles", "[app][csv]") {
  TempDir dir;
  const std::string pcap = dir.file("in.pcap");
  write_pcap(pcap, sample_traffic());

  SECTION("corrected") {
    const std::string csv = dir.file("corrected.csv");
    REQUIRE(run("-r " + pcap + " --csv " + csv + " --no-server --stats-interval 0 --metrics-json " +
                    dir.file("metrics.json"),
                dir.file("log")) == 0);
    std::string header;
    const auto rows = read_csv(csv, header);
    CHECK(header == csv_header(Profile::corrected));
    REQUIRE(rows.size() == 2);  // the TCP connection (no SYN after the teardown) and the IPv6 exchange
    for (const auto& r : rows) REQUIRE(r.size() == 89);
    const auto& tcp = rows[0][1] == "10.0.0.1" ? rows[0] : rows[1];
    const auto& udp6 = rows[0][1] == "10.0.0.1" ? rows[1] : rows[0];
    CHECK(tcp[0] == "10.0.0.1-10.0.0.2-40000-80-6");
    CHECK(tcp[6] == "2020-09-13 12:26:40");
    CHECK(tcp[7] == "600");    // Flow Duration
    CHECK(tcp[10] == "4.0");   // Total Length of Fwd Packet: padding trimmed
    CHECK(tcp[73] == "1000");  // FWD Init Win Bytes
    CHECK(tcp[88] == "NeedManualLabel");
    CHECK(udp6[0] == "2001:db8::1-2001:db8::53-5353-53-17");
    CHECK(udp6[10] == "30.0");
    CHECK(udp6[11] == "120.0");
    // The metrics at exit count the ARP frame as not IP.
    CHECK(metric(dir.file("metrics.json"), "not_ip") == 1);
    CHECK(metric(dir.file("metrics.json"), "decode_non_ip_arp") == 1);
    CHECK(metric(dir.file("metrics.json"), "records_final") == 2);
  }
  SECTION("cicids2017") {
    const std::string csv = dir.file("cicids2017.csv");
    REQUIRE(run("-r " + pcap + " --profile cicids2017 --csv " + csv + " --no-server --stats-interval 0",
                dir.file("log")) == 0);
    std::string header;
    const auto rows = read_csv(csv, header);
    CHECK(header == csv_header(Profile::cicids2017));
    // The server's FIN closes the connection's flow at once (5 packets, emitted first); the client's FIN
    // and the last ACK form a second 2-packet flow; then the IPv6 exchange.
    REQUIRE(rows.size() == 3);
    const auto& tcp = rows[0];
    REQUIRE(tcp.size() == 85);
    CHECK(tcp[6] == "13/09/2020 12:26:40");
    CHECK(tcp[8] == "3");  // Total Fwd Packets
    CHECK(tcp[9] == "2");
    CHECK(tcp[10] == "18.0");         // 6 + 6 padding bytes of the ACKs, 4 data + 2 padding
    CHECK(rows[1][1] == "10.0.0.1");  // the teardown rest, opened by the client's FIN
    CHECK(rows[1][8] == "1");
    CHECK(tcp[84] == "BENIGN");
  }
}

TEST_CASE("flowguard-capture exit codes", "[app]") {
  TempDir dir;
  const std::string pcap = dir.file("in.pcap");
  write_pcap(pcap, sample_traffic());
  CHECK(run("--version", dir.file("log")) == 0);
  CHECK(slurp(dir.file("log")).find("flowguard-capture") != std::string::npos);
  CHECK(run("", dir.file("log")) == 2);  // no input
  CHECK(run("-r " + pcap + " --profile nope --no-server", dir.file("log")) == 2);
  CHECK(run("-r " + pcap + " -i lo --no-server", dir.file("log")) == 2);  // both inputs
  CHECK(run("-r " + dir.file("missing.pcap") + " --no-server", dir.file("log")) == 1);
  CHECK(slurp(dir.file("log")).find("missing.pcap") != std::string::npos);
  CHECK(run("-r " + pcap + " --no-server --csv " + dir.file("no/such/dir.csv"), dir.file("log")) == 1);
}

TEST_CASE("flowguard-capture --decode reference writes the reference's pseudo-flows",
          "[app][csv][reference]") {
  // Two broadcast ARP requests (which the reference turns into 8.6.0.1 -> 8.0.6.4 packets) and a SYN.
  std::vector<TestPacket> pk;
  for (std::uint32_t us : {0u, 250u}) {
    FrameBuilder b;
    b.raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).raw({0x00, 0x00, 0x5e, 0x00, 0x53, 0x01}).be16(0x0806);
    b.be16(1).be16(0x0800).u8(6).u8(4).be16(1).zeros(20).pad_to(60);
    pk.push_back({1'600'000'000, us, b.build()});
  }
  {
    FrameBuilder b;
    b.ethernet(0x0800).ipv4(host_a, host_b, 6).tcp(40000, 80, 0x02, 1000).pad_to(60);
    pk.push_back({1'600'000'000, 500, b.build()});
  }
  TempDir dir;
  const std::string pcap = dir.file("in.pcap");
  write_pcap(pcap, pk);
  const auto is_pseudo = [](const std::vector<std::string>& r) {
    return r.size() > 9 && r[5] == "0" &&
           ((r[1] == "8.6.0.1" && r[3] == "8.0.6.4") || (r[1] == "8.0.6.4" && r[3] == "8.6.0.1")) &&
           std::stoi(r[8]) + std::stoi(r[9]) == 2;
  };
  for (const std::string profile : {"corrected", "cicids2017"}) {
    INFO(profile);
    const std::string csv = dir.file(profile + ".csv"), ref = dir.file(profile + ".ref.csv");
    REQUIRE(run("-r " + pcap + " --profile " + profile + " --csv " + csv + " --no-server --stats-interval 0",
                dir.file("log")) == 0);
    REQUIRE(run("-r " + pcap + " --profile " + profile + " --decode reference --csv " + ref +
                    " --no-server --stats-interval 0 --metrics-json " + dir.file("metrics.json"),
                dir.file("log")) == 0);
    CHECK(metric(dir.file("metrics.json"), "decode_reference_fallback_pass") == 2);
    std::string header;
    const auto native_rows = read_csv(csv, header);
    const auto ref_rows = read_csv(ref, header);
    CHECK(std::none_of(native_rows.begin(), native_rows.end(), is_pseudo));
    CHECK(std::count_if(ref_rows.begin(), ref_rows.end(), is_pseudo) == 1);
  }
  CHECK(run("-r " + pcap + " --decode bogus --no-server", dir.file("log")) == 2);
}
