#pragma once
// flowguard-infer's control socket (flowguardctl): status, reload, models, stats. One coroutine per
// client on the io thread; each request gets exactly one response; requests this process does not
// serve (block lists) are answered ok=false naming the process that does.
#include "asio_types.hpp"

#include "flowguard/v1/control.pb.h"

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

namespace flowguard::inference {

struct ReloadResult;

struct ControlHandlers {
  std::function<void(v1::Status&)> status;
  std::function<awaitable<ReloadResult>(std::string path)> reload;  // runs on the loader thread
  std::function<void(v1::ControlResponse&)> models;
  std::function<void(v1::ControlResponse&)> stats;
  std::function<void()> counted;  // every request
};

class ControlService {
 public:
  ControlService(asio::io_context& ioc, ControlHandlers handlers);
  awaitable<void> accept_loop(local::acceptor& acceptor);
  void close_all();  // shutdown
  void clear() { clients_.clear(); }

 private:
  awaitable<v1::ControlResponse> handle(const v1::ControlRequest& req);
  awaitable<void> session(std::shared_ptr<local::socket> sock);

  asio::io_context& ioc_;
  ControlHandlers on_;
  std::unordered_set<std::shared_ptr<local::socket>> clients_;  // io thread only
  bool stopping_ = false;
};

}  // namespace flowguard::inference
