// flowguard-capture: reads packets (live or from a file), computes flow features under the selected
// profile and hands the flow records to the sinks (CSV file, server link, enforcement).
// Exit codes: 0 ok, 1 runtime error (clear message on stderr), 2 usage error.

#include "app/options.hpp"
#include "app/pipeline.hpp"
#include "core/extension.hpp"
#include "enforce/enforce_extension.hpp"
#include "features/profile.hpp"
#include "flow/flow_engine.hpp"
#include "link/link_extension.hpp"
#include "output/csv_writer.hpp"
#include "output/stats_text.hpp"
#include "source/packet_source.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
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

// Enforcement first: the link's verdicts go to it, and stop() runs in reverse order.
std::vector<std::unique_ptr<AgentExtension>> make_extensions() {
  std::vector<std::unique_ptr<AgentExtension>> ext;
  ext.push_back(make_enforce_extension());
  ext.push_back(make_link_extension());
  return ext;
}

int run(const app::CaptureOptions& options, std::vector<std::unique_ptr<AgentExtension>>& extensions) {
  const EngineConfig config = app::engine_config(options);

  // Sinks first: a bad output path or a missing server link fails before any packet is read.
  std::vector<FlowSink*> sinks;
  std::optional<output::CsvWriter> csv;
  if (!options.csv_path.empty()) {
    csv.emplace(options.csv_path, config.profile);
    sinks.push_back(&*csv);
  }

  std::unique_ptr<PacketSource> source =
      options.file.empty() ? PacketSource::open_live(app::live_options(options))
                           : PacketSource::open_file(app::file_options(options));
  for (const auto& w : source->warnings()) std::fprintf(stderr, "flowguard-capture: warning: %s\n", w.c_str());

  VerdictFanout verdicts;
  AgentContext context{features::profile_name(config.profile), features::feature_names(config.profile), sinks,
                       verdicts};
  std::vector<AgentExtension*> started;
  for (auto& e : extensions) {
    // --no-server is the pure extractor: without verdicts there is nothing to link or enforce.
    if (options.no_server) continue;
    e->start(context);
    started.push_back(e.get());
  }

  const auto engine = FlowEngine::create(config, sinks);
  // The reference scan's quirks depend on the reference build, i.e. on the profile (reference_scan.hpp).
  const ReferenceBuild build = features::profile_traits(config.profile).reference_build;
  app::Pipeline pipeline(*source, *engine, app::decode_mode(options), build);
  auto print_stats = [&] {
    std::string line = output::format_stats(pipeline.decode_counters(), engine->stats(), source->stats());
    for (const auto* e : started) e->append_stats(line);
    std::fprintf(stderr, "%s\n", line.c_str());
  };

  g_source.store(source.get());
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const app::PipelineResult result = pipeline.run(print_stats, options.stats_interval_s);
  g_source.store(nullptr);

  // Reverse start order: the link drains its last verdicts into enforcement before enforcement stops.
  for (auto it = started.rbegin(); it != started.rend(); ++it) (*it)->stop();
  if (csv) csv->close();
  print_stats();
  if (!result.ok) {
    std::fprintf(stderr, "flowguard-capture: %s\n", result.error.c_str());
    return exit_runtime;
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
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
