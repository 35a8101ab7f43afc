// flowguard-console: the operator's web console and Prometheus endpoint (docs/console.md).
#include "event_reader.hpp"
#include "http_server.hpp"
#include "peers.hpp"
#include "token.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

using namespace flowguard;

int main(int argc, char** argv) {
  CLI::App app{
      "flowguard-console: live web console (KPIs, attack timeline, events, blocks, model) and Prometheus\n"
      "/metrics for flowguard. Unprivileged: reads the event store read-only and talks to the control\n"
      "sockets of flowguard-capture and flowguard-infer. Actions (block, unblock, reload, mark false\n"
      "positive) need the token of --token-file in the X-Flowguard-Token header (the page asks for it)."};
  console::ConsoleOptions o;
  console::PeerOptions peers;
  std::string events = "/var/lib/flowguard/events.db";
  std::string token_file = "/etc/flowguard/console.token";
  bool create_token = false, no_token = false;
  unsigned query_budget_ms = 1000, control_timeout_ms = 2000;
  std::int64_t scan_rows = 100'000;
  app.add_option("--listen", o.listen, "address to bind (loopback by default: the console speaks plain HTTP)")
      ->capture_default_str();
  app.add_option("--port", o.port, "TCP port (0: any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--events", events, "event store of flowguard-capture (--events), opened read-only")
      ->capture_default_str();
  app.add_option("--capture-socket", peers.capture_socket,
                 "flowguard-capture control socket ('none': absent)")
      ->capture_default_str();
  app.add_option("--infer-socket", peers.infer_socket, "flowguard-infer control socket ('none': absent)")
      ->capture_default_str();
  app.add_option("--token-file", token_file, "file holding the action token (mode 0600)")
      ->capture_default_str();
  app.add_flag("--create-token", create_token,
               "create --token-file with a random token (0600) when it is missing");
  app.add_flag("--no-token", no_token, "read-only console: no token, every action is refused");
  app.add_option("--allow-host", o.allowed_hosts,
                 "accept this Host header too (a name the console is reached by, e.g. behind a proxy); "
                 "repeatable. Other Host values are refused (DNS-rebinding guard)");
  app.add_option("--max-body", o.max_body, "largest request body in bytes")
      ->capture_default_str()
      ->check(CLI::Range(256, 1 << 20));
  app.add_option("--threads", o.threads, "HTTP worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--query-budget-ms", query_budget_ms, "longest an event-store query may run (then 503)")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  app.add_option("--event-scan-rows", scan_rows,
                 "alerts one events page scans at most (a rare filter's page may come back short; 'older' "
                 "goes on)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{100}, std::int64_t{10'000'000}));
  app.add_option("--control-timeout-ms", control_timeout_ms, "longest a control-socket call may take")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  CLI11_PARSE(app, argc, argv);
  peers.timeout = std::chrono::milliseconds(control_timeout_ms);

  if (!no_token) {
    auto t = console::load_or_create_token(token_file, create_token);
    if (!t) {
      std::cerr << "flowguard-console: " << t.error().message
                << (t.error().code == ErrorCode::not_found
                        ? " (use --create-token, or --no-token for a read-only console)"
                        : "")
                << "\n";
      return 1;
    }
    o.token = *t;
  }
  if (o.listen != "127.0.0.1" && o.listen != "::1" && o.listen != "localhost")
    spdlog::warn("console: listening on {}: plain HTTP; the token crosses the network in clear", o.listen);

  // Signals are taken by one thread (sigwait) so the HTTP threads never see them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  console::EventReader reader(events, std::chrono::milliseconds(query_budget_ms), scan_rows);
  console::Peers peer_calls(peers);
  console::ConsoleServer server(o, reader, peer_calls);
  if (auto st = server.bind(); !st) {
    std::cerr << "flowguard-console: " << st.error().message << "\n";
    return 1;
  }
  std::printf("flowguard-console: listening on http://%s:%d/ (events %s, capture %s, infer %s, actions %s)\n",
              o.listen.c_str(), server.bound_port(), events.c_str(), peers.capture_socket.c_str(),
              peers.infer_socket.c_str(), o.token.empty() ? "disabled" : "need the token");
  std::fflush(stdout);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("console: signal {}, stopping", sig);
    server.stop();
  });
  server.run();
  // run() returned (stop() or a listener failure): release the signal thread if it still waits.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  return 0;
}
