#pragma once
// Agent sessions on the data socket: one coroutine reader and one writer per agent on the io thread;
// the Hello handshake against the serving model, FlowBatch admission into the Batcher (shedding what
// does not fit), verdict delivery, back-pressure and protocol errors that close one session.
#include "asio_types.hpp"

#include "batcher.hpp"
#include "model.hpp"
#include "server_metrics.hpp"

#include "flowguard/v1/flowguard.pb.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

namespace flowguard::inference {

struct SessionOptions {
  std::uint32_t max_frame_bytes = 16u * 1024u * 1024u;
  std::chrono::milliseconds hello_timeout{10000};
};

class AgentSessions {
 public:
  AgentSessions(asio::io_context& ioc, SessionOptions opts, ModelHolder& holder, Batcher& batcher,
                ServeMetrics& metrics);

  // Accepts agents until the acceptor is closed.
  awaitable<void> accept_loop(local::acceptor& acceptor);
  // Tells every accepted agent that the model changed (io thread).
  void broadcast_model_changed(const v1::ModelInfo& info);
  // Shutdown, step 1: stop reading; writers still deliver the verdicts of batches already queued.
  void stop_reading();
  // Shutdown, step 2: close what is left; step 3 (io_context stopped): release the sessions.
  void close_all();
  void clear() { sessions_.clear(); }
  bool empty() const { return sessions_.empty(); }
  // Accepted (Hello ok) sessions now; any thread.
  std::uint32_t accepted() const { return accepted_.load(); }

 private:
  struct Session;
  awaitable<void> hello_watchdog(std::weak_ptr<Session> weak);
  awaitable<void> read_loop(std::shared_ptr<Session> s);
  awaitable<void> write_loop(std::shared_ptr<Session> s);
  void send(Session& s, const v1::ServerMessage& msg, bool is_reply);
  void protocol_error(Session& s, const std::string& why);
  void deliver(const std::shared_ptr<Session>& s, std::string frame, std::size_t verdicts);
  void on_hello(const std::shared_ptr<Session>& s, const v1::Hello& hello);
  void on_flows(const std::shared_ptr<Session>& s, v1::FlowBatch& batch);
  void resolve_context(Session& s, const v1::Hello& hello) const;
  void fill_meta(const Session& s, const v1::FlowRecord& f, FlowMeta& m) const;
  void on_frame(const std::shared_ptr<Session>& s, std::string_view payload);

  asio::io_context& ioc_;
  const SessionOptions opts_;
  ModelHolder& holder_;
  Batcher& batcher_;
  ServeMetrics& metrics_;
  std::unordered_set<std::shared_ptr<Session>> sessions_;  // io thread only
  std::atomic<std::uint32_t> accepted_{0};
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace flowguard::inference
