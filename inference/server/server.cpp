// Boost 1.74 Asio with C++20 on GCC 12 needs <utility> first.
#include <utility>

#include "server.hpp"

#include "flowguard/v1/control.pb.h"
#include "framing.hpp"
#include "handshake.hpp"

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <unordered_set>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "0.0.0"
#endif

namespace flowguard::inference {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

// Unanswered FlowBatches a session may have outstanding before the server stops reading its socket.
constexpr std::size_t kMaxPendingBatches = 256;
constexpr std::size_t kMaxWriteChunk = 1u << 20;
constexpr std::size_t kModelHistory = 16;

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Session {
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
  std::size_t n_features = 0;
  std::string agent_id;
  std::uint64_t id = 0;
};

void wake(asio::steady_timer& t) { t.cancel(); }

// File names in a buffer of inotify records. A plain function, not a coroutine: the headers are copied
// out with memcpy (GCC 12 does not honour alignas() for arrays in coroutine frames).
std::vector<std::string> inotify_names(const char* data, std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
    inotify_event ev{};
    std::memcpy(&ev, data + off, sizeof(ev));
    const std::size_t name_at = off + sizeof(inotify_event);
    off = name_at + ev.len;
    if (ev.len == 0 || off > n) continue;
    names.emplace_back(data + name_at, ::strnlen(data + name_at, ev.len));
  }
  return names;
}

}  // namespace

std::string default_control_path(const std::string& socket_path) {
  const std::string suffix = ".sock";
  if (socket_path.size() > suffix.size() &&
      socket_path.compare(socket_path.size() - suffix.size(), suffix.size(), suffix) == 0)
    return socket_path.substr(0, socket_path.size() - suffix.size()) + ".ctl";
  return socket_path + ".ctl";
}

