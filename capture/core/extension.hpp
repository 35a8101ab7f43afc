#pragma once
// The parts of the agent beyond the packet path (the server link in link/, enforcement in enforce/)
// each provide one AgentExtension. main() (app/) registers their options, starts them after parsing,
// and they plug into the packet pipeline only through FlowSink (flow records in) and VerdictSink
// (verdicts out). Both are always built into flowguard-capture; --no-server and --enforce off are
// run-time choices. See app/pipeline.hpp for the order of events.
//
// This header lives in core/ so that link/ and enforce/ depend downward on it, never on app/.

#include "core/agent_metrics.hpp"
#include "core/feature_group.hpp"
#include "core/flow_report.hpp"
#include "core/verdict.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace flowguard::capture {

// The packet input as the extensions see it (app/ adapts the PacketSource, which core/ cannot name).
class InputControl {
 public:
  virtual ~InputControl() = default;
  virtual bool is_live() const = 0;         // an interface, not a file
  virtual bool stop_requested() const = 0;  // SIGINT/SIGTERM or request_stop() already happened
  virtual void request_stop() = 0;          // end the input early (the pipeline then finishes normally)
};

// What an extension sees at start-up. Sinks are not owned: the extension keeps them alive until stop().
struct AgentContext {
  std::string_view profile_name;                    // the feature profile in use ("corrected", ...)
  std::span<const std::string_view> feature_names;  // the order of FlowReport::features
  std::vector<FlowSink*>& flow_sinks;               // add a sink to receive every flow record
  VerdictFanout& verdicts;                          // the link delivers here; enforcement add()s to it
  AgentMetrics& metrics;                            // register counters here (stats line, control `stats`)
  InputControl& input;                              // live or file; stop the input early
  // Feature groups every record carries (FlowReport::group_features, in this order); may be empty.
  std::span<const FeatureGroupInfo> feature_groups = {};
  bool needs_net_admin = false;  // set by a part that changes firewall state later (privilege drop)
};

class AgentExtension {
 public:
  virtual ~AgentExtension() = default;
  virtual std::string_view name() const = 0;
  // Before parsing: register this part's options on the app.
  virtual void add_options(CLI::App& app) { (void)app; }
  // After parsing, before the first packet. Throw flowguard::Exception to abort start-up (exit code 1).
  virtual void start(AgentContext& context) = 0;
  // After the last flow record was delivered (end of input or stop): flush, disconnect, join threads.
  virtual void stop() {}
  // After stop(): non-empty when this part failed during the run; main() prints it and exits 1.
  virtual std::string failure() const { return {}; }
};

}  // namespace flowguard::capture
