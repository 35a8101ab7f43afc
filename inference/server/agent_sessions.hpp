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
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace flowguard::inference {

// Limits of the agent socket (issue 15: every connection is bounded in number, time and memory).
struct SessionOptions {
  std::uint32_t max_frame_bytes = 16u * 1024u * 1024u;
  std::chrono::milliseconds hello_timeout{10000};
  std::size_t max_sessions = 64;  // open connections (Hello or not); beyond: accepted and closed at once
  // A frame whose first byte arrived must be complete within this (a peer that stops mid-frame).
  std::chrono::milliseconds frame_timeout{30000};
  std::chrono::milliseconds idle_timeout{0};  // nothing received for this long: close (0: never)
  // Per session: serialized verdicts waiting for the agent to read them, and flows sent but not answered
  // yet. At either cap the server stops reading the session; if the agent then reads nothing for
  // stall_timeout the session is closed with an Error.
  std::size_t max_buffered_bytes = 32u * 1024u * 1024u;
  std::size_t max_unanswered_flows = 65536;
  std::chrono::milliseconds stall_timeout{30000};
  // "" when the peer on the fd may connect, else why not (set by the server after binding).
  std::function<std::string(int fd)> check_peer;
};

class AgentSessions {
 public:
  AgentSessions(asio::io_context& ioc, SessionOptions opts, ModelHolder& holder, Batcher& batcher,
                ServeMetrics& metrics);
  void set_peer_check(std::function<std::string(int fd)> check) { opts_.check_peer = std::move(check); }

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
  // Per-session metric families (flowguard_infer_session_*{session,agent}) for the registry's collector.
  void collect(std::vector<metrics::Sample>& out) const;

 private:
  struct Session;
  struct SessionStats;
  awaitable<void> watchdog(std::weak_ptr<Session> weak);
  void close_now(Session& s, const std::string& why);
  awaitable<void> read_loop(std::shared_ptr<Session> s);
  awaitable<void> write_loop(std::shared_ptr<Session> s);
  void send(Session& s, const v1::ServerMessage& msg);
  void protocol_error(Session& s, const std::string& why);
  void deliver(const std::shared_ptr<Session>& s, std::string frame, std::size_t verdicts);
  void on_hello(const std::shared_ptr<Session>& s, const v1::Hello& hello);
  void on_flows(const std::shared_ptr<Session>& s, v1::FlowBatch& batch);
  void resolve_context(Session& s, const v1::Hello& hello) const;
  void fill_meta(const Session& s, const v1::FlowRecord& f, FlowMeta& m) const;
  void on_frame(const std::shared_ptr<Session>& s, std::string_view payload);

  asio::io_context& ioc_;
  SessionOptions opts_;
  ModelHolder& holder_;
  Batcher& batcher_;
  ServeMetrics& metrics_;
  std::unordered_set<std::shared_ptr<Session>> sessions_;  // io thread only
  mutable std::mutex stats_mu_;  // guards stats_ (the collector runs on any thread)
  std::vector<std::shared_ptr<SessionStats>> stats_;  // accepted sessions, in id order
  std::atomic<std::uint32_t> accepted_{0};
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace flowguard::inference
