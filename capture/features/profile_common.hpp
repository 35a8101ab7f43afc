#pragma once
// Pieces both profiles share: the lifecycle outcome the flow engine acts on, the timeouts, and the
// active/idle bookkeeping (spec §3.4, identical code in both references; only the call sites differ).

#include "features/feature_row.hpp"
#include "features/flow_state.hpp"
#include "features/profile_packet.hpp"

#include <cstdint>

namespace flowguard::capture::features {

struct Timeouts {
  std::int64_t flow_us = 120'000'000;    // --active-timeout: a flow older than this is split
  std::int64_t activity_us = 5'000'000;  // --activity-timeout: gap that closes an active period
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

// Columns "Flow Bytes/s" through "Bwd IAT Min" (cicids2017 21-36, corrected 21-36): the same
// arithmetic and printing in both references. dur_s = duration / 1e6; n = packet count.
inline void put_rates_and_iat(const FlowState& f, double dur_s, std::int64_t n, FeatureRow& row) {
  row.put_double(static_cast<double>(f.fwd_bytes + f.bwd_bytes) / dur_s);
  row.put_double(static_cast<double>(n) / dur_s);
  row.put_double(f.iat.mean());
  row.put_double(f.iat.stddev());
  row.put_double(f.iat.max());
  row.put_double(f.iat.min());
  for (const auto* s : {&f.fwd_iat, &f.bwd_iat}) {
    const std::int64_t count = s == &f.fwd_iat ? f.fwd_count : f.bwd_count;
    if (count > 1) {
      row.put_double(s->sum());
      row.put_double(s->mean());
      row.put_double(s->stddev());
      row.put_double(s->max());
      row.put_double(s->min());
    } else {
      row.put_zero_literals(5);  // the references print the int literal 0 for an empty direction
    }
  }
}

}  // namespace flowguard::capture::features
