#include "app/options.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace flowguard::capture::app {
namespace {

std::int64_t seconds_to_us(double s) { return static_cast<std::int64_t>(std::llround(s * 1e6)); }

std::vector<std::string> profile_names() {
  std::vector<std::string> names;
  for (const features::Profile p : features::all_profiles) names.emplace_back(features::profile_name(p));
  return names;
}

}  // namespace

void register_capture_options(CLI::App& app, CaptureOptions& o) {
  auto* iface = app.add_option("-i,--interface", o.interface, "Capture live from this interface");
  auto* file = app.add_option("-r,--read", o.file, "Read packets from a pcap/pcapng file ('-' = stdin)");
  iface->excludes(file);
  file->excludes(iface);
  app.add_option("--bpf", o.bpf, "BPF filter expression applied by libpcap");
  app.add_option("--snaplen", o.snaplen, "Live capture snapshot length in bytes")
      ->capture_default_str()
      ->check(CLI::Range(64, 262144));
  app.add_option("--pace", o.pace, "File replay pace")
      ->capture_default_str()
      ->check(CLI::IsMember({"max", "realtime"}));
  app.add_option("--profile", o.profile, "Feature profile")
      ->capture_default_str()
      ->check(CLI::IsMember(profile_names()));
  app.add_option("--decode", o.decode,
                 "Frame decoding: native (link type honoured, IPv6 flows) or reference (the reference "
                 "extractor's scan, pseudo-flows from non-IPv4 frames included)")
      ->capture_default_str()
      ->check(CLI::IsMember({"native", "reference"}));
  app.add_option("--csv", o.csv_path, "Write final flow records as the profile's reference CSV");
  app.add_flag("--no-server", o.no_server,
               "Pure extractor: no inference server, no enforcement (use with --csv)");
  app.add_option("--max-flows", o.max_flows, "Flow table capacity (records are preallocated)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 26));
  app.add_option("--active-timeout", o.active_timeout_s, "Flow timeout in seconds (strict '>' test)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--activity-timeout", o.activity_timeout_s, "Gap in seconds that ends an active period")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--snapshot-packets", o.snapshot_packets,
                 "Emit a mid-flow snapshot every N packets of a flow (0 = off; never written to CSV)")
      ->capture_default_str();
  app.add_option("--snapshot-interval", o.snapshot_interval_s,
                 "Emit a mid-flow snapshot every T seconds of packet time (0 = off; never written to CSV)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--metrics-json", o.metrics_json,
                 "With every stats line, write all metrics (counters, gauges, histograms) as JSON to FILE "
                 "(replaced atomically)");
  app.add_option("--stats-interval", o.stats_interval_s,
                 "Print statistics every T seconds (0 = only at exit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--user", o.user,
                 "Started as root: run as this user once the device and sockets are open, keeping only "
                 "CAP_NET_RAW (live) and CAP_NET_ADMIN (--enforce nftables); 'none' stays root. The default "
                 "applies only if the user exists")
      ->capture_default_str()
      ->each([&o](const std::string&) { o.user_explicit = true; });
}

EngineConfig engine_config(const CaptureOptions& o) {
  EngineConfig c;
  c.profile = features::parse_profile(o.profile).value_or(features::Profile::corrected);
  c.timeouts.flow_us = seconds_to_us(o.active_timeout_s);
  c.timeouts.activity_us = seconds_to_us(o.activity_timeout_s);
  c.max_flows = o.max_flows;
  c.snapshot_packets = o.snapshot_packets;
  c.snapshot_interval_us = seconds_to_us(o.snapshot_interval_s);
  return c;
}

FileOptions file_options(const CaptureOptions& o) {
  FileOptions f;
  f.path = o.file;
  f.bpf = o.bpf;
  f.pace = o.pace == "realtime" ? Pace::realtime : Pace::max;
  return f;
}

DecodeMode decode_mode(const CaptureOptions& o) {
  return o.decode == "reference" ? DecodeMode::reference : DecodeMode::native;
}

LiveOptions live_options(const CaptureOptions& o) {
  LiveOptions l;
  l.interface = o.interface;
  l.snaplen = o.snaplen;
  l.bpf = o.bpf;
  return l;
}

}  // namespace flowguard::capture::app
