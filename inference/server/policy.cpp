#include "policy.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
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

template <class T>
T scalar(const YAML::Node& n, const std::string& where) {
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    throw PolicyError(where + ": expected " + (std::is_same_v<T, bool> ? "true or false" : "a number"));
  }
}

double positive(const YAML::Node& n, const std::string& where) {
  const double v = scalar<double>(n, where);
  if (!(v > 0) || !std::isfinite(v)) throw PolicyError(where + ": must be a number > 0");
  return v;
}

ScoreFloor parse_floor(const YAML::Node& n, const std::string& where) {
  if (n.IsScalar()) {
    const auto s = n.as<std::string>();
    if (s == "alert") return {ScoreFloor::Kind::alert, 0};
    if (s == "block") return {ScoreFloor::Kind::block, 0};
  }
  const double v = scalar<double>(n, where);
  if (!(v >= 0 && v <= 1)) throw PolicyError(where + ": must be alert, block or a score within [0, 1]");
  return {ScoreFloor::Kind::value, v};
}

void need_map(const YAML::Node& n, const std::string& where) {
  if (!n.IsMap()) throw PolicyError(where + ": expected a mapping");
}

// Fields of one rule (the default rule has no name or classes).
void parse_rule_fields(const YAML::Node& n, const std::string& where, EvidenceRule& r, bool named) {
  need_map(n, where);
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    const auto at = where + "." + key;
    if (named && key == "name") {
      r.name = v.as<std::string>();
    } else if (named && key == "classes") {
      if (!v.IsSequence()) throw PolicyError(at + ": expected a list of class names");
      r.classes.clear();
      for (const auto& c : v) r.classes.push_back(c.as<std::string>());
    } else if (key == "evidence") {
      r.evidence = positive(v, at);
    } else if (key == "window") {
      r.window_s = positive(v, at);
    } else if (key == "min_score") {
      r.min_score = parse_floor(v, at);
    } else if (key == "context") {
      need_map(v, at);
      r.context.clear();
      for (const auto& c : v) r.context.emplace_back(c.first.as<std::string>(),
                                                     scalar<double>(c.second, at + "." + c.first.as<std::string>()));
    } else if (key == "context_weight") {
      r.context_weight = scalar<double>(v, at);
      if (!(r.context_weight >= 0 && r.context_weight <= 100)) throw PolicyError(at + ": must be within [0, 100]");
    } else {
      throw PolicyError(where + ": unknown key '" + key + "' (known: " +
                        (named ? "name, classes, " : "") + "evidence, window, min_score, context, context_weight)");
    }
  }
  if (named && r.name.empty()) throw PolicyError(where + ": a rule needs a name");
  if (named && r.classes.empty()) throw PolicyError(where + ": a rule needs classes");
}

EvidenceConfig parse_evidence(const YAML::Node& n, const std::string& where) {
  need_map(n, where);
  EvidenceConfig c = EvidenceConfig::defaults();
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    const auto at = where + "." + key;
    if (key == "enabled") {
      c.enabled = scalar<bool>(v, at);
    } else if (key == "max_sources") {
      const double m = positive(v, at);
      if (m < 8 || m > 100'000'000) throw PolicyError(at + ": must be within [8, 100000000]");
      c.max_sources = static_cast<std::size_t>(m);
    } else if (key == "unspecified_initiator") {
      const auto s = v.as<std::string>();
      if (s != "src" && s != "none") throw PolicyError(at + ": expected src or none, not '" + s + "'");
      c.unspecified_initiator_is_src = s == "src";
    } else if (key == "escalation") {
      need_map(v, at);
      for (const auto& e : v) {
        const auto k = e.first.as<std::string>();
        const auto eat = at + "." + k;
        if (k == "base_seconds") {
          c.base_block_s = static_cast<std::uint32_t>(std::min(positive(e.second, eat), 30.0 * 86400));
        } else if (k == "factor") {
          c.factor = scalar<double>(e.second, eat);
          if (!(c.factor >= 1 && c.factor <= 100)) throw PolicyError(eat + ": must be within [1, 100]");
        } else if (k == "max_seconds") {
          c.max_block_s = static_cast<std::uint32_t>(std::min(positive(e.second, eat), 365.0 * 86400));
        } else if (k == "remember_seconds") {
          c.remember_s = static_cast<std::uint32_t>(std::min(positive(e.second, eat), 365.0 * 86400));
        } else {
          throw PolicyError(at + ": unknown key '" + k +
                            "' (known: base_seconds, factor, max_seconds, remember_seconds)");
        }
      }
      if (c.max_block_s < c.base_block_s) throw PolicyError(at + ".max_seconds: must be >= base_seconds");
    } else if (key == "default_rule") {
      parse_rule_fields(v, at, c.default_rule, false);
    } else if (key == "rules") {
      // The file's rules replace the built-in list (classes they do not name use default_rule).
      if (!v.IsSequence()) throw PolicyError(at + ": expected a list of rules");
      c.rules.clear();
      for (std::size_t i = 0; i < v.size(); ++i) {
        EvidenceRule r;
        r.min_score = {ScoreFloor::Kind::alert, 0};
        parse_rule_fields(v[i], fmt::format("{}[{}]", at, i), r, true);
        for (const auto& other : c.rules)
          for (const auto& cls : r.classes)
            if (std::find(other.classes.begin(), other.classes.end(), cls) != other.classes.end())
              throw PolicyError(fmt::format("{}[{}].classes: '{}' is already in rule '{}'", at, i, cls, other.name));
        c.rules.push_back(std::move(r));
      }
      if (c.rules.size() > 60000) throw PolicyError(at + ": too many rules");
    } else {
      throw PolicyError(where + ": unknown key '" + key +
                        "' (known: enabled, max_sources, unspecified_initiator, escalation, default_rule, rules)");
    }
  }
  if (c.context_names().size() > EvidenceConfig::kMaxContextFeatures)
    throw PolicyError(fmt::format("{}: the rules read {} distinct context features, at most {}", where,
                                  c.context_names().size(), EvidenceConfig::kMaxContextFeatures));
  return c;
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
      } else if (key == "evidence") {
        p.evidence = parse_evidence(v, origin + ": evidence");
      } else if (key == "never_block") {
        if (!v.IsSequence()) throw PolicyError(origin + ": never_block must be a list of class names");
        for (const auto& c : v) p.never_block.insert(c.as<std::string>());
      } else {
        throw PolicyError(origin + ": unknown key '" + key +
                          "' (known: detect_only, min_block_score, default_action, classes, never_block, evidence)");
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
  s += "; " + evidence.describe();
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
  d.block_threshold = static_cast<float>(block_t);
  d.blockable = cap == ClassAction::block;
  d.confident = score >= static_cast<float>(block_t);
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