void prepare_socket_path(const std::string& path, const std::string& what) {
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw StartupError(fmt::format("{} path '{}' is too long for a Unix socket ({} bytes max)", what, path,
                                   sizeof(sockaddr_un::sun_path) - 1));
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code fec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, fec))
    throw StartupError(fmt::format("cannot create {} '{}': directory '{}' does not exist", what, path, dir.string()));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw StartupError(fmt::format("cannot inspect {} '{}': {}", what, path, std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode))
    throw StartupError(fmt::format("{} path '{}' exists and is not a socket; refusing to replace it", what, path));
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw StartupError(fmt::format("socket(): {}", std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::close(fd);
  if (rc == 0)
    throw StartupError(fmt::format("another server is already listening on {} '{}'; stop it first", what, path));
  if (err != ECONNREFUSED && err != ENOENT)
    throw StartupError(fmt::format("cannot probe existing {} '{}': {}", what, path, std::strerror(err)));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw StartupError(fmt::format("cannot remove stale {} '{}': {}", what, path, std::strerror(errno)));
  spdlog::warn("removed stale {} '{}' (nothing was listening)", what, path);
}

struct Server::Impl {
  Impl(ServerOptions o, std::shared_ptr<const Model> initial, Policy p)
      : opts(std::move(o)),
        policy(std::move(p)),
        holder(std::move(initial)),
        batcher(opts.batch, holder, policy, counters),
        data_acc(ioc),
        ctl_acc(ioc),
        signals(ioc),
        loader(1) {
    if (opts.control_path.empty()) opts.control_path = default_control_path(opts.socket_path);
    remember(holder.get());
    warn_unknown_policy_classes(*holder.get());
  }

  void warn_unknown_policy_classes(const Model& m) const {
    for (const auto& cls : policy.unknown_classes(m.manifest.class_names))
      spdlog::warn("policy names class '{}', which model {} {} does not have: that rule never applies", cls,
                   m.info.name(), m.info.version());
  }

  ServerOptions opts;
  Policy policy;
  ServeCounters counters;
  ModelHolder holder;
  Batcher batcher;
  asio::io_context ioc;
  local::acceptor data_acc, ctl_acc;
  asio::signal_set signals;
  asio::thread_pool loader;
  std::unique_ptr<asio::posix::stream_descriptor> watch_fd;
  std::unordered_set<std::shared_ptr<Session>> sessions;  // io thread only
  std::unordered_set<std::shared_ptr<local::socket>> controls;
  std::atomic<std::uint32_t> accepted_sessions{0};
  std::uint64_t next_session_id = 1;
  bool stopping = false;
  bool bound_data = false, bound_ctl = false;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::mutex reload_mu;  // serializes reloads; guards the fields below
  std::string last_reload_error;
  std::int64_t last_reload_ms = 0;
  std::deque<std::pair<v1::ModelInfo, std::string>> history;  // models served in this run, newest first

  std::vector<std::int64_t> warmup_batches() const {
    std::vector<std::int64_t> b{1};
    if (opts.batch.max_batch > 1) b.push_back(static_cast<std::int64_t>(opts.batch.max_batch));
    return b;
  }

  void remember(const std::shared_ptr<const Model>& m) {
    history.emplace_front(m->info, m->path);
    if (history.size() > kModelHistory) history.pop_back();
  }

  // ------------------------------------------------------------------ binding

  void bind(local::acceptor& acc, const std::string& path, const std::string& what) {
    prepare_socket_path(path, what);
    error_code ec;
    acc.open(local(), ec);
    // Create the socket file without world access from the first instant, then make the mode exact.
    const mode_t old = ::umask(0117);
    if (!ec) acc.bind(local::endpoint(path), ec);
    ::umask(old);
    if (ec) throw StartupError(fmt::format("cannot bind {} '{}': {}", what, path, ec.message()));
    ::chmod(path.c_str(), 0660);
    acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw StartupError(fmt::format("cannot listen on {} '{}': {}", what, path, ec.message()));
  }

  void start() {
    bind(data_acc, opts.socket_path, "agent socket");
    bound_data = true;
    try {
      bind(ctl_acc, opts.control_path, "control socket");
    } catch (...) {
      ::unlink(opts.socket_path.c_str());
      bound_data = false;
      throw;
    }
    bound_ctl = true;
    if (!opts.watch_dir.empty()) {
      const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (fd < 0 || ::inotify_add_watch(fd, opts.watch_dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        remove_socket_files();
        throw StartupError(fmt::format("cannot watch model directory '{}': {}", opts.watch_dir, std::strerror(err)));
      }
      watch_fd = std::make_unique<asio::posix::stream_descriptor>(ioc, fd);
    }
  }

  void remove_socket_files() {
    if (bound_data) ::unlink(opts.socket_path.c_str());
    if (bound_ctl) ::unlink(opts.control_path.c_str());
    bound_data = bound_ctl = false;
  }

  // ------------------------------------------------------------------ agent sessions

  awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      local::socket sock(ioc);
      co_await data_acc.async_accept(sock, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept on agent socket failed: {}", ec.message());
        continue;
      }
      auto s = std::make_shared<Session>(std::move(sock));
      s->id = next_session_id++;
      sessions.insert(s);
      asio::co_spawn(ioc, read_loop(s), asio::detached);
      asio::co_spawn(ioc, write_loop(s), asio::detached);
      asio::co_spawn(ioc, hello_watchdog(std::weak_ptr<Session>(s)), asio::detached);
    }
  }

  awaitable<void> hello_watchdog(std::weak_ptr<Session> weak) {
    asio::steady_timer t(ioc, opts.hello_timeout);
    error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    auto s = weak.lock();
    if (s && s->open && !s->hello_seen) {
      spdlog::warn("session {}: no Hello within {} ms, closing", s->id, opts.hello_timeout.count());
      protocol_error(*s, fmt::format("no Hello within {} ms", opts.hello_timeout.count()));
      s->sock.shutdown(asio::socket_base::shutdown_receive, ec);
    }
  }

  void send(Session& s, const v1::ServerMessage& msg, bool is_reply) {
    auto frame = wire::encode_frame(msg, opts.max_frame_bytes);
    if (frame.empty()) {
      spdlog::error("session {}: reply could not be encoded within {} bytes", s.id, opts.max_frame_bytes);
      return;
    }
    s.outq.emplace_back(std::move(frame), is_reply);
    wake(s.writer_wake);
  }

  void protocol_error(Session& s, const std::string& why) {
    if (s.fail_close) return;
    counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("session {} ({}): {}; closing the session", s.id, s.agent_id.empty() ? "no hello" : s.agent_id, why);
    v1::ServerMessage m;
    m.mutable_error()->set_message(why);
    send(s, m, false);
    s.fail_close = true;
    wake(s.writer_wake);
  }

  void deliver(const std::shared_ptr<Session>& s, std::string frame, std::size_t verdicts) {
    if (!s->open || s->fail_close) {
      counters.verdicts_dropped.fetch_add(verdicts, std::memory_order_relaxed);
      return;
    }
    counters.verdicts_sent.fetch_add(verdicts, std::memory_order_relaxed);
    s->outq.emplace_back(std::move(frame), true);
    wake(s->writer_wake);
  }

  void on_hello(const std::shared_ptr<Session>& s, const v1::Hello& hello) {
    if (s->hello_seen) return protocol_error(*s, "second Hello on one session");
    s->hello_seen = true;
    s->agent_id = hello.agent_id();
    const auto model = holder.get();
    v1::ServerMessage reply;
    *reply.mutable_hello_ack() = check_hello(hello, model->manifest, model->info);
    const bool ok = reply.hello_ack().accepted();
    send(*s, reply, false);
    if (ok) {
      s->accepted = true;
      s->n_features = model->n_features();
      accepted_sessions.fetch_add(1);
      counters.sessions_accepted.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("session {}: agent '{}' {} connected (model {} {})", s->id, hello.agent_id(), hello.agent_version(),
                   model->info.name(), model->info.version());
    } else {
      counters.sessions_refused.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("session {}: refused: {}", s->id, reply.hello_ack().reason());
      s->fail_close = true;
    }
  }

  void on_flows(const std::shared_ptr<Session>& s, v1::FlowBatch& batch) {
    if (!s->accepted) return protocol_error(*s, "FlowBatch before an accepted Hello");
    const auto n = static_cast<std::size_t>(batch.flows_size());
    if (n > kMaxFlowsPerBatch)
      return protocol_error(*s, fmt::format("FlowBatch of {} flows exceeds max_batch_flows {}", n, kMaxFlowsPerBatch));
    for (const auto& f : batch.flows())
      if (static_cast<std::size_t>(f.features_size()) != s->n_features)
        return protocol_error(*s, fmt::format("flow {} has {} features, the handshake agreed on {}", f.flow_id(),
                                              f.features_size(), s->n_features));
    counters.flow_batches.fetch_add(1, std::memory_order_relaxed);
    counters.flows_received.fetch_add(n, std::memory_order_relaxed);

    auto job = std::make_unique<Job>();
    auto* vb = job->reply.mutable_verdicts();
    vb->set_batch_seq(batch.batch_seq());
    vb->mutable_verdicts()->Reserve(static_cast<int>(n));
    for (const auto& f : batch.flows()) vb->add_verdicts()->set_flow_id(f.flow_id());
    const std::size_t admitted = batcher.reserve(n);
    if (admitted < n) {
      const auto reason = fmt::format("server overloaded: inference queue full ({} flows)", batcher.options().max_queue);
      for (std::size_t i = admitted; i < n; ++i) make_shed(*vb->mutable_verdicts(static_cast<int>(i)), reason);
      counters.shed_overload.fetch_add(n - admitted, std::memory_order_relaxed);
    }
    ++s->pending_batches;
    if (admitted == 0) {
      deliver(s, wire::encode_frame(job->reply, opts.max_frame_bytes), n);
      return;
    }
    job->n_features = s->n_features;
    job->slots.resize(admitted);
    job->features.reserve(admitted * s->n_features);
    for (std::size_t i = 0; i < admitted; ++i) {
      job->slots[i] = static_cast<std::uint32_t>(i);
      const auto& feats = batch.flows(static_cast<int>(i)).features();
      job->features.insert(job->features.end(), feats.begin(), feats.end());
    }
    job->done = [this, s](std::string frame, std::size_t verdicts) {
      asio::post(ioc, [this, s, frame = std::move(frame), verdicts]() mutable { deliver(s, std::move(frame), verdicts); });
    };
    batcher.submit(std::move(job));
  }

  void on_frame(const std::shared_ptr<Session>& s, std::string_view payload) {
    v1::AgentMessage msg;
    std::string why;
    if (!wire::parse_payload(payload, msg, why)) return protocol_error(*s, why);
    switch (msg.body_case()) {
      case v1::AgentMessage::kHello: return on_hello(s, msg.hello());
      case v1::AgentMessage::kFlows: return on_flows(s, *msg.mutable_flows());
      default: return protocol_error(*s, "AgentMessage without a known body");
    }
  }

  awaitable<void> read_loop(std::shared_ptr<Session> s) {
    wire::FrameDecoder dec(opts.max_frame_bytes);
    std::vector<char> buf(64 * 1024);
    error_code ec;
    for (;;) {
      // Back-pressure: an agent that does not read its verdicts stops being read.
      while (s->open && !s->fail_close && s->pending_batches >= kMaxPendingBatches) {
        s->reader_wake.expires_at(asio::steady_timer::time_point::max());
        co_await s->reader_wake.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      if (!s->open || s->fail_close) break;
      const std::size_t n = co_await s->sock.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec || n == 0) break;
      dec.feed(std::string_view(buf.data(), n));
      std::string_view payload;
      while (!s->fail_close && dec.next(payload)) on_frame(s, payload);
      if (dec.failed())
        protocol_error(*s, fmt::format("frame of {} bytes exceeds the maximum of {} bytes", dec.declared_length(),
                                       dec.max_frame_bytes()));
      if (s->fail_close) break;
    }
    s->read_done = true;
    wake(s->writer_wake);
  }

  awaitable<void> write_loop(std::shared_ptr<Session> s) {
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
      accepted_sessions.fetch_sub(1);
      spdlog::info("session {}: agent '{}' disconnected", s->id, s->agent_id);
    }
    sessions.erase(s);
  }

  void broadcast_model_changed(const v1::ModelInfo& info) {
    v1::ServerMessage m;
    *m.mutable_model_changed() = info;
    for (const auto& s : sessions)
      if (s->accepted && s->open && !s->fail_close) send(*s, m, false);
  }

  // ------------------------------------------------------------------ reload

  ReloadResult do_reload(const std::string& requested) {
    std::lock_guard lock(reload_mu);
    const std::string path = requested.empty() ? opts.model_path : requested;
    auto fail = [&](const std::string& why) {
      last_reload_error = why;
      last_reload_ms = unix_ms_now();
      counters.reloads_failed.fetch_add(1, std::memory_order_relaxed);
      const auto cur = holder.get();
      spdlog::error("reload refused, still serving {} {}: {}", cur->info.name(), cur->info.version(), why);
      return ReloadResult{false, why};
    };
    if (path.empty()) return fail("no model file given and no --model configured");
    std::shared_ptr<const Model> next;
    try {
      next = load_model(path, warmup_batches());
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    const auto cur = holder.get();
    const auto diff = feature_schema_difference(cur->manifest.feature_profile, cur->manifest.feature_names,
                                                next->manifest.feature_profile, next->manifest.feature_names);
    if (const auto agents = accepted_sessions.load(); !diff.empty() && agents > 0)
      return fail(fmt::format("'{}' ({} {}) has a different feature schema than the serving model and {} agent(s) "
                              "are connected: {}",
                              path, next->info.name(), next->info.version(), agents, diff));
    holder.exchange(next);
    warn_unknown_policy_classes(*next);
    last_reload_error.clear();
    last_reload_ms = unix_ms_now();
    remember(next);
    counters.reloads_ok.fetch_add(1, std::memory_order_relaxed);
    auto msg = fmt::format("now serving {} {} (sha256 {}) from '{}', replacing {} {}", next->info.name(),
                           next->info.version(), next->info.sha256().substr(0, 12), path, cur->info.name(),
                           cur->info.version());
    spdlog::info("{}", msg);
    asio::post(ioc, [this, info = next->info] { broadcast_model_changed(info); });
    return ReloadResult{true, msg};
  }

  awaitable<ReloadResult> reload_async(std::string path) {
    // The load runs on the loader thread; this coroutine waits on a timer the loader cancels (via the io
    // thread) when it is done. Plain handlers only: no coroutine frame ever crosses threads.
    auto result = std::make_shared<ReloadResult>();
    auto done = std::make_shared<asio::steady_timer>(ioc, asio::steady_timer::time_point::max());
    asio::post(loader, [this, path = std::move(path), result, done] {
      *result = do_reload(path);
      asio::post(ioc, [done] { done->cancel(); });
    });
    error_code ec;
    co_await done->async_wait(asio::redirect_error(use_awaitable, ec));
    co_return *result;
  }

  awaitable<void> reload_and_log(std::string path, std::string origin) {
    spdlog::info("reload requested by {}: '{}'", origin, path.empty() ? opts.model_path : path);
    co_await reload_async(std::move(path));
  }

  awaitable<void> signal_loop() {
    for (;;) {
      error_code ec;
      const int sig = co_await signals.async_wait(asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      if (sig == SIGHUP) {
        asio::co_spawn(ioc, reload_and_log("", "SIGHUP"), asio::detached);
      } else {
        spdlog::info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        begin_shutdown();
        co_return;
      }
    }
  }

  awaitable<void> watch_loop() {
    std::vector<char> buf(16 * 1024);
    for (;;) {
      error_code ec;
      const std::size_t n = co_await watch_fd->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      for (const auto& name : inotify_names(buf.data(), n)) {
        // Only finished bundles: save_bundle() writes "<name>.tmp.<pid>" and renames it to "<name>".
        if (name.size() < 4 || name.compare(name.size() - 3, 3, ".pt") != 0 || name.front() == '.') continue;
        const auto path = (std::filesystem::path(opts.watch_dir) / name).string();
        asio::co_spawn(ioc, reload_and_log(path, "--watch"), asio::detached);
      }
    }
  }

  // ------------------------------------------------------------------ control socket

  awaitable<void> control_accept_loop() {
    for (;;) {
      error_code ec;
      auto sock = std::make_shared<local::socket>(ioc);
      co_await ctl_acc.async_accept(*sock, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        continue;
      }
      controls.insert(sock);
      asio::co_spawn(ioc, control_session(sock), asio::detached);
    }
  }

  void fill_status(v1::Status& st) {
    const auto model = holder.get();
    st.set_process("flowguard-infer");
    st.set_version(FLOWGUARD_VERSION);
    st.set_uptime_ms(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
    *st.mutable_model() = model->info;
    st.set_sessions(accepted_sessions.load());
    st.set_queue_depth(batcher.queued_flows());
    {
      std::lock_guard lock(reload_mu);
      st.set_last_reload_error(last_reload_error);
      st.set_last_reload_unix_ms(last_reload_ms);
    }
    for (const auto& [k, v] : counters.snapshot()) {
      auto* c = st.add_counters();
      c->set_name(k);
      c->set_value(v);
    }
  }

  awaitable<v1::ControlResponse> handle_control(const v1::ControlRequest& req) {
    counters.control_requests.fetch_add(1, std::memory_order_relaxed);
    v1::ControlResponse resp;
    switch (req.body_case()) {
      case v1::ControlRequest::kStatus:
        resp.set_ok(true);
        fill_status(*resp.mutable_status());
        break;
      case v1::ControlRequest::kReload: {
        auto r = co_await reload_async(req.reload().path());
        resp.set_ok(r.ok);
        if (r.ok) resp.set_message(r.message);
        else resp.set_error(r.message);
        break;
      }
      case v1::ControlRequest::kModels: {
        resp.set_ok(true);
        const auto serving = holder.get();
        std::lock_guard lock(reload_mu);
        for (const auto& [info, path] : history) {
          auto* e = resp.add_models();
          *e->mutable_info() = info;
          e->set_path(path);
          e->set_serving(info.sha256() == serving->info.sha256() &&
                         info.loaded_at_unix_ms() == serving->info.loaded_at_unix_ms());
        }
        break;
      }
      case v1::ControlRequest::kStats:
        resp.set_ok(true);
        for (const auto& [k, v] : counters.snapshot()) {
          auto* c = resp.add_stats();
          c->set_name(k);
          c->set_value(v);
        }
        break;
      case v1::ControlRequest::kBlocks:
      case v1::ControlRequest::kBlock:
      case v1::ControlRequest::kUnblock:
        resp.set_ok(false);
        resp.set_error("block lists are served by the capture agent (flowguard-capture), not by flowguard-infer");
        break;
      default:
        resp.set_ok(false);
        resp.set_error("empty or unknown control request");
    }
    co_return resp;
  }

  awaitable<void> control_session(std::shared_ptr<local::socket> sock) {
    wire::FrameDecoder dec(1u << 20);
    std::vector<char> buf(16 * 1024);
    error_code ec;
    bool done = false;
    while (!done) {
      const std::size_t n = co_await sock->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec || n == 0) break;
      dec.feed(std::string_view(buf.data(), n));
      std::string_view payload;
      std::vector<std::string> frames;
      while (dec.next(payload)) {
        v1::ControlRequest req;
        std::string why;
        v1::ControlResponse resp;
        if (!wire::parse_payload(payload, req, why)) {
          resp.set_ok(false);
          resp.set_error(why);
          done = true;
        } else {
          // Copy out before the await: the payload view dies with the next decoder call.
          resp = co_await handle_control(req);
        }
        frames.push_back(wire::encode_frame(resp));
        if (done) break;
      }
      if (dec.failed()) {
        v1::ControlResponse resp;
        resp.set_ok(false);
        resp.set_error(std::string(wire::to_string(dec.error())));
        frames.push_back(wire::encode_frame(resp));
        done = true;
      }
      for (const auto& f : frames) {
        co_await asio::async_write(*sock, asio::buffer(f), asio::redirect_error(use_awaitable, ec));
        if (ec) {
          done = true;
          break;
        }
      }
    }
    sock->close(ec);
    controls.erase(sock);
  }

  // ------------------------------------------------------------------ shutdown

  void begin_shutdown() {
    if (stopping) return;
    stopping = true;
    error_code ec;
    data_acc.close(ec);
    ctl_acc.close(ec);
    signals.cancel(ec);
    if (watch_fd) watch_fd->close(ec);
    remove_socket_files();
    // Stop reading; each session's writer still delivers the verdicts of batches already queued.
    for (const auto& s : sessions) {
      s->sock.shutdown(asio::socket_base::shutdown_receive, ec);
      wake(s->reader_wake);
      wake(s->writer_wake);
    }
    for (const auto& c : controls) c->close(ec);
    batcher.drain_now();
    asio::co_spawn(ioc, drain(), asio::detached);
  }

  awaitable<void> drain() {
    asio::steady_timer t(ioc);
    error_code ec;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!sessions.empty() && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    for (const auto& s : sessions) s->sock.close(ec);
    ioc.stop();
  }

  void run() {
    if (opts.handle_signals) {
      signals.add(SIGINT);
      signals.add(SIGTERM);
      signals.add(SIGHUP);
      asio::co_spawn(ioc, signal_loop(), asio::detached);
    }
    asio::co_spawn(ioc, accept_loop(), asio::detached);
    asio::co_spawn(ioc, control_accept_loop(), asio::detached);
    if (watch_fd) asio::co_spawn(ioc, watch_loop(), asio::detached);
    const auto m = holder.get();
    spdlog::info("serving model {} {} ({}, {} features, {} classes) on {} (control {})", m->info.name(),
                 m->info.version(), m->info.architecture(), m->n_features(), m->n_classes(), opts.socket_path,
                 opts.control_path);
    ioc.run();
    batcher.stop();
    loader.join();
    remove_socket_files();
    sessions.clear();
    controls.clear();
    spdlog::info("stopped");
  }
};

Server::Server(ServerOptions options, std::shared_ptr<const Model> initial, Policy policy)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(initial), std::move(policy))) {}

Server::~Server() {
  if (impl_) impl_->remove_socket_files();
}

void Server::start() { impl_->start(); }
void Server::run() { impl_->run(); }
void Server::stop() {
  asio::post(impl_->ioc, [impl = impl_.get()] { impl->begin_shutdown(); });
}
ReloadResult Server::reload(const std::string& path) { return impl_->do_reload(path); }
std::shared_ptr<const Model> Server::model() const { return impl_->holder.get(); }
const ServeCounters& Server::counters() const { return impl_->counters; }
const ServerOptions& Server::options() const { return impl_->opts; }

}  // namespace flowguard::inference
