#pragma once
// The capture agent's control socket (--control-socket, default /run/flowguard/capture.ctl): a Unix
// stream socket carrying framed ControlRequest/ControlResponse (proto/framing.hpp), one response per
// request. One thread polls the listener and up to max_clients connections; every connection has
// a bounded frame decoder and a bounded output buffer. A bad frame closes that connection only;
// a payload that is not a ControlRequest gets ok=false and the connection stays open.
//
// Limits (issue 15): a connection idle for idle_timeout, or stopped mid-frame that long, is closed;
// when max_clients are open the one idle longest is closed to make room (idle connections cannot lock
// flowguardctl out); accept() failures (EMFILE) back off instead of spinning, with rate-limited logs;
// an optional peer check (SO_PEERCRED) refuses connections from users outside the allowed set.

#include "flowguard/v1/control.pb.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/privileges.hpp"

namespace flowguard::capture::enforce {

using ControlHandler = std::function<flowguard::v1::ControlResponse(const flowguard::v1::ControlRequest&)>;

struct ControlServerOptions {
  std::string path;
  std::uint32_t max_frame_bytes = 64 * 1024;  // requests are tiny
  std::size_t max_clients = 16;
  std::size_t max_pending_output = 4 * 1024 * 1024;
  unsigned mode = 0660;  // socket file permissions: root and the flowguard group
  std::chrono::milliseconds idle_timeout{10000};  // idle between requests, or mid-frame since its start
  // Peer check (SO_PEERCRED): root, this process's user, and members of these groups (names or ids);
  // empty: the socket file's group. check_peers=false: anyone who can open the socket file.
  bool check_peers = true;
  std::vector<std::string> allow_groups;
};

class ControlServer {
 public:
  // Binds and starts serving. Throws flowguard::Exception (start-up) when the path is too long, in use
  // by a live agent, not a socket, or cannot be bound. The handler runs on the server thread.
  ControlServer(ControlServerOptions options, ControlHandler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void stop();  // closes every connection and removes the socket file

  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t bad_frames() const { return bad_frames_.load(); }
  std::uint64_t refused_connections() const { return refused_.load(); }  // peer not allowed, or evicted
  std::uint64_t accept_errors() const { return accept_errors_.load(); }
  std::uint64_t timeouts() const { return timeouts_.load(); }             // closed idle / mid-frame
  const std::string& path() const { return options_.path; }

 private:
  void run();

  ControlServerOptions options_;
  ControlHandler handler_;
  priv::PeerPolicy peers_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::atomic<std::uint64_t> requests_{0}, bad_frames_{0}, refused_{0}, accept_errors_{0}, timeouts_{0};
};

}  // namespace flowguard::capture::enforce
