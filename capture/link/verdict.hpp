#pragma once
// A verdict as the capture agent's consumers (enforcement, alert writers, event store) receive it.
// The link joins the server's Verdict with the flow metadata it kept for that flow_id, so consumers
// act on addresses the agent itself observed, never on addresses a server could make up.

#include "flow/flow_report.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::capture {

enum class VerdictAction : std::uint8_t { allow = 1, alert = 2, block = 3, shed = 4 };

struct FeatureContribution {
  std::string name;
  float value = 0;
  float contribution = 0;
};

struct FlowVerdict {
  // Flow metadata, copied from the FlowReport that was sent.
  std::uint64_t flow_id = 0;
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t protocol = 0;
  std::uint16_t vlan_id = 0;
  std::int64_t first_ts_us = 0, last_ts_us = 0;
  std::uint64_t fwd_packets = 0, bwd_packets = 0, fwd_bytes = 0, bwd_bytes = 0;
  RecordKind kind = RecordKind::final_record;

  // What the server decided.
  VerdictAction action = VerdictAction::allow;
  std::string predicted_class;
  float score = 0;
  float threshold = 0;
  std::string reason;
  std::string model_name, model_version;
  std::vector<FeatureContribution> top_features;
};

class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  // Called from the link's receive thread, one verdict at a time, never concurrently; implementations
  // must not block for long (queue slow work such as database writes).
  virtual void on_verdict(const FlowVerdict& verdict) = 0;
};

}  // namespace flowguard::capture
