#include "control_service.hpp"

#include "framing.hpp"
#include "model_manager.hpp"

#include <vector>

namespace flowguard::inference {

ControlService::ControlService(asio::io_context& ioc, ControlHandlers handlers)
    : ioc_(ioc), on_(std::move(handlers)) {}

awaitable<void> ControlService::accept_loop(local::acceptor& acceptor) {
  for (;;) {
    error_code ec;
    auto sock = std::make_shared<local::socket>(ioc_);
    co_await acceptor.async_accept(*sock, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    clients_.insert(sock);
    asio::co_spawn(ioc_, session(sock), asio::detached);
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

awaitable<void> ControlService::session(std::shared_ptr<local::socket> sock) {
  wire::FrameDecoder dec(1u << 20);
  std::vector<char> buf(16 * 1024);
  error_code ec;
  bool done = false;
  while (!done) {
    const std::size_t n =
        co_await sock->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
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
  }
  sock->close(ec);
  clients_.erase(sock);
}

void ControlService::close_all() {
  stopping_ = true;
  error_code ec;
  for (const auto& c : clients_) c->close(ec);
}

}  // namespace flowguard::inference
