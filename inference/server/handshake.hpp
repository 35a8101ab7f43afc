#pragma once
// The Hello check: protocol version and feature schema must match the serving model exactly.

#include "bundle/manifest.hpp"
#include "flowguard/v1/flowguard.pb.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace flowguard::inference {

inline constexpr std::uint32_t kMaxFlowsPerBatch = 4096;

// Which parts of an agent's FlowRecord.group_features the model reads: one (offset, length) slice per
// group of the manifest, in manifest order. Groups the model does not read are left out (dropped).
struct GroupSelection {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> slices;
  std::size_t offered_width = 0;  // values per record the agent announced (all its groups)
  std::size_t selected_width() const {
    std::size_t n = 0;
    for (const auto& s : slices) n += s.second;
    return n;
  }
};

// Returns the HelloAck to send. `info` is the serving model's ModelInfo (copied into accepted acks).
// On acceptance, `selection` (if given) says where the model's groups lie in the agent's records.
v1::HelloAck check_hello(const v1::Hello& hello, const models::Manifest& manifest, const v1::ModelInfo& info,
                         GroupSelection* selection = nullptr);

// Why the agent's announced groups cannot feed the model (empty when every group the model reads is
// announced with identical names, in order); fills `selection` and the differing names.
std::string feature_group_difference(const v1::Hello& hello, const models::Manifest& manifest,
                                     GroupSelection& selection, std::vector<std::string>* missing = nullptr,
                                     std::vector<std::string>* unexpected = nullptr);

// Why two feature schemas differ, or empty when they are equal (used for hot swaps too).
std::string feature_schema_difference(const std::string& profile_a, const std::vector<std::string>& names_a,
                                      const std::string& profile_b, const std::vector<std::string>& names_b,
                                      std::vector<std::string>* missing = nullptr,
                                      std::vector<std::string>* unexpected = nullptr);

}  // namespace flowguard::inference
