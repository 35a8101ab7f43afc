// flowguard-infer: the inference server. See docs/inference.md.
#include "model.hpp"
#include "policy.hpp"
#include "server.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>

using namespace flowguard::inference;

int main(int argc, char** argv) {
  CLI::App app{"flowguard-infer: judges the capture agent's flows with a TorchScript model"};
  ServerOptions opts;
  opts.model_path = "/var/lib/flowguard/models/current.pt";
  std::string policy_path, log_level = "info";
  int torch_threads = 1;
  unsigned max_delay_us = 2000;
  app.add_option("--model", opts.model_path, "model bundle to serve (reloaded by SIGHUP)")
      ->capture_default_str();
  app.add_option("--socket", opts.socket_path, "agent socket")->capture_default_str();
  app.add_option(
      "--control-socket", opts.control_path,
      "control socket for flowguardctl (default: the agent socket path with .sock replaced by .ctl)");
  app.add_option("--policy", policy_path,
                 "policy file (YAML): detect_only, min_block_score, classes, never_block, evidence (rules, escalation)");
  app.add_option("--watch", opts.watch_dir,
                 "directory to watch: a *.pt renamed into it is loaded and served");
  app.add_option("--max-batch", opts.batch.max_batch, "flows per forward pass")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--max-delay-us", max_delay_us, "longest a flow waits for its batch to fill")
      ->capture_default_str();
  app.add_option("--workers", opts.batch.workers, "inference worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--max-queue", opts.batch.max_queue,
                 "flows queued for inference across all agents; beyond: SHED")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--torch-threads", torch_threads, "LibTorch intra-op and inter-op threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--explain", opts.batch.explain_top,
                 "top contributing features on alert/block verdicts (0: off)")
      ->capture_default_str();
  app.add_option("--explain-max-rows", opts.batch.explain_max_rows,
                 "at most this many alert/block verdicts per batch get top features (attribution is costly)")
      ->capture_default_str();
  unsigned hello_timeout_ms = 10000;
  app.add_option("--hello-timeout-ms", hello_timeout_ms,
                 "close connections that send no Hello within this time")
      ->capture_default_str();
  unsigned stats_interval_s = 60;
  app.add_option("--stats-interval", stats_interval_s, "log the stats line every N seconds (0: never)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opts.batch.max_delay = std::chrono::microseconds(max_delay_us);
  opts.hello_timeout = std::chrono::milliseconds(hello_timeout_ms);
  opts.stats_interval = std::chrono::seconds(stats_interval_s);
  spdlog::set_level(spdlog::level::from_str(log_level));
  std::signal(SIGPIPE, SIG_IGN);

  // Once, before any model exists: LibTorch sizes its pools on first use.
  configure_torch_threads(torch_threads);

  Policy policy;
  if (!policy_path.empty()) {
    try {
      policy = Policy::from_yaml_file(policy_path);
    } catch (const PolicyError& e) {
      spdlog::critical("{}", e.what());
      return 1;
    }
  }
  spdlog::info("policy: {}", policy.describe());

  std::vector<std::int64_t> warmup{1};
  if (opts.batch.max_batch > 1) warmup.push_back(static_cast<std::int64_t>(opts.batch.max_batch));
  std::shared_ptr<const Model> model;
  try {
    model = load_model(opts.model_path, warmup);
  } catch (const ModelLoadError& e) {
    spdlog::critical("cannot serve: {}", e.what());
    return 1;
  }

  Server server(std::move(opts), model, std::move(policy));
  try {
    server.start();
  } catch (const StartupError& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  server.run();
  return 0;
}
