#include "link/server_link.hpp"

#include "link/codec.hpp"
#include "link/connection.hpp"
#include "link/in_flight.hpp"
#include "link/judge_scope.hpp"
#include "link/ring.hpp"

#include "common/log_safe.hpp"
#include "common/unix_socket.hpp"
#include "flowguard/v1/flowguard.pb.h"
#include "framing.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace flowguard::capture {

namespace {

using Clock = std::chrono::steady_clock;

struct AtomicCounters {
  using C = std::atomic<std::uint64_t>;
  C offered{0}, sent{0}, judged{0}, alert{0}, block{0}, shed{0};
  C out_of_scope{0};
  C queue_full{0}, server_away{0}, connection_lost{0}, missing_verdict{0}, bad_record{0}, stopped{0};
  C resent{0}, connects{0}, reconnects{0}, hello_refused{0}, server_errors{0}, unknown_verdicts{0},
      model_changes{0};
};

void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

bool write_all(int fd, const std::string& data) { return net::write_all(fd, std::string_view(data)).ok(); }

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "flowguard-capture";
  return buf;
}

}  // namespace

struct ServerLink::Impl {
  Impl(LinkOptions o, LinkSchema s, VerdictSink* vs)
      : opts(std::move(o)),
        schema(std::move(s)),
        sink(vs),
        nf(schema.feature_names.size()),
        ngf(schema.group_width()),
        ring(opts.queue_flows, nf, ngf) {
    if (opts.agent_id.empty()) opts.agent_id = host_name();
    opts.batch_flows = std::max<std::size_t>(opts.batch_flows, 1);
    if (opts.max_in_flight == 0) opts.max_in_flight = std::max(opts.queue_flows, opts.batch_flows);
    opts.max_in_flight = std::max(opts.max_in_flight, opts.batch_flows);
  }

  LinkOptions opts;
  LinkSchema schema;
  VerdictSink* sink;
  std::size_t nf;
  std::size_t ngf;  // group values per record (0: no group announced)
  Ring ring;
  AtomicCounters c;
  std::atomic<bool> connected{false}, stopping{false}, broken{false}, started{false};
  const bool waits = opts.backpressure == Backpressure::wait;
  // Batches keep their encoded frame for a re-send: always in wait mode, in fail-open mode when the
  // resend window is on (one copy per batch on the sender thread; bounded by max_in_flight).
  const bool keeps_frames = waits || opts.resend_window.count() > 0;
  bool retained = false;  // fail-open: the in-flight table of a lost connection waits for a re-send
  Clock::time_point lost_at{};
  std::atomic<bool> gave_up{false};
  WaitHooks hooks;
  metrics::Histogram* latency = nullptr;  // flow-to-verdict, microseconds (set before start())

  std::mutex mu;  // in-flight table, texts, and the condition variables below
  std::condition_variable wake_sender, progress;
  std::condition_variable room;  // wait mode: the capture thread waits here for a free ring slot
  InFlightTable inflight;
  std::size_t in_transit = 0;  // taken from the ring, not yet in `inflight` (so flush() cannot miss them)
  std::string last_error, model, failure;

  std::mutex fd_mu;
  int fd = -1;
  std::thread sender, receiver;
  std::size_t batch_limit = 0;  // min(batch_flows, server's max_batch_flows)
  std::uint64_t next_seq = 0;
  bool ever_connected = false;

  // ------------------------------------------------------------------ capture thread

  // Wait mode until the link gave up: full ring and absent server make the reader wait, not fail open.
  bool waiting() const { return waits && !gave_up.load(std::memory_order_relaxed); }

  void on_flow(const FlowReport& r) {
    add(c.offered);
    if (!opts.judge_multicast && !in_default_judge_scope(r)) return add(c.out_of_scope);
    if (!waiting() && !connected.load(std::memory_order_acquire)) return add(c.server_away);
    if (r.features.size() != nf || (ngf != 0 && r.group_features.size() != ngf)) return add(c.bad_record);
    Slot* s = ring.reserve();
    if (!s && waiting()) s = wait_for_room();
    if (!s) return add(connected.load(std::memory_order_acquire) ? c.queue_full : c.server_away);
    s->meta = r.identity();
    s->enqueued_ns = steady_ns();
    for (std::size_t i = 0; i < nf; ++i) s->features[i] = static_cast<float>(r.features[i]);
    for (std::size_t i = 0; i < ngf; ++i) s->group_features[i] = r.group_features[i];
    ring.publish();
    // Wake the sender only on the edges that matter; its timed wait covers a missed wake-up.
    const auto n = ring.size();
    if (n == 1 || n == opts.batch_flows) wake_sender.notify_one();
  }

