#include "http_server.hpp"

#include "token.hpp"
#include "web_assets.hpp"

#include "common/metrics.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace flowguard::console {
namespace {

using clock = std::chrono::steady_clock;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A fixed pool with a bounded queue. When the queue is full the acceptor thread serves the connection
// itself: it stops accepting meanwhile, so the excess waits in the kernel's (bounded) listen backlog
// instead of in an unbounded queue of ours.
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t threads, std::size_t max_queued, metrics::Counter& inline_served)
      : max_queued_(max_queued), inline_served_(inline_served) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override { shutdown(); }
  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock lock(mu_);
      if (!stop_ && jobs_.size() < max_queued_) {
        jobs_.push_back(std::move(fn));
        cv_.notify_one();
        return;
      }
    }
    inline_served_.inc();
    fn();
  }
  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping and drained
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }
  std::size_t max_queued_;
  metrics::Counter& inline_served_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
};

int http_status(ErrorCode c) {
  switch (c) {
    case ErrorCode::invalid_argument:
      return 400;
    case ErrorCode::not_found:
      return 404;
    case ErrorCode::permission_denied:
      return 403;
    case ErrorCode::already_exists:
      return 409;
    case ErrorCode::timeout:
    case ErrorCode::unavailable:
    case ErrorCode::connection_closed:
    case ErrorCode::resource_exhausted:
      return 503;
    case ErrorCode::protocol_error:
      return 502;
    case ErrorCode::io_error:
    case ErrorCode::internal:
      return 500;
  }
  return 500;
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

// A query-string integer: absent -> fallback; malformed or out of range -> nullopt (400).
std::optional<std::int64_t> int_param(const httplib::Request& req, const char* key, std::int64_t fallback,
                                      std::int64_t lo, std::int64_t hi) {
  if (!req.has_param(key)) return fallback;
  const std::string v = req.get_param_value(key);
  if (v.empty()) return fallback;
  std::int64_t out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi) return std::nullopt;
  return out;
}

bool valid_address(const std::string& a) {
  if (a.empty() || a.size() > 45) return false;
  unsigned char buf[16];
  return ::inet_pton(AF_INET, a.c_str(), buf) == 1 || ::inet_pton(AF_INET6, a.c_str(), buf) == 1;
}

