#pragma once
// Which flows are worth a model's verdict. The shipped models learn from unicast conversations
// (CIC-IDS2017 has no IPv6 and no link-local housekeeping); multicast and broadcast flows (IPv6
// neighbour discovery, MLD, IGMP, mDNS, DHCP) and flows from an unspecified source are not
// conversations, look like one-packet probes to such a model, and cannot be blocked by source anyway.
// They are counted and skipped unless the operator asks for them (--judge-multicast).

#include "core/flow_report.hpp"

namespace flowguard::capture {

inline bool is_multicast_or_broadcast(const IpAddress& a) {
  if (a.family == 4) {
    return (a.bytes[0] & 0xF0) == 0xE0 ||  // 224.0.0.0/4
           (a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 && a.bytes[3] == 255);
  }
  return a.bytes[0] == 0xFF;  // ff00::/8
}

inline bool is_unspecified(const IpAddress& a) {
  const unsigned n = a.family == 4 ? 4u : 16u;
  for (unsigned i = 0; i < n; ++i)
    if (a.bytes[i] != 0) return false;
  return true;
}

// True when a flow is judged by default: unicast destination, specified source.
inline bool in_default_judge_scope(const FlowReport& r) {
  return !is_multicast_or_broadcast(r.dst) && !is_multicast_or_broadcast(r.src) && !is_unspecified(r.src);
}

}  // namespace flowguard::capture
