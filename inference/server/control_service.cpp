#include "control_service.hpp"

#include "accept_guard.hpp"
#include "framing.hpp"
#include "model_manager.hpp"

#include "common/log_safe.hpp"
#include "common/throttle.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace flowguard::inference {

struct ControlService::Client {
  explicit Client(local::socket s) : sock(std::move(s)), deadline(sock.get_executor()) {}
  local::socket sock;
  asio::steady_timer deadline;  // idle / mid-frame limit, pushed back by every byte received
  std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
  bool busy = false;     // a request is being answered (a reload may take seconds): never idle
  bool partial = false;  // a frame is half received (since frame_started)
  std::chrono::steady_clock::time_point frame_started;
  bool open = true;
};

ControlService::ControlService(asio::io_context& ioc, ControlOptions options, ControlHandlers handlers)
    : ioc_(ioc), opts_(options), on_(std::move(handlers)) {}

// Full: the connection idle longest makes room (one that sent nothing, else one stuck mid-frame; never
// one whose request is being answered). Idle connections therefore never lock an operator out.
void ControlService::make_room() {
  std::shared_ptr<Client> oldest;
  auto before = [](const Client& a, const Client& b) {
    return a.partial != b.partial ? !a.partial : a.last_active < b.last_active;
  };
  for (const auto& c : clients_)
    if (c->open && !c->busy && (!oldest || before(*c, *oldest))) oldest = c;
  if (!oldest) return;
  if (opts_.refused) opts_.refused->inc();
  oldest->open = false;
  error_code ec;
  oldest->sock.close(ec);
  oldest->deadline.cancel();
  clients_.erase(oldest);  // its coroutines hold their own reference and finish on their own
}

awaitable<void> ControlService::accept_loop(local::acceptor& acceptor) {
  AcceptGuard guard(ioc_, "control socket");
  LogThrottle log_refused;
  for (;;) {
    error_code ec;
    local::socket sock(ioc_);
    co_await acceptor.async_accept(sock, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      co_await guard.failed(ec, opts_.accept_errors);
      if (stopping_) co_return;
      continue;
    }
    guard.succeeded();
    if (on_.check_peer) {
      if (auto why = on_.check_peer(sock.native_handle()); !why.empty()) {
        if (opts_.refused) opts_.refused->inc();
        std::uint64_t suppressed = 0;
        if (log_refused.allow(suppressed))
          spdlog::warn("control socket: refused a connection: {} ({} similar suppressed)", why, suppressed);
        sock.close(ec);
        continue;
      }
    }
    if (clients_.size() >= opts_.max_connections) make_room();
    if (clients_.size() >= opts_.max_connections) {
      if (opts_.refused) opts_.refused->inc();
      sock.close(ec);
      continue;
    }
    serve(std::move(sock));
  }
}

void ControlService::serve(local::socket sock) {
  auto c = std::make_shared<Client>(std::move(sock));
  clients_.insert(c);
  asio::co_spawn(ioc_, session(c), asio::detached);
  asio::co_spawn(ioc_, watchdog(c), asio::detached);
}

awaitable<void> ControlService::watchdog(std::shared_ptr<Client> c) {
  error_code ec;
  while (c->open) {
    // Mid-frame the clock runs from the frame's first byte: trickling bytes does not extend it.
    auto limit = (c->partial ? c->frame_started : c->last_active) + opts_.idle_timeout;
    if (c->busy) limit = std::max(limit, std::chrono::steady_clock::now() + opts_.idle_timeout);
    c->deadline.expires_at(limit);
    co_await c->deadline.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!c->open) break;
    if (c->busy || std::chrono::steady_clock::now() < limit) continue;
    if (opts_.timeouts) opts_.timeouts->inc();
    spdlog::debug("control socket: closing a connection {} for {} ms", c->partial ? "stopped mid-frame" : "idle",
                  opts_.idle_timeout.count());
    c->open = false;
    c->sock.close(ec);
  }
}

awaitable<v1::ControlResponse> ControlService::handle(const v1::ControlRequest& req) {
  if (on_.counted) on_.counted();
  v1::ControlResponse resp;
  switch (req.body_case()) {
    case v1::ControlRequest::kStatus:
      resp.set_ok(true);
      on_.status(*resp.mutable_status());
      break;
    case v1::ControlRequest::kReload: {
      auto r = co_await on_.reload(req.reload().path());
      resp.set_ok(r.ok);
      if (r.ok)
        resp.set_message(r.message);
      else
        resp.set_error(r.message);
      break;
    }
    case v1::ControlRequest::kModels:
      resp.set_ok(true);
      on_.models(resp);
      break;
    case v1::ControlRequest::kStats:
      resp.set_ok(true);
      on_.stats(resp);
      break;
    case v1::ControlRequest::kBlocks:
    case v1::ControlRequest::kBlock:
    case v1::ControlRequest::kUnblock:
    case v1::ControlRequest::kMarkFalsePositive:
      resp.set_ok(false);
      resp.set_error(
          "block lists and false-positive marks are served by the capture agent (flowguard-capture), not by flowguard-infer");
      break;
    default:
      resp.set_ok(false);
      resp.set_error("empty or unknown control request");
  }
  co_return resp;
}

awaitable<void> ControlService::session(std::shared_ptr<Client> c) {
  wire::FrameDecoder dec(1u << 20);
  std::vector<char> buf(16 * 1024);
  error_code ec;
  bool done = false;
  auto* sock = &c->sock;
  while (!done && c->open) {
    const std::size_t n =
        co_await sock->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec || n == 0) break;
    c->last_active = std::chrono::steady_clock::now();
    c->busy = true;
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
        resp = co_await handle(req);
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
    // The idle clock restarts when the answer is out (a long reload is not idleness).
    c->last_active = std::chrono::steady_clock::now();
    if (dec.buffered() > 0 && !c->partial) c->frame_started = c->last_active;
    c->partial = dec.buffered() > 0;
    c->busy = false;
  }
  c->open = false;
  sock->close(ec);
  c->deadline.cancel();
  clients_.erase(c);
}

void ControlService::close_all() {
  stopping_ = true;
  error_code ec;
  for (const auto& c : clients_) {
    c->open = false;
    c->sock.close(ec);
    c->deadline.cancel();
  }
}

}  // namespace flowguard::inference
