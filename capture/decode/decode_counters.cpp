#include "decode/decode_counters.hpp"

namespace flowguard::capture {

namespace {
constexpr std::array<std::string_view, decode_reason_count> reason_names{
    "none",
    "truncated_link",
    "truncated_vlan",
    "truncated_encapsulation",
    "truncated_ip",
    "bad_ip_version",
    "bad_ihl",
    "ip_total_len_too_small",
    "ipv6_ext_truncated",
    "tunnel_too_deep",
    "truncated_tcp",
    "bad_tcp_offset",
    "truncated_tcp_options",
    "truncated_udp",
    "truncated_icmp",
    "non_ip_arp",
    "non_ip_other",
    "unsupported_link_type",
    "ip_total_len_zero",
    "ip_fragment_later",
    "tcp_options_cut",
    "reference_unusable",
    "reference_fallback_pass",
};
}  // namespace

std::string_view decode_reason_name(DecodeReason reason) {
  const auto i = static_cast<std::size_t>(reason);
  return i < reason_names.size() ? reason_names[i] : std::string_view{"invalid"};
}

std::string_view decode_status_name(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::decoded:
      return "decoded";
    case DecodeStatus::not_ip:
      return "not_ip";
    case DecodeStatus::unsupported_link_type:
      return "unsupported_link_type";
    case DecodeStatus::malformed:
      return "malformed";
  }
  return "invalid";
}

void register_decode_metrics(AgentMetrics& metrics, const DecodeCounters& c) {
  const DecodeCounters* p = &c;
  metrics.mirror_counter({"flowguard_capture_packets_total", "Frames handed to the decoder", "packets"},
                         [p] { return p->packets; });
  metrics.mirror_counter({"flowguard_capture_decoded_total", "Frames decoded to an IP packet", "decoded"},
                         [p] { return p->decoded; });
  metrics.mirror_counter(
      {"flowguard_capture_not_ip_total", "Well-formed frames without IP (skipped)", "not_ip"},
      [p] { return p->not_ip; });
  metrics.mirror_counter({"flowguard_capture_unsupported_link_type_total",
                          "Frames of a link type not decoded", "unsupported_link_type"},
                         [p] { return p->unsupported_link_type; });
  metrics.mirror_counter(
      {"flowguard_capture_malformed_total", "Malformed frames (counted, skipped)", "malformed"},
      [p] { return p->malformed; });
  for (std::size_t i = 1; i < decode_reason_count; ++i) {
    const std::string_view name = decode_reason_name(static_cast<DecodeReason>(i));
    metrics::Desc d{"flowguard_capture_decode_reason_total",
                    "Decoder outcomes and notes by reason",
                    "decode_" + std::string(name),
                    {{"reason", std::string(name)}}};
    d.in_line = false;
    metrics.mirror_counter(std::move(d), [p, i] { return p->by_reason[i]; });
  }
}

}  // namespace flowguard::capture
