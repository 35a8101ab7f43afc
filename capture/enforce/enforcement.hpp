#pragma once
// Enforcement as one unit for the capture agent: options, construction and the verdict path.
//
//   verdict ──► BlockManager.apply() ──► AlertWriter.emit(outcome) ──► EVE line, console, EventStore
//   control socket ──► handle_control() ──► BlockManager block/unblock/list, counters
//
// main() (through enforce_extension.hpp) registers the options, calls Enforcement::create() after
// parsing, adds it to the verdict fan-out, and calls stop() at exit.

#include "enforce/alert_writer.hpp"
#include "enforce/block_manager.hpp"
#include "enforce/control_server.hpp"
#include "enforce/event_store.hpp"
#include "core/agent_metrics.hpp"
#include "core/verdict.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace flowguard::capture::enforce {

inline constexpr const char* kDefaultControlSocket = "/run/flowguard/capture.ctl";
inline constexpr const char* kDefaultStateDir = "/var/lib/flowguard";

struct EnforceOptions {
  std::string mode = "dry-run";  // nftables | dry-run | off
  std::uint32_t block_ttl_s = 600;
  std::uint32_t block_ttl_max_s = 86400;  // cap on the server's escalated block duration
  std::uint32_t renew_interval_s = 10;
  std::uint32_t max_blocks = 10'000;
  std::vector<std::string> allow;  // CIDRs
  std::string allowlist_file;
  bool no_host_allowlist = false;                      // loopback stays allowlisted regardless
  std::string control_socket = kDefaultControlSocket;  // "none" disables
  std::size_t control_max_connections = 16;
  unsigned control_idle_timeout_ms = 10000;
  std::vector<std::string> control_allow_groups;  // peers allowed besides root and our user (SO_PEERCRED)
  std::string state_dir = kDefaultStateDir;            // "none" disables persistence
  std::string alerts_path;
  double alert_interval_s = 1.0;
  bool quiet_alerts = false;
  std::string events_path;
  std::uint32_t events_retention_days = 30;
  std::string nft_table = "flowguard";
  // Not an option: the agent's feature layout, set by the enforce extension so the event store can keep
  // each alert's features for operator feedback.
  FeatureSchema feature_schema;
  // Set by register_enforce_options(): an explicit path that cannot be used is a start-up error,
  // the built-in default only a warning (so replaying a pcap as an ordinary user just works).
  bool control_socket_explicit = false;
  bool state_dir_explicit = false;
};

// Registers --enforce, --block-ttl, --block-renew-interval, --max-blocks, --allow, --allowlist,
// --no-host-allowlist, --control-socket, --state-dir, --alerts, --alert-interval, --quiet-alerts,
// --events, --events-retention-days, --nft-table in an "Enforcement" group. Returns the options whose
// explicit use must be checked after parsing (see mark_explicit()).
struct EnforceOptionHandles {
  CLI::Option* control_socket = nullptr;
  CLI::Option* state_dir = nullptr;
};
EnforceOptionHandles register_enforce_options(CLI::App& app, EnforceOptions& options);
void mark_explicit(const EnforceOptionHandles& handles, EnforceOptions& options);

EnforceMode parse_mode(const std::string& text);  // throws std::invalid_argument

class Enforcement final : public VerdictSink {
 public:
  // Builds everything from the options and starts it (nftables table, control socket, event store
  // writer). Throws flowguard::Exception with a precise message on any start-up failure.
  // Enforcement registers its counters in `metrics` (the agent's registry, published by the capture
  // thread); the control socket's `status` and `stats` answer from that registry's snapshot. Without
  // one (tests, tools) it keeps a registry of its own and publishes it on each request.
  static std::unique_ptr<Enforcement> create(const EnforceOptions& options, std::string version,
                                             AgentMetrics* metrics = nullptr);
  ~Enforcement() override;

  void on_verdict(const FlowVerdict& verdict) override;
  flowguard::v1::ControlResponse handle_control(const flowguard::v1::ControlRequest& request);
  void stop();

  BlockManager& blocks() { return *blocks_; }
  EventStore* events() { return events_.get(); }
  AlertWriter& alerts() { return *alerts_; }
  ControlServer* control() { return control_.get(); }

 private:
  Enforcement() = default;

  void register_metrics(AgentMetrics& metrics);
  ControlResult mark_false_positive(const flowguard::v1::MarkFalsePositiveRequest& request);
  metrics::Snapshot metrics_snapshot();

  std::string version_;
  std::unique_ptr<AgentMetrics> own_metrics_;  // only when create() was given none
  AgentMetrics* metrics_ = nullptr;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::unique_ptr<EventStore> events_;
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<AlertWriter> alerts_;
  std::unique_ptr<ControlServer> control_;
  std::atomic<std::uint64_t> verdicts_{0};
  bool stopped_ = false;
};

}  // namespace flowguard::capture::enforce
