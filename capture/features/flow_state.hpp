#pragma once
// Per-flow running state of both profiles, inline in the flow record (no per-packet storage). Each
// profile uses the subset its reference keeps; field names follow the spec (docs/features.md §3-§5).

#include "features/running_stats.hpp"
#include "core/ip_address.hpp"

#include <cstdint>

namespace flowguard::capture::features {

// corrected §5.2: TCP teardown states.
enum class TcpState : std::uint8_t { none, fin1, fin2, ready };

// corrected §5.6: bulk bookkeeping of one direction.
struct BulkDirection {
  std::int64_t start_helper = 0, count_helper = 0, size_helper = 0, last_ts = 0;
  std::int64_t bulk_count = 0, bulk_packets = 0, bulk_bytes = 0, bulk_duration = 0;
};

// Which way the flow is oriented (its Src/Dst columns): from its first packet, or inherited from the
// flow it replaced after a timeout split.
struct Orientation {
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;
};

struct FlowState {
  Orientation dir;
  std::uint8_t protocol = 0;
  TcpState tcp_state = TcpState::none;
  std::uint16_t vlan_id = 0;
  std::int16_t icmp_type = -1, icmp_code = -1;

  std::int64_t start = 0, last_seen = 0;
  std::int64_t start_active = 0, end_active = 0;
  std::int64_t fwd_last_seen = 0, bwd_last_seen = 0;

  RunningStats fwd_len, bwd_len, pkt_len;  // payload sizes (FWD, BWD, LEN)
  RunningStats iat, fwd_iat, bwd_iat;      // inter-arrival times (IAT, FIAT, BIAT)
  RunningStats active, idle;

  std::int64_t fwd_count = 0, bwd_count = 0, fwd_bytes = 0, bwd_bytes = 0, fwd_header = 0, bwd_header = 0;

  // Flag counters in the canonical order FIN SYN RST PSH ACK URG CWR ECE.
  std::uint32_t fin = 0, syn = 0, rst = 0, psh = 0, ack = 0, urg = 0, cwr = 0, ece = 0;
  std::uint32_t fwd_psh = 0, bwd_psh = 0, fwd_urg = 0, bwd_urg = 0;
  std::uint32_t fwd_fin = 0, bwd_fin = 0, fwd_rst = 0, bwd_rst = 0;

  std::int32_t init_win_fwd = 0, init_win_bwd = 0;
  std::int64_t act_data_fwd = 0, min_seg_fwd = 0;
  std::int64_t subflow_count = 0, subflow_last = -1;
  BulkDirection fwd_bulk, bwd_bulk;
  std::int64_t tcp_flow_time = 0;  // corrected "cum": earlier timeout-split pieces of this connection

  std::int64_t packets() const { return fwd_count + bwd_count; }
  bool is_forward(const IpAddress& src) const { return src == dir.src; }
};

}  // namespace flowguard::capture::features
