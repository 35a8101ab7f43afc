#pragma once
// The console's two peers: the capture agent's and the inference server's control sockets
// (proto/flowguard/v1/control.proto), called with the blocking client flowguardctl uses
// (inference/control). Every call has a deadline; a peer that is down is an answer, not an exception.

#include "common/metrics.hpp"
#include "common/result.hpp"
#include "flowguard/v1/control.pb.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace flowguard::console {

using json = nlohmann::json;

enum class Peer { capture, infer };
std::string_view peer_name(Peer p);  // "flowguard-capture" | "flowguard-infer"

struct PeerOptions {
  std::string capture_socket = "/run/flowguard/capture.ctl";
  std::string infer_socket = "/run/flowguard/infer.ctl";
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds reload_timeout{120000};  // a reload loads and warms a model up
};

class Peers {
 public:
  explicit Peers(PeerOptions options) : options_(std::move(options)) {}

  // One request, one answer. Errors: unavailable (socket absent / refused), timeout, protocol_error.
  Result<v1::ControlResponse> call(Peer p, const v1::ControlRequest& request) const;

  // The health and KPI part of the overview: per peer {up, error, process, version, uptime_ms, ...},
  // the model, flows/s (from the agent's flows_created between two calls, else the server's
  // flows_received) and the loss counters (drops, shed, fail-open).
  json overview();

  // Both registries (peers that answered) for /metrics; `up` says which answered.
  struct Scrape {
    metrics::Snapshot capture, infer;
    bool capture_up = false, infer_up = false;
  };
  Scrape scrape() const;

  const PeerOptions& options() const { return options_; }

 private:
  struct Rate {
    std::uint64_t last = 0;
    std::chrono::steady_clock::time_point at{};
    double per_second = 0;
    bool primed = false;
  };
  double rate(Rate& r, std::uint64_t value);

  PeerOptions options_;
  std::mutex mu_;  // the rate state below
  Rate capture_flows_, infer_flows_;
};

}  // namespace flowguard::console
