// The real flowguard-capture binary (with the link built in) against an in-process flowguard-infer,
// replaying the CICFlowMeter test capture from ../shared. Label `dataset`: skips when it is absent.
#include "bundle/bundle.hpp"

#include "features/profile.hpp"
#include "support/support.hpp"

#include <catch2/catch.hpp>
#include "support/skip.hpp"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace fgtest;

namespace {

// A model over the agent's real feature list: "Attack" when the first feature (Flow Duration, in
// microseconds) exceeds 1e7, i.e. long flows alert; everything else is benign.
void save_profile_model(const std::string& path) {
  const auto names =
      flowguard::capture::features::feature_names(flowguard::capture::features::Profile::corrected);
  const auto nf = static_cast<std::int64_t>(names.size());
  torch::jit::Module m("ProfileLinear");
  auto w = torch::zeros({nf, 2});
  w.index_put_({0, 1}, 1e-7);
  m.register_parameter("w", w, false);
  m.register_parameter("b", torch::tensor({0.0f, -1.0f}), false);
  m.define(R"(
    def forward(self, x):
        x = torch.nan_to_num(x, 0.0, 0.0, 0.0)
        return torch.matmul(x, self.w) + self.b
  )");
  flowguard::models::Manifest man;
  man.name = "profile-linear";
  man.version = "1";
  man.architecture = "linear";
  man.feature_profile = "corrected";
  for (auto n : names) man.feature_names.emplace_back(n);
  man.class_names = {"BENIGN", "Attack"};
  man.benign_class = "BENIGN";
  man.thresholds.alert = 0.5;
  man.thresholds.block = 0.999;
  flowguard::models::save_bundle(m, man, path);
}

// A counter from the agent's --metrics-json document, by its stats key (~0 when absent).
std::uint64_t stat(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  const auto doc = nlohmann::json::parse(in);
  for (const auto& m : doc.at("metrics")) {
    // Counters and gauges carry "value", histograms their observation "count".
    if (m.value("key", "") == key)
      return m.contains("value") ? m.at("value").get<std::uint64_t>() : m.at("count").get<std::uint64_t>();
  }
  return ~0ull;
}

}  // namespace

TEST_CASE(
    "flowguard-capture streams every flow of a capture file to flowguard-infer and gets every verdict") {
  const char* shared =
      std::getenv("FLOWGUARD_SHARED_DIR") ? std::getenv("FLOWGUARD_SHARED_DIR") : FG_SHARED_DIR;
  const std::string pcap = std::string(shared ? shared : "") + "/data/parity/cicflowmeter-test/test.pcap";
  if (!shared || !fs::exists(pcap)) {
    FLOWGUARD_SKIP(pcap << " not found (the shared data set is absent; set FLOWGUARD_SHARED_DIR)");
  }
  TempDir d;
  save_profile_model(d.file("m.pt"));
  InProcessServer srv(d.file("m.pt"));
  const std::string metrics = d.file("metrics.json");
  auto [rc, out] = run_command({FG_CAPTURE_BIN, "-r", pcap, "--socket", srv.socket(), "--stats-interval", "0",
                                "--agent-id", "e2e-agent", "--metrics-json", metrics});
  INFO(out);
  REQUIRE(rc == 0);
  const auto sent = stat(metrics, "link_sent");
  REQUIRE(sent != ~0ull);
  CHECK(sent > 0);
  CHECK(stat(metrics, "judged") == sent);
  CHECK(stat(metrics, "unjudged") == 0);
  CHECK(stat(metrics, "flow_to_verdict_us") == sent);  // one latency observation per verdict
  const auto c = srv.server->metrics();
  CHECK(c.value("flows_received") == sent);
  CHECK(c.value("verdicts_sent") == sent);
  CHECK(c.value("alert") == stat(metrics, "alert"));
  CHECK(c.value("sessions_accepted") == 1);
}
