#include "link_options.hpp"

#include <CLI/CLI.hpp>

namespace flowguard::capture {

void register_link_options(CLI::App& app, LinkOptions& o) {
  auto* g = app.add_option_group("Server link", "streaming flows to flowguard-infer");
  g->add_option("--socket", o.socket_path, "flowguard-infer agent socket")->capture_default_str();
  g->add_option("--link-queue", o.queue_flows,
                "flow records queued for the server; when full: wait or fail open (--link-backpressure)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  g->add_option("--link-batch", o.batch_flows, "flows per batch sent to the server")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  g->add_option("--link-delay-ms", o.delay_ms, "longest a flow waits for its batch to fill")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  g->add_option_function<std::string>(
       "--link-backpressure",
       [&o](const std::string& m) {
         o.backpressure = m == "wait"        ? Backpressure::wait
                          : m == "fail-open" ? Backpressure::fail_open
                                             : Backpressure::automatic;
       },
       "full queue or server away: 'wait' (the reader waits, every flow is judged), 'fail-open' (counted "
       "unjudged, capture goes on), 'auto' (wait when reading a file with -r, fail open on a live interface)")
      ->check(CLI::IsMember({"auto", "wait", "fail-open"}))
      ->default_str("auto");
  g->add_option_function<double>(
       "--link-wait-s",
       [&o](double s) { o.wait_limit = std::chrono::milliseconds(static_cast<long long>(s * 1000)); },
       "wait mode: give up with an error (exit 1) when the server has been away or stalled this long "
       "(default 30)")
      ->check(CLI::Range(0.1, 86400.0));
  g->add_option_function<unsigned>(
       "--link-resend-window-ms",
       [&o](unsigned ms) { o.resend_window = std::chrono::milliseconds(ms); },
       "fail-open mode: re-send the records in flight on a lost connection if the server is back within "
       "this time (0: never; default 10000)")
      ->check(CLI::Range(0u, 3600000u));
  g->add_option("--link-resend-max", o.resend_max_flows,
                "fail-open mode: at most this many in-flight records kept for the re-send (oldest dropped)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  g->add_option("--agent-id", o.agent_id, "name of this agent in the server's logs (default: host name)");
  g->add_flag(
      "--judge-multicast", o.judge_multicast,
      "also judge multicast/broadcast flows and flows from 0.0.0.0/:: (skipped and counted by default)");
}

}  // namespace flowguard::capture
