#pragma once
// Feature profiles: which reference extractor's flow lifecycle and arithmetic the agent reproduces.
//   corrected   (default) the fixed CICFlowMeter behind the corrected CIC-IDS2017 data (89 CSV columns)
//   cicids2017  the extractor behind the originally published CIC-IDS2017 CSVs (85 CSV columns)
// Model features are the numeric statistics only (Flow Duration .. last statistic); identifiers travel
// in FlowReport, never in the feature vector.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::capture::features {

enum class Profile : std::uint8_t { corrected, cicids2017 };

std::optional<Profile> parse_profile(std::string_view name);
std::string_view profile_name(Profile profile);

// The model's input columns, in the order FlowReport::features carries them. Names are exactly the
// training CSV's column names (cicids2017: leading spaces trimmed, the duplicated second
// "Fwd Header Length" named "Fwd Header Length.1" as pandas does).
std::span<const std::string_view> feature_names(Profile profile);
std::size_t feature_count(Profile profile);

// The exact CSV header line the reference prints (no trailing newline).
std::string_view csv_header(Profile profile);

}  // namespace flowguard::capture::features
