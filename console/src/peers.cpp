#include "peers.hpp"

#include "control_client.hpp"
#include "metrics_proto.hpp"

#include <fmt/format.h>

namespace flowguard::console {

std::string_view peer_name(Peer p) { return p == Peer::capture ? "flowguard-capture" : "flowguard-infer"; }

Result<v1::ControlResponse> Peers::call(Peer p, const v1::ControlRequest& request) const {
  const std::string& path = p == Peer::capture ? options_.capture_socket : options_.infer_socket;
  if (path.empty() || path == "none")
    return Error(ErrorCode::unavailable, fmt::format("no {} control socket configured", peer_name(p)));
  const auto timeout = request.has_reload() ? options_.reload_timeout : options_.timeout;
  try {
    return control::call(path, request, timeout, std::string(peer_name(p)));
  } catch (const flowguard::Exception& e) {
    const auto code = e.error().code;
    return Error(
        code == ErrorCode::timeout || code == ErrorCode::protocol_error ? code : ErrorCode::unavailable,
        e.what());
  }
}

double Peers::rate(Rate& r, std::uint64_t value) {
  const auto now = std::chrono::steady_clock::now();
  if (!r.primed || value < r.last) {  // first sample, or the peer restarted
    r = {value, now, 0, true};
    return 0;
  }
  const double dt = std::chrono::duration<double>(now - r.at).count();
  if (dt >= 1.0) {  // polls closer than 1 s keep the previous rate (too noisy otherwise)
    r.per_second = static_cast<double>(value - r.last) / dt;
    r.last = value;
    r.at = now;
  }
  return r.per_second;
}

namespace {

v1::ControlRequest status_request() {
  v1::ControlRequest r;
  r.mutable_status();
  return r;
}
v1::ControlRequest stats_request() {
  v1::ControlRequest r;
  r.mutable_stats();
  return r;
}

json model_json(const v1::ModelInfo& m) {
  return {{"name", m.name()},
          {"version", m.version()},
          {"architecture", m.architecture()},
          {"feature_profile", m.feature_profile()},
          {"classes", m.class_names_size()},
          {"sha256", m.sha256()},
          {"loaded_at_unix_ms", m.loaded_at_unix_ms()}};
}

}  // namespace

json Peers::overview() {
  json out;
  const std::pair<Peer, const char*> peers[] = {{Peer::capture, "capture"}, {Peer::infer, "infer"}};
  metrics::Snapshot snaps[2];
  for (int i = 0; i < 2; ++i) {
    const auto [peer, key] = peers[i];
    json p{{"process", peer_name(peer)}, {"up", false}};
    auto st = call(peer, status_request());
    if (!st) {
      p["error"] = st.error().message;
    } else if (!st->ok()) {
      p["error"] = st->error();
    } else {
      const auto& s = st->status();
      p["up"] = true;
      p["version"] = s.version();
      p["uptime_ms"] = s.uptime_ms();
      if (peer == Peer::infer) {
        p["sessions"] = s.sessions();
        p["queue_depth"] = s.queue_depth();
        p["last_reload_error"] = s.last_reload_error();
        p["last_reload_unix_ms"] = s.last_reload_unix_ms();
        if (s.has_model()) out["model"] = model_json(s.model());
      }
      if (auto m = call(peer, stats_request()); m && m->ok()) snaps[i] = wire::from_proto(m->metrics());
    }
    out[key] = std::move(p);
  }
  const metrics::Snapshot& cap = snaps[0];
  const metrics::Snapshot& inf = snaps[1];
  {
    std::lock_guard lock(mu_);
    const double cap_rate = out["capture"]["up"] ? rate(capture_flows_, cap.value("flows_created")) : 0;
    const double inf_rate = out["infer"]["up"] ? rate(infer_flows_, inf.value("flows_received")) : 0;
    out["flows_per_second"] = out["capture"]["up"] ? cap_rate : inf_rate;
  }
  // Where flows or events were lost or not judged, by where it happened (stats-line keys).
  out["loss"] = {
      {"kernel_dropped", cap.value("kernel_dropped")},
      {"interface_dropped", cap.value("interface_dropped")},
      {"flows_evicted", cap.value("flows_evicted")},
      {"link_unjudged_fail_open", cap.value("unjudged")},
      {"link_shed", cap.value("shed")},
      {"events_dropped", cap.value("events_dropped")},
      {"server_shed_overload", inf.value("shed_overload")},
      {"server_shed_error", inf.value("shed_error")},
  };
  // The agent's block list itself (its blocks_active gauge is published by the capture thread, which
  // may be waiting for packets).
  out["blocks_active"] = nullptr;
  if (out["capture"]["up"]) {
    v1::ControlRequest q;
    q.mutable_blocks();
    if (auto b = call(Peer::capture, q); b && b->ok()) out["blocks_active"] = b->blocks_size();
  }
  out["judged"] = cap.value("judged");
  return out;
}

Peers::Scrape Peers::scrape() const {
  Scrape s;
  if (auto r = call(Peer::capture, stats_request()); r && r->ok()) {
    s.capture = wire::from_proto(r->metrics());
    s.capture_up = true;
  }
  if (auto r = call(Peer::infer, stats_request()); r && r->ok()) {
    s.infer = wire::from_proto(r->metrics());
    s.infer_up = true;
  }
  return s;
}

}  // namespace flowguard::console
