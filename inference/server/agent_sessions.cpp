#include "agent_sessions.hpp"

#include "framing.hpp"
#include "handshake.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <vector>

namespace flowguard::inference {
namespace {

// Unanswered FlowBatches a session may have outstanding before the server stops reading its socket.
constexpr std::size_t kMaxPendingBatches = 256;
constexpr std::size_t kMaxWriteChunk = 1u << 20;

}  // namespace

struct AgentSessions::Session {
  explicit Session(local::socket s)
      : sock(std::move(s)), writer_wake(sock.get_executor()), reader_wake(sock.get_executor()) {}
  local::socket sock;
  asio::steady_timer writer_wake, reader_wake;
  std::deque<std::pair<std::string, bool>> outq;  // frame, is a VerdictBatch reply
  std::size_t pending_batches = 0;                // submitted FlowBatches whose reply is not written yet
  bool hello_seen = false, accepted = false;
  bool read_done = false;   // no more frames will be read (EOF, stop, error)
  bool fail_close = false;  // flush what is queued (the Error / refusal), then close without waiting
  bool open = true;
  std::size_t n_features = 0;     // the model's input width: profile features + selected groups
  std::size_t n_profile = 0;      // profile features per record (FlowRecord.features)
  GroupSelection groups;          // the model's groups within FlowRecord.group_features
  std::string agent_id;
  std::uint64_t id = 0;
};

AgentSessions::AgentSessions(asio::io_context& ioc, SessionOptions opts, ModelHolder& holder,
                             Batcher& batcher, ServeMetrics& metrics)
    : ioc_(ioc), opts_(opts), holder_(holder), batcher_(batcher), metrics_(metrics) {}

awaitable<void> AgentSessions::accept_loop(local::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    local::socket sock(ioc_);
    co_await acceptor.async_accept(sock, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      spdlog::warn("accept on agent socket failed: {}", ec.message());
      continue;
    }
    auto s = std::make_shared<Session>(std::move(sock));
    s->id = next_id_++;
    sessions_.insert(s);
    asio::co_spawn(ioc_, read_loop(s), asio::detached);
    asio::co_spawn(ioc_, write_loop(s), asio::detached);
    asio::co_spawn(ioc_, hello_watchdog(std::weak_ptr<Session>(s)), asio::detached);
  }
}

awaitable<void> AgentSessions::hello_watchdog(std::weak_ptr<Session> weak) {
  asio::steady_timer t(ioc_, opts_.hello_timeout);
  error_code ec;
  co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
  auto s = weak.lock();
  if (s && s->open && !s->hello_seen) {
    spdlog::warn("session {}: no Hello within {} ms, closing", s->id, opts_.hello_timeout.count());
    protocol_error(*s, fmt::format("no Hello within {} ms", opts_.hello_timeout.count()));
    s->sock.shutdown(asio::socket_base::shutdown_receive, ec);
  }
}

void AgentSessions::send(Session& s, const v1::ServerMessage& msg, bool is_reply) {
  auto frame = wire::encode_frame(msg, opts_.max_frame_bytes);
  if (frame.empty()) {
    spdlog::error("session {}: reply could not be encoded within {} bytes", s.id, opts_.max_frame_bytes);
    return;
  }
  s.outq.emplace_back(std::move(frame), is_reply);
  wake(s.writer_wake);
}

void AgentSessions::protocol_error(Session& s, const std::string& why) {
  if (s.fail_close) return;
  metrics_.protocol_errors.inc();
  spdlog::warn("session {} ({}): {}; closing the session", s.id, s.agent_id.empty() ? "no hello" : s.agent_id,
               why);
  v1::ServerMessage m;
  m.mutable_error()->set_message(why);
  send(s, m, false);
  s.fail_close = true;
  wake(s.writer_wake);
}

