#include "features/corrected.hpp"

#include <algorithm>

namespace flowguard::capture::features {
namespace {

constexpr std::uint8_t proto_icmp = 1, proto_tcp = 6, proto_udp = 17, proto_icmpv6 = 58;

// C2: the payload ends at the IP total length only for plain Ethernet II framing with a non-zero total
// length; after a VLAN tag, or with total length 0 (TSO captures), the trailer/padding is counted.
std::int64_t payload_after(const DecodedPacket& d, std::uint32_t l4_header_len) {
  std::int64_t end = d.caplen;
  if (d.ethernet_ii_before_ip && d.ip_total_len != 0) {
    end = std::min<std::int64_t>(end, static_cast<std::int64_t>(d.ip_offset) + d.ip_total_len);
  }
  return std::max<std::int64_t>(0, end - d.l4_offset - l4_header_len);
}

}  // namespace

bool CorrectedProfile::to_packet(const DecodedPacket& d, ProfilePacket& p) {
  p.reset();
  p.ts = d.ts_us;
  p.src = d.src;
  p.dst = d.dst;
  p.vlan_id = d.vlan_id;
  p.window = 0;

  // Non-first fragments carry no transport header: protocol 0 "other".
  const bool has_l4 = !d.ip_fragment_later && d.l4_header_len > 0;
  // C1: ICMP is tried first and is its own protocol, with zero lengths (ICMP errors included).
  if (has_l4 && (d.ip_protocol == proto_icmp || d.ip_protocol == proto_icmpv6)) {
    p.protocol = d.ip_protocol;
    p.icmp_type = d.icmp_type;
    p.icmp_code = d.icmp_code;
    return true;
  }
  if (has_l4 && d.ip_protocol == proto_tcp) {
    p.protocol = proto_tcp;
    p.src_port = d.src_port;
    p.dst_port = d.dst_port;
    p.tcp_flags = d.tcp_flags;
    p.window = d.tcp_window;
    p.header = d.l4_header_len;
    p.payload = payload_after(d, d.l4_header_len);
    return true;
  }
  if (has_l4 && d.ip_protocol == proto_udp) {
    p.protocol = proto_udp;
    p.src_port = d.src_port;
    p.dst_port = d.dst_port;
    p.header = 8;
    p.payload = payload_after(d, 8);
    return true;
  }
  p.protocol = 0;
  return true;
}

void CorrectedProfile::begin(FlowState& f, const ProfilePacket& p, const Orientation& o) const {
  f = FlowState{};
  f.dir = o;
  add_first_packet(f, p);
}

namespace {

// §5.6: bulk bookkeeping for packet p in direction d (other direction o).
void update_bulk(BulkDirection& d, const BulkDirection& o, const ProfilePacket& p) {
  if (o.last_ts > d.start_helper) d.start_helper = 0;
  if (p.payload <= 0) return;
  // The reference's (double)(ts - lastTS) / 1e6 > 1.0 is exactly "more than 10^6 µs": the integer
  // converts monotonically, 10^6 / 1e6 is exactly 1.0 and 1000001 / 1e6 rounds above it.
  if (d.start_helper == 0 || p.ts - d.last_ts > 1'000'000) {
    d.start_helper = d.last_ts = p.ts;
    d.count_helper = 1;
    d.size_helper = p.payload;
    return;
  }
  ++d.count_helper;
  d.size_helper += p.payload;
  if (d.count_helper == 4) {
    ++d.bulk_count;
    d.bulk_packets += 4;
    d.bulk_bytes += d.size_helper;
    d.bulk_duration += p.ts - d.start_helper;
  } else if (d.count_helper > 4) {
    ++d.bulk_packets;
    d.bulk_bytes += p.payload;
    d.bulk_duration += p.ts - d.last_ts;
  }
  d.last_ts = p.ts;
}

// §5.5 / C6: the subflow test has an operator-precedence bug, so every packet with ts >= 2 µs counts
// as a new subflow. Its updateActiveIdle call is a no-op (endActive was just set to p.ts) and omitted.
void update_subflow(FlowState& f, const ProfilePacket& p) {
  if (f.subflow_last == -1) f.subflow_last = p.ts;
  // Timestamps in file order (0 <= last <= ts) and ts >= 2 always pass: ts - last/1e6 >= 2 - 2e-6,
  // far above any rounding. Other cases take the reference's double arithmetic (no division otherwise).
  const bool in_order = 0 <= f.subflow_last && f.subflow_last <= p.ts && p.ts >= 2;
  if (in_order || static_cast<double>(p.ts) - static_cast<double>(f.subflow_last) / 1e6 > 1.0)
    ++f.subflow_count;
  f.subflow_last = p.ts;
}

inline void count_flags(FlowState& f, const ProfilePacket& p) {
  if (p.tcp_flags == 0) return;
  f.fin += p.has(tcp_flag::fin);
  f.syn += p.has(tcp_flag::syn);
  f.rst += p.has(tcp_flag::rst);
  f.psh += p.has(tcp_flag::psh);
  f.ack += p.has(tcp_flag::ack);
  f.urg += p.has(tcp_flag::urg);
  f.cwr += p.has(tcp_flag::cwr);
  f.ece += p.has(tcp_flag::ece);
}

inline void update_bulk_for(FlowState& f, const ProfilePacket& p, bool forward) {
  if (forward) {
    update_bulk(f.fwd_bulk, f.bwd_bulk, p);
  } else {
    update_bulk(f.bwd_bulk, f.fwd_bulk, p);
  }
}

}  // namespace

// §5.3, in the reference's order.
void CorrectedProfile::add_first_packet(FlowState& f, const ProfilePacket& p) const {
  const bool forward = f.is_forward(p.src);
  update_bulk_for(f, p, forward);
  count_flags(f, p);
  f.end_active = f.start = f.last_seen = f.start_active = p.ts;
  update_subflow(f, p);
  f.pkt_len.add(static_cast<double>(p.payload));
  if (forward) {
    f.min_seg_fwd = p.header;
    f.init_win_fwd = p.window;
    f.fwd_len.add(static_cast<double>(p.payload));
    f.fwd_header = p.header;
    f.fwd_last_seen = p.ts;
    f.fwd_bytes += p.payload;
    f.fwd_count = 1;
    f.fwd_psh += p.has(tcp_flag::psh);
    f.fwd_urg += p.has(tcp_flag::urg);
  } else {
    // Only after an inherited-orientation TCP split: Fwd Seg Size Min and FWD Init Win stay 0.
    f.init_win_bwd = p.window;
    f.bwd_len.add(static_cast<double>(p.payload));
    f.bwd_header = p.header;
    f.bwd_last_seen = p.ts;
    f.bwd_bytes += p.payload;
    f.bwd_count = 1;
    f.bwd_psh += p.has(tcp_flag::psh);
    f.bwd_urg += p.has(tcp_flag::urg);
  }
  // C7: the first packet's FIN/RST never reach the per-direction FIN/RST counters.
  f.protocol = p.protocol;
  f.icmp_type = p.icmp_type;
  f.icmp_code = p.icmp_code;
  f.vlan_id = p.vlan_id;
}

// §5.4, in the reference's order.
void CorrectedProfile::add_packet(FlowState& f, const ProfilePacket& p) const {
  const bool forward = f.is_forward(p.src);
  update_bulk_for(f, p, forward);
  update_subflow(f, p);
  count_flags(f, p);
  f.pkt_len.add(static_cast<double>(p.payload));
  if (forward) {
    if (p.payload >= 1) ++f.act_data_fwd;
    f.fwd_len.add(static_cast<double>(p.payload));
    f.fwd_header += p.header;
    ++f.fwd_count;
    f.fwd_bytes += p.payload;
    if (f.fwd_count > 1) f.fwd_iat.add(static_cast<double>(p.ts - f.fwd_last_seen));
    f.fwd_last_seen = p.ts;
    f.min_seg_fwd = std::min(f.min_seg_fwd, p.header);
    f.fwd_psh += p.has(tcp_flag::psh);
    f.fwd_urg += p.has(tcp_flag::urg);
    f.fwd_fin += p.has(tcp_flag::fin);
    f.fwd_rst += p.has(tcp_flag::rst);
  } else {
    f.bwd_len.add(static_cast<double>(p.payload));
    f.init_win_bwd = p.window;  // C8: the last backward window
    f.bwd_header += p.header;
    ++f.bwd_count;
    f.bwd_bytes += p.payload;
    if (f.bwd_count > 1) f.bwd_iat.add(static_cast<double>(p.ts - f.bwd_last_seen));
    f.bwd_last_seen = p.ts;
    f.bwd_psh += p.has(tcp_flag::psh);
    f.bwd_urg += p.has(tcp_flag::urg);
    f.bwd_fin += p.has(tcp_flag::fin);
    f.bwd_rst += p.has(tcp_flag::rst);
  }
  f.iat.add(static_cast<double>(p.ts - f.last_seen));
  f.last_seen = p.ts;
}

// §5.2
Step CorrectedProfile::on_packet(FlowState& f, const ProfilePacket& p, bool force_split) const {
  const bool syn_after_teardown = f.tcp_state == TcpState::ready && p.has(tcp_flag::syn);
  // C3: a flow ends on its timeout or on a SYN after the teardown completed (never on FIN itself).
  if (force_split || p.ts - f.start > timeouts_.flow_us || syn_after_teardown) {
    // C3/C4: a new SYN (without ACK) and every non-TCP split start over with the packet's own
    // orientation; a TCP timeout or a SYN+ACK after teardown keeps the old orientation.
    const bool own = (syn_after_teardown && !p.has(tcp_flag::ack)) || p.protocol != proto_tcp;
    return own ? Step::split_own : Step::split_inherit;
  }
  if (p.has(tcp_flag::fin)) {  // FIN+RST and FIN+ACK take this branch
    update_active_idle(f, p.ts, timeouts_.activity_us);
    add_packet(f, p);
    if (f.tcp_state == TcpState::none) {
      f.tcp_state = TcpState::fin1;
    } else if (f.tcp_state == TcpState::fin1 && f.fwd_fin > 0 && f.bwd_fin > 0) {
      f.tcp_state = TcpState::fin2;
    }
    return Step::absorbed;
  }
  if (p.has(tcp_flag::rst)) {
    update_active_idle(f, p.ts, timeouts_.activity_us);
    add_packet(f, p);
    f.tcp_state = TcpState::ready;
    return Step::absorbed;
  }
  if (p.has(tcp_flag::ack)) {
    update_active_idle(f, p.ts, timeouts_.activity_us);
    add_packet(f, p);
    if (f.tcp_state == TcpState::fin2) f.tcp_state = TcpState::ready;
    return Step::absorbed;
  }
  // C1: an ICMP flow is split only when both type and code differ; no active/idle update.
  const bool icmp = f.protocol == proto_icmp || f.protocol == proto_icmpv6;
  if (icmp && p.icmp_code != f.icmp_code && p.icmp_type != f.icmp_type) return Step::split_own;
  update_active_idle(f, p.ts, timeouts_.activity_us);
  add_packet(f, p);
  return Step::absorbed;
}

std::int64_t CorrectedProfile::emitted_tcp_flow_time(const FlowState& f) const {
  return f.protocol == proto_tcp ? f.tcp_flow_time + (f.last_seen - f.start) : 0;
}

void CorrectedProfile::restart(FlowState& f, const ProfilePacket& p, Step how) const {
  if (how == Step::split_own) {
    begin(f, p, orientation_of(p));  // C4: cum restarts at 0, the Flow ID (stored key) stays
    return;
  }
  // TCP timeout or SYN+ACK after teardown: inherit the orientation (the first packet may then be
  // backward) and carry the connection's time, gap included.
  const std::int64_t cum = emitted_tcp_flow_time(f) + (p.ts - f.last_seen);
  const Orientation o = f.dir;
  begin(f, p, o);
  f.tcp_flow_time = cum;
}

// §5.7, columns 8..88.
void CorrectedProfile::features(const FlowState& f, FeatureRow& row) const {
  row.clear();
  const std::int64_t dur = f.last_seen - f.start;
  const double dur_s = static_cast<double>(dur) / 1e6;
  const std::int64_t n = f.packets();

  row.put_long(dur);
  row.put_long(f.fwd_count);
  row.put_long(f.bwd_count);
  row.put_double(f.fwd_len.sum());
  row.put_double(f.bwd_len.sum());
  for (const auto* s : {&f.fwd_len, &f.bwd_len}) {
    if (!s->empty()) {
      row.put_double(s->max());
      row.put_double(s->min());
      row.put_double(s->mean());
      row.put_double(s->stddev());
    } else {
      row.put_zero_literals(4);
    }
  }
  // C5: one-packet flows have duration 0: NaN/Infinity rates and NaN IAT statistics.
  put_rates_and_iat(f, dur_s, n, row);
  row.put_long(f.fwd_psh);
  row.put_long(f.bwd_psh);
  row.put_long(f.fwd_urg);
  row.put_long(f.bwd_urg);
  row.put_long(f.fwd_rst);  // C7: first packet excluded
  row.put_long(f.bwd_rst);
  row.put_long(f.fwd_header);
  row.put_long(f.bwd_header);
  row.put_double(dur > 0 ? static_cast<double>(f.fwd_count) / dur_s : 0.0);
  row.put_double(dur > 0 ? static_cast<double>(f.bwd_count) / dur_s : 0.0);
  row.put_double(f.pkt_len.min());
  row.put_double(f.pkt_len.max());
  row.put_double(f.pkt_len.mean());
  row.put_double(f.pkt_len.stddev());
  row.put_double(f.pkt_len.variance());
  row.put_long(f.fin);
  row.put_long(f.syn);
  row.put_long(f.rst);
  row.put_long(f.psh);
  row.put_long(f.ack);
  row.put_long(f.urg);
  row.put_long(f.cwr);
  row.put_long(f.ece);
  row.put_double(f.fwd_count > 0 ? static_cast<double>(f.bwd_count) / static_cast<double>(f.fwd_count) : 0.0);
  row.put_double(f.pkt_len.sum() / static_cast<double>(n));
  row.put_double(f.fwd_count > 0 ? f.fwd_len.sum() / static_cast<double>(f.fwd_count) : 0.0);
  row.put_double(f.bwd_count > 0 ? f.bwd_len.sum() / static_cast<double>(f.bwd_count) : 0.0);
  for (const auto* b : {&f.fwd_bulk, &f.bwd_bulk}) {
    row.put_long(b->bulk_count != 0 ? b->bulk_bytes / b->bulk_count : 0);
    row.put_long(b->bulk_count != 0 ? b->bulk_packets / b->bulk_count : 0);
    row.put_long(b->bulk_duration != 0 ? java_double_to_long(static_cast<double>(b->bulk_bytes) /
                                                             (static_cast<double>(b->bulk_duration) / 1e6))
                                       : 0);
  }
  // C6: subflow counts every packet, so these are integer quotients.
  const std::int64_t sf = f.subflow_count;
  row.put_long(sf > 0 ? f.fwd_count / sf : 0);
  row.put_long(sf > 0 ? f.fwd_bytes / sf : 0);
  row.put_long(sf > 0 ? f.bwd_count / sf : 0);
  row.put_long(sf > 0 ? f.bwd_bytes / sf : 0);
  row.put_long(f.init_win_fwd);  // C8
  row.put_long(f.init_win_bwd);
  row.put_long(f.act_data_fwd);
  row.put_long(f.min_seg_fwd);
  for (const auto* s : {&f.active, &f.idle}) {
    if (!s->empty()) {
      row.put_double(s->mean());
      row.put_double(s->stddev());
      row.put_double(s->max());
      row.put_double(s->min());
    } else {
      row.put_zero_literals(4);
    }
  }
  row.put_long(f.icmp_code);
  row.put_long(f.icmp_type);
  row.put_long(emitted_tcp_flow_time(f));
}

}  // namespace flowguard::capture::features