  // Capture thread, wait mode, ring full. No allocation, no spinning: sleeps on `room`, which the sender
  // signals after each batch it takes; the 100 ms slices only poll hooks.cancelled (a signal handler
  // cannot notify). The limit counts from the last freed slot, so a slow but live server never trips it.
  Slot* wait_for_room() {
    const auto deadline = Clock::now() + opts.wait_limit;
    std::unique_lock lock(mu);
    for (;;) {
      if (Slot* s = ring.reserve()) return s;
      if (stopping.load() || (hooks.cancelled && hooks.cancelled())) return nullptr;
      const auto now = Clock::now();
      if (now >= deadline) break;
      room.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(100)));
    }
    failure = fmt::format(
        "flowguard-infer at {} {} for {} ms (--link-wait-s); giving up: the rest of the input "
        "is not judged",
        opts.socket_path,
        connected.load() ? "took no flow records"
                         : "was not reachable (" + (last_error.empty() ? "no answer" : last_error) + ")",
        opts.wait_limit.count());
    spdlog::error("server link: {}", failure);
    gave_up.store(true);
    lock.unlock();
    wake_sender.notify_all();
    if (hooks.gave_up) hooks.gave_up();
    return nullptr;
  }

  // ------------------------------------------------------------------ connection

  void set_error(const std::string& e, bool log_as_error) {
    std::lock_guard lock(mu);
    if (e != last_error) {  // the text may quote the server (its Error, a refusal reason)
      if (log_as_error)
        spdlog::error("server link: {}", log_safe(e, 512));
      else
        spdlog::warn("server link: {}", log_safe(e, 512));
    }
    last_error = e;
  }

  bool connect_and_hello() {
    auto h = connect_and_handshake(opts, make_hello(opts, schema), stopping);
    if (!h) {
      const Error& e = h.error();
      if (e.code == ErrorCode::unavailable && stopping.load()) return false;
      // Nobody there yet is ordinary (warn); garbage or a refusal is the operator's problem (error).
      const bool serious = e.code == ErrorCode::protocol_error || e.code == ErrorCode::invalid_argument;
      set_error(serious || e.code == ErrorCode::timeout || e.code == ErrorCode::connection_closed
                    ? e.message
                    : fmt::format("{} ({})", e.message,
                                  waiting() ? "flows wait for it" : "flows fail open until it is up"),
                serious);
      return false;
    }
    const v1::HelloAck* ack = &h->ack;
    if (!ack->accepted()) {
      add(c.hello_refused);
      set_error("flowguard-infer refused this agent: " + ack->reason(), true);
      return false;
    }
    const int s = h->fd.release();
    wire::FrameDecoder dec = std::move(h->decoder);
    batch_limit =
        std::min<std::size_t>(opts.batch_flows, ack->max_batch_flows() ? ack->max_batch_flows() : 4096);
    {
      std::lock_guard lock(mu);
      model = ack->model().name() + " " + ack->model().version();
      last_error.clear();
    }
    {
      std::lock_guard lock(fd_mu);
      fd = s;
    }
    add(c.connects);
    if (ever_connected) add(c.reconnects);
    ever_connected = true;
    spdlog::info("server link: connected to flowguard-infer at {} (model {} {})", opts.socket_path,
                 log_safe(ack->model().name()), log_safe(ack->model().version()));
    broken.store(false);
    connected.store(true, std::memory_order_release);
    receiver = std::thread([this, s, d = std::move(dec)]() mutable { receive_loop(s, std::move(d)); });
    return true;
  }

  // The socket is closed. Everything in flight and queued becomes unjudged, except in wait mode while
  // running: then it stays for the next connection (resend_in_flight()).
  void disconnect(std::atomic<std::uint64_t>& in_flight_reason, std::atomic<std::uint64_t>& queued_reason) {
    connected.store(false, std::memory_order_release);
    {
      std::lock_guard lock(fd_mu);
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
    if (receiver.joinable()) receiver.join();
    {
      std::lock_guard lock(fd_mu);
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    broken.store(false);
    if (waiting() && !stopping.load()) return;
    if (!waits && !stopping.load() && opts.resend_window.count() > 0) {
      // Fail-open: what was in flight is kept (bounded, oldest dropped first) for a re-send if the
      // server is back soon; the queue fails open as before (live packets cannot wait).
      {
        std::lock_guard lock(mu);
        add(in_flight_reason, inflight.trim_oldest(opts.resend_max_flows));
        retained = inflight.flows() > 0;
      }
      lost_at = Clock::now();
      drain_ring(queued_reason);
      return;
    }
    {
      std::lock_guard lock(mu);
      add(in_flight_reason, inflight.clear());
    }
    drain_ring(queued_reason);
  }

  // Wait mode, after a reconnect: the batches the lost connection left unanswered go first, oldest
  // first, under their old sequence numbers (copies: the receiver may erase an entry once answered).
  void resend_in_flight() {
    std::vector<std::pair<std::size_t, std::string>> frames;
    {
      std::lock_guard lock(mu);
      frames = inflight.frames();
    }
    int s;
    {
      std::lock_guard lock(fd_mu);
      s = fd;
    }
    for (const auto& [count, frame] : frames) {
      if (!write_all(s, frame)) return broken.store(true);
      add(c.resent, count);
    }
  }

  // Fail-open: the retained in-flight records are too old for a re-send: count them lost.
  void expire_retained(bool force) {
    if (!retained || (!force && Clock::now() - lost_at <= opts.resend_window)) return;
    {
      std::lock_guard lock(mu);
      add(c.connection_lost, inflight.clear());
    }
    retained = false;
    progress.notify_all();
  }

  void drain_ring(std::atomic<std::uint64_t>& reason) {
    std::size_t n = 0;
    while (ring.front()) {
      ring.pop();
      ++n;
    }
    if (n) add(reason, n);
    progress.notify_all();
  }

  // ------------------------------------------------------------------ sender thread

  void send_loop() {
    auto backoff = opts.reconnect_min;
    v1::AgentMessage msg;
    std::string frame;
    std::optional<Clock::time_point> first_seen;
    while (!stopping.load()) {
      if (broken.load()) {
        spdlog::warn("server link: connection to flowguard-infer lost; reconnecting");
        disconnect(c.connection_lost, c.server_away);
        first_seen.reset();
        continue;
      }
      if (!connected.load()) {
        if (!waiting()) {
          drain_ring(c.server_away);
          expire_retained(false);
        }
        if (connect_and_hello()) {
          backoff = opts.reconnect_min;
          if (!waiting()) expire_retained(false);
          if (waiting() || retained) resend_in_flight();
          retained = false;
          continue;
        }
        std::unique_lock lock(mu);
        wake_sender.wait_for(lock, backoff, [&] { return stopping.load(); });
        backoff = std::min(backoff * 2, opts.reconnect_max);
        continue;
      }
      const std::size_t queued = ring.size();
      const auto now = Clock::now();
      const auto delay = std::chrono::milliseconds(opts.delay_ms);
      if (queued == 0) {
        first_seen.reset();
        std::unique_lock lock(mu);
        wake_sender.wait_for(lock, std::max(delay, std::chrono::milliseconds(20)),
                             [&] { return stopping.load() || broken.load() || ring.size() > 0; });
        continue;
      }
      if (!first_seen) first_seen = now;
      if (queued < batch_limit && now - *first_seen < delay) {
        std::unique_lock lock(mu);
        wake_sender.wait_until(lock, *first_seen + delay, [&] {
          return stopping.load() || broken.load() || ring.size() >= batch_limit;
        });
        continue;
      }
      const std::size_t n = std::min(queued, batch_limit);
      {
        // Bounded in flight: wait for verdicts before sending more (the ring absorbs, then drops).
        std::unique_lock lock(mu);
        if (inflight.flows() + n > opts.max_in_flight) {
          wake_sender.wait_for(lock, std::chrono::milliseconds(50));
          continue;
        }
      }
      send_batch(n, msg, frame);
      first_seen.reset();
      if (ring.size() > 0) first_seen = Clock::now();
    }
    disconnect(c.stopped, c.stopped);
    expire_retained(true);  // (already cleared by disconnect() when stopping; kept for clarity)
  }

  void send_batch(std::size_t n, v1::AgentMessage& msg, std::string& frame) {
    msg.Clear();  // keeps the FlowRecord objects and their buffers for reuse
    auto* fb = msg.mutable_flows();
    const auto seq = ++next_seq;
    fb->set_batch_seq(seq);
    {
      std::lock_guard lock(mu);
      in_transit = n;
    }
    InFlightBatch entry;
    entry.metas.reserve(n);
    entry.enqueued_ns.reserve(n);
    entry.n_features = nf;
    entry.features.reserve(n * nf);
    entry.group_offsets.reserve(n + 1);
    entry.group_offsets.push_back(0);
    for (std::size_t i = 0; i < n; ++i) {
      Slot* s = ring.front();
      if (!s) break;
      v1::FlowRecord& rec = *fb->add_flows();
      encode_record(s->meta, s->features, s->group_features, rec);
      entry.metas.push_back(s->meta);
      entry.enqueued_ns.push_back(s->enqueued_ns);
      // Kept beside the identity (sender thread, one copy per batch): an alert's verdict hands them
      // to the event store. Taken from the encoded record so feature groups come along as sent.
      entry.features.insert(entry.features.end(), rec.features().begin(), rec.features().end());
      entry.group_features.insert(entry.group_features.end(), rec.group_features().begin(),
                                  rec.group_features().end());
      entry.group_offsets.push_back(static_cast<std::uint32_t>(entry.group_features.size()));
      ring.pop();
    }
    const auto count = entry.metas.size();
    frame.clear();
    const bool encoded = wire::append_frame(msg, frame) == wire::FrameError::none;
    if (encoded && keeps_frames) entry.frame = frame;
    {
      std::lock_guard lock(mu);
      if (encoded) {
        inflight.add(seq, std::move(entry));
      } else {
        add(c.bad_record, count);  // cannot happen within max_batch_flows; count rather than crash
      }
      in_transit = 0;
      if (waits) room.notify_one();
    }
    if (!encoded) return progress.notify_all();
    int s;
    {
      std::lock_guard lock(fd_mu);
      s = fd;
    }
    add(c.sent, count);
    if (s < 0 || !write_all(s, frame)) broken.store(true);
  }

  // ------------------------------------------------------------------ receiver thread

  void receive_loop(int s, wire::FrameDecoder dec) {
    char buf[65536];
    v1::ServerMessage msg;
    FlowVerdict fv;
    for (;;) {
      std::string_view payload;
      while (dec.next(payload)) {
        std::string why;
        msg.Clear();
        if (!wire::parse_payload(payload, msg, why)) {
          set_error("flowguard-infer sent a malformed message: " + why, true);
          return mark_broken();
        }
        handle(msg, fv);
      }
      if (dec.failed()) {
        set_error("flowguard-infer sent an oversized frame", true);
        return mark_broken();
      }
      const auto n = ::recv(s, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return mark_broken();
      dec.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }

  void mark_broken() {
    broken.store(true);
    connected.store(false, std::memory_order_release);
    wake_sender.notify_all();
  }

  void handle(const v1::ServerMessage& msg, FlowVerdict& fv) {
    if (msg.has_model_changed()) {
      add(c.model_changes);
      const auto& m = msg.model_changed();
      spdlog::info("server link: flowguard-infer now serves model {} {}", log_safe(m.name()),
                   log_safe(m.version()));
      std::lock_guard lock(mu);
      model = m.name() + " " + m.version();
      return;
    }
    if (msg.has_error()) {
      add(c.server_errors);
      set_error("flowguard-infer closed the session: " + msg.error().message(), true);
      return;
    }
    if (!msg.has_verdicts()) return;
    const auto& vb = msg.verdicts();
    std::optional<InFlightBatch> entry;
    {
      std::lock_guard lock(mu);
      entry = inflight.take(vb.batch_seq());
    }
    if (!entry) {
      add(c.unknown_verdicts, static_cast<std::uint64_t>(vb.verdicts_size()));
      return;
    }
    const std::int64_t now_ns = steady_ns();
    const MatchResult r = match_verdicts(*entry, vb, [&](std::size_t at, const v1::Verdict& v) {
      fv.features =
          entry->features.size() >= (at + 1) * entry->n_features
              ? std::span<const float>(entry->features).subspan(at * entry->n_features, entry->n_features)
              : std::span<const float>();
      fv.group_features =
          std::span<const float>(entry->group_features)
              .subspan(entry->group_offsets[at], entry->group_offsets[at + 1] - entry->group_offsets[at]);
      deliver(entry->metas[at], v, fv);
      if (latency)
        latency->observe(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ns - entry->enqueued_ns[at]) / 1000));
    });
    if (r.unknown) add(c.unknown_verdicts, r.unknown);
    if (r.missing) add(c.missing_verdict, r.missing);
    {
      // Only now, after the sink has seen every verdict of the batch, is the batch no longer in flight.
      std::lock_guard lock(mu);
      inflight.answered(entry->metas.size());
      if (vb.verdicts_size() > 0) {
        const auto& last = vb.verdicts(vb.verdicts_size() - 1);
        if (!last.model_version().empty()) model = last.model_name() + " " + last.model_version();
      }
    }
    wake_sender.notify_one();
    progress.notify_all();
  }

  void deliver(const FlowIdentity& m, const v1::Verdict& v, FlowVerdict& fv) {
    fv.identity() = m;
    decode_verdict(v, fv);
    switch (fv.action) {
      case VerdictAction::shed:
        add(c.shed);
        break;
      case VerdictAction::alert:
        add(c.alert), add(c.judged);
        break;
      case VerdictAction::block:
        add(c.block), add(c.judged);
        break;
      default:
        add(c.judged);
        break;
    }
    if (sink) sink->on_verdict(fv);
  }
};

ServerLink::ServerLink(LinkOptions options, LinkSchema schema, VerdictSink* sink)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(schema), sink)) {}

