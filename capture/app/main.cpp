// flowguard-capture: reads packets (live or from a file), computes flow features under the selected
// profile and hands the flow records to the sinks (CSV file, server link, enforcement).
// Exit codes: 0 ok, 1 runtime error (clear message on stderr), 2 usage error.

#include "app/options.hpp"
#include "app/pipeline.hpp"
#include "context/host_context.hpp"
#include "core/extension.hpp"
#include "core/feature_group.hpp"
#include "enforce/enforce_extension.hpp"
#include "features/profile.hpp"
#include "flow/flow_engine.hpp"
#include "link/link_extension.hpp"
#include "output/csv_writer.hpp"
#include "source/packet_source.hpp"

#include "common/privileges.hpp"
#include "protobuf_log.hpp"

#include <CLI/CLI.hpp>

#include <linux/capability.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

namespace {

using namespace flowguard::capture;

constexpr int exit_ok = 0, exit_runtime = 1, exit_usage = 2;

std::atomic<PacketSource*> g_source{nullptr};

extern "C" void on_stop_signal(int) {
  if (PacketSource* s = g_source.load()) s->request_stop();
}

// Least privilege (issue 15): started as root, the agent switches every thread to --user once the
// device, the sockets and the files are open, keeping CAP_NET_RAW (live capture) and CAP_NET_ADMIN
// (nftables enforcement) only, with no-new-privs. A missing default user keeps root with a warning.
void drop_privileges(const app::CaptureOptions& o, bool live, bool net_admin) {
  if (::geteuid() != 0) return;  // already unprivileged
  if (o.user.empty() || o.user == "none" || o.user == "root") {
    std::fprintf(stderr, "flowguard-capture: warning: running as root with every capability (--user %s)\n",
                 o.user.empty() ? "\"\"" : o.user.c_str());
    return;
  }
  auto spec = flowguard::priv::user_spec(o.user);
  if (!spec) {
    if (o.user_explicit) throw flowguard::Exception(std::move(spec).error());
    if (!live) return;  // reading a file as root (a developer's replay): no warning noise
    std::fprintf(stderr,
                 "flowguard-capture: warning: no user '%s' on this host; staying root with every capability "
                 "(create the user, or pass --user NAME / --user none)\n",
                 o.user.c_str());
    return;
  }
  if (live) spec->keep_caps.push_back(CAP_NET_RAW);
  if (net_admin) spec->keep_caps.push_back(CAP_NET_ADMIN);
  flowguard::priv::drop_privileges(*spec).value_or_throw();
  std::fprintf(stderr, "flowguard-capture: running as user %s (uid %u)%s%s, no-new-privs\n", o.user.c_str(),
               static_cast<unsigned>(spec->uid), live ? ", CAP_NET_RAW" : "", net_admin ? ", CAP_NET_ADMIN" : "");
}

// What the extensions may know and do about the input (core/extension.hpp), for this PacketSource.
class SourceControl final : public InputControl {
 public:
  explicit SourceControl(PacketSource& source) : source_(source) {}
  bool is_live() const override { return source_.is_live(); }
  bool stop_requested() const override { return source_.stop_requested(); }
  void request_stop() override { source_.request_stop(); }

 private:
  PacketSource& source_;
};

// Writes beside the file and renames, so a reader never sees half a document. A failure is reported and
// the agent goes on (the stats line still carries the essentials).
void write_metrics_json(const std::string& path, const flowguard::metrics::Snapshot& snapshot) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  const std::string json = flowguard::metrics::render_json(snapshot);
  const bool ok = f != nullptr && std::fwrite(json.data(), 1, json.size(), f) == json.size();
  const bool closed = f != nullptr && std::fclose(f) == 0;
  if (!ok || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "flowguard-capture: warning: cannot write --metrics-json %s: %s\n", path.c_str(),
                 std::strerror(errno));
  }
}

// Enforcement first: the link's verdicts go to it, and stop() runs in reverse order.
std::vector<std::unique_ptr<AgentExtension>> make_extensions() {
  std::vector<std::unique_ptr<AgentExtension>> ext;
  ext.push_back(make_enforce_extension());
  ext.push_back(make_link_extension());
  return ext;
}

