#include "enforce/alert_writer.hpp"
#include "enforce/eve.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <regex>

using namespace flowguard::capture;
using namespace flowguard::capture::enforce;
using namespace flowguard::capture::enforce::test;
using nlohmann::json;

namespace {

struct FixedZone {
  explicit FixedZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) saved_ = old, had_ = true;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~FixedZone() {
    had_ ? ::setenv("TZ", saved_.c_str(), 1) : ::unsetenv("TZ");
    ::tzset();
  }
  std::string saved_;
  bool had_ = false;
};

std::vector<json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("EVE timestamps look like Suricata's: local time, microseconds, numeric offset", "[eve]") {
  {
    FixedZone utc("UTC0");
    CHECK(eve_timestamp(1'700'000'000'123'456) == "2023-11-14T22:13:20.123456+0000");
    CHECK(eve_timestamp(1'700'000'000'000'007) == "2023-11-14T22:13:20.000007+0000");
  }
  FixedZone cet("CET-1");
  CHECK(eve_timestamp(1'700'000'000'123'456) == "2023-11-14T23:13:20.123456+0100");
}

TEST_CASE("an EVE alert carries Suricata's field names and flowguard's extras", "[eve]") {
  FixedZone utc("UTC0");
  const FlowVerdict v = verdict("10.0.0.5", VerdictAction::block, "PortScan", 0.98f);
  const json e = eve_alert(v, AlertContext{BlockOutcome::blocked, EnforceMode::nftables, 3});
  CHECK(e["timestamp"] == "2023-11-14T22:13:20.250000+0000");
  CHECK(e["flow_id"] == 42);
  CHECK(e["event_type"] == "alert");
  CHECK(e["src_ip"] == "10.0.0.5");
  CHECK(e["src_port"] == 51234);
  CHECK(e["dest_ip"] == "10.0.0.9");
  CHECK(e["dest_port"] == 22);
  CHECK(e["proto"] == "TCP");
  const json& a = e["alert"];
  CHECK(a["action"] == "blocked");
  CHECK(a["signature"] == "flowguard ML: PortScan");
  CHECK(a["signature_id"] == signature_id("PortScan"));
  CHECK(a["category"] == "Detection of a Network Scan");
  CHECK(a["severity"] == 1);
  CHECK(a["metadata"]["model"] == json::array({"cnn-lstm"}));
  CHECK(a["metadata"]["version"] == json::array({"1"}));
  CHECK(a["metadata"]["score"] == json::array({"0.9800"}));
  CHECK(a["metadata"]["threshold"] == json::array({"0.9000"}));
  const json& f = e["flow"];
  CHECK(f["pkts_toserver"] == 3);
  CHECK(f["pkts_toclient"] == 2);
  CHECK(f["bytes_toserver"] == 120);
  CHECK(f["bytes_toclient"] == 80);
  CHECK(f["start"] == "2023-11-14T22:13:20.000000+0000");
  const json& g = e["flowguard"];
  CHECK(g["record_kind"] == "final");
  CHECK(g["reason"] == "score above block threshold");
  CHECK(g["enforcement"] == "blocked");
  CHECK(g["block"] == true);
  CHECK(eve_alert(v, AlertContext{BlockOutcome::dry_run, EnforceMode::dry_run, 0})["flowguard"]["block"] ==
        true);
  CHECK(eve_alert(v, AlertContext{BlockOutcome::allowlisted, EnforceMode::nftables,
                                  0})["flowguard"]["block"] == false);
  CHECK(g["suppressed"] == 3);
  REQUIRE(g["top_features"].size() == 2);
  CHECK(g["top_features"][0]["name"] == "Flow Duration");
  CHECK(g["top_features"][1]["contribution"].get<double>() == Approx(0.3));
  CHECK_FALSE(e.contains("vlan"));

  // Dry-run and allowlisted blocks did not drop anything: Suricata's "allowed".
  for (BlockOutcome o : {BlockOutcome::dry_run, BlockOutcome::dry_run_listed, BlockOutcome::allowlisted,
                         BlockOutcome::none, BlockOutcome::off}) {
    CHECK(eve_alert(v, AlertContext{o, EnforceMode::dry_run, 0})["alert"]["action"] == "allowed");
  }
  FlowVerdict alert_only = verdict("2001:db8::5", VerdictAction::alert, "DoS Hulk", 0.7f);
  alert_only.protocol = 58;
  alert_only.vlan_id = 100;
  alert_only.kind = RecordKind::snapshot;
  const json e2 = eve_alert(alert_only, AlertContext{});
  CHECK(e2["proto"] == "IPv6-ICMP");
  CHECK(e2["src_ip"] == "2001:db8::5");
  CHECK(e2["alert"]["severity"] == 2);
  CHECK(e2["alert"]["category"] == "Attempted Denial of Service");
  CHECK(e2["vlan"] == json::array({100}));
  CHECK(e2["flowguard"]["record_kind"] == "snapshot");
}

TEST_CASE("protocol names and signature ids", "[eve]") {
  CHECK(proto_name(6) == "TCP");
  CHECK(proto_name(17) == "UDP");
  CHECK(proto_name(1) == "ICMP");
  CHECK(proto_name(200) == "200");
  CHECK(signature_id("PortScan") == signature_id("PortScan"));
  CHECK(signature_id("PortScan") != signature_id("DDoS"));
  CHECK(signature_id("DDoS") >= 9'100'000u);
  CHECK(signature_id("DDoS") < 9'200'000u);
}

TEST_CASE("console line is one concise human sentence", "[eve]") {
  const FlowVerdict v = verdict("10.0.0.5", VerdictAction::block, "PortScan", 0.98f);
  CHECK(console_line(v, AlertContext{BlockOutcome::dry_run, EnforceMode::dry_run, 0}) ==
        "ALERT PortScan 0.98 10.0.0.5:51234 -> 10.0.0.9:22 tcp model cnn-lstm v1 [BLOCK dry-run]");
  CHECK(console_line(v, AlertContext{BlockOutcome::allowlisted, EnforceMode::nftables, 4}) ==
        "ALERT PortScan 0.98 10.0.0.5:51234 -> 10.0.0.9:22 tcp model cnn-lstm v1 [NOT BLOCKED: allowlisted] "
        "(+4 similar)");
  const FlowVerdict v6 = verdict("2001:db8::5", VerdictAction::alert, "DDoS", 0.61f);
  CHECK(console_line(v6, AlertContext{}) ==
        "ALERT DDoS 0.61 [2001:db8::5]:51234 -> [2001:db8::9]:22 tcp model cnn-lstm v1");
}

TEST_CASE("alert writer appends EVE lines and folds a flood per (source, class)", "[eve]") {
  TempDir dir;
  const std::string path = dir / "eve.json";
  {
    AlertWriter w(AlertWriterOptions{path, false, 1.0, 16}, nullptr);
    FlowVerdict v = verdict("10.0.0.5", VerdictAction::alert, "DDoS");
    CHECK_FALSE(w.emit(verdict("10.0.0.5", VerdictAction::allow), BlockOutcome::none, EnforceMode::dry_run));
    // 100 verdicts 10 ms apart in packet time: one alert per second of packet time.
    int emitted = 0;
    for (int i = 0; i < 100; ++i) {
      v.last_ts_us = 1'700'000'000'000'000 + i * 10'000;
      emitted += w.emit(v, BlockOutcome::none, EnforceMode::dry_run) ? 1 : 0;
    }
    CHECK(emitted == 1);
    v.last_ts_us = 1'700'000'001'000'000;
    CHECK(w.emit(v, BlockOutcome::none, EnforceMode::dry_run));  // a second later: 99 folded into it
    // Another class from the same source and the same class from another source are separate.
    CHECK(w.emit(verdict("10.0.0.5", VerdictAction::alert, "PortScan"), BlockOutcome::none,
                 EnforceMode::dry_run));
    CHECK(
        w.emit(verdict("10.0.0.6", VerdictAction::alert, "DDoS"), BlockOutcome::none, EnforceMode::dry_run));
    // A verdict that newly blocks is never folded.
    FlowVerdict b = verdict("10.0.0.5", VerdictAction::block, "DDoS");
    b.last_ts_us = 1'700'000'001'000'001;
    CHECK(w.emit(b, BlockOutcome::blocked, EnforceMode::nftables));
    CHECK(w.emitted() == 5);
    CHECK(w.suppressed() == 99);
  }
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 5);
  CHECK(lines[1]["flowguard"]["suppressed"] == 99);
  CHECK(lines[4]["alert"]["action"] == "blocked");
  for (const auto& l : lines) CHECK(l["event_type"] == "alert");

  // Appends, never truncates.
  {
    AlertWriter w(AlertWriterOptions{path, false, 0.0, 16}, nullptr);
    CHECK(w.emit(verdict("10.0.0.7", VerdictAction::alert), BlockOutcome::none, EnforceMode::off));
  }
  CHECK(read_lines(path).size() == 6);
  CHECK_THROWS(AlertWriter(AlertWriterOptions{dir / "no/such/dir/eve.json", false, 1.0, 16}, nullptr));
}

TEST_CASE("an EVE alert of an evidence block carries the evidence and the blocked side", "[eve]") {
  FlowVerdict v = verdict("10.0.0.5", VerdictAction::block);
  v.block_side = FlowSide::dst;
  v.evidence.rule = "bruteforce";
  v.evidence.flows = 4;
  v.evidence.classes = {"SSH-Patator"};
  v.evidence.level = 4.0f;
  v.evidence.offence = 2;
  v.evidence.block_seconds = 1200;
  const auto eve = eve_alert(v, AlertContext{BlockOutcome::dry_run, EnforceMode::dry_run, 0});
  const auto& e = eve["flowguard"]["evidence"];
  CHECK(e["rule"] == "bruteforce");
  CHECK(e["flows"] == 4);
  CHECK(e["classes"] == nlohmann::json::array({"SSH-Patator"}));
  CHECK(e["offence"] == 2);
  CHECK(e["block_seconds"] == 1200);
  CHECK(eve["flowguard"]["block_side"] == "dst");
  // An alert without evidence has neither.
  const auto plain = eve_alert(verdict("10.0.0.5", VerdictAction::alert), AlertContext{});
  CHECK_FALSE(plain["flowguard"].contains("evidence"));
}
