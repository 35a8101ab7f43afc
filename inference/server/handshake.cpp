#include "handshake.hpp"

#include <fmt/format.h>

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

v1::HelloAck check_hello(const v1::Hello& hello, const models::Manifest& m, const v1::ModelInfo& info) {
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
  if (!why.empty()) {
    ack.set_accepted(false);
    ack.set_reason(fmt::format("agent '{}' does not match model '{}' version {}: {}", hello.agent_id(),
                               m.name, m.version, why));
    for (auto& n : missing) ack.add_missing_features(std::move(n));
    for (auto& n : unexpected) ack.add_unexpected_features(std::move(n));
    return ack;
  }
  ack.set_accepted(true);
  *ack.mutable_model() = info;
  ack.set_max_batch_flows(kMaxFlowsPerBatch);
  return ack;
}

}  // namespace flowguard::inference
