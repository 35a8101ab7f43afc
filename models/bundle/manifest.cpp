#include "manifest.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace flowguard::models {

using nlohmann::json;

namespace {

template <class T>
T required(const json& j, const char* key) {
  if (!j.contains(key)) throw ManifestError(std::string("manifest: missing field '") + key + "'");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw ManifestError(std::string("manifest: field '") + key + "' has the wrong type: " + e.what());
  }
}

template <class T>
T optional_field(const json& j, const char* key, T fallback) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw ManifestError(std::string("manifest: field '") + key + "' has the wrong type: " + e.what());
  }
}

}  // namespace

Manifest Manifest::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw ManifestError(std::string("manifest: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ManifestError("manifest: top level must be an object");
  Manifest m;
  m.format = required<std::string>(j, "format");
  if (m.format != kBundleFormat)
    throw ManifestError("manifest: unsupported format '" + m.format + "' (this build reads '" +
                        kBundleFormat + "')");
  m.name = required<std::string>(j, "name");
  m.version = required<std::string>(j, "version");
  m.architecture = optional_field<std::string>(j, "architecture", "unknown");
  m.feature_profile = required<std::string>(j, "feature_profile");
  m.feature_names = required<std::vector<std::string>>(j, "feature_names");
  if (j.contains("feature_groups") && !j.at("feature_groups").is_null()) {
    const auto& groups = j.at("feature_groups");
    if (!groups.is_array()) throw ManifestError("manifest: field 'feature_groups' must be an array");
    for (const auto& g : groups) {
      if (!g.is_object()) throw ManifestError("manifest: each feature_groups entry must be an object");
      FeatureGroup fg;
      fg.name = required<std::string>(g, "name");
      fg.feature_names = required<std::vector<std::string>>(g, "feature_names");
      m.feature_groups.push_back(std::move(fg));
    }
  }
  m.class_names = required<std::vector<std::string>>(j, "class_names");
  m.benign_class = required<std::string>(j, "benign_class");
  m.created_at = optional_field<std::string>(j, "created_at", "");
  if (j.contains("scaling")) {
    const auto& s = j.at("scaling");
    m.scaling.kind = optional_field<std::string>(s, "kind", "none");
    m.scaling.applied = optional_field<std::string>(s, "applied", "module");
    m.scaling.center = optional_field<std::vector<double>>(s, "center", {});
    m.scaling.scale = optional_field<std::vector<double>>(s, "scale", {});
    m.scaling.transform = optional_field<std::string>(s, "transform", "");
  }
  if (j.contains("thresholds")) {
    const auto& t = j.at("thresholds");
    m.thresholds.alert = optional_field<double>(t, "alert", m.thresholds.alert);
    m.thresholds.block = optional_field<double>(t, "block", m.thresholds.block);
    m.thresholds.block_per_class = optional_field<std::map<std::string, double>>(t, "block_per_class", {});
    m.thresholds.tuned_for = optional_field<std::string>(t, "tuned_for", "");
    if (t.contains("ood") && !t.at("ood").is_null()) m.thresholds.ood = optional_field<double>(t, "ood", 0.0);
  }
  if (j.contains("calibration") && j.at("calibration").is_object()) {
    const auto& c = j.at("calibration");
    m.calibration.temperature = optional_field<double>(c, "temperature", 1.0);
    m.calibration.method = optional_field<std::string>(c, "method", "");
    m.calibration.ood_method = optional_field<std::string>(c, "ood_method", "");
    if (c.contains("details")) m.calibration.details_json = c.at("details").dump();
  }
  if (j.contains("training")) m.training_json = j.at("training").dump();
  if (auto p = m.problems(); !p.empty()) throw ManifestError("manifest: " + p.front());
  return m;
}

std::string Manifest::to_json(int indent) const {
  json j;
  j["format"] = format;
  j["name"] = name;
  j["version"] = version;
  j["architecture"] = architecture;
  j["feature_profile"] = feature_profile;
  j["feature_names"] = feature_names;
  // Written only when present, so bundles without groups keep their manifest text.
  if (!feature_groups.empty()) {
    j["feature_groups"] = json::array();
    for (const auto& g : feature_groups)
      j["feature_groups"].push_back({{"name", g.name}, {"feature_names", g.feature_names}});
  }
  j["scaling"] = {{"kind", scaling.kind},
                  {"applied", scaling.applied},
                  {"center", scaling.center},
                  {"scale", scaling.scale},
                  {"transform", scaling.transform}};
  j["class_names"] = class_names;
  j["benign_class"] = benign_class;
  j["thresholds"] = {{"alert", thresholds.alert},
                     {"block", thresholds.block},
                     {"block_per_class", thresholds.block_per_class},
                     {"tuned_for", thresholds.tuned_for}};
  if (thresholds.ood) j["thresholds"]["ood"] = *thresholds.ood;
  if (!calibration.method.empty() || !calibration.ood_method.empty() || calibration.temperature != 1.0) {
    json details = json::parse(calibration.details_json.empty() ? "{}" : calibration.details_json, nullptr, false);
    j["calibration"] = {{"temperature", calibration.temperature},
                        {"method", calibration.method},
                        {"ood_method", calibration.ood_method},
                        {"details", details.is_discarded() ? json::object() : details}};
  }
  j["created_at"] = created_at;
  j["training"] = json::parse(training_json.empty() ? "{}" : training_json, nullptr, false);
  if (j["training"].is_discarded()) j["training"] = json::object();
  return j.dump(indent);
}

std::vector<std::string> Manifest::problems() const {
  std::vector<std::string> out;
  if (name.empty()) out.push_back("name is empty");
  if (version.empty()) out.push_back("version is empty");
  if (feature_profile.empty()) out.push_back("feature_profile is empty");
  if (feature_names.empty()) out.push_back("feature_names is empty");
  if (std::set<std::string>(feature_names.begin(), feature_names.end()).size() != feature_names.size())
    out.push_back("feature_names has duplicates");
  std::set<std::string> group_names;
  for (const auto& g : feature_groups) {
    if (g.name.empty()) out.push_back("a feature group has an empty name");
    if (!group_names.insert(g.name).second) out.push_back("feature group '" + g.name + "' is listed twice");
    if (g.feature_names.empty()) out.push_back("feature group '" + g.name + "' has no feature_names");
  }
  const auto inputs = input_names();
  if (!feature_groups.empty() && std::set<std::string>(inputs.begin(), inputs.end()).size() != inputs.size())
    out.push_back("feature_groups repeat a feature name of the profile or of another group");
  if (class_names.size() < 2) out.push_back("class_names needs at least two classes");
  if (!benign_index()) out.push_back("benign_class '" + benign_class + "' is not one of class_names");
  if (scaling.kind != "none" && scaling.kind != "standard" && scaling.kind != "minmax")
    out.push_back("scaling.kind must be none, standard or minmax");
  if (scaling.kind != "none" &&
      (scaling.center.size() != input_width() || scaling.scale.size() != input_width()))
    out.push_back("scaling.center/scale must have one value per feature (profile and groups)");
  if (!(thresholds.alert >= 0.0 && thresholds.alert <= 1.0) ||
      !(thresholds.block >= 0.0 && thresholds.block <= 1.0))
    out.push_back("thresholds must lie in [0, 1]");
  for (const auto& [cls, t] : thresholds.block_per_class) {
    if (std::find(class_names.begin(), class_names.end(), cls) == class_names.end())
      out.push_back("thresholds.block_per_class names unknown class '" + cls + "'");
    if (!(t >= 0.0 && t <= 1.0)) out.push_back("thresholds.block_per_class['" + cls + "'] outside [0, 1]");
  }
  if (thresholds.ood && !std::isfinite(*thresholds.ood)) out.push_back("thresholds.ood must be finite");
  if (!(calibration.temperature > 0.0) || !std::isfinite(calibration.temperature))
    out.push_back("calibration.temperature must be a positive number");
  return out;
}

std::vector<std::string> Manifest::input_names() const {
  std::vector<std::string> names = feature_names;
  for (const auto& g : feature_groups)
    names.insert(names.end(), g.feature_names.begin(), g.feature_names.end());
  return names;
}

std::size_t Manifest::input_width() const {
  std::size_t n = feature_names.size();
  for (const auto& g : feature_groups) n += g.feature_names.size();
  return n;
}

std::optional<std::size_t> Manifest::benign_index() const {
  auto it = std::find(class_names.begin(), class_names.end(), benign_class);
  if (it == class_names.end()) return std::nullopt;
  return static_cast<std::size_t>(it - class_names.begin());
}

}  // namespace flowguard::models
