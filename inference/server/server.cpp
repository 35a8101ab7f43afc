// flowguard-infer's lifecycle: wiring the parts (metrics, model manager, batcher, agent sessions,
// control service), binding the sockets, signals, the model-directory watcher, the stats line, and the
// graceful stop (queued flows still answered, socket files removed).
#include "asio_types.hpp"

#include "server.hpp"

#include "agent_sessions.hpp"
#include "control_service.hpp"
#include "metrics_proto.hpp"

#include "common/log_safe.hpp"
#include "common/privileges.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "0.0.0"
#endif

namespace flowguard::inference {

namespace {

std::vector<std::int64_t> warmup_batches(const BatcherOptions& b) {
  std::vector<std::int64_t> w{1};
  if (b.max_batch > 1) w.push_back(static_cast<std::int64_t>(b.max_batch));
  return w;
}

ServerOptions with_default_control_path(ServerOptions o) {
  if (o.control_path.empty()) o.control_path = default_control_path(o.socket_path);
  return o;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, std::shared_ptr<const Model> initial, Policy p)
      : opts(with_default_control_path(std::move(o))),
        policy(std::move(p)),
        metrics(registry),
        holder(std::move(initial)),
        models(holder, policy, metrics, opts.model_path, warmup_batches(opts.batch), opts.max_model_bytes),
        batcher(opts.batch, holder, policy, metrics, &registry),
        sessions(ioc, session_options(opts), holder, batcher, metrics),
        control(ioc, control_options(opts), control_handlers()),
        data_acc(ioc),
        ctl_acc(ioc),
        signals(ioc),
        loader(1) {
    registry.gauge_fn(
        {"flowguard_infer_sessions", "Agent sessions open (Hello accepted)", "sessions", {}, 1.0, false},
        [this] { return static_cast<std::int64_t>(sessions.accepted()); });
    registry.gauge_fn(
        {"flowguard_infer_queue_depth_flows", "Flows waiting for inference", "queue_depth", {}, 1.0, false},
        [this] { return static_cast<std::int64_t>(batcher.queued_flows()); });
    registry.gauge_fn({"flowguard_infer_evidence_sources", "Sources in the evidence table", "evidence_sources"},
                      [this] { return static_cast<std::int64_t>(batcher.evidence().size()); });
    registry.gauge_fn({"flowguard_infer_evidence_capacity_sources", "Evidence table capacity (fixed at start)",
                       "evidence_capacity", {}, 1.0, false},
                      [this] { return static_cast<std::int64_t>(batcher.evidence().capacity()); });
    registry.gauge_fn({"flowguard_infer_evidence_table_bytes", "Memory of the evidence table (preallocated)",
                       "evidence_bytes", {}, 1.0, false},
                      [this] { return static_cast<std::int64_t>(batcher.evidence().bytes()); });
    registry.collector([this](std::vector<metrics::Sample>& out) { sessions.collect(out); });
  }

  static SessionOptions session_options(const ServerOptions& o) {
    SessionOptions s;
    s.max_frame_bytes = o.max_frame_bytes;
    s.hello_timeout = o.hello_timeout;
    s.max_sessions = o.max_sessions;
    s.frame_timeout = o.frame_timeout;
    s.idle_timeout = o.idle_timeout;
    s.max_buffered_bytes = o.max_session_buffer;
    s.max_unanswered_flows = o.max_unanswered_flows;
    s.stall_timeout = o.stall_timeout;
    return s;
  }

  ControlOptions control_options(const ServerOptions& o) {
    ControlOptions c;
    c.max_connections = o.max_control_connections;
    c.idle_timeout = o.control_idle_timeout;
    c.refused = &metrics.control_refused;
    c.accept_errors = &metrics.control_accept_errors;
    c.timeouts = &metrics.control_timeouts;
    return c;
  }

  ServerOptions opts;
  Policy policy;
  metrics::Registry registry;
  ServeMetrics metrics;
  ModelHolder holder;
  ModelManager models;
  Batcher batcher;
  asio::io_context ioc;
  AgentSessions sessions;
  ControlService control;
  local::acceptor data_acc, ctl_acc;
  asio::signal_set signals;
  asio::thread_pool loader;
  std::unique_ptr<asio::posix::stream_descriptor> watch_fd;
  bool stopping = false;
  bool bound_data = false, bound_ctl = false;
  priv::PeerPolicy data_peers, ctl_peers;  // built in start() from each socket file's group
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // ------------------------------------------------------------------ control handlers

  ControlHandlers control_handlers() {
    ControlHandlers h;
    h.status = [this](v1::Status& st) { fill_status(st); };
    h.reload = [this](std::string path) { return reload_async(std::move(path)); };
    h.models = [this](v1::ControlResponse& r) { models.fill_history(r); };
    h.stats = [this](v1::ControlResponse& r) {
      const auto snap = registry.snapshot();
      add_counters(snap, [&] { return r.add_stats(); });
      wire::to_proto(snap, *r.mutable_metrics());
    };
    h.counted = [this] { metrics.control_requests.inc(); };
    h.check_peer = [this](int fd) { return priv::check_peer(fd, ctl_peers); };
    return h;
  }

