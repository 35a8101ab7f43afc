#pragma once
// Alerts in Suricata's EVE JSON format (one object per line, event_type "alert"), so existing EVE
// tooling (jq recipes, Filebeat/Elastic, EveBox, Splunk) reads flowguard alerts unchanged.
// Field names follow Suricata's eve.json; flowguard-specific data lives under "flowguard".

#include "enforce/block_manager.hpp"
#include "core/verdict.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace flowguard::capture::enforce {

// "TCP", "UDP", "ICMP", "IPv6-ICMP", ... as Suricata names them; the number as text otherwise.
std::string proto_name(std::uint8_t protocol);
// Suricata's timestamp form: local time, microseconds and numeric offset, "2017-07-05T09:03:04.123456+0200".
std::string eve_timestamp(std::int64_t unix_us);
// Stable per class (FNV-1a of the class name folded into 9100000..9199999), so a SIEM rule can key on it.
std::uint32_t signature_id(std::string_view predicted_class);
// A Suricata classification.config category for the CIC-IDS2017 class names; "Potentially Bad Traffic" else.
std::string_view category_for(std::string_view predicted_class);

struct AlertContext {
  BlockOutcome outcome = BlockOutcome::none;
  EnforceMode mode = EnforceMode::dry_run;
  std::uint64_t suppressed_before = 0;  // alerts for the same (src, class) folded into this one
};

nlohmann::json eve_alert(const FlowVerdict& verdict, const AlertContext& context);

// One human line: "ALERT PortScan 0.98 10.0.0.5:51234 -> 10.0.0.9:22 tcp model cnn-lstm v1 [BLOCK dry-run]".
std::string console_line(const FlowVerdict& verdict, const AlertContext& context);

}  // namespace flowguard::capture::enforce