ServerLink::~ServerLink() { stop(); }

void ServerLink::set_wait_hooks(WaitHooks hooks) { impl_->hooks = std::move(hooks); }

void ServerLink::set_latency_histogram(metrics::Histogram* histogram) { impl_->latency = histogram; }

void ServerLink::start() {
  if (impl_->started.exchange(true)) return;
  impl_->sender = std::thread([impl = impl_.get()] { impl->send_loop(); });
}

void ServerLink::on_flow(const FlowReport& report) { impl_->on_flow(report); }

bool ServerLink::wait_connected(std::chrono::milliseconds timeout) {
  auto& i = *impl_;
  const auto deadline = Clock::now() + timeout;
  std::unique_lock lock(i.mu);
  while (!i.connected.load() && Clock::now() < deadline)
    i.progress.wait_for(lock, std::chrono::milliseconds(5));
  return i.connected.load();
}

bool ServerLink::flush(std::chrono::milliseconds idle_timeout) {
  auto& i = *impl_;
  auto deadline = Clock::now() + idle_timeout;
  std::size_t last = ~std::size_t{0};
  i.wake_sender.notify_one();
  std::unique_lock lock(i.mu);
  for (;;) {
    const std::size_t pending = i.ring.size() + i.inflight.flows() + i.in_transit;
    if (pending == 0) return true;
    if (i.gave_up.load()) return false;
    if (pending != last)
      deadline = Clock::now() + idle_timeout;  // something moved: a slow server is no stall
    last = pending;
    if (Clock::now() >= deadline) return false;
    // The sender sends a partial batch only after link-delay; nudge it, then wait for progress.
    i.progress.wait_for(lock, std::chrono::milliseconds(5));
  }
}

