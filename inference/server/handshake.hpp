#pragma once
// The Hello check: protocol version and feature schema must match the serving model exactly.

#include "bundle/manifest.hpp"
#include "flowguard/v1/flowguard.pb.h"

#include <cstdint>

namespace flowguard::inference {

inline constexpr std::uint32_t kMaxFlowsPerBatch = 4096;

// Returns the HelloAck to send. `info` is the serving model's ModelInfo (copied into accepted acks).
v1::HelloAck check_hello(const v1::Hello& hello, const models::Manifest& manifest, const v1::ModelInfo& info);

// Why two feature schemas differ, or empty when they are equal (used for hot swaps too).
std::string feature_schema_difference(const std::string& profile_a, const std::vector<std::string>& names_a,
                                      const std::string& profile_b, const std::vector<std::string>& names_b,
                                      std::vector<std::string>* missing = nullptr,
                                      std::vector<std::string>* unexpected = nullptr);

}  // namespace flowguard::inference
