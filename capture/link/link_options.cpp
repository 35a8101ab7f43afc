#include "link_options.hpp"

#include <CLI/CLI.hpp>

namespace flowguard::capture {

void register_link_options(CLI::App& app, LinkOptions& o) {
  auto* g = app.add_option_group("Server link", "streaming flows to flowguard-infer");
  g->add_option("--socket", o.socket_path, "flowguard-infer agent socket")->capture_default_str();
  g->add_option("--link-queue", o.queue_flows, "flow records queued for the server; when full: fail open, counted")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  g->add_option("--link-batch", o.batch_flows, "flows per batch sent to the server")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  g->add_option("--link-delay-ms", o.delay_ms, "longest a flow waits for its batch to fill")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  g->add_option("--agent-id", o.agent_id, "name of this agent in the server's logs (default: host name)");
  g->add_flag("--judge-multicast", o.judge_multicast,
              "also judge multicast/broadcast flows and flows from 0.0.0.0/:: (skipped and counted by default)");
}

}  // namespace flowguard::capture
