#include "enforce/eve.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace flowguard::capture::enforce {
namespace {

bool icontains(std::string_view hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != hay.end();
}

std::string endpoint(const IpAddress& a, std::uint16_t port) {
  const std::string text = format_address(a);
  return canonical(a).family == 6 ? "[" + text + "]:" + std::to_string(port)
                                  : text + ":" + std::to_string(port);
}

std::string_view record_kind_name(RecordKind k) { return k == RecordKind::snapshot ? "snapshot" : "final"; }

std::string_view verdict_action_name(VerdictAction a) {
  switch (a) {
    case VerdictAction::allow:
      return "allow";
    case VerdictAction::alert:
      return "alert";
    case VerdictAction::block:
      return "block";
    case VerdictAction::shed:
      return "shed";
  }
  return "?";
}

}  // namespace

std::string proto_name(std::uint8_t protocol) {
  switch (protocol) {
    case 1:
      return "ICMP";
    case 2:
      return "IGMP";
    case 6:
      return "TCP";
    case 17:
      return "UDP";
    case 47:
      return "GRE";
    case 50:
      return "ESP";
    case 58:
      return "IPv6-ICMP";
    case 132:
      return "SCTP";
    default:
      return std::to_string(protocol);
  }
}

std::string eve_timestamp(std::int64_t unix_us) {
  std::int64_t secs = unix_us / 1'000'000, us = unix_us % 1'000'000;
  if (us < 0) {
    us += 1'000'000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  localtime_r(&t, &tm);
  char date[32], zone[8];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);
  return fmt::format("{}.{:06d}{}", date, us, zone);
}

std::uint32_t signature_id(std::string_view predicted_class) {
  std::uint32_t h = 2166136261u;
  for (char c : predicted_class) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return 9'100'000u + h % 100'000u;
}

std::string_view category_for(std::string_view c) {
  if (icontains(c, "portscan") || icontains(c, "port scan") || icontains(c, "scan"))
    return "Detection of a Network Scan";
  if (icontains(c, "dos") || icontains(c, "flood")) return "Attempted Denial of Service";
  if (icontains(c, "patator") || icontains(c, "brute")) return "Attempted Administrator Privilege Gain";
  if (icontains(c, "web") || icontains(c, "xss") || icontains(c, "sql")) return "Web Application Attack";
  if (icontains(c, "bot")) return "A Network Trojan was detected";
  if (icontains(c, "heartbleed")) return "Attempted Information Leak";
  if (icontains(c, "infiltration")) return "Successful Administrator Privilege Gain";
  return "Potentially Bad Traffic";
}

nlohmann::json eve_alert(const FlowVerdict& v, const AlertContext& ctx) {
  using nlohmann::json;
  const bool blocked = is_enforced(ctx.outcome);
  json top = json::array();
  for (const auto& f : v.top_features) {
    top.push_back({{"name", f.name}, {"value", f.value}, {"contribution", f.contribution}});
  }
  json eve = {
      {"timestamp", eve_timestamp(v.last_ts_us)},
      {"flow_id", v.flow_id},
      {"event_type", "alert"},
      {"src_ip", format_address(v.src)},
      {"src_port", v.src_port},
      {"dest_ip", format_address(v.dst)},
      {"dest_port", v.dst_port},
      {"proto", proto_name(v.protocol)},
      {"alert",
       {{"action", blocked ? "blocked" : "allowed"},
        {"gid", 1},
        {"signature_id", signature_id(v.predicted_class)},
        {"rev", 1},
        {"signature", "flowguard ML: " + v.predicted_class},
        {"category", category_for(v.predicted_class)},
        // An unknown flow (abstention) is a low-severity alert: the model does not know what it is.
        {"severity", v.action == VerdictAction::block ? 1 : (v.unknown ? 3 : 2)},
        // Suricata metadata values are lists of strings.
        {"metadata",
         {{"model", {v.model_name}},
          {"version", {v.model_version}},
          {"score", {fmt::format("{:.4f}", v.score)}},
          {"threshold", {fmt::format("{:.4f}", v.threshold)}}}}}},
      {"flow",
       {{"pkts_toserver", v.fwd_packets},
        {"pkts_toclient", v.bwd_packets},
        {"bytes_toserver", v.fwd_bytes},
        {"bytes_toclient", v.bwd_bytes},
        {"start", eve_timestamp(v.first_ts_us)}}},
      {"flowguard",
       {{"class", v.predicted_class},
        {"score", v.score},
        {"threshold", v.threshold},
        {"verdict", verdict_action_name(v.action)},
        {"enforcement", to_string(ctx.outcome)},
        // The source is (or, in dry-run, would be) blocked: what a report of "blocked hosts" wants.
        {"block",
         blocked || ctx.outcome == BlockOutcome::dry_run || ctx.outcome == BlockOutcome::dry_run_listed},
        {"enforce_mode", to_string(ctx.mode)},
        {"record_kind", record_kind_name(v.kind)},
        {"reason", v.reason},
        {"unknown", v.unknown},
        {"ood_score", v.ood_score},
        {"top_features", top},
        {"suppressed", ctx.suppressed_before}}},
  };
  if (v.vlan_id != 0) eve["vlan"] = json::array({v.vlan_id});
  // Evidence-based blocking: what the server accumulated about the source, and which side it blocks.
  if (v.evidence.present()) eve["flowguard"]["evidence"] = evidence_json(v.evidence);
  if (v.block_side != FlowSide::unspecified)
    eve["flowguard"]["block_side"] = v.block_side == FlowSide::src ? "src" : "dst";
  return eve;
}

std::string console_line(const FlowVerdict& v, const AlertContext& ctx) {
  std::string proto = proto_name(v.protocol);
  std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
  const std::string version =
      v.model_version.empty() || v.model_version.front() == 'v' ? v.model_version : "v" + v.model_version;
  std::string tag;
  switch (ctx.outcome) {
    case BlockOutcome::blocked:
      tag = " [BLOCK]";
      break;
    case BlockOutcome::renewed:
      tag = " [BLOCK renewed]";
      break;
    case BlockOutcome::still_blocked:
      tag = " [BLOCKED]";
      break;
    case BlockOutcome::dry_run:
      tag = " [BLOCK dry-run]";
      break;
    case BlockOutcome::dry_run_listed:
      tag = " [BLOCKED dry-run]";
      break;
    case BlockOutcome::allowlisted:
      tag = " [NOT BLOCKED: allowlisted]";
      break;
    case BlockOutcome::cap_reached:
      tag = " [NOT BLOCKED: --max-blocks reached]";
      break;
    case BlockOutcome::not_blockable:
      tag = " [NOT BLOCKED: address not blockable]";
      break;
    case BlockOutcome::failed:
      tag = " [BLOCK FAILED]";
      break;
    case BlockOutcome::off:
      tag = " [BLOCK off]";
      break;
    case BlockOutcome::responder:
      tag = " [NOT BLOCKED: responder]";
      break;
    case BlockOutcome::none:
      break;
  }
  std::string line = fmt::format("ALERT {} {:.2f} {} -> {} {} model {} {}{}", v.predicted_class, v.score,
                                 endpoint(v.src, v.src_port), endpoint(v.dst, v.dst_port), proto,
                                 v.model_name, version, tag);
  if (v.unknown) line += fmt::format(" [unknown: ood {:.2f}]", v.ood_score);
  if (ctx.suppressed_before > 0) line += fmt::format(" (+{} similar)", ctx.suppressed_before);
  return line;
}

}  // namespace flowguard::capture::enforce
