#include "handshake.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

namespace flowguard::inference {

namespace {

std::string list_some(const std::vector<std::string>& names, std::size_t max = 5) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < max; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > max) s += fmt::format(", ... {} more", names.size() - max);
  return s;
}

}  // namespace

// `a` is what the model expects, `b` what is offered.
std::string feature_schema_difference(const std::string& profile_a, const std::vector<std::string>& names_a,
                                      const std::string& profile_b, const std::vector<std::string>& names_b,
                                      std::vector<std::string>* missing,
                                      std::vector<std::string>* unexpected) {
  std::vector<std::string> miss, extra;
  const std::unordered_set<std::string> in_a(names_a.begin(), names_a.end());
  const std::unordered_set<std::string> in_b(names_b.begin(), names_b.end());
  for (const auto& n : names_a)
    if (!in_b.count(n)) miss.push_back(n);
  for (const auto& n : names_b)
    if (!in_a.count(n)) extra.push_back(n);
  if (missing) *missing = miss;
  if (unexpected) *unexpected = extra;

  std::string why;
  if (profile_a != profile_b)
    why = fmt::format("feature profile '{}' differs from the model's '{}'", profile_b, profile_a);
  std::string names_why;
  if (!miss.empty() || !extra.empty()) {
    names_why = "feature list differs:";
    if (!miss.empty()) names_why += fmt::format(" {} missing ({})", miss.size(), list_some(miss));
    if (!miss.empty() && !extra.empty()) names_why += ",";
    if (!extra.empty()) names_why += fmt::format(" {} unexpected ({})", extra.size(), list_some(extra));
  } else if (names_a.size() != names_b.size()) {
    names_why = fmt::format("feature list has {} entries, the model expects {} (duplicate names)",
                            names_b.size(), names_a.size());
  } else {
    for (std::size_t i = 0; i < names_a.size(); ++i) {
      if (names_a[i] != names_b[i]) {
        names_why = fmt::format("feature order differs: position {} is '{}', the model expects '{}'", i,
                                names_b[i], names_a[i]);
        break;
      }
    }
  }
  if (!names_why.empty()) why += (why.empty() ? "" : "; ") + names_why;
  return why;
}

std::string feature_group_difference(const v1::Hello& hello, const models::Manifest& m,
                                     GroupSelection& selection, std::vector<std::string>* missing,
                                     std::vector<std::string>* unexpected) {
  selection = GroupSelection{};
  // Where each announced group starts in the record's group_features (the first of a repeated name).
  struct Offered {
    const v1::FeatureGroup* group;
    std::uint32_t offset;
  };
  std::vector<std::pair<std::string, Offered>> offered;
  std::uint32_t offset = 0;
  for (const auto& g : hello.feature_groups()) {
    const bool seen = std::any_of(offered.begin(), offered.end(), [&](const auto& o) { return o.first == g.name(); });
    if (!seen) offered.push_back({g.name(), {&g, offset}});
    offset += static_cast<std::uint32_t>(g.feature_names_size());
  }
  selection.offered_width = offset;

  std::string why;
  auto add_why = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  for (const auto& want : m.feature_groups) {
    const auto it = std::find_if(offered.begin(), offered.end(), [&](const auto& o) { return o.first == want.name; });
    if (it == offered.end()) {
      if (missing) missing->insert(missing->end(), want.feature_names.begin(), want.feature_names.end());
      add_why(fmt::format("feature group '{}' ({} features) is not sent by the agent", want.name,
                          want.feature_names.size()));
      continue;
    }
    const v1::FeatureGroup& got = *it->second.group;
    const std::vector<std::string> names(got.feature_names().begin(), got.feature_names().end());
    std::vector<std::string> miss, extra;
    const std::string diff = feature_schema_difference("", want.feature_names, "", names, &miss, &extra);
    if (!diff.empty()) {
      if (missing) missing->insert(missing->end(), miss.begin(), miss.end());
      if (unexpected) unexpected->insert(unexpected->end(), extra.begin(), extra.end());
      add_why(fmt::format("feature group '{}': {}", want.name, diff));
      continue;
    }
    selection.slices.emplace_back(it->second.offset, static_cast<std::uint32_t>(names.size()));
  }
  return why;
}

v1::HelloAck check_hello(const v1::Hello& hello, const models::Manifest& m, const v1::ModelInfo& info,
                         GroupSelection* selection) {
  v1::HelloAck ack;
  ack.set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  if (hello.protocol_version() != v1::PROTOCOL_VERSION_CURRENT) {
    ack.set_accepted(false);
    ack.set_reason(fmt::format("protocol version {} is not supported (this server speaks version {})",
                               hello.protocol_version(), static_cast<int>(v1::PROTOCOL_VERSION_CURRENT)));
    return ack;
  }
  std::vector<std::string> offered(hello.feature_names().begin(), hello.feature_names().end());
  std::vector<std::string> missing, unexpected;
  auto why = feature_schema_difference(m.feature_profile, m.feature_names, hello.feature_profile(), offered,
                                       &missing, &unexpected);
  GroupSelection groups;
  if (const auto gwhy = feature_group_difference(hello, m, groups, &missing, &unexpected); !gwhy.empty())
    why += (why.empty() ? "" : "; ") + gwhy;
  if (!why.empty()) {
    ack.set_accepted(false);
    ack.set_reason(fmt::format("agent '{}' does not match model '{}' version {}: {}", hello.agent_id(),
                               m.name, m.version, why));
    for (auto& n : missing) ack.add_missing_features(std::move(n));
    for (auto& n : unexpected) ack.add_unexpected_features(std::move(n));
    return ack;
  }
  ack.set_accepted(true);
  if (selection) *selection = std::move(groups);
  *ack.mutable_model() = info;
  ack.set_max_batch_flows(kMaxFlowsPerBatch);
  return ack;
}

}  // namespace flowguard::inference
