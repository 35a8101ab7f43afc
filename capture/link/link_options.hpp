#pragma once
// Options of the agent's link to flowguard-infer. register_link_options() puts them on the agent's
// CLI11 app (flowguard-capture registers them through link_extension.hpp).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace flowguard::capture {

// What on_flow() does when the link queue is full or the server is away.
enum class Backpressure : std::uint8_t {
  automatic,  // the agent decides: wait for a capture file, fail open on a live interface
  wait,  // the capture thread waits (bounded by wait_limit); in-flight records are re-sent after a reconnect
  fail_open,  // the record is counted unjudged and capture goes on (packets on a live link cannot wait)
};

struct LinkOptions {
  std::string socket_path = "/run/flowguard/infer.sock";
  std::size_t queue_flows = 65536;  // records waiting to be sent; beyond: dropped, counted unjudged
  std::size_t batch_flows = 256;    // flows per FlowBatch (clamped to the server's max_batch_flows)
  unsigned delay_ms = 5;            // longest a record waits for its batch to fill
  std::string agent_id;             // empty: the host name
  bool judge_multicast = false;     // also send multicast/broadcast flows (see judge_scope.hpp)
  // ServerLink itself treats `automatic` as fail_open; the link extension resolves it from the source.
  Backpressure backpressure = Backpressure::automatic;
  // wait mode: longest the capture thread waits for room while nothing moves (server away or stalled)
  // before the link gives up with an error.
  std::chrono::milliseconds wait_limit{30000};
  std::string agent_version = "0.0.0";
  // Records sent and not yet answered; beyond this the sender waits for verdicts (0: queue_flows).
  std::size_t max_in_flight = 0;
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds hello_timeout{5000};
  // fail_open mode: records in flight when a connection drops are kept (at most resend_max_flows,
  // the oldest dropped first) and re-sent if a new connection is up within resend_window; later they
  // count unjudged (connection_lost). resend_window 0: never re-sent (the pre-issue-15 behaviour).
  std::chrono::milliseconds resend_window{10000};
  std::size_t resend_max_flows = 16384;
};

// A feature group the agent announces (Hello.feature_groups) and sends with every record.
struct LinkGroup {
  std::string name;
  std::vector<std::string> feature_names;
};

// The feature schema the agent announces in its Hello.
struct LinkSchema {
  std::string feature_profile;
  std::vector<std::string> feature_names;
  std::vector<LinkGroup> groups = {};  // their values are concatenated in this order (group_features)

  std::size_t group_width() const {
    std::size_t n = 0;
    for (const auto& g : groups) n += g.feature_names.size();
    return n;
  }
};

void register_link_options(CLI::App& app, LinkOptions& options);

}  // namespace flowguard::capture
