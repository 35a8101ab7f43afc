#include "agent_sessions.hpp"

#include "framing.hpp"
#include "accept_guard.hpp"
#include "handshake.hpp"

#include "common/log_safe.hpp"
#include "common/throttle.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <limits>
#include <optional>
#include <vector>

namespace flowguard::inference {
namespace {

// Unanswered FlowBatches a session may have outstanding before the server stops reading its socket.
constexpr std::size_t kMaxPendingBatches = 256;
constexpr std::size_t kMaxWriteChunk = 1u << 20;

}  // namespace

using Clock = std::chrono::steady_clock;

// Counted per session and read by the registry's collector on any thread.
struct AgentSessions::SessionStats {
  std::uint64_t id = 0;
  std::string agent;  // log_safe(agent_id), fixed at Hello
  std::atomic<std::uint64_t> flows_received{0}, flows_shed{0}, verdicts_sent{0};
};

struct AgentSessions::Session {
  explicit Session(local::socket s)
      : sock(std::move(s)), writer_wake(sock.get_executor()), reader_wake(sock.get_executor()) {}
  local::socket sock;
  asio::steady_timer writer_wake, reader_wake;
  std::deque<std::pair<std::string, std::size_t>> outq;  // frame, flows answered by it (0: not a reply)
  std::size_t outq_bytes = 0;                            // bytes in outq plus the write in progress
  std::size_t pending_batches = 0;  // submitted FlowBatches whose reply is not written yet
  std::size_t pending_flows = 0;    // their flows
  bool hello_seen = false, accepted = false;
  bool paused = false;  // the reader waits for the writer (a cap reached)
  Clock::time_point opened = Clock::now(), last_read = Clock::now(), last_write = Clock::now();
  std::optional<Clock::time_point> frame_started;  // a partial frame is buffered since then
  std::shared_ptr<SessionStats> stats;
  bool read_done = false;   // no more frames will be read (EOF, stop, error)
  bool fail_close = false;  // flush what is queued (the Error / refusal), then close without waiting
  bool open = true;
  // Evidence: where each EvidenceConfig::context_names() feature sits in FlowRecord.group_features
  // (-1: not announced), and how many group features each record must carry for them to be read.
  std::vector<int> context_pos;
  std::size_t group_width = 0;
  std::size_t n_features = 0;  // the model's input width: profile features + selected groups
  std::size_t n_profile = 0;   // profile features per record (FlowRecord.features)
  GroupSelection groups;       // the model's groups within FlowRecord.group_features
  std::string agent_id;  // log_safe(): the only form ever logged
  std::uint64_t id = 0;
};

AgentSessions::AgentSessions(asio::io_context& ioc, SessionOptions opts, ModelHolder& holder,
                             Batcher& batcher, ServeMetrics& metrics)
    : ioc_(ioc), opts_(opts), holder_(holder), batcher_(batcher), metrics_(metrics) {}

awaitable<void> AgentSessions::accept_loop(local::acceptor& acceptor) {
  AcceptGuard guard(ioc_, "agent socket");
  LogThrottle log_refused;
  for (;;) {
    error_code ec;
    local::socket sock(ioc_);
    co_await acceptor.async_accept(sock, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      co_await guard.failed(ec, &metrics_.agent_accept_errors);
      if (stopping_) co_return;
      continue;
    }
    guard.succeeded();
    if (opts_.check_peer) {
      if (auto why = opts_.check_peer(sock.native_handle()); !why.empty()) {
        metrics_.agent_refused.inc();
        std::uint64_t suppressed = 0;
        if (log_refused.allow(suppressed))
          spdlog::warn("agent socket: refused a connection: {} ({} similar suppressed)", why, suppressed);
        sock.close(ec);
        continue;
      }
    }
    if (sessions_.size() >= opts_.max_sessions) {
      metrics_.agent_refused.inc();
      std::uint64_t suppressed = 0;
      if (log_refused.allow(suppressed))
        spdlog::warn("agent socket: {} connections open (--max-sessions); refusing a new one ({} similar "
                     "suppressed)",
                     sessions_.size(), suppressed);
      // Best effort: tell the peer why (a non-blocking write that fits in the socket buffer), then close.
      v1::ServerMessage m;
      m.mutable_error()->set_message(fmt::format(
          "flowguard-infer: too many connections ({} open, --max-sessions {})", sessions_.size(),
          opts_.max_sessions));
      const auto frame = wire::encode_frame(m);
      sock.non_blocking(true, ec);
      sock.write_some(asio::buffer(frame), ec);
      sock.close(ec);
      continue;
    }
    auto s = std::make_shared<Session>(std::move(sock));
    s->id = next_id_++;
    sessions_.insert(s);
    asio::co_spawn(ioc_, read_loop(s), asio::detached);
    asio::co_spawn(ioc_, write_loop(s), asio::detached);
    asio::co_spawn(ioc_, watchdog(std::weak_ptr<Session>(s)), asio::detached);
  }
}

// Closes a session that broke a time limit: the Error goes out if the socket takes it, then the
// connection is shut down both ways (a peer that does not read cannot keep the writer waiting).
void AgentSessions::close_now(Session& s, const std::string& why) {
  protocol_error(s, why);
  error_code ec;
  s.sock.shutdown(asio::socket_base::shutdown_receive, ec);
  wake(s.reader_wake);
}

// One timer per session checks its time limits about four times per shortest limit (at most every
// second, at least every 10 ms).
awaitable<void> AgentSessions::watchdog(std::weak_ptr<Session> weak) {
  using std::chrono::milliseconds;
  auto tick = opts_.hello_timeout;
  for (auto t : {opts_.frame_timeout, opts_.idle_timeout, opts_.stall_timeout})
    if (t.count() > 0) tick = std::min(tick, t);
  tick = std::clamp(tick / 4, milliseconds(10), milliseconds(1000));
  asio::steady_timer t(ioc_);
  for (;;) {
    t.expires_after(tick);
    error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    auto s = weak.lock();
    if (!s || !s->open || s->fail_close) co_return;
    const auto now = Clock::now();
    auto ms = [](auto d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
    if (!s->hello_seen && now - s->opened >= opts_.hello_timeout) {
      metrics_.closed_hello_timeout.inc();
      close_now(*s, fmt::format("no Hello within {} ms", opts_.hello_timeout.count()));
    } else if (s->frame_started && opts_.frame_timeout.count() > 0 &&
               now - *s->frame_started >= opts_.frame_timeout) {
      metrics_.closed_frame_timeout.inc();
      close_now(*s, fmt::format("frame incomplete after {} ms (--frame-timeout-ms)", ms(now - *s->frame_started)));
    } else if (opts_.idle_timeout.count() > 0 && !s->paused && now - s->last_read >= opts_.idle_timeout) {
      metrics_.closed_idle.inc();
      close_now(*s, fmt::format("nothing received for {} ms (--idle-timeout-ms)", ms(now - s->last_read)));
    } else if (s->paused && opts_.stall_timeout.count() > 0 && !s->outq.empty() &&
               now - s->last_write >= opts_.stall_timeout) {
      metrics_.closed_stalled.inc();
      close_now(*s, fmt::format("the agent read no verdicts for {} ms while {} bytes of verdicts waited "
                                "(cap {} bytes, {} unanswered flows)",
                                ms(now - s->last_write), s->outq_bytes, opts_.max_buffered_bytes,
                                s->pending_flows));
      // It does not read: the Error may never be written. Do not wait for it.
      s->sock.close(ec);
    }
  }
}

void AgentSessions::send(Session& s, const v1::ServerMessage& msg) {
  auto frame = wire::encode_frame(msg, opts_.max_frame_bytes);
  if (frame.empty()) {
    spdlog::error("session {}: reply could not be encoded within {} bytes", s.id, opts_.max_frame_bytes);
    return;
  }
  s.outq_bytes += frame.size();
  s.outq.emplace_back(std::move(frame), 0);
  wake(s.writer_wake);
}

void AgentSessions::protocol_error(Session& s, const std::string& why) {
  if (s.fail_close) return;
  metrics_.protocol_errors.inc();
  spdlog::warn("session {} ({}): {}; closing the session", s.id, s.agent_id.empty() ? "no hello" : s.agent_id,
               log_safe(why, 512));
  v1::ServerMessage m;
  m.mutable_error()->set_message(why);
  send(s, m);
  s.fail_close = true;
  wake(s.writer_wake);
}

void AgentSessions::deliver(const std::shared_ptr<Session>& s, std::string frame, std::size_t verdicts) {
  if (!s->open || s->fail_close) {
    metrics_.verdicts_dropped.inc(verdicts);
    return;
  }
  metrics_.verdicts_sent.inc(verdicts);
  if (s->stats) s->stats->verdicts_sent.fetch_add(verdicts, std::memory_order_relaxed);
  s->outq_bytes += frame.size();
  s->outq.emplace_back(std::move(frame), std::max<std::size_t>(verdicts, 1));
  wake(s->writer_wake);
}

void AgentSessions::on_hello(const std::shared_ptr<Session>& s, const v1::Hello& hello) {
  if (s->hello_seen) return protocol_error(*s, "second Hello on one session");
  s->hello_seen = true;
  s->agent_id = log_safe(hello.agent_id(), 64);
  const auto model = holder_.get();
  v1::ServerMessage reply;
  *reply.mutable_hello_ack() = check_hello(hello, model->manifest, model->info, &s->groups);
  const bool ok = reply.hello_ack().accepted();
  send(*s, reply);
  if (ok) {
    s->accepted = true;
    s->n_features = model->n_features();
    s->n_profile = model->manifest.feature_names.size();
    resolve_context(*s, hello);
    accepted_.fetch_add(1);
    metrics_.sessions_accepted.inc();
    s->stats = std::make_shared<SessionStats>();
    s->stats->id = s->id;
    s->stats->agent = s->agent_id;
    {
      std::lock_guard lock(stats_mu_);
      stats_.push_back(s->stats);
    }
    spdlog::info("session {}: agent '{}' {} connected (model {} {})", s->id, s->agent_id,
                 log_safe(hello.agent_version(), 64), model->info.name(), model->info.version());
  } else {
    metrics_.sessions_refused.inc();
    spdlog::warn("session {} ('{}'): refused: {}", s->id, s->agent_id, log_safe(reply.hello_ack().reason(), 512));
    s->fail_close = true;
  }
}

void AgentSessions::resolve_context(Session& s, const v1::Hello& hello) const {
  const auto names = batcher_.policy().evidence.context_names();
  s.context_pos.assign(names.size(), -1);
  s.group_width = 0;
  for (const auto& g : hello.feature_groups()) {
    if (g.name() == "host_context") {
      for (std::size_t i = 0; i < names.size(); ++i)
        for (int j = 0; j < g.feature_names_size(); ++j)
          if (g.feature_names(j) == names[i]) s.context_pos[i] = static_cast<int>(s.group_width) + j;
    }
    s.group_width += static_cast<std::size_t>(g.feature_names_size());
  }
}

// The evidence layer's view of a flow: its initiator (the only address a block may ever apply to),
// packet time, identity for snapshot dedup, host context.
void AgentSessions::fill_meta(const Session& s, const v1::FlowRecord& f, FlowMeta& m) const {
  const auto& cfg = batcher_.policy().evidence;
  v1::FlowSide side = f.initiator();
  if (side == v1::FLOW_SIDE_UNSPECIFIED && cfg.unspecified_initiator_is_src) side = v1::FLOW_SIDE_SRC;
  m.side = side;
  if (side == v1::FLOW_SIDE_SRC || side == v1::FLOW_SIDE_DST) {
    if (auto k = source_key(side == v1::FLOW_SIDE_SRC ? f.src_ip() : f.dst_ip())) {
      m.initiator = *k;
      m.has_initiator = true;
    }
  }
  m.ts_us = f.last_ts_us() != 0 ? f.last_ts_us() : f.first_ts_us();
  m.fingerprint = ((s.id + 1) * 0x9e3779b97f4a7c15ULL) ^ (f.flow_id() * 0xc2b2ae3d27d4eb4fULL) ^ 1;
  m.context.fill(std::numeric_limits<float>::quiet_NaN());
  if (s.group_width != 0 && static_cast<std::size_t>(f.group_features_size()) == s.group_width) {
    for (std::size_t i = 0; i < s.context_pos.size() && i < m.context.size(); ++i)
      if (s.context_pos[i] >= 0) m.context[i] = f.group_features(s.context_pos[i]);
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
  s->stats->flows_received.fetch_add(n, std::memory_order_relaxed);

  auto job = std::make_unique<Job>();
  auto* vb = job->reply.mutable_verdicts();
  vb->set_batch_seq(batch.batch_seq());
  vb->mutable_verdicts()->Reserve(static_cast<int>(n));
  for (const auto& f : batch.flows()) vb->add_verdicts()->set_flow_id(f.flow_id());
  const auto sessions = std::max<std::size_t>(accepted_.load(), 1);
  const auto adm = batcher_.reserve(s->id, n, sessions);
  const std::size_t admitted = adm.admitted;
  if (admitted < n) {
    const auto reason =
        adm.fair_share > 0
            ? fmt::format("server overloaded: this agent is over its share of the inference queue ({} of {} "
                          "flows, {} agents connected)",
                          batcher_.queued_for(s->id), batcher_.options().max_queue, sessions)
            : fmt::format("server overloaded: inference queue full ({} flows)", batcher_.options().max_queue);
    for (std::size_t i = admitted; i < n; ++i) make_shed(*vb->mutable_verdicts(static_cast<int>(i)), reason);
    metrics_.shed_overload.inc(adm.overload);
    metrics_.shed_fair_share.inc(adm.fair_share);
    s->stats->flows_shed.fetch_add(n - admitted, std::memory_order_relaxed);
  }
  ++s->pending_batches;
  s->pending_flows += n;
  if (admitted == 0) {
    deliver(s, wire::encode_frame(job->reply, opts_.max_frame_bytes), n);
    return;
  }
  job->n_features = s->n_features;
  job->session = s->id;
  job->slots.resize(admitted);
  job->features.reserve(admitted * s->n_features);
  job->meta.resize(admitted);
  for (std::size_t i = 0; i < admitted; ++i) {
    job->slots[i] = static_cast<std::uint32_t>(i);
    const auto& flow = batch.flows(static_cast<int>(i));
    job->features.insert(job->features.end(), flow.features().begin(), flow.features().end());
    // The model's input: profile features, then each group it reads, in its manifest's order.
    for (const auto& [offset, length] : s->groups.slices) {
      const auto from = flow.group_features().begin() + offset;
      job->features.insert(job->features.end(), from, from + length);
    }
    fill_meta(*s, flow, job->meta[i]);
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
  auto over_cap = [&] {
    return s->pending_batches >= kMaxPendingBatches || s->pending_flows >= opts_.max_unanswered_flows ||
           s->outq_bytes >= opts_.max_buffered_bytes;
  };
  for (;;) {
    // Back-pressure: an agent that does not read its verdicts stops being read (the watchdog closes
    // it when it stays so for stall_timeout).
    while (s->open && !s->fail_close && over_cap()) {
      s->paused = true;
      s->reader_wake.expires_at(asio::steady_timer::time_point::max());
      co_await s->reader_wake.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    s->paused = false;
    if (!s->open || s->fail_close) break;
    const std::size_t n =
        co_await s->sock.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec || n == 0) break;
    s->last_read = Clock::now();
    dec.feed(std::string_view(buf.data(), n));
    std::string_view payload;
    while (!s->fail_close && dec.next(payload)) on_frame(s, payload);
    if (dec.buffered() == 0)
      s->frame_started.reset();
    else if (!s->frame_started)
      s->frame_started = s->last_read;
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
    std::size_t replies = 0, flows = 0;
    while (!s->outq.empty() && out.size() < kMaxWriteChunk) {
      out += s->outq.front().first;
      replies += s->outq.front().second ? 1 : 0;
      flows += s->outq.front().second;
      s->outq.pop_front();
    }
    co_await asio::async_write(s->sock, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    s->last_write = Clock::now();
    s->outq_bytes -= std::min(s->outq_bytes, out.size());
    s->pending_batches -= replies;
    s->pending_flows -= std::min(s->pending_flows, flows);
    wake(s->reader_wake);
  }
  s->open = false;
  s->sock.shutdown(asio::socket_base::shutdown_both, ec);
  s->sock.close(ec);
  wake(s->reader_wake);
  if (s->accepted) {
    accepted_.fetch_sub(1);
    spdlog::info("session {}: agent '{}' disconnected", s->id, s->agent_id);
    std::lock_guard lock(stats_mu_);
    std::erase(stats_, s->stats);
  }
  sessions_.erase(s);
}

void AgentSessions::collect(std::vector<metrics::Sample>& out) const {
  std::lock_guard lock(stats_mu_);
  auto family = [&](const char* name, const char* help, metrics::Type type, auto value) {
    for (const auto& st : stats_) {
      metrics::Sample x;
      x.name = name;
      x.key = name;
      x.help = help;
      x.type = type;
      x.in_line = false;
      x.labels = {{"session", std::to_string(st->id)}, {"agent", st->agent}};
      if (type == metrics::Type::counter)
        x.counter = value(*st);
      else
        x.gauge = static_cast<std::int64_t>(value(*st));
      out.push_back(std::move(x));
    }
  };
  family("flowguard_infer_session_flows_received_total", "Flows received, per agent session",
         metrics::Type::counter, [](const SessionStats& s) { return s.flows_received.load(); });
  family("flowguard_infer_session_flows_shed_total",
         "Flows answered SHED at admission (queue full or over the session's fair share), per agent session",
         metrics::Type::counter, [](const SessionStats& s) { return s.flows_shed.load(); });
  family("flowguard_infer_session_verdicts_sent_total", "Verdicts handed to the session writer",
         metrics::Type::counter, [](const SessionStats& s) { return s.verdicts_sent.load(); });
  family("flowguard_infer_session_queued_flows", "Flows of the session waiting for inference",
         metrics::Type::gauge, [this](const SessionStats& s) { return batcher_.queued_for(s.id); });
}

void AgentSessions::broadcast_model_changed(const v1::ModelInfo& info) {
  v1::ServerMessage m;
  *m.mutable_model_changed() = info;
  for (const auto& s : sessions_)
    if (s->accepted && s->open && !s->fail_close) send(*s, m);
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
