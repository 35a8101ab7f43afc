// Early verdicts and the host-context group end to end: the real flowguard-capture binary (a child
// process, default options) replays a pcap written by the test to an in-process flowguard-infer on a
// real socket, serving a model that reads the profile features and the host_context group.
//  - a long flow is judged by a snapshot while it is still going (EVE record_kind "snapshot", stamped
//    before the flow's last packet), with the default snapshot settings;
//  - a scanner is judged from host-context values (its failures in 10 s), which only reach the model
//    through FlowRecord.group_features and the manifest's feature_groups.
#include "bundle/bundle.hpp"

#include "context/host_context.hpp"
#include "features/profile.hpp"
#include "fixtures/frame_builder.hpp"
#include "fixtures/pcap_writer.hpp"
#include "support/support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace fgtest;
namespace ft = flowguard::test;

namespace {

namespace features = flowguard::capture::features;
namespace context = flowguard::capture::context;

// Classes BENIGN, LongFlow, Scan. logit(LongFlow) = Flow Duration / 1 s - 3 (alerts after ~3 s);
// logit(Scan) = hc_src_failed_10s - 10. Everything else BENIGN.
void save_context_model(const std::string& path) {
  const auto names = features::feature_names(features::Profile::corrected);
  const auto hc = context::feature_names();
  const auto nf = static_cast<std::int64_t>(names.size());
  const auto width = nf + static_cast<std::int64_t>(hc.size());
  const auto failed_10s = nf + (std::find(hc.begin(), hc.end(), "hc_src_failed_10s") - hc.begin());
  REQUIRE(names[0] == "Flow Duration");
  torch::jit::Module m("ContextLinear");
  auto w = torch::zeros({width, 3});
  w.index_put_({0, 1}, 1e-6);
  w.index_put_({failed_10s, 2}, 1.0);
  m.register_parameter("w", w, false);
  m.register_parameter("b", torch::tensor({0.0f, -3.0f, -10.0f}), false);
  m.define(R"(
    def forward(self, x):
        x = torch.nan_to_num(x, 0.0, 0.0, 0.0)
        return torch.matmul(x, self.w) + self.b
  )");
  flowguard::models::Manifest man;
  man.name = "context-linear";
  man.version = "1";
  man.architecture = "linear";
  man.feature_profile = "corrected";
  for (auto n : names) man.feature_names.emplace_back(n);
  flowguard::models::FeatureGroup g;
  g.name = std::string(context::group_name);
  for (auto n : hc) g.feature_names.emplace_back(n);
  man.feature_groups.push_back(g);
  man.class_names = {"BENIGN", "LongFlow", "Scan"};
  man.benign_class = "BENIGN";
  man.thresholds.alert = 0.5;
  man.thresholds.block = 0.999;
  flowguard::models::save_bundle(m, man, path);
}

constexpr std::int64_t base_s = 1'600'000'000;
constexpr ft::V4 client{10, 0, 0, 1}, server{10, 0, 0, 20}, scanner{10, 0, 0, 66}, target{10, 0, 0, 10};

ft::TestPacket tcp(std::int64_t at_us, ft::V4 src, ft::V4 dst, std::uint16_t sport, std::uint16_t dport,
                   std::uint8_t flags, std::size_t payload = 0) {
  ft::FrameBuilder b;
  b.ethernet(0x0800).ipv4(src, dst, 6).tcp(sport, dport, flags, 1000);
  if (payload) b.payload(payload);
  b.pad_to(60);
  return {base_s + at_us / 1'000'000, static_cast<std::uint32_t>(at_us % 1'000'000), b.build()};
}

// Seconds of the day of an EVE timestamp ("2020-09-13T12:26:45.000200+0000").
double day_seconds(const std::string& ts) {
  return std::stoi(ts.substr(11, 2)) * 3600.0 + std::stoi(ts.substr(14, 2)) * 60.0 + std::stod(ts.substr(17, 9));
}

std::uint64_t stat(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  const auto doc = nlohmann::json::parse(in);
  for (const auto& m : doc.at("metrics"))
    if (m.value("key", "") == key && m.contains("value")) return m.at("value").get<std::uint64_t>();
  return ~0ull;
}

}  // namespace

