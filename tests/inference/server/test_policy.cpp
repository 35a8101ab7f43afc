// Decisions and handshake checks, without sockets.
#include "server/handshake.hpp"
#include "server/policy.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace flowguard;
using namespace flowguard::inference;

namespace {

models::Thresholds thresholds() {
  models::Thresholds t;
  t.alert = 0.5;
  t.block = 0.9;
  t.block_per_class["PortScan"] = 0.99;
  return t;
}

models::Manifest manifest() {
  models::Manifest m;
  m.name = "m";
  m.version = "7";
  m.feature_profile = "corrected";
  m.feature_names = {"a", "b", "c", "d"};
  m.class_names = {"BENIGN", "DoS"};
  m.benign_class = "BENIGN";
  return m;
}

v1::Hello hello(std::vector<std::string> names, std::string profile = "corrected") {
  v1::Hello h;
  h.set_protocol_version(1);
  h.set_agent_id("a1");
  h.set_feature_profile(profile);
  for (auto& n : names) h.add_feature_names(n);
  return h;
}

}  // namespace

TEST_CASE("thresholds and policy decide allow, alert, block with a reason") {
  const Policy p;
  const auto t = thresholds();
  auto d = decide(p, t, "BENIGN", true, 0.99f);
  CHECK(d.action == v1::ACTION_ALLOW);
  d = decide(p, t, "DoS", false, 0.4f);
  CHECK(d.action == v1::ACTION_ALLOW);
  CHECK(d.reason.find("below alert threshold") != std::string::npos);
  d = decide(p, t, "DoS", false, 0.6f);
  CHECK(d.action == v1::ACTION_ALERT);
  CHECK(d.threshold == Approx(0.5));
  d = decide(p, t, "DoS", false, 0.95f);
  CHECK(d.action == v1::ACTION_BLOCK);
  CHECK(d.threshold == Approx(0.9));
  // Per-class block threshold from the manifest.
  d = decide(p, t, "PortScan", false, 0.95f);
  CHECK(d.action == v1::ACTION_ALERT);
  d = decide(p, t, "PortScan", false, 0.995f);
  CHECK(d.action == v1::ACTION_BLOCK);
  CHECK(d.threshold == Approx(0.99));
}

TEST_CASE("policy file: detect-only, min_block_score, class overrides, never_block") {
  const auto t = thresholds();
  auto p = Policy::from_yaml(R"(
detect_only: true
)");
  auto d = decide(p, t, "DoS", false, 0.95f);
  CHECK(d.action == v1::ACTION_ALERT);
  CHECK(d.reason.find("detect-only") != std::string::npos);

  p = Policy::from_yaml("min_block_score: 0.97\n");
  CHECK(decide(p, t, "DoS", false, 0.95f).action == v1::ACTION_ALERT);
  CHECK(decide(p, t, "DoS", false, 0.98f).action == v1::ACTION_BLOCK);

  p = Policy::from_yaml("classes: {DoS: alert, Bot: allow}\nnever_block: [Web]\n");
  d = decide(p, t, "DoS", false, 0.999f);
  CHECK(d.action == v1::ACTION_ALERT);
  CHECK(d.reason.find("alert-only") != std::string::npos);
  CHECK(decide(p, t, "Bot", false, 0.999f).action == v1::ACTION_ALLOW);
  CHECK(decide(p, t, "Web", false, 0.999f).action == v1::ACTION_ALERT);

  p = Policy::from_yaml("default_action: alert\nclasses: {DoS: block}\n");
  CHECK(decide(p, t, "DoS", false, 0.95f).action == v1::ACTION_BLOCK);
  CHECK(decide(p, t, "Other", false, 0.95f).action == v1::ACTION_ALERT);
}

TEST_CASE("bad policy files are refused with the key named") {
  CHECK_THROWS_WITH(Policy::from_yaml("detect_onyl: true\n"), Catch::Contains("unknown key 'detect_onyl'"));
  CHECK_THROWS_WITH(Policy::from_yaml("classes: {DoS: nuke}\n"), Catch::Contains("unknown action 'nuke'"));
  CHECK_THROWS_WITH(Policy::from_yaml("min_block_score: 3\n"), Catch::Contains("min_block_score"));
  CHECK_THROWS_WITH(Policy::from_yaml("[1, 2"), Catch::Contains("not valid YAML"));
  CHECK_THROWS_WITH(Policy::from_yaml_file("/nonexistent/policy.yaml"),
                    Catch::Contains("cannot read policy file"));
}

TEST_CASE("handshake accepts the exact schema and names every difference otherwise") {
  const auto m = manifest();
  v1::ModelInfo info;
  info.set_name("m");
  auto ack = check_hello(hello({"a", "b", "c", "d"}), m, info);
  CHECK(ack.accepted());
  CHECK(ack.model().name() == "m");
  CHECK(ack.max_batch_flows() == kMaxFlowsPerBatch);

  ack = check_hello(hello({"a", "b", "x", "d", "y"}), m, info);
  CHECK_FALSE(ack.accepted());
  REQUIRE(ack.missing_features_size() == 1);
  CHECK(ack.missing_features(0) == "c");
  REQUIRE(ack.unexpected_features_size() == 2);
  CHECK(ack.unexpected_features(0) == "x");
  CHECK(ack.reason().find("1 missing (c)") != std::string::npos);
  CHECK(ack.reason().find("2 unexpected (x, y)") != std::string::npos);

  ack = check_hello(hello({"a", "c", "b", "d"}), m, info);
  CHECK_FALSE(ack.accepted());
  CHECK(ack.reason().find("position 1 is 'c'") != std::string::npos);

  ack = check_hello(hello({"a", "b", "c", "d"}, "cicids2017"), m, info);
  CHECK_FALSE(ack.accepted());
  CHECK(ack.reason().find("profile 'cicids2017'") != std::string::npos);

  auto h = hello({"a", "b", "c", "d"});
  h.set_protocol_version(9);
  ack = check_hello(h, m, info);
  CHECK_FALSE(ack.accepted());
  CHECK(ack.reason().find("protocol version 9") != std::string::npos);
}

TEST_CASE("policy rules naming classes the model does not have are reported") {
  const auto p =
      Policy::from_yaml("classes: {Portscan: alert, PortScan: alert}\nnever_block: [Botnet, Bot]\n");
  const std::vector<std::string> model_classes{"BENIGN", "Portscan", "Botnet", "DDoS"};
  const auto unknown = p.unknown_classes(model_classes);
  CHECK(unknown == std::vector<std::string>{"PortScan", "Bot"});
  CHECK(Policy::from_yaml("classes: {DDoS: alert}\n").unknown_classes(model_classes).empty());
}
