#include "features/cicids2017.hpp"

namespace flowguard::capture::features {
namespace {

constexpr std::uint8_t proto_tcp = 6, proto_udp = 17, proto_icmp = 1, proto_icmpv6 = 58;

// Q1: payload counts every captured byte after the L4 header, Ethernet padding and trailers included.
std::int64_t captured_bytes_after(const DecodedPacket& d, std::uint32_t l4_offset, std::uint32_t l4_len) {
  return static_cast<std::int64_t>(d.caplen) - l4_offset - l4_len;
}

// §4.1: signed-byte comparison of the addresses decides the key order; ports are not compared, so
// A:p->A:q and A:q->A:p are different flows.
bool src_sorts_after_dst(const IpAddress& src, const IpAddress& dst) {
  const auto s = src.view();
  const auto d = dst.view();
  for (std::size_t i = 0; i < s.size() && i < d.size(); ++i) {
    const auto a = static_cast<std::int8_t>(s[i]);
    const auto b = static_cast<std::int8_t>(d[i]);
    if (a != b) return a > b;
  }
  return false;
}

}  // namespace

bool Cicids2017Profile::to_packet(const DecodedPacket& d, ProfilePacket& p) {
  p.reset();
  p.ts = d.ts_us;
  p.src = d.src;
  p.dst = d.dst;
  p.vlan_id = d.vlan_id;
  p.window = -1;  // Q11: non-TCP window is -1

  const bool has_l4 = !d.ip_fragment_later && d.l4_header_len > 0;
  if (has_l4 && d.ip_protocol == proto_tcp) {
    p.protocol = proto_tcp;
    p.src_port = d.src_port;
    p.dst_port = d.dst_port;
    p.tcp_flags = d.tcp_flags;
    p.window = d.tcp_window;
    p.header = d.l4_header_len;
    p.payload = captured_bytes_after(d, d.l4_offset, d.l4_header_len);
    last_tcp_header_len_ = p.header;
    return true;
  }
  if (has_l4 && d.ip_protocol == proto_udp) {
    p.protocol = proto_udp;
    p.src_port = d.src_port;
    p.dst_port = d.dst_port;
    p.header = last_tcp_header_len_;  // Q2: stale UDP header length
    p.payload = captured_bytes_after(d, d.l4_offset, 8);
    return true;
  }
  // Q3: an ICMP error quoting TCP/UDP is read as that TCP/UDP packet (outer IPs, quoted ports).
  const bool icmp = d.ip_protocol == proto_icmp || d.ip_protocol == proto_icmpv6;
  if (has_l4 && icmp && d.quoted.present && d.quoted.first_fragment) {
    const QuotedL4& q = d.quoted;
    p.src_port = q.src_port;
    p.dst_port = q.dst_port;
    p.payload = captured_bytes_after(d, q.l4_offset, q.l4_header_len);
    if (q.protocol == proto_tcp) {
      p.protocol = proto_tcp;
      p.tcp_flags = q.tcp_flags;
      p.window = q.tcp_window;
      p.header = q.l4_header_len;
      last_tcp_header_len_ = p.header;
      return true;
    }
    if (q.protocol == proto_udp) {
      p.protocol = proto_udp;
      p.header = last_tcp_header_len_;  // Q2
      return true;
    }
    p.src_port = p.dst_port = 0;
    p.payload = 0;
  }
  // Q3: everything else (other ICMP, non-first fragments, other protocols) is protocol 0.
  p.protocol = 0;
  p.payload = 0;
  p.header = 0;
  return true;
}

FlowKey Cicids2017Profile::key(const ProfilePacket& p) const {
  if (src_sorts_after_dst(p.src, p.dst))
    return FlowKey::make(p.dst, p.dst_port, p.src, p.src_port, p.protocol);
  return FlowKey::make(p.src, p.src_port, p.dst, p.dst_port, p.protocol);
}

void Cicids2017Profile::begin(FlowState& f, const ProfilePacket& p, const Orientation& o) const {
  f = FlowState{};
  f.dir = o;
  f.init_win_fwd = -1;
  f.init_win_bwd = -1;
  add_first_packet(f, p);
}

// §4.3. Q6: the first packet is booked forward even when a timeout split inherited an orientation in
// which it is backward.
void Cicids2017Profile::add_first_packet(FlowState& f, const ProfilePacket& p) const {
  // Q10: subflow count is 1 except for first timestamps below 2 µs (the reference's own arithmetic).
  if (static_cast<double>(p.ts) - static_cast<double>(p.ts) / 1e6 > 1.0) f.subflow_count = 1;
  f.start = f.last_seen = f.start_active = f.end_active = p.ts;

  // Q7: the first packet is counted twice in the packet-length statistics.
  f.pkt_len.add(static_cast<double>(p.payload));
  f.pkt_len.add(static_cast<double>(p.payload));

  f.min_seg_fwd = p.header;
  f.init_win_fwd = p.window;
  f.fwd_len.add(static_cast<double>(p.payload));
  f.fwd_count = 1;
  f.fwd_header = p.header;
  f.fwd_last_seen = p.ts;
  f.fwd_bytes += p.payload;
  // Q8: PSH/URG and all flag counters come from the first packet only.
  if (p.has(tcp_flag::psh)) ++f.fwd_psh;
  if (p.has(tcp_flag::urg)) ++f.fwd_urg;
  f.fin = p.has(tcp_flag::fin);
  f.syn = p.has(tcp_flag::syn);
  f.rst = p.has(tcp_flag::rst);
  f.psh = p.has(tcp_flag::psh);
  f.ack = p.has(tcp_flag::ack);
  f.urg = p.has(tcp_flag::urg);
  f.cwr = p.has(tcp_flag::cwr);
  f.ece = p.has(tcp_flag::ece);
  f.protocol = p.protocol;
  f.vlan_id = p.vlan_id;
}

// §4.4
void Cicids2017Profile::add_packet(FlowState& f, const ProfilePacket& p) const {
  f.pkt_len.add(static_cast<double>(p.payload));
  if (f.is_forward(p.src)) {
    if (p.payload >= 1) ++f.act_data_fwd;  // Q12: the first packet is never counted here
    f.fwd_len.add(static_cast<double>(p.payload));
    f.fwd_header += p.header;
    ++f.fwd_count;
    f.fwd_bytes += p.payload;
    if (f.fwd_count > 1) f.fwd_iat.add(static_cast<double>(p.ts - f.fwd_last_seen));
    f.fwd_last_seen = p.ts;
    if (p.header < f.min_seg_fwd) f.min_seg_fwd = p.header;
  } else {
    f.bwd_len.add(static_cast<double>(p.payload));
    f.init_win_bwd = p.window;  // Q11: ends up as the last backward window
    f.bwd_header += p.header;
    ++f.bwd_count;
    f.bwd_bytes += p.payload;
    if (f.bwd_count > 1) f.bwd_iat.add(static_cast<double>(p.ts - f.bwd_last_seen));
    f.bwd_last_seen = p.ts;
  }
  f.iat.add(static_cast<double>(p.ts - f.last_seen));
  f.last_seen = p.ts;
}

// §4.2
Step Cicids2017Profile::on_packet(FlowState& f, const ProfilePacket& p, bool force_split) const {
  if (force_split || p.ts - f.start > timeouts_.flow_us) return Step::split_inherit;
  // Q4: a FIN on an existing flow closes it at once, without an active/idle update. RST does nothing.
  if (p.has(tcp_flag::fin)) {
    add_packet(f, p);
    return Step::close;
  }
  update_active_idle(f, p.ts, timeouts_.activity_us);
  add_packet(f, p);
  return Step::absorbed;
}

void Cicids2017Profile::restart(FlowState& f, const ProfilePacket& p, Step how) const {
  // Q6: the successor inherits src/dst/ports (the engine only asks for split_inherit here).
  const Orientation o = how == Step::split_own ? orientation_of(p) : f.dir;
  begin(f, p, o);
}

// §4.5, columns 8..84.
void Cicids2017Profile::features(const FlowState& f, FeatureRow& row) const {
  row.clear();
  const std::int64_t dur = f.last_seen - f.start;
  const double dur_s = static_cast<double>(dur) / 1e6;
  const std::int64_t n = f.packets();

  row.put_long(dur);
  row.put_long(f.fwd_count);
  row.put_long(f.bwd_count);
  row.put_double(f.fwd_len.sum());
  row.put_double(f.bwd_len.sum());
  if (f.fwd_count > 0) {
    row.put_double(f.fwd_len.max());
    row.put_double(f.fwd_len.min());
    row.put_double(f.fwd_len.mean());
    row.put_double(f.fwd_len.stddev());
  } else {
    row.put_zero_literals(4);
  }
  if (f.bwd_count > 0) {
    row.put_double(f.bwd_len.max());
    row.put_double(f.bwd_len.min());
    row.put_double(f.bwd_len.mean());
    row.put_double(f.bwd_len.stddev());
  } else {
    row.put_zero_literals(4);
  }
  put_rates_and_iat(f, dur_s, n, row);
  // Q8: Fwd PSH/URG from the first packet only, Bwd PSH/URG always 0.
  row.put_long(f.fwd_psh);
  row.put_long(0);
  row.put_long(f.fwd_urg);
  row.put_long(0);
  row.put_long(f.fwd_header);
  row.put_long(f.bwd_header);
  row.put_double(dur > 0 ? static_cast<double>(f.fwd_count) / dur_s : 0.0);
  row.put_double(dur > 0 ? static_cast<double>(f.bwd_count) / dur_s : 0.0);
  // Q7: LEN holds the first packet twice.
  row.put_double(f.pkt_len.min());
  row.put_double(f.pkt_len.max());
  row.put_double(f.pkt_len.mean());
  row.put_double(f.pkt_len.stddev());
  row.put_double(f.pkt_len.variance());
  // Q8: flag columns are written in Java HashMap order under the headers FIN..ECE.
  row.put_long(f.rst);  // "FIN Flag Count"
  row.put_long(f.psh);  // "SYN Flag Count"
  row.put_long(f.ece);  // "RST Flag Count"
  row.put_long(f.syn);  // "PSH Flag Count"
  row.put_long(f.ack);  // "ACK Flag Count"
  row.put_long(f.fin);  // "URG Flag Count"
  row.put_long(f.urg);  // "CWE Flag Count"
  row.put_long(f.cwr);  // "ECE Flag Count"
  // Q11: Down/Up is a long division printed as a double.
  row.put_double(f.fwd_count > 0 ? static_cast<double>(f.bwd_count / f.fwd_count) : 0.0);
  row.put_double(f.pkt_len.sum() / static_cast<double>(n));  // Q7: sum has n+1 values, divided by n
  row.put_double(f.fwd_len.sum() / static_cast<double>(f.fwd_count));
  row.put_double(f.bwd_count > 0 ? f.bwd_len.sum() / static_cast<double>(f.bwd_count) : 0.0);
  row.put_long(f.fwd_header);  // Q14: Fwd Header Length appears twice
  row.put_zero_literals(6);    // Q9: bulk columns are always 0
  // Q10: subflow = totals / sfCount (1), or 0 when the first timestamp is below 2 µs.
  const std::int64_t sf = f.subflow_count;
  row.put_long(sf > 0 ? f.fwd_count / sf : 0);
  row.put_long(sf > 0 ? f.fwd_bytes / sf : 0);
  row.put_long(sf > 0 ? f.bwd_count / sf : 0);
  row.put_long(sf > 0 ? f.bwd_bytes / sf : 0);
  row.put_long(f.init_win_fwd);
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
}

}  // namespace flowguard::capture::features
