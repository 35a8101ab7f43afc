#pragma once
// Profile "corrected" (default): the fixed CICFlowMeter of Engelen et al. that produced the corrected
// CIC-IDS2017 training data (spec §5; quirk checklist §6, numbered C1..C9 in corrected.cpp).

#include "decode/packet.hpp"
#include "features/feature_row.hpp"
#include "features/flow_state.hpp"
#include "features/profile_common.hpp"
#include "features/profile.hpp"
#include "features/profile_packet.hpp"
#include "core/flow_key.hpp"

namespace flowguard::capture::features {

class CorrectedProfile {
 public:
  static constexpr Profile id = Profile::corrected;
  // §5.1: look up the packet's own orientation, then the reversed one; stored keys never re-orient.
  static constexpr bool looks_up_reverse = true;

  explicit CorrectedProfile(Timeouts timeouts) : timeouts_(timeouts) {}

  bool to_packet(const DecodedPacket& d, ProfilePacket& p);
  // The packet's own orientation (the reverse is FlowKey::reversed()).
  FlowKey key(const ProfilePacket& p) const {
    return FlowKey::make(p.src, p.src_port, p.dst, p.dst_port, p.protocol);
  }

  void begin(FlowState& f, const ProfilePacket& p, const Orientation& o) const;
  Step on_packet(FlowState& f, const ProfilePacket& p, bool force_split) const;
  void restart(FlowState& f, const ProfilePacket& p, Step how) const;
  // C5: every flow is written, one-packet flows included.
  bool writable(const FlowState&) const { return true; }
  void features(const FlowState& f, FeatureRow& row) const;
  // Total TCP Flow Time as printed when the flow is emitted now (the current piece included).
  std::int64_t emitted_tcp_flow_time(const FlowState& f) const;

 private:
  void add_first_packet(FlowState& f, const ProfilePacket& p) const;
  void add_packet(FlowState& f, const ProfilePacket& p) const;

  Timeouts timeouts_;
};

}  // namespace flowguard::capture::features