void ServerLink::stop() {
  auto& i = *impl_;
  if (!i.started.load() || i.stopping.exchange(true)) return;
  {
    std::lock_guard lock(i.fd_mu);
    if (i.fd >= 0) ::shutdown(i.fd, SHUT_RDWR);  // unblocks a send stuck on a server that stopped reading
  }
  {
    std::lock_guard lock(i.mu);  // a capture thread waiting for room (wait mode) returns at once
    i.room.notify_all();
  }
  i.wake_sender.notify_all();
  if (i.sender.joinable()) i.sender.join();
}

bool ServerLink::connected() const { return impl_->connected.load(std::memory_order_acquire); }

LinkCounters ServerLink::counters() const {
  const auto& a = impl_->c;
  auto v = [](const std::atomic<std::uint64_t>& x) { return x.load(std::memory_order_relaxed); };
  LinkCounters r;
  r.offered = v(a.offered);
  r.sent = v(a.sent);
  r.judged = v(a.judged);
  r.alert = v(a.alert);
  r.block = v(a.block);
  r.shed = v(a.shed);
  r.out_of_scope = v(a.out_of_scope);
  r.unjudged_queue_full = v(a.queue_full);
  r.unjudged_server_away = v(a.server_away);
  r.unjudged_connection_lost = v(a.connection_lost);
  r.unjudged_missing_verdict = v(a.missing_verdict);
  r.unjudged_bad_record = v(a.bad_record);
  r.unjudged_stopped = v(a.stopped);
  r.resent = v(a.resent);
  r.connects = v(a.connects);
  r.reconnects = v(a.reconnects);
  r.hello_refused = v(a.hello_refused);
  r.server_errors = v(a.server_errors);
  r.unknown_verdicts = v(a.unknown_verdicts);
  r.model_changes = v(a.model_changes);
  return r;
}

std::string ServerLink::last_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_error;
}

std::string ServerLink::failure() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failure;
}

std::string ServerLink::model() const {
  std::lock_guard lock(impl_->mu);
  return impl_->model;
}

std::unique_ptr<ServerLink> make_server_link(const LinkOptions& options, LinkSchema schema,
                                             VerdictSink* sink) {
  return std::make_unique<ServerLink>(options, std::move(schema), sink);
}

}  // namespace flowguard::capture
