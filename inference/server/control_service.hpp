#pragma once
// flowguard-infer's control socket (flowguardctl): status, reload, models, stats. One coroutine per
// client on the io thread; each request gets exactly one response; requests this process does not
// serve (block lists) are answered ok=false naming the process that does.
//
// Limits: at most max_connections clients (when full, the client idle longest is closed to make room,
// so idle connections cannot lock operators out); a client that sends nothing, or stops mid-frame, for
// idle_timeout is closed; accept() failures back off (no spinning at the fd limit).
#include "asio_types.hpp"

#include "common/metrics.hpp"
#include "flowguard/v1/control.pb.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

namespace flowguard::inference {

struct ReloadResult;

struct ControlHandlers {
  std::function<void(v1::Status&)> status;  // io thread: must not block (answers from a snapshot)
  std::function<awaitable<ReloadResult>(std::string path)> reload;  // runs on the loader thread
  std::function<void(v1::ControlResponse&)> models;  // io thread: must not block
  std::function<void(v1::ControlResponse&)> stats;
  std::function<void()> counted;  // every request
  // Peer check at accept (SO_PEERCRED); empty: everyone who can open the socket file. Returns "" when
  // allowed, else the reason (logged, counted refused).
  std::function<std::string(int fd)> check_peer;
};

struct ControlOptions {
  std::size_t max_connections = 16;
  std::chrono::milliseconds idle_timeout{10000};
  metrics::Counter* refused = nullptr;        // closed at accept (peer not allowed) or evicted when full
  metrics::Counter* accept_errors = nullptr;  // accept() failed
  metrics::Counter* timeouts = nullptr;       // closed idle / mid-frame
};

class ControlService {
 public:
  ControlService(asio::io_context& ioc, ControlOptions options, ControlHandlers handlers);
  awaitable<void> accept_loop(local::acceptor& acceptor);
  // Serves one connected client (what accept_loop does after the peer check and the connection limit;
  // the fuzz target feeds a socketpair here).
  void serve(local::socket sock);
  void close_all();  // shutdown
  void clear() { clients_.clear(); }
  std::size_t open() const { return clients_.size(); }

 private:
  struct Client;
  awaitable<v1::ControlResponse> handle(const v1::ControlRequest& req);
  awaitable<void> session(std::shared_ptr<Client> c);
  awaitable<void> watchdog(std::shared_ptr<Client> c);
  void make_room();

  asio::io_context& ioc_;
  ControlOptions opts_;
  ControlHandlers on_;
  std::unordered_set<std::shared_ptr<Client>> clients_;  // io thread only
  bool stopping_ = false;
};

}  // namespace flowguard::inference
