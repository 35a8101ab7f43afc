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
    case DecodeStatus::decoded: return "decoded";
    case DecodeStatus::not_ip: return "not_ip";
    case DecodeStatus::unsupported_link_type: return "unsupported_link_type";
    case DecodeStatus::malformed: return "malformed";
  }
  return "invalid";
}

}  // namespace flowguard::capture
