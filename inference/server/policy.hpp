#pragma once
// Turns (predicted class, score) into allow / alert / block. The model manifest supplies the tuned
// thresholds; the operator's policy file (YAML) can only make the server more conservative or force
// per-class behaviour. Loading validates everything, so decide() never fails.

#include "bundle/manifest.hpp"
#include "common/error.hpp"
#include "evidence.hpp"
#include "flowguard/v1/flowguard.pb.h"

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowguard::inference {

// A bad policy file (start-up): the shared boundary exception.
struct PolicyError : flowguard::Exception {
  explicit PolicyError(std::string message) : Exception(ErrorCode::invalid_argument, std::move(message)) {}
};

enum class ClassAction { allow, alert, block };

struct Policy {
  bool detect_only = false;                         // blocks become alerts ("detect-only: ...")
  double min_block_score = 0;                       // the block threshold is never below this
  ClassAction default_action = ClassAction::block;  // strongest action for a class without a rule
  std::map<std::string, ClassAction> classes;       // per-class strongest action
  std::set<std::string> never_block;                // same as classes: {X: alert}
  // Evidence-based blocking (key `evidence:`); EvidenceConfig::defaults() unless the file says otherwise.
  EvidenceConfig evidence = EvidenceConfig::defaults();

  // Throws PolicyError naming the file, key and problem.
  static Policy from_yaml_file(const std::string& path);
  static Policy from_yaml(const std::string& text, const std::string& origin = "policy");
  std::string describe() const;
  // Classes the policy names that the model does not have (a typo, or a rule for another model):
  // such a rule never matches, so the server warns at start-up and after every swap.
  std::vector<std::string> unknown_classes(const std::vector<std::string>& model_classes) const;
};

struct Decision {
  v1::Action action = v1::ACTION_ALLOW;
  float threshold = 0;
  std::string reason;
  // For the evidence layer: the class may be blocked by policy (not allow/alert-only/never_block), the
  // flow's score reaches the class's block threshold, and that threshold.
  bool blockable = false;
  bool confident = false;
  float block_threshold = 1;
};

// `benign` is true when class_name is the manifest's benign class. The per-flow decision: BLOCK means
// this flow alone reaches the block threshold (the decision when evidence is disabled); the batcher
// then asks the evidence table (evidence.hpp) whether the source is to be blocked.
Decision decide(const Policy& policy, const models::Thresholds& thresholds, const std::string& class_name,
                bool benign, float score);

}  // namespace flowguard::inference