void AgentSessions::deliver(const std::shared_ptr<Session>& s, std::string frame, std::size_t verdicts) {
  if (!s->open || s->fail_close) {
    metrics_.verdicts_dropped.inc(verdicts);
    return;
  }
  metrics_.verdicts_sent.inc(verdicts);
  s->outq.emplace_back(std::move(frame), true);
  wake(s->writer_wake);
}

void AgentSessions::on_hello(const std::shared_ptr<Session>& s, const v1::Hello& hello) {
  if (s->hello_seen) return protocol_error(*s, "second Hello on one session");
  s->hello_seen = true;
  s->agent_id = hello.agent_id();
  const auto model = holder_.get();
  v1::ServerMessage reply;
  *reply.mutable_hello_ack() = check_hello(hello, model->manifest, model->info, &s->groups);
  const bool ok = reply.hello_ack().accepted();
  send(*s, reply, false);
  if (ok) {
    s->accepted = true;
    s->n_features = model->n_features();
    s->n_profile = model->manifest.feature_names.size();
    accepted_.fetch_add(1);
    metrics_.sessions_accepted.inc();
    spdlog::info("session {}: agent '{}' {} connected (model {} {})", s->id, hello.agent_id(),
                 hello.agent_version(), model->info.name(), model->info.version());
  } else {
    metrics_.sessions_refused.inc();
    spdlog::warn("session {}: refused: {}", s->id, reply.hello_ack().reason());
    s->fail_close = true;
  }
}

void AgentSessions::on_flows(const std::shared_ptr<Session>& s, v1::FlowBatch& batch) {
  if (!s->accepted) return protocol_error(*s, "FlowBatch before an accepted Hello");
  const auto n = static_cast<std::size_t>(batch.flows_size());
  if (n > kMaxFlowsPerBatch)
    return protocol_error(
        *s, fmt::format("FlowBatch of {} flows exceeds max_batch_flows {}", n, kMaxFlowsPerBatch));
  const bool reads_groups = !s->groups.slices.empty();
  for (const auto& f : batch.flows()) {
    if (static_cast<std::size_t>(f.features_size()) != s->n_profile)
      return protocol_error(*s, fmt::format("flow {} has {} features, the handshake agreed on {}",
                                            f.flow_id(), f.features_size(), s->n_profile));
    // Group values the model does not read are dropped unchecked (older models, newer agents).
    if (reads_groups && static_cast<std::size_t>(f.group_features_size()) != s->groups.offered_width)
      return protocol_error(*s, fmt::format("flow {} has {} group feature values, the handshake announced {}",
                                            f.flow_id(), f.group_features_size(), s->groups.offered_width));
  }
  metrics_.flow_batches.inc();
  metrics_.flows_received.inc(n);

  auto job = std::make_unique<Job>();
  auto* vb = job->reply.mutable_verdicts();
  vb->set_batch_seq(batch.batch_seq());
  vb->mutable_verdicts()->Reserve(static_cast<int>(n));
  for (const auto& f : batch.flows()) vb->add_verdicts()->set_flow_id(f.flow_id());
  const std::size_t admitted = batcher_.reserve(n);
  if (admitted < n) {
    const auto reason =
        fmt::format("server overloaded: inference queue full ({} flows)", batcher_.options().max_queue);
    for (std::size_t i = admitted; i < n; ++i) make_shed(*vb->mutable_verdicts(static_cast<int>(i)), reason);
    metrics_.shed_overload.inc(n - admitted);
  }
  ++s->pending_batches;
  if (admitted == 0) {
    deliver(s, wire::encode_frame(job->reply, opts_.max_frame_bytes), n);
    return;
  }
  job->n_features = s->n_features;
  job->slots.resize(admitted);
  job->features.reserve(admitted * s->n_features);
  for (std::size_t i = 0; i < admitted; ++i) {
    job->slots[i] = static_cast<std::uint32_t>(i);
    const auto& flow = batch.flows(static_cast<int>(i));
    job->features.insert(job->features.end(), flow.features().begin(), flow.features().end());
    // The model's input: profile features, then each group it reads, in its manifest's order.
    for (const auto& [offset, length] : s->groups.slices) {
      const auto from = flow.group_features().begin() + offset;
      job->features.insert(job->features.end(), from, from + length);
    }
  }
  job->done = [this, s](std::string frame, std::size_t verdicts) {
    asio::post(ioc_, [this, s, frame = std::move(frame), verdicts]() mutable {
      deliver(s, std::move(frame), verdicts);
    });
  };
  batcher_.submit(std::move(job));
}

