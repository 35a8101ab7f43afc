#pragma once
// flowguard-console's HTTP side (cpp-httplib): the page, the JSON API, the actions and /metrics.
//
// Security model (docs/console.md): binds 127.0.0.1 by default; every request must name an expected
// Host (DNS-rebinding guard); state-changing actions are POST with a JSON body, the token in the
// X-Flowguard-Token header (a header a cross-site form cannot set) and, when the browser sends one, an
// Origin equal to the console's own. Requests are bounded: header and URI size (library limits), body
// size (--max-body), read/write timeouts, a fixed worker pool with a bounded queue, and a time budget
// per event-store query.

#include "event_reader.hpp"
#include "peers.hpp"

#include "common/metrics.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace flowguard::console {

struct ConsoleOptions {
  std::string listen = "127.0.0.1";
  int port = 8787;                         // 0: any free port (tests); see bound_port()
  std::string token;                       // empty: actions disabled (403)
  std::vector<std::string> allowed_hosts;  // Host header values accepted besides the listen address
  std::size_t max_body = 16 * 1024;
  std::size_t threads = 4;
  std::size_t max_queued = 64;  // connections waiting for a worker; beyond, the acceptor serves inline
  std::chrono::seconds io_timeout{5};
  int max_events_page = 500;
};

class ConsoleServer {
 public:
  ConsoleServer(ConsoleOptions options, EventReader& events, Peers& peers);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Binds the listening socket (start-up error when the address is in use or invalid).
  Status bind();
  int bound_port() const { return port_; }
  // Serves until stop() (from another thread or a signal watcher).
  void run();
  void stop();

  // The console's own metrics (requests, rejections, actions, query time), also in /metrics.
  metrics::Registry& registry() { return registry_; }

 private:
  struct Metrics;
  void routes();
  bool host_allowed(const std::string& host) const;
  bool check_action(const httplib::Request& req, httplib::Response& res);
  std::string prometheus();

  ConsoleOptions options_;
  EventReader& events_;
  Peers& peers_;
  metrics::Registry registry_;
  std::unique_ptr<Metrics> m_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
};

}  // namespace flowguard::console
