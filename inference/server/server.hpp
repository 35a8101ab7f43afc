#pragma once
// flowguard-infer's I/O side: the agent socket (one coroutine session per agent), the control socket,
// signals, the model directory watcher and hot swaps. All sockets and sessions live on one io_context
// thread; inference runs on the Batcher's workers; model loads run on a dedicated loader thread so a
// slow load never stalls verdicts.

#include "batcher.hpp"
#include "model.hpp"
#include "model_manager.hpp"
#include "policy.hpp"
#include "server_metrics.hpp"
#include "socket_files.hpp"

#include "common/error.hpp"
#include "common/metrics.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace flowguard::inference {

// Start-up failures (sockets, watcher) are the shared boundary exception, typed by ErrorCode.
using StartupError = flowguard::Exception;

struct ServerOptions {
  std::string socket_path = "/run/flowguard/infer.sock";
  std::string control_path;  // empty: default_control_path(socket_path)
  std::string model_path;    // reloaded by SIGHUP and by `flowguardctl reload` without a file
  std::string watch_dir;     // empty: no watcher
  BatcherOptions batch;
  std::uint32_t max_frame_bytes = 16u * 1024u * 1024u;
  bool handle_signals = true;  // SIGINT/SIGTERM stop, SIGHUP reload (off for in-process tests)
  std::chrono::milliseconds hello_timeout{10000};  // a connection must say Hello within this time
  std::chrono::seconds stats_interval{0};          // log the stats line this often (0: never)
  // Connection limits (docs/operations.md "Limits"). Agent socket:
  std::size_t max_sessions = 64;
  std::chrono::milliseconds frame_timeout{30000};  // a started frame must complete within this
  std::chrono::milliseconds idle_timeout{0};       // agent sent nothing for this long: close (0: never)
  std::size_t max_session_buffer = 32u * 1024u * 1024u;  // verdict bytes waiting for one agent to read
  std::size_t max_unanswered_flows = 65536;               // flows of one agent not answered yet
  std::chrono::milliseconds stall_timeout{30000};  // at a cap and the agent reads nothing: close
  std::uint64_t max_model_bytes = 1ull << 30;  // larger bundle files are refused before reading
  // Peer check on both sockets (SO_PEERCRED): root, this process's user, and members of these groups
  // (names or ids; empty: each socket file's group). false: anyone who can open the socket files.
  bool check_peers = true;
  std::vector<std::string> allow_groups;
  // Control socket:
  std::size_t max_control_connections = 16;
  std::chrono::milliseconds control_idle_timeout{10000};  // between requests and mid-frame
};

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<const Model> initial, Policy policy);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds both sockets (mode 0660). A stale socket file (nothing answers) is replaced; a live server
  // on the path is an error. Throws StartupError with a sentence an operator can act on.
  void start();
  // Serves until stop() or SIGINT/SIGTERM, then drains: queued batches finish, sessions get their
  // verdicts, sockets are closed and the socket files removed.
  void run();
  // Thread-safe; returns immediately.
  void stop();

  // Loads `path` (empty: the configured model) beside the serving one and swaps on success. Blocking,
  // thread-safe, serialized with every other reload.
  ReloadResult reload(const std::string& path);

  std::shared_ptr<const Model> model() const;
  // The server's metrics: typed handles (tests read single counters) and the registry snapshot that
  // `stats`, the stats line and the Prometheus rendering are made from.
  const ServeMetrics& counters() const;
  metrics::Snapshot metrics() const;
  const ServerOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowguard::inference
