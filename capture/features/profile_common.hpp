#pragma once
// Pieces both profiles share: the lifecycle outcome the flow engine acts on, the timeouts, and the
// active/idle bookkeeping (spec §3.4, identical code in both references; only the call sites differ).

#include "features/flow_state.hpp"
#include "features/profile_packet.hpp"

#include <cstdint>

namespace flowguard::capture::features {

struct Timeouts {
  std::int64_t flow_us = 120'000'000;     // --active-timeout: a flow older than this is split
  std::int64_t activity_us = 5'000'000;   // --activity-timeout: gap that closes an active period
};

// What the engine does with a flow after the profile has seen a packet for it.
enum class Step : std::uint8_t {
  absorbed,       // packet added, flow stays open
  close,          // packet added, emit the flow and forget it
  split_inherit,  // emit the flow, restart it from the packet keeping the old orientation
  split_own,      // emit the flow, restart it from the packet with the packet's own orientation
};

inline void update_active_idle(FlowState& f, std::int64_t t, std::int64_t activity_timeout) {
  if (t - f.end_active > activity_timeout) {
    if (f.end_active - f.start_active > 0) f.active.add(static_cast<double>(f.end_active - f.start_active));
    f.idle.add(static_cast<double>(t - f.end_active));
    f.start_active = t;
    f.end_active = t;
  } else {
    f.end_active = t;
  }
}

// Java's (long) cast of a double: truncation toward zero, NaN -> 0, saturating at the long range.
inline std::int64_t java_double_to_long(double v) {
  if (v != v) return 0;
  if (v >= 9.223372036854775807e18) return INT64_MAX;
  if (v <= -9.223372036854775808e18) return INT64_MIN;
  return static_cast<std::int64_t>(v);
}

inline Orientation orientation_of(const ProfilePacket& p) {
  return Orientation{p.src, p.dst, p.src_port, p.dst_port};
}

}  // namespace flowguard::capture::features
