#include "link/codec.hpp"

static_assert(static_cast<int>(flowguard::capture::FlowSide::dst) == flowguard::v1::FLOW_SIDE_DST);
static_assert(static_cast<int>(flowguard::capture::InitiatorBasis::first_packet) ==
              flowguard::v1::INITIATOR_BASIS_FIRST_PACKET);

namespace flowguard::capture {

void encode_record(const FlowIdentity& m, std::span<const float> features,
                   std::span<const float> group_features, v1::FlowRecord& r) {
  r.set_flow_id(m.flow_id);
  const auto sv = m.src.view(), dv = m.dst.view();
  r.set_src_ip(reinterpret_cast<const char*>(sv.data()), sv.size());
  r.set_dst_ip(reinterpret_cast<const char*>(dv.data()), dv.size());
  r.set_src_port(m.src_port);
  r.set_dst_port(m.dst_port);
  r.set_protocol(m.protocol);
  r.set_vlan_id(m.vlan_id);
  r.set_first_ts_us(m.first_ts_us);
  r.set_last_ts_us(m.last_ts_us);
  r.set_fwd_packets(m.fwd_packets);
  r.set_bwd_packets(m.bwd_packets);
  r.set_fwd_bytes(m.fwd_bytes);
  r.set_bwd_bytes(m.bwd_bytes);
  r.set_kind(m.kind == RecordKind::snapshot ? v1::RECORD_KIND_SNAPSHOT : v1::RECORD_KIND_FINAL);
  r.mutable_features()->Add(features.begin(), features.end());
  r.mutable_group_features()->Add(group_features.begin(), group_features.end());
  // core/initiator.hpp numbers its enumerators as the wire does (checked below).
  r.set_initiator(static_cast<v1::FlowSide>(m.initiator));
  r.set_initiator_basis(static_cast<v1::InitiatorBasis>(m.initiator_basis));
}

v1::AgentMessage make_hello(const LinkOptions& options, const LinkSchema& schema) {
  v1::AgentMessage msg;
  auto* h = msg.mutable_hello();
  h->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  h->set_agent_id(options.agent_id);
  h->set_agent_version(options.agent_version);
  h->set_feature_profile(schema.feature_profile);
  for (const auto& n : schema.feature_names) h->add_feature_names(n);
  for (const auto& g : schema.groups) {
    auto* fg = h->add_feature_groups();
    fg->set_name(g.name);
    for (const auto& n : g.feature_names) fg->add_feature_names(n);
  }
  return msg;
}

VerdictAction to_action(v1::Action a) {
  switch (a) {
    case v1::ACTION_ALERT:
      return VerdictAction::alert;
    case v1::ACTION_BLOCK:
      return VerdictAction::block;
    case v1::ACTION_SHED:
      return VerdictAction::shed;
    default:
      return VerdictAction::allow;
  }
}

static_assert(static_cast<int>(FlowSide::src) == v1::FLOW_SIDE_SRC &&
              static_cast<int>(FlowSide::dst) == v1::FLOW_SIDE_DST &&
              static_cast<int>(InitiatorBasis::first_packet) == v1::INITIATOR_BASIS_FIRST_PACKET);

void decode_verdict(const v1::Verdict& v, FlowVerdict& fv) {
  fv.action = to_action(v.action());
  fv.predicted_class = v.predicted_class();
  fv.score = v.score();
  fv.threshold = v.threshold();
  fv.reason = v.reason();
  fv.model_name = v.model_name();
  fv.model_version = v.model_version();
  fv.unknown = v.unknown();
  fv.ood_score = v.ood_score();
  fv.top_features.clear();
  for (const auto& f : v.top_features()) fv.top_features.push_back({f.name(), f.value(), f.contribution()});
  // Same numbering as the wire (the encoder's cast); an unknown value from a newer server is "no side".
  fv.block_side = v1::FlowSide_IsValid(v.block_side()) ? static_cast<FlowSide>(v.block_side()) : FlowSide::unspecified;
  fv.evidence = BlockEvidence{};
  if (v.has_evidence()) {
    const auto& e = v.evidence();
    auto& out = fv.evidence;
    out.flows = e.flows();
    out.classes.assign(e.classes().begin(), e.classes().end());
    out.level = e.score_sum();
    out.max_score = e.max_score();
    out.window_start_us = e.window_start_us();
    out.window_end_us = e.window_end_us();
    out.offence = e.offence();
    out.block_seconds = e.block_seconds();
    out.rule = e.rule();
  }
}

}  // namespace flowguard::capture