int run(const app::CaptureOptions& options, std::vector<std::unique_ptr<AgentExtension>>& extensions) {
  const EngineConfig config = app::engine_config(options);

  // The host-context group, when something reads it: its values ride on every record.
  std::unique_ptr<context::HostContextTable> host_context;
  std::vector<FeatureGroupInfo> groups;
  if (app::host_context_active(options)) {
    host_context = std::make_unique<context::HostContextTable>(app::host_context_config(options));
    groups.push_back({context::group_name, context::feature_names()});
  }

  // Sinks first: a bad output path or a missing server link fails before any packet is read.
  std::vector<FlowSink*> sinks;
  std::optional<output::CsvWriter> csv;
  if (!options.csv_path.empty()) {
    output::CsvOptions csv_options;
    csv_options.snapshots = options.csv_snapshots;
    if (!options.csv_groups.empty() && host_context) {  // host_context is the only group
      for (const auto n : context::feature_names()) csv_options.group_columns.push_back(n);
    }
    csv.emplace(options.csv_path, config.profile, std::move(csv_options));
    sinks.push_back(&*csv);
  }

  std::unique_ptr<PacketSource> source = options.file.empty()
                                             ? PacketSource::open_live(app::live_options(options))
                                             : PacketSource::open_file(app::file_options(options));
  for (const auto& w : source->warnings())
    std::fprintf(stderr, "flowguard-capture: warning: %s\n", w.c_str());

  // One registry for the whole agent, in the order of the stats line: decode, engine, source, then
  // what the extensions register as they start.
  AgentMetrics metrics;
  DecodeCounters decode_counters;
  std::unique_ptr<FlowEngine> engine;  // created once the extensions have added their sinks
  register_decode_metrics(metrics, decode_counters);
  register_engine_metrics(metrics, [&engine] { return engine ? engine->stats() : EngineStats{}; });
  register_source_metrics(metrics, *source);
  if (host_context) {
    context::register_host_context_metrics(metrics, [table = host_context.get()] { return table->stats(); });
  }

  VerdictFanout verdicts;
  SourceControl input(*source);
  AgentContext context{features::profile_name(config.profile),
                       features::feature_names(config.profile),
                       sinks,
                       verdicts,
                       metrics,
                       input,
                       groups,
                       false};
  std::vector<AgentExtension*> started;
  for (auto& e : extensions) {
    // --no-server is the pure extractor: without verdicts there is nothing to link or enforce.
    if (options.no_server) continue;
    e->start(context);
    started.push_back(e.get());
  }
  drop_privileges(options, options.file.empty(), context.needs_net_admin);

  engine = FlowEngine::create(config, sinks, host_context.get());
  // The reference scan's quirks depend on the reference build, i.e. on the profile (reference_scan.hpp).
  const ReferenceBuild build = features::profile_traits(config.profile).reference_build;
  app::Pipeline pipeline(*source, *engine, decode_counters, app::decode_mode(options), build, &metrics);
  // Called on the capture thread only (publish() reads the packet path's plain counters).
  auto print_stats = [&] {
    metrics.publish();
    const flowguard::metrics::Snapshot snapshot = metrics.snapshot();
    std::fprintf(stderr, "stats %s\n", flowguard::metrics::render_line(snapshot).c_str());
    if (!options.metrics_json.empty()) write_metrics_json(options.metrics_json, snapshot);
  };

  g_source.store(source.get());
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const flowguard::Status result = pipeline.run(print_stats, options.stats_interval_s);
  g_source.store(nullptr);

  // Reverse start order: the link drains its last verdicts into enforcement before enforcement stops.
  for (auto it = started.rbegin(); it != started.rend(); ++it) (*it)->stop();
  if (csv) csv->close();
  print_stats();
  int rc = exit_ok;
  if (!result) {
    std::fprintf(stderr, "flowguard-capture: %s\n", result.error().message.c_str());
    rc = exit_runtime;
  }
  for (const auto* e : started) {
    if (const auto why = e->failure(); !why.empty()) {
      std::fprintf(stderr, "flowguard-capture: %.*s: %s\n", static_cast<int>(e->name().size()),
                   e->name().data(), why.c_str());
      rc = exit_runtime;
    }
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  flowguard::wire::route_protobuf_log();  // a peer's bad strings must not write raw lines to stderr
  CLI::App cli{"flowguard-capture: flow features from live traffic or capture files"};
  cli.set_version_flag("--version", std::string("flowguard-capture ") + FLOWGUARD_VERSION);
  app::CaptureOptions options;
  app::register_capture_options(cli, options);
  auto extensions = make_extensions();
  for (auto& e : extensions) e->add_options(cli);
  try {
    cli.parse(argc, argv);
    if (options.interface.empty() && options.file.empty()) {
      throw CLI::ValidationError("input", "one of -i IFACE or -r FILE is required");
    }
    if (!options.csv_groups.empty() && options.host_context == "off") {
      throw CLI::ValidationError("--csv-groups", "host_context columns need --host-context on");
    }
    if ((!options.csv_groups.empty() || options.csv_snapshots) && options.csv_path.empty()) {
      throw CLI::ValidationError("--csv-groups/--csv-snapshots", "they need --csv FILE");
    }
  } catch (const CLI::ParseError& e) {
    const int code = cli.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }
  try {
    return run(options, extensions);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "flowguard-capture: %s\n", e.what());
    return exit_runtime;
  }
}
