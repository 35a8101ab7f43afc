#include "policy.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace flowguard::inference {

namespace {

ClassAction parse_action(const YAML::Node& n, const std::string& where) {
  const auto s = n.as<std::string>();
  if (s == "allow") return ClassAction::allow;
  if (s == "alert") return ClassAction::alert;
  if (s == "block") return ClassAction::block;
  throw PolicyError(where + ": unknown action '" + s + "' (expected allow, alert or block)");
}

const char* name(ClassAction a) {
  switch (a) {
    case ClassAction::allow:
      return "allow";
    case ClassAction::alert:
      return "alert";
    case ClassAction::block:
      return "block";
  }
  return "?";
}

}  // namespace

Policy Policy::from_yaml(const std::string& text, const std::string& origin) {
  Policy p;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw PolicyError(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return p;
  if (!root.IsMap()) throw PolicyError(origin + ": expected a mapping at the top level");
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      const auto& v = kv.second;
      if (key == "detect_only") {
        p.detect_only = v.as<bool>();
      } else if (key == "min_block_score") {
        p.min_block_score = v.as<double>();
        if (!(p.min_block_score >= 0 && p.min_block_score <= 1))
          throw PolicyError(origin + ": min_block_score must be within [0, 1]");
      } else if (key == "default_action") {
        p.default_action = parse_action(v, origin + ": default_action");
      } else if (key == "classes") {
        if (!v.IsMap()) throw PolicyError(origin + ": classes must be a mapping {class: allow|alert|block}");
        for (const auto& c : v)
          p.classes[c.first.as<std::string>()] =
              parse_action(c.second, origin + ": classes." + c.first.as<std::string>());
      } else if (key == "never_block") {
        if (!v.IsSequence()) throw PolicyError(origin + ": never_block must be a list of class names");
        for (const auto& c : v) p.never_block.insert(c.as<std::string>());
      } else {
        throw PolicyError(origin + ": unknown key '" + key +
                          "' (known: detect_only, min_block_score, default_action, classes, never_block)");
      }
    }
  } catch (const YAML::Exception& e) {
    throw PolicyError(origin + ": " + e.what());
  }
  return p;
}

Policy Policy::from_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw PolicyError("cannot read policy file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return from_yaml(text.str(), path);
}

std::string Policy::describe() const {
  std::string s = fmt::format("detect_only={} min_block_score={:.2f} default_action={}", detect_only,
                              min_block_score, name(default_action));
  for (const auto& [c, a] : classes) s += fmt::format(" {}={}", c, name(a));
  for (const auto& c : never_block) s += fmt::format(" {}=never_block", c);
  return s;
}

Decision decide(const Policy& policy, const models::Thresholds& t, const std::string& cls, bool benign,
                float score) {
  Decision d;
  const auto alert_t = static_cast<float>(t.alert);
  if (benign) {
    d.threshold = alert_t;
    d.reason = "benign";
    return d;
  }
  if (score < alert_t) {
    d.threshold = alert_t;
    d.reason = fmt::format("{} score {:.3f} below alert threshold {:.3f}", cls, score, alert_t);
    return d;
  }
  ClassAction cap = policy.default_action;
  if (auto it = policy.classes.find(cls); it != policy.classes.end()) cap = it->second;
  if (policy.never_block.count(cls) && cap == ClassAction::block) cap = ClassAction::alert;
  if (cap == ClassAction::allow) {
    d.threshold = alert_t;
    d.reason = fmt::format("policy: class {} is allowed (score {:.3f})", cls, score);
    return d;
  }
  double block_t = t.block;
  if (auto it = t.block_per_class.find(cls); it != t.block_per_class.end()) block_t = it->second;
  block_t = std::max(block_t, policy.min_block_score);
  if (score >= static_cast<float>(block_t)) {
    d.threshold = static_cast<float>(block_t);
    if (cap != ClassAction::block) {
      d.action = v1::ACTION_ALERT;
      d.reason = fmt::format("policy: class {} is alert-only (score {:.3f} >= block threshold {:.3f})", cls,
                             score, block_t);
    } else if (policy.detect_only) {
      d.action = v1::ACTION_ALERT;
      d.reason = fmt::format("detect-only: would block {} (score {:.3f} >= block threshold {:.3f})", cls,
                             score, block_t);
    } else {
      d.action = v1::ACTION_BLOCK;
      d.reason = fmt::format("{} score {:.3f} >= block threshold {:.3f}", cls, score, block_t);
    }
    return d;
  }
  d.action = v1::ACTION_ALERT;
  d.threshold = alert_t;
  d.reason = fmt::format("{} score {:.3f} >= alert threshold {:.3f}", cls, score, alert_t);
  return d;
}

std::vector<std::string> Policy::unknown_classes(const std::vector<std::string>& model_classes) const {
  std::vector<std::string> out;
  auto known = [&](const std::string& c) {
    return std::find(model_classes.begin(), model_classes.end(), c) != model_classes.end();
  };
  for (const auto& [cls, action] : classes)
    if (!known(cls)) out.push_back(cls);
  for (const auto& cls : never_block)
    if (!known(cls) && std::find(out.begin(), out.end(), cls) == out.end()) out.push_back(cls);
  return out;
}

}  // namespace flowguard::inference
