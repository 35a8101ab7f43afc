#pragma once
// Hook point for the optional parts of the agent: the server link (capture/link) and enforcement
// (capture/enforce). Each provides one AgentExtension; main() registers their options, starts them
// after parsing, and they plug into the packet pipeline only through FlowSink (flow records in) and
// VerdictSink (verdicts out). See app/pipeline.hpp for the order of events.
//
// To add one: provide `std::unique_ptr<app::AgentExtension> make_link_extension();` in
// "link/link_extension.hpp" (resp. make_enforce_extension() in "enforce/enforce_extension.hpp") and the
// library target flowguard_capture_link (resp. flowguard_enforce); capture/cmake/app.cmake links it
// and defines FLOWGUARD_WITH_LINK (resp. FLOWGUARD_WITH_ENFORCE) when both exist.

#include "app/options.hpp"
#include "features/profile.hpp"
#include "flow/flow_report.hpp"
#include "link/verdict.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace flowguard::capture::app {

// Forwards each verdict to every registered VerdictSink, in registration order.
class VerdictFanout final : public VerdictSink {
 public:
  void add(VerdictSink* sink) { sinks_.push_back(sink); }
  bool empty() const { return sinks_.empty(); }
  void on_verdict(const FlowVerdict& verdict) override {
    for (VerdictSink* s : sinks_) s->on_verdict(verdict);
  }

 private:
  std::vector<VerdictSink*> sinks_;
};

// What an extension sees at start-up. Sinks are not owned: the extension keeps them alive until stop().
struct AgentContext {
  const CaptureOptions& options;
  features::Profile profile;
  std::span<const std::string_view> feature_names;  // the order of FlowReport::features
  std::vector<FlowSink*>& flow_sinks;               // add a sink to receive every flow record
  VerdictFanout& verdicts;                          // the link delivers here; enforcement add()s to it
  PacketSource& source;  // is_live() tells file from interface; request_stop() ends the input early
};

class AgentExtension {
 public:
  virtual ~AgentExtension() = default;
  virtual std::string_view name() const = 0;
  // True for the extension that talks to flowguard-infer (not started with --no-server).
  virtual bool is_server_link() const { return false; }
  // Before parsing: register this part's options on the app.
  virtual void add_options(CLI::App& app) { (void)app; }
  // After parsing, before the first packet. Throw std::runtime_error to abort start-up (exit code 1).
  virtual void start(AgentContext& context) = 0;
  // Periodic and at-exit statistics: append " key=value" pairs.
  virtual void append_stats(std::string& line) const { (void)line; }
  // After the last flow record was delivered (end of input or stop): flush, disconnect, join threads.
  virtual void stop() {}
  // After stop(): non-empty when this part failed during the run; main() prints it and exits 1.
  virtual std::string failure() const { return {}; }
};

}  // namespace flowguard::capture::app