void AgentSessions::on_frame(const std::shared_ptr<Session>& s, std::string_view payload) {
  v1::AgentMessage msg;
  std::string why;
  if (!wire::parse_payload(payload, msg, why)) return protocol_error(*s, why);
  switch (msg.body_case()) {
    case v1::AgentMessage::kHello:
      return on_hello(s, msg.hello());
    case v1::AgentMessage::kFlows:
      return on_flows(s, *msg.mutable_flows());
    default:
      return protocol_error(*s, "AgentMessage without a known body");
  }
}

awaitable<void> AgentSessions::read_loop(std::shared_ptr<Session> s) {
  wire::FrameDecoder dec(opts_.max_frame_bytes);
  std::vector<char> buf(64 * 1024);
  error_code ec;
  for (;;) {
    // Back-pressure: an agent that does not read its verdicts stops being read.
    while (s->open && !s->fail_close && s->pending_batches >= kMaxPendingBatches) {
      s->reader_wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->reader_wake.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    if (!s->open || s->fail_close) break;
    const std::size_t n =
        co_await s->sock.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec || n == 0) break;
    dec.feed(std::string_view(buf.data(), n));
    std::string_view payload;
    while (!s->fail_close && dec.next(payload)) on_frame(s, payload);
    if (dec.failed())
      protocol_error(*s, fmt::format("frame of {} bytes exceeds the maximum of {} bytes",
                                     dec.declared_length(), dec.max_frame_bytes()));
    if (s->fail_close) break;
  }
  s->read_done = true;
  wake(s->writer_wake);
}

awaitable<void> AgentSessions::write_loop(std::shared_ptr<Session> s) {
  std::string out;
  error_code ec;
  for (;;) {
    if (s->outq.empty()) {
      if (s->fail_close || (s->read_done && s->pending_batches == 0)) break;
      s->writer_wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->writer_wake.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    out.clear();
    std::size_t replies = 0;
    while (!s->outq.empty() && out.size() < kMaxWriteChunk) {
      out += s->outq.front().first;
      replies += s->outq.front().second ? 1 : 0;
      s->outq.pop_front();
    }
    co_await asio::async_write(s->sock, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    s->pending_batches -= replies;
    wake(s->reader_wake);
  }
  s->open = false;
  s->sock.shutdown(asio::socket_base::shutdown_both, ec);
  s->sock.close(ec);
  wake(s->reader_wake);
  if (s->accepted) {
    accepted_.fetch_sub(1);
    spdlog::info("session {}: agent '{}' disconnected", s->id, s->agent_id);
  }
  sessions_.erase(s);
}

void AgentSessions::broadcast_model_changed(const v1::ModelInfo& info) {
  v1::ServerMessage m;
  *m.mutable_model_changed() = info;
  for (const auto& s : sessions_)
    if (s->accepted && s->open && !s->fail_close) send(*s, m, false);
}

void AgentSessions::stop_reading() {
  stopping_ = true;
  error_code ec;
  for (const auto& s : sessions_) {
    s->sock.shutdown(asio::socket_base::shutdown_receive, ec);
    wake(s->reader_wake);
    wake(s->writer_wake);
  }
}

void AgentSessions::close_all() {
  error_code ec;
  for (const auto& s : sessions_) s->sock.close(ec);
}

}  // namespace flowguard::inference
