// flowguard-infer: the inference server. See docs/inference.md.
#include "model.hpp"
#include "policy.hpp"
#include "server.hpp"

#include "protobuf_log.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>

using namespace flowguard::inference;

int main(int argc, char** argv) {
  flowguard::wire::route_protobuf_log();  // a peer's bad strings must not write raw lines to stderr
  CLI::App app{"flowguard-infer: judges the capture agent's flows with a TorchScript model"};
  ServerOptions opts;
  opts.model_path = "/var/lib/flowguard/models/current.pt";
  std::string policy_path, log_level = "info";
  int torch_threads = 1;
  unsigned max_delay_us = 1000;
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
  unsigned frame_timeout_ms = 30000, idle_timeout_ms = 0, stall_timeout_ms = 30000, control_idle_ms = 10000;
  app.add_option("--max-sessions", opts.max_sessions,
                 "open connections on the agent socket; beyond: closed at once with an Error")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--frame-timeout-ms", frame_timeout_ms,
                 "close an agent connection whose frame stays incomplete this long (0: never)")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", idle_timeout_ms,
                 "close an agent connection that sends nothing this long (0: never; agents may be quiet)")
      ->capture_default_str();
  app.add_option("--max-session-buffer", opts.max_session_buffer,
                 "bytes of verdicts waiting for one agent to read; at the cap its socket is not read")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1} << 16, std::size_t{1} << 32));
  app.add_option("--max-unanswered-flows", opts.max_unanswered_flows,
                 "flows of one agent not answered yet; at the cap its socket is not read")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--stall-timeout-ms", stall_timeout_ms,
                 "close an agent that reads no verdicts this long while it is at a cap (0: never)")
      ->capture_default_str();
  app.add_option("--max-control-connections", opts.max_control_connections,
                 "open control connections; when full the one idle longest is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--control-idle-timeout-ms", control_idle_ms,
                 "close a control connection idle (or stopped mid-frame) this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--max-model-bytes", opts.max_model_bytes,
                 "larger model files are refused before they are read")
      ->capture_default_str();
  app.add_option("--allow-group", opts.allow_groups,
                 "groups (names or ids) whose members may connect to both sockets, besides root and this "
                 "process's user (default: each socket file's group)");
  unsigned stats_interval_s = 60;
  app.add_option("--stats-interval", stats_interval_s, "log the stats line every N seconds (0: never)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opts.batch.max_delay = std::chrono::microseconds(max_delay_us);
  opts.hello_timeout = std::chrono::milliseconds(hello_timeout_ms);
  opts.stats_interval = std::chrono::seconds(stats_interval_s);
  opts.frame_timeout = std::chrono::milliseconds(frame_timeout_ms);
  opts.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  opts.stall_timeout = std::chrono::milliseconds(stall_timeout_ms);
  opts.control_idle_timeout = std::chrono::milliseconds(control_idle_ms);
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
    model = load_model(opts.model_path, warmup, opts.max_model_bytes);
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
