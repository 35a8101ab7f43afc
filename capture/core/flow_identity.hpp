#pragma once
// Who a flow is and how big it was when reported: the fields every consumer of a flow record needs
// (CSV writer, server link, alert writers, event store, block manager). FlowReport and FlowVerdict both
// derive from it, so the link carries a flow's identity from report to verdict by one assignment and a
// new field is added in one place (plus the wire codec in link/codec.cpp if it travels to the server).

#include "core/initiator.hpp"
#include "core/ip_address.hpp"

#include <cstdint>

namespace flowguard::capture {

enum class RecordKind : std::uint8_t { snapshot = 1, final_record = 2 };

struct FlowIdentity {
  std::uint64_t flow_id = 0;  // unique within one agent run; snapshots and final record share it
  IpAddress src, dst;         // the flow's forward orientation as the profile defines it
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t protocol = 0;  // IANA number as the profile reports it
  std::uint16_t vlan_id = 0;  // outermost 802.1Q tag, 0 if none
  std::int64_t first_ts_us = 0, last_ts_us = 0;
  std::uint64_t fwd_packets = 0, bwd_packets = 0, fwd_bytes = 0, bwd_bytes = 0;
  RecordKind kind = RecordKind::final_record;
  // Which of src/dst opened the flow and how the agent knows (core/initiator.hpp); only the initiator
  // of an attacking flow may be blocked.
  FlowSide initiator = FlowSide::unspecified;
  InitiatorBasis initiator_basis = InitiatorBasis::unspecified;

  // The initiator's address (the responder's when `responder`); null when the side is unspecified.
  const IpAddress* initiator_address(bool responder = false) const {
    if (initiator == FlowSide::unspecified) return nullptr;
    return (initiator == FlowSide::src) != responder ? &src : &dst;
  }

  const FlowIdentity& identity() const { return *this; }
  FlowIdentity& identity() { return *this; }
};

}  // namespace flowguard::capture
