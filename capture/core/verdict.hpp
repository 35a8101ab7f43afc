#pragma once
// A verdict as the capture agent's consumers (enforcement, alert writers, event store) receive it.
// The link joins the server's Verdict with the flow metadata it kept for that flow_id, so consumers
// act on addresses the agent itself observed, never on addresses a server could make up.

#include "core/flow_identity.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace flowguard::capture {

enum class VerdictAction : std::uint8_t { allow = 1, alert = 2, block = 3, shed = 4 };

struct FeatureContribution {
  std::string name;
  float value = 0;
  float contribution = 0;
};

struct FlowVerdict : FlowIdentity {
  // The identity part is the FlowReport's that was sent (assigned whole by the link).

  // What the server decided.
  VerdictAction action = VerdictAction::allow;
  std::string predicted_class;
  float score = 0;
  float threshold = 0;
  std::string reason;
  std::string model_name, model_version;
  std::vector<FeatureContribution> top_features;

  // What the model was given for this flow, as sent (profile order, then the Hello's feature groups
  // concatenated; group_features is empty when no group was announced). Views into the link's
  // in-flight batch: valid only during on_verdict(). Consumers copy them only when they keep them
  // (the event store, for alerts), so allow verdicts cost nothing extra.
  std::span<const float> features;
  std::span<const float> group_features;
};

class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  // Called from the link's receive thread, one verdict at a time, never concurrently; implementations
  // must not block for long (queue slow work such as database writes).
  virtual void on_verdict(const FlowVerdict& verdict) = 0;
};

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

}  // namespace flowguard::capture
