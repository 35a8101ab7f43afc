// The link's side of the wire contract (link/codec.cpp): what a FlowRecord and a Hello carry.
#include "link/codec.hpp"

#include <catch2/catch.hpp>

using namespace flowguard::capture;
namespace v1 = flowguard::v1;

TEST_CASE("a record carries its features, its group values and its initiator", "[codec]") {
  FlowIdentity id;
  id.flow_id = 7;
  id.src.bytes = {10, 0, 0, 1};
  id.dst.bytes = {10, 0, 0, 2};
  id.src_port = 443;
  id.dst_port = 51000;
  id.protocol = 6;
  id.kind = RecordKind::snapshot;
  id.initiator = FlowSide::dst;
  id.initiator_basis = InitiatorBasis::service_port;
  const std::vector<float> features{1, 2, 3}, groups{4, 5};
  v1::FlowRecord r;
  encode_record(id, features, groups, r);
  CHECK(r.flow_id() == 7);
  CHECK(r.kind() == v1::RECORD_KIND_SNAPSHOT);
  CHECK(r.src_ip() == std::string("\x0a\x00\x00\x01", 4));
  CHECK(r.features_size() == 3);
  REQUIRE(r.group_features_size() == 2);
  CHECK(r.group_features(1) == 5);
  CHECK(r.initiator() == v1::FLOW_SIDE_DST);
  CHECK(r.initiator_basis() == v1::INITIATOR_BASIS_SERVICE_PORT);

  v1::FlowRecord plain;
  encode_record(FlowIdentity{}, features, {}, plain);
  CHECK(plain.group_features_size() == 0);
  CHECK(plain.initiator() == v1::FLOW_SIDE_UNSPECIFIED);
}

TEST_CASE("the Hello announces the profile and every feature group in order", "[codec]") {
  LinkOptions o;
  o.agent_id = "a";
  LinkSchema s{"corrected", {"f0", "f1"}, {{"host_context", {"hc_a", "hc_b"}}, {"other", {"o"}}}};
  CHECK(s.group_width() == 3);
  const auto msg = make_hello(o, s);
  const auto& h = msg.hello();
  CHECK(h.feature_profile() == "corrected");
  CHECK(h.feature_names_size() == 2);
  REQUIRE(h.feature_groups_size() == 2);
  CHECK(h.feature_groups(0).name() == "host_context");
  CHECK(h.feature_groups(0).feature_names(1) == "hc_b");
  CHECK(h.feature_groups(1).name() == "other");
  LinkSchema none{"corrected", {"f0"}, {}};
  CHECK(make_hello(o, none).hello().feature_groups_size() == 0);
}
