#pragma once
// Profile "cicids2017": the extractor behind the originally published CIC-IDS2017 CSVs, quirks and all
// (spec §4; quirk checklist §6, numbered Q1..Q14 in the comments of cicids2017.cpp).

#include "decode/packet.hpp"
#include "features/feature_row.hpp"
#include "features/flow_state.hpp"
#include "features/profile_common.hpp"
#include "features/profile.hpp"
#include "features/profile_packet.hpp"
#include "core/flow_key.hpp"

namespace flowguard::capture::features {

class Cicids2017Profile {
 public:
  static constexpr Profile id = Profile::cicids2017;
  // One canonical key per conversation: no second lookup in the reverse orientation.
  static constexpr bool looks_up_reverse = false;

  explicit Cicids2017Profile(Timeouts timeouts) : timeouts_(timeouts) {}

  // Maps a decoded packet to what this reference counts. Stateful: remembers the last TCP header
  // length for the stale UDP header quirk (Q2). Returns false for packets the profile cannot use.
  bool to_packet(const DecodedPacket& d, ProfilePacket& p);

  FlowKey key(const ProfilePacket& p) const;

  void begin(FlowState& f, const ProfilePacket& p, const Orientation& o) const;
  // force_split: the engine already emitted this flow (expiry sweep), so it must be replaced.
  Step on_packet(FlowState& f, const ProfilePacket& p, bool force_split) const;
  void restart(FlowState& f, const ProfilePacket& p, Step how) const;
  // Q5: flows with one packet are never written.
  bool writable(const FlowState& f) const { return f.packets() >= 2; }
  void features(const FlowState& f, FeatureRow& row) const;
  // TCP time carried across splits: not a column of this profile.
  std::int64_t emitted_tcp_flow_time(const FlowState&) const { return 0; }

 private:
  void add_first_packet(FlowState& f, const ProfilePacket& p) const;
  void add_packet(FlowState& f, const ProfilePacket& p) const;

  Timeouts timeouts_;
  std::int64_t last_tcp_header_len_ = -1;  // Q2, in file order
};

}  // namespace flowguard::capture::features