// A short printable string parameter (class, action, search text).
bool valid_text(const std::string& s, std::size_t max) {
  if (s.size() > max) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// The JSON body of an action: an object, or an error answered here.
std::optional<json> json_body(const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    send_error(res, 400, "the request body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

// A string field of an action body: absent -> "", wrong type or too long -> error answered here.
std::optional<std::string> str_field(const json& body, const char* key, std::size_t max,
                                     httplib::Response& res) {
  if (!body.contains(key) || body[key].is_null()) return std::string();
  if (!body[key].is_string()) {
    send_error(res, 400, fmt::format("'{}' must be a string", key));
    return std::nullopt;
  }
  std::string v = body[key].get<std::string>();
  if (!valid_text(v, max)) {
    send_error(res, 400, fmt::format("'{}' must be printable text of at most {} bytes", key, max));
    return std::nullopt;
  }
  return v;
}

// Forwards an action to a peer and answers with its verdict: 200 + message when it did it, 501 when it
// does not support the request, 409 when it refused (e.g. the address is not blocked), 503/504 when it
// is down or silent.
void forward_action(Peers& peers, Peer peer, const v1::ControlRequest& req, httplib::Response& res) {
  auto r = peers.call(peer, req);
  if (!r) {
    send_error(res, r.error().code == ErrorCode::timeout ? 504 : http_status(r.error().code),
               r.error().message);
    return;
  }
  if (!r->ok()) {
    const std::string& e = r->error();
    // An agent without the feature says so ("... not supported ..." / "unsupported ..."), and one
    // older than the request answers an empty error.
    const bool unsupported = e.empty() || e.find("unsupported") != std::string::npos ||
                             e.find("not supported") != std::string::npos;
    send_json(res, unsupported ? 501 : 409,
              json{{"error", fmt::format("{} refused: {}", peer_name(peer),
                                         e.empty() ? "unsupported request (an older version?)" : e)}});
    return;
  }
  send_json(res, 200, json{{"ok", true}, {"message", r->message()}});
}

}  // namespace

struct ConsoleServer::Metrics {
  explicit Metrics(metrics::Registry& r)
      : ok(r.counter({"flowguard_console_http_responses_total",
                      "HTTP responses, by status class",
                      "http_2xx",
                      {{"class", "2xx"}}})),
        client_error(r.counter({"flowguard_console_http_responses_total",
                                "HTTP responses, by status class",
                                "http_4xx",
                                {{"class", "4xx"}}})),
        server_error(r.counter({"flowguard_console_http_responses_total",
                                "HTTP responses, by status class",
                                "http_5xx",
                                {{"class", "5xx"}}})),
        other(r.counter({"flowguard_console_http_responses_total",
                         "HTTP responses, by status class",
                         "http_other",
                         {{"class", "other"}}})),
        rejected(r.counter({"flowguard_console_http_rejected_total",
                            "Requests refused before routing: Host, method, token, origin or content type"})),
        actions(r.counter({"flowguard_console_actions_total",
                           "State-changing actions forwarded to a control socket (any outcome)"})),
        served_inline(r.counter({"flowguard_console_http_served_inline_total",
                                 "Connections served by the acceptor because the worker queue was full"})),
        capture_up(r.gauge({"flowguard_console_peer_up",
                            "1 when the peer's control socket answered the last call",
                            "capture_up",
                            {{"peer", "capture"}}})),
        infer_up(r.gauge({"flowguard_console_peer_up",
                          "1 when the peer's control socket answered the last call",
                          "infer_up",
                          {{"peer", "infer"}}})),
        query_us(r.histogram({"flowguard_console_query_seconds",
                              "Time of one API request that reads the event store",
                              "query_us",
                              {},
                              1e-6},
                             metrics::exponential_bounds(250, 2.0, 14))) {}  // 250 us .. 2 s
  metrics::Counter &ok, &client_error, &server_error, &other, &rejected, &actions, &served_inline;
  metrics::Gauge &capture_up, &infer_up;
  metrics::Histogram& query_us;
};

ConsoleServer::ConsoleServer(ConsoleOptions options, EventReader& events, Peers& peers)
    : options_(std::move(options)),
      events_(events),
      peers_(peers),
      m_(std::make_unique<Metrics>(registry_)),
      http_(std::make_unique<httplib::Server>()) {
  http_->set_payload_max_length(options_.max_body);
  http_->set_read_timeout(options_.io_timeout);
  http_->set_write_timeout(options_.io_timeout);
  http_->set_keep_alive_timeout(2);  // the library polls idle keep-alive sockets: keep that short
  http_->set_keep_alive_max_count(100);
  const std::size_t threads = options_.threads, queued = options_.max_queued;
  metrics::Counter& inline_served = m_->served_inline;
  http_->new_task_queue = [threads, queued, &inline_served] {
    return new BoundedPool(threads, queued, inline_served);
  };
  routes();
}

ConsoleServer::~ConsoleServer() { stop(); }

Status ConsoleServer::bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.listen);
    if (port_ < 0) return Error(ErrorCode::io_error, fmt::format("cannot bind {}:<any>", options_.listen));
  } else {
    if (!http_->bind_to_port(options_.listen, options_.port))
      return Error(ErrorCode::io_error, fmt::format("cannot bind {}:{} (in use, or not a local address?)",
                                                    options_.listen, options_.port));
    port_ = options_.port;
  }
  return {};
}

void ConsoleServer::run() { http_->listen_after_bind(); }

void ConsoleServer::stop() {
  if (http_) http_->stop();
}

bool ConsoleServer::host_allowed(const std::string& host) const {
  const std::string p = ":" + std::to_string(port_);
  if (host == "127.0.0.1" + p || host == "localhost" + p || host == "[::1]" + p) return true;
  if (host == options_.listen + p || host == "[" + options_.listen + "]" + p) return true;
  for (const auto& h : options_.allowed_hosts)
    if (host == h || host == h + p) return true;
  return false;
}

