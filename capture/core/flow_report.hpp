#pragma once
// What the flow engine hands to its consumers (CSV writer, server link): one record per emitted flow,
// either a mid-flow snapshot or the final record. The view is valid only during the FlowSink call;
// consumers copy what they keep. Nothing here depends on a transport or a model.

#include "core/flow_identity.hpp"
#include "core/ip_address.hpp"

#include <cstdint>
#include <span>

namespace flowguard::capture {

struct FlowReport : FlowIdentity {
  std::span<const double> features;  // in the profile's feature_names() order
  // The announced feature groups' values, concatenated in announcement order (core/feature_group.hpp);
  // empty when no group is computed. Taken when the record is produced (snapshot or final).
  std::span<const float> group_features;

  // Added by the flow engine for exact CSV output; other consumers may ignore them.
  // Per feature: 1 if the reference prints it as an integer literal (long columns and the int 0 of
  // empty statistics), 0 if as a Java double.
  std::span<const std::uint8_t> feature_integral;
  // The order the flow is stored under (the reference's "Flow ID"); may differ from src/dst after a
  // timeout split in the corrected profile, and is the canonical order in cicids2017.
  IpAddress key_src, key_dst;
  std::uint16_t key_src_port = 0, key_dst_port = 0;
};

class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void on_flow(const FlowReport& report) = 0;
  // Called as packet time advances (after each packet or batch of packets, and at end of input), so
  // consumers can flush batches and expire state on capture time rather than wall-clock time.
  virtual void on_time(std::int64_t /*now_us*/) {}
};

}  // namespace flowguard::capture