  // The plain counters (the `stats` / `status` lists older flowguardctl versions print).
  template <typename Add>
  static void add_counters(const metrics::Snapshot& snap, Add add) {
    for (const auto& s : snap.samples) {
      if (s.type != metrics::Type::counter) continue;
      auto* c = add();
      c->set_name(s.key);
      c->set_value(s.counter);
    }
  }

  void fill_status(v1::Status& st) {
    const auto model = holder.get();
    st.set_process("flowguard-infer");
    st.set_version(FLOWGUARD_VERSION);
    st.set_uptime_ms(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
            .count());
    *st.mutable_model() = model->info;
    st.set_sessions(sessions.accepted());
    st.set_queue_depth(batcher.queued_flows());
    models.fill_reload_status(st);
    add_counters(registry.snapshot(), [&] { return st.add_counters(); });
  }

  // ------------------------------------------------------------------ binding

  void bind(local::acceptor& acc, const std::string& path, const std::string& what) {
    auto fd = listen_socket_file(path, what);
    error_code ec;
    acc.assign(local(), fd.get(), ec);
    if (ec)
      throw StartupError(ErrorCode::io_error,
                         fmt::format("cannot adopt {} '{}': {}", what, path, ec.message()));
    fd.release();
  }

  void start() {
    bind(data_acc, opts.socket_path, "agent socket");
    bound_data = true;
    try {
      bind(ctl_acc, opts.control_path, "control socket");
    } catch (...) {
      remove_socket_files();
      throw;
    }
    bound_ctl = true;
    if (opts.check_peers) {
      try {
        data_peers = peer_policy(opts.socket_path);
        ctl_peers = peer_policy(opts.control_path);
      } catch (...) {
        remove_socket_files();
        throw;
      }
      sessions.set_peer_check([this](int fd) { return priv::check_peer(fd, data_peers); });
      spdlog::info("peer check: agent socket allows {}; control socket allows {}", data_peers.describe(),
                   ctl_peers.describe());
    }
    if (!opts.watch_dir.empty()) {
      const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (fd < 0 || ::inotify_add_watch(fd, opts.watch_dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        remove_socket_files();
        throw StartupError(
            Error::from_errno(fmt::format("cannot watch model directory '{}'", opts.watch_dir), err));
      }
      watch_fd = std::make_unique<asio::posix::stream_descriptor>(ioc, fd);
    }
  }

  priv::PeerPolicy peer_policy(const std::string& path) const {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) st.st_gid = ::getegid();
    return priv::make_peer_policy(opts.allow_groups, st.st_gid).value_or_throw();
  }

  void remove_socket_files() {
    if (bound_data) ::unlink(opts.socket_path.c_str());
    if (bound_ctl) ::unlink(opts.control_path.c_str());
    bound_data = bound_ctl = false;
  }

  // ------------------------------------------------------------------ reload, signals, watcher

  ReloadResult do_reload(const std::string& path) {
    return models.reload(
        path, [this] { return sessions.accepted(); },
        [this](const v1::ModelInfo& info) {
          asio::post(ioc, [this, info] { sessions.broadcast_model_changed(info); });
        });
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
    spdlog::info("reload requested by {}: '{}'", origin, log_safe(path.empty() ? opts.model_path : path, 512));
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
      const std::size_t n =
          co_await watch_fd->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      for (const auto& name : bundle_files_in_inotify_events(buf.data(), n)) {
        const auto path = (std::filesystem::path(opts.watch_dir) / name).string();
        asio::co_spawn(ioc, reload_and_log(path, "--watch"), asio::detached);
      }
    }
  }

  awaitable<void> stats_loop() {
    asio::steady_timer t(ioc);
    for (;;) {
      t.expires_after(opts.stats_interval);
      error_code ec;
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      if (ec || stopping) co_return;
      spdlog::info("stats {}", metrics::render_line(registry.snapshot()));
    }
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
    sessions.stop_reading();
    control.close_all();
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
    sessions.close_all();
    ioc.stop();
  }

  void run() {
    if (opts.handle_signals) {
      signals.add(SIGINT);
      signals.add(SIGTERM);
      signals.add(SIGHUP);
      asio::co_spawn(ioc, signal_loop(), asio::detached);
    }
    asio::co_spawn(ioc, sessions.accept_loop(data_acc), asio::detached);
    asio::co_spawn(ioc, control.accept_loop(ctl_acc), asio::detached);
    if (watch_fd) asio::co_spawn(ioc, watch_loop(), asio::detached);
    if (opts.stats_interval.count() > 0) asio::co_spawn(ioc, stats_loop(), asio::detached);
    const auto m = holder.get();
    spdlog::info("serving model {} {} ({}, {} features, {} classes) on {} (control {})", m->info.name(),
                 m->info.version(), m->info.architecture(), m->n_features(), m->n_classes(), opts.socket_path,
                 opts.control_path);
    ioc.run();
    batcher.stop();
    loader.join();
    remove_socket_files();
    sessions.clear();
    control.clear();
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
const ServeMetrics& Server::counters() const { return impl_->metrics; }
metrics::Snapshot Server::metrics() const { return impl_->registry.snapshot(); }
const ServerOptions& Server::options() const { return impl_->opts; }

}  // namespace flowguard::inference