// The CSRF and authorization gate of every state-changing request. Answers and returns false on refusal.
bool ConsoleServer::check_action(const httplib::Request& req, httplib::Response& res) {
  auto refuse = [&](int status, const std::string& why) {
    m_->rejected.inc();
    send_error(res, status, why);
    return false;
  };
  // Same origin: the page's own scheme and Host (https when a TLS proxy in front serves --allow-host).
  const std::string origin = req.get_header_value("Origin");
  const std::string host = req.get_header_value("Host");
  if (!origin.empty() && origin != "http://" + host && origin != "https://" + host)
    return refuse(403, "cross-origin request refused (Origin " + origin + ")");
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none")
    return refuse(403, "cross-site request refused (Sec-Fetch-Site " + site + ")");
  if (options_.token.empty())
    return refuse(403, "actions are disabled: the console has no token (--token-file)");
  if (!req.has_header("X-Flowguard-Token")) return refuse(401, "missing X-Flowguard-Token header");
  if (!token_equal(req.get_header_value("X-Flowguard-Token"), options_.token))
    return refuse(403, "wrong token");
  const std::string type = req.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) return refuse(415, "the body must be application/json");
  return true;
}

void ConsoleServer::routes() {
  auto& h = *http_;
  // Before routing (and before any body is read): method, Host, and the action gate for POST.
  h.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    if (req.method != "GET" && req.method != "HEAD" && req.method != "POST") {
      m_->rejected.inc();
      res.set_header("Allow", "GET, HEAD, POST");
      send_error(res, 405, "method " + req.method.substr(0, 16) + " not allowed");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!host_allowed(req.get_header_value("Host"))) {
      m_->rejected.inc();
      send_error(res, 403,
                 "unexpected Host header (DNS-rebinding guard); start the console with --allow-host NAME to "
                 "serve it under another name");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "POST" && !check_action(req, res)) return httplib::Server::HandlerResponse::Handled;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  h.set_logger([this](const httplib::Request&, const httplib::Response& res) {
    if (res.status >= 200 && res.status < 300)
      m_->ok.inc();
    else if (res.status >= 400 && res.status < 500)
      m_->client_error.inc();
    else if (res.status >= 500)
      m_->server_error.inc();
    else
      m_->other.inc();
  });
  h.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("console: {} {}: {}", req.method, req.path, what);
    send_error(res, 500, "internal error: " + what);
  });
  h.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already explained itself
    const char* what = res.status == 404   ? "no such page or API"
                       : res.status == 413 ? "request body too large"
                       : res.status == 414 ? "URI too long"
                       : res.status == 400 ? "malformed request"
                                           : "error";
    send_error(res, res.status, what);
  });

  for (const WebAsset& a : web_assets()) {
    const std::string path = a.path == "/index.html" ? "/" : std::string(a.path);
    h.Get(path, [a](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(a.body), std::string(a.content_type));
    });
  }

  // Reads of the event store: timed into the query histogram, errors mapped to 4xx/5xx.
  auto timed = [this](httplib::Response& res, const std::function<Result<json>()>& fn) {
    const auto t0 = clock::now();
    auto r = fn();
    m_->query_us.observe(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count()));
    if (!r) return send_error(res, http_status(r.error().code), r.error().message);
    send_json(res, 200, *r);
  };
  // [from_ms, to_ms) of a request: default the last hour of wall time; at most 400 days.
  auto range = [](const httplib::Request& req,
                  httplib::Response& res) -> std::optional<std::pair<std::int64_t, std::int64_t>> {
    const std::int64_t now = now_ms();
    const auto to = int_param(req, "to_ms", now, 1, 1LL << 50);
    const auto from = int_param(req, "from_ms", (to ? *to : now) - 3'600'000, 0, 1LL << 50);
    if (!to || !from || *from >= *to || *to - *from > 400LL * 86'400'000) {
      send_error(res, 400, "from_ms/to_ms: integers (unix ms) with from_ms < to_ms, at most 400 days apart");
      return std::nullopt;
    }
    return std::pair{*from, *to};
  };

  h.Get("/api/overview", [this](const httplib::Request&, httplib::Response& res) {
    json out = peers_.overview();
    m_->capture_up.set(out["capture"]["up"].get<bool>() ? 1 : 0);
    m_->infer_up.set(out["infer"]["up"].get<bool>() ? 1 : 0);
    const auto t0 = clock::now();
    auto counts = events_.counts(now_ms());
    m_->query_us.observe(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count()));
    out["store"] = {{"path", events_.path()}, {"ok", counts.ok()}};
    if (counts)
      out["events"] = *counts;
    else
      out["store"]["error"] = counts.error().message;
    out["now_ms"] = now_ms();
    out["actions_enabled"] = !options_.token.empty();
    send_json(res, 200, out);
  });
  h.Get("/api/timeline", [this, timed, range](const httplib::Request& req, httplib::Response& res) {
    const auto r = range(req, res);
    if (!r) return;
    const auto buckets = int_param(req, "buckets", 60, 1, 500);
    if (!buckets) return send_error(res, 400, "buckets: an integer 1..500");
    timed(res,
          [&] { return events_.timeline(r->first * 1000, r->second * 1000, static_cast<int>(*buckets)); });
  });
  h.Get("/api/distribution", [this, timed, range](const httplib::Request& req, httplib::Response& res) {
    const auto r = range(req, res);
    if (!r) return;
    const auto top = int_param(req, "top", 10, 1, 100);
    if (!top) return send_error(res, 400, "top: an integer 1..100");
    timed(res,
          [&] { return events_.distribution(r->first * 1000, r->second * 1000, static_cast<int>(*top)); });
  });
  h.Get("/api/events", [this, timed](const httplib::Request& req, httplib::Response& res) {
    EventFilter f;
    f.cls = req.get_param_value("class");
    f.action = req.get_param_value("action");
    f.address = req.get_param_value("address");
    f.text = req.get_param_value("q");
    if (!valid_text(f.cls, 128) || !valid_text(f.action, 32) || !valid_text(f.text, 200))
      return send_error(res, 400, "class/action/q: printable text (at most 128/32/200 bytes)");
    if (!f.address.empty() && !valid_address(f.address))
      return send_error(res, 400, "address: an IPv4 or IPv6 address");
    const auto from = int_param(req, "from_ms", 0, 0, 1LL << 50);
    const auto to = int_param(req, "to_ms", 0, 0, 1LL << 50);
    const auto before = int_param(req, "before_id", 0, 0, INT64_MAX);
    const auto limit = int_param(req, "limit", 50, 1, options_.max_events_page);
    if (!from || !to || !before || !limit)
      return send_error(res, 400,
                        fmt::format("from_ms/to_ms/before_id: non-negative integers; limit: 1..{}",
                                    options_.max_events_page));
    f.from_us = *from * 1000;
    f.to_us = *to * 1000;
    f.before_id = *before;
    f.limit = static_cast<int>(*limit);
    timed(res, [&] { return events_.events(f); });
  });
  h.Get(R"(/api/events/(\d{1,18}))", [this, timed](const httplib::Request& req, httplib::Response& res) {
    const std::int64_t id = std::stoll(req.matches[1].str());
    timed(res, [&] { return events_.event(id); });
  });
  h.Get("/api/blocks", [this](const httplib::Request&, httplib::Response& res) {
    v1::ControlRequest q;
    q.mutable_blocks();
    auto r = peers_.call(Peer::capture, q);
    if (!r) return send_error(res, http_status(r.error().code), r.error().message);
    if (!r->ok()) return send_error(res, 502, "flowguard-capture: " + r->error());
    json list = json::array();
    std::vector<std::string> addresses;
    for (const auto& b : r->blocks()) {
      json entry{{"address", b.address()},
                 {"reason", b.reason()},
                 {"model_version", b.model_version()},
                 {"created_unix_ms", b.created_unix_ms()},
                 {"expires_unix_ms", b.expires_unix_ms()},
                 {"manual", b.manual()}};
      // Fields newer agents add to BlockEntry (evidence, side, ...) pass through as the protobuf JSON
      // mapping gives them, without a console change.
      std::string extra;
      google::protobuf::util::JsonPrintOptions jo;
      jo.preserve_proto_field_names = true;
      if (google::protobuf::util::MessageToJsonString(b, &extra, jo).ok()) {
        const json more = json::parse(extra, nullptr, false);
        if (more.is_object())
          for (const auto& [k, v] : more.items())
            if (!entry.contains(k)) entry[k] = v;
      }
      list.push_back(std::move(entry));
      if (addresses.size() < 1000) addresses.push_back(b.address());
    }
    // What the store recorded about each block (evidence columns when the agent writes them).
    auto history = events_.block_history(addresses);
    for (auto& b : list)
      if (history && history->contains(b["address"].get<std::string>()))
        b["stored"] = (*history)[b["address"].get<std::string>()];
    json out{{"blocks", std::move(list)}, {"message", r->message()}};
    if (!history) out["store_error"] = history.error().message;
    send_json(res, 200, out);
  });
  h.Get("/api/model", [this](const httplib::Request&, httplib::Response& res) {
    v1::ControlRequest q;
    q.mutable_models();
    auto r = peers_.call(Peer::infer, q);
    if (!r) return send_error(res, http_status(r.error().code), r.error().message);
    if (!r->ok()) return send_error(res, 502, "flowguard-infer: " + r->error());
    json models = json::array();
    for (const auto& m : r->models())
      models.push_back({{"name", m.info().name()},
                        {"version", m.info().version()},
                        {"architecture", m.info().architecture()},
                        {"feature_profile", m.info().feature_profile()},
                        {"sha256", m.info().sha256()},
                        {"loaded_at_unix_ms", m.info().loaded_at_unix_ms()},
                        {"path", m.path()},
                        {"serving", m.serving()}});
    send_json(res, 200, json{{"models", std::move(models)}});
  });
  h.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(prometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });

  // Actions (POST, token and origin already checked in the pre-routing handler).
  h.Post("/api/block", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    const auto address = str_field(*body, "address", 64, res);
    const auto reason = str_field(*body, "reason", 200, res);
    if (!address || !reason) return;
    if (!valid_address(*address)) return send_error(res, 400, "address: an IPv4 or IPv6 address");
    std::int64_t ttl = 0;
    if (body->contains("ttl_seconds")) {
      const auto& t = (*body)["ttl_seconds"];
      if (!t.is_number_integer() || t.get<std::int64_t>() < 0 || t.get<std::int64_t>() > 365LL * 86400)
        return send_error(res, 400, "ttl_seconds: an integer 0..31536000 (0: the agent's default)");
      ttl = t.get<std::int64_t>();
    }
    v1::ControlRequest q;
    q.mutable_block()->set_address(*address);
    q.mutable_block()->set_ttl_seconds(static_cast<std::uint32_t>(ttl));
    q.mutable_block()->set_reason(reason->empty() ? "manual (console)" : *reason);
    m_->actions.inc();
    spdlog::info("console: block {} ttl {} from {}", *address, ttl, req.remote_addr);
    forward_action(peers_, Peer::capture, q, res);
  });
  h.Post("/api/unblock", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    const auto address = str_field(*body, "address", 64, res);
    if (!address) return;
    if (!valid_address(*address)) return send_error(res, 400, "address: an IPv4 or IPv6 address");
    v1::ControlRequest q;
    q.mutable_unblock()->set_address(*address);
    m_->actions.inc();
    spdlog::info("console: unblock {} from {}", *address, req.remote_addr);
    forward_action(peers_, Peer::capture, q, res);
  });
  h.Post("/api/reload", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body) return;
    const auto path = str_field(*body, "path", 4096, res);
    if (!path) return;
    v1::ControlRequest q;
    q.mutable_reload()->set_path(*path);
    m_->actions.inc();
    spdlog::info("console: reload '{}' from {}", *path, req.remote_addr);
    forward_action(peers_, Peer::infer, q, res);
  });
  h.Post(R"(/api/alerts/(\d{1,18})/false-positive)",
         [this](const httplib::Request& req, httplib::Response& res) {
           auto body = json_body(req, res);
           if (!body) return;
           const auto note = str_field(*body, "note", 1000, res);
           const auto op = str_field(*body, "operator", 100, res);
           if (!note || !op) return;
           v1::ControlRequest q;
           auto* m = q.mutable_mark_false_positive();
           m->set_alert_id(std::stoll(req.matches[1].str()));
           m->set_note(*note);
           m->set_operator_(op->empty() ? "console" : *op);
           m_->actions.inc();
           spdlog::info("console: mark alert {} false positive from {}", m->alert_id(), req.remote_addr);
           forward_action(peers_, Peer::capture, q, res);
         });
}

// Both processes' registries and the console's own, in one exposition. Families never collide: each
// process prefixes its names (flowguard_capture_, flowguard_infer_, flowguard_console_).
std::string ConsoleServer::prometheus() {
  const Peers::Scrape s = peers_.scrape();
  m_->capture_up.set(s.capture_up ? 1 : 0);
  m_->infer_up.set(s.infer_up ? 1 : 0);
  metrics::Snapshot all = s.capture;
  all.samples.insert(all.samples.end(), s.infer.samples.begin(), s.infer.samples.end());
  const metrics::Snapshot own = registry_.snapshot();
  all.samples.insert(all.samples.end(), own.samples.begin(), own.samples.end());
  return metrics::render_prometheus(all);
}

}  // namespace flowguard::console