TEST_CASE("a long flow is judged by a snapshot before it ends; host context reaches the model",
          "[early][host_context]") {
  constexpr std::uint8_t syn = 0x02, ack = 0x10, rst = 0x04, fin = 0x01;
  std::vector<ft::TestPacket> pk;
  // The long flow: 20 s of data, one packet every 100 ms, then FIN teardown.
  pk.push_back(tcp(0, client, server, 52000, 443, syn));
  pk.push_back(tcp(100, server, client, 443, 52000, syn | ack));
  pk.push_back(tcp(200, client, server, 52000, 443, ack));
  for (int i = 1; i <= 200; ++i) pk.push_back(tcp(200 + i * 100'000, server, client, 443, 52000, ack, 1000));
  const std::int64_t end_us = 20'000'400;
  pk.push_back(tcp(end_us - 100, client, server, 52000, 443, fin | ack));
  pk.push_back(tcp(end_us, server, client, 443, 52000, fin | ack));
  // The scanner, 2 s in: 40 ports refused within 0.4 s.
  for (int i = 0; i < 40; ++i) {
    const std::int64_t t = 2'000'000 + i * 10'000;
    const auto port = static_cast<std::uint16_t>(2000 + i);
    pk.push_back(tcp(t, scanner, target, 40000, port, syn));
    pk.push_back(tcp(t + 150, target, scanner, port, 40000, rst | ack));
  }
  std::stable_sort(pk.begin(), pk.end(), [](const ft::TestPacket& a, const ft::TestPacket& b) {
    return a.ts_sec != b.ts_sec ? a.ts_sec < b.ts_sec : a.ts_frac < b.ts_frac;
  });

  TempDir d;
  const std::string pcap = d.file("long.pcap");
  ft::write_pcap(pcap, pk);
  save_context_model(d.file("m.pt"));
  InProcessServer srv(d.file("m.pt"));
  const std::string eve = d.file("eve.json"), metrics = d.file("metrics.json");
  // Default snapshot settings and host context: nothing about them on the command line.
  auto [rc, out] = run_command({FG_CAPTURE_BIN, "-r", pcap, "--socket", srv.socket(), "--stats-interval", "0",
                                "--enforce", "dry-run", "--no-host-allowlist", "--state-dir", "none",
                                "--control-socket", "none", "--alerts", eve, "--metrics-json", metrics});
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(stat(metrics, "records_snapshot") > 0);
  CHECK(stat(metrics, "judged") == stat(metrics, "link_sent"));
  CHECK(stat(metrics, "unjudged") == 0);
  CHECK(srv.server->metrics().value("sessions_refused") == 0);

  bool long_flow_early = false, scan_alerted = false;
  std::ifstream in(eve);
  for (std::string line; std::getline(in, line);) {
    const auto ev = nlohmann::json::parse(line);
    const std::string cls = ev["flowguard"]["class"];
    const std::string kind = ev["flowguard"]["record_kind"];
    if (ev["dest_port"] == 52000 || ev["src_port"] == 52000) {
      CHECK(cls == "LongFlow");
      // Stamped with the verdict's last packet: seconds before the flow's end (20 s after its start).
      const double at = day_seconds(ev["timestamp"]) - day_seconds(ev["flow"]["start"]);
      INFO(line);
      if (kind == "snapshot" && at < 19.0) long_flow_early = true;
    }
    if (ev["src_ip"] == "10.0.0.66" && cls == "Scan") scan_alerted = true;
  }
  CHECK(long_flow_early);
  CHECK(scan_alerted);
}
