#pragma once
// Command-line options of flowguard-capture, gathered in one struct. register_capture_options() puts
// them on a CLI11 app; other parts (server link, enforcement) register theirs through AgentExtension
// (core/extension.hpp), so adding options never means rewriting main().

#include "decode/reference_scan.hpp"
#include "features/profile.hpp"
#include "flow/flow_engine.hpp"
#include "source/packet_source.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace flowguard::capture::app {

struct CaptureOptions {
  // Input: exactly one of interface / file.
  std::string interface;
  std::string file;
  std::string bpf;
  int snaplen = 262144;
  std::string pace = "max";  // realtime | max (files only)

  std::string profile = "corrected";
  // native: real link types and IPv6 flows; reference: the reference extractor's jnetpcap scan
  // (pseudo-flows from ARP/IPv6/... frames included) for byte-exact drop-in output.
  std::string decode = "native";
  std::string csv_path;
  bool no_server = false;

  std::uint32_t max_flows = 262'144;
  double active_timeout_s = 120.0;
  double activity_timeout_s = 5.0;
  // Early verdicts: a live flow is judged every N packets and every T seconds of packet time. On by
  // default wherever snapshots have a consumer (the server link, --csv-snapshots); --no-server without
  // --csv-snapshots skips them (nothing would read them).
  std::uint64_t snapshot_packets = 1000;
  double snapshot_interval_s = 5.0;

  // Host context (capture/context, docs/host-context.md): computed when a consumer needs it (the
  // server link, or --csv-groups host_context).
  std::string host_context = "on";
  std::uint32_t host_context_max_sources = 65'536;
  std::vector<std::string> csv_groups;  // feature groups appended to the CSV rows ("host_context")
  bool csv_snapshots = false;           // also write snapshot rows (first column "Record Kind")
  double stats_interval_s = 10.0;       // 0: only at exit
  std::string metrics_json;             // also write the registry as JSON here with every stats line
  // Started as root: switch to this user once the device and sockets are open (see docs/operations.md
  // "Privileges"). The default is used only when the user exists; "none" stays root.
  std::string user = "flowguard";
  bool user_explicit = false;
};

void register_capture_options(CLI::App& app, CaptureOptions& options);

// Engine configuration from the parsed options (the profile name was validated by CLI11).
EngineConfig engine_config(const CaptureOptions& options);
// Whether the host-context table is built: on, and someone reads it (server link or CSV columns).
bool host_context_active(const CaptureOptions& options);
context::HostContextConfig host_context_config(const CaptureOptions& options);
FileOptions file_options(const CaptureOptions& options);
LiveOptions live_options(const CaptureOptions& options);
DecodeMode decode_mode(const CaptureOptions& options);

}  // namespace flowguard::capture::app
