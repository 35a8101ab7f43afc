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
                 "Early verdicts: judge a live flow every N packets (0 = off). Snapshots go to the server, "
                 "and to the CSV only with --csv-snapshots; --no-server without --csv-snapshots skips them "
                 "(defaults chosen in docs/features.md, 'Snapshots')")
      ->capture_default_str();
  app.add_option("--snapshot-interval", o.snapshot_interval_s,
                 "Early verdicts: judge a live flow every T seconds of packet time (0 = off); a flow idle "
                 "since its last snapshot is not judged again")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--host-context", o.host_context,
                 "Host context feature group (per-source flows, ports, hosts, failures, ... over 1/10/60 s; "
                 "docs/host-context.md): sent to the server with every record")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--host-context-max-sources", o.host_context_max_sources,
                 "Host-context table capacity in sources (and in destination services); preallocated, "
                 "~470 bytes per source + ~90 per service; the least recently seen are evicted when full")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 24));
  app.add_option("--csv-groups", o.csv_groups,
                 "Append these feature groups' columns to the CSV, before Label (host_context); "
                 "off by default so the CSV stays the reference's")
      ->delimiter(',')
      ->check(CLI::IsMember({std::string(context::group_name)}));
  app.add_flag("--csv-snapshots", o.csv_snapshots,
               "Also write mid-flow snapshots to the CSV, with a first column \"Record Kind\" "
               "(snapshot|final)");
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
  // Snapshots cost a record each; without a reader (pure extractor) they are skipped.
  const bool snapshots_read = !o.no_server || o.csv_snapshots;
  c.snapshot_packets = snapshots_read ? o.snapshot_packets : 0;
  c.snapshot_interval_us = snapshots_read ? seconds_to_us(o.snapshot_interval_s) : 0;
  return c;
}

bool host_context_active(const CaptureOptions& o) {
  return o.host_context == "on" && (!o.no_server || !o.csv_groups.empty());
}

context::HostContextConfig host_context_config(const CaptureOptions& o) {
  context::HostContextConfig c;
  c.max_sources = o.host_context_max_sources;
  c.max_services = o.host_context_max_sources;
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
