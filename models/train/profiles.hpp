#pragma once
// Feature profiles the trainer understands: which columns are model inputs, in which order.
// The capture agent's profiles (`corrected`, `cicids2017`, ...) come from its profile registry
// (capture/features/profile.hpp), so the order is the same definition on both sides of the socket;
// `nsl-kdd` exists for offline experiments only (no live extractor produces it).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::train {

inline constexpr const char* kProfileCorrected = "corrected";
inline constexpr const char* kProfileCicids2017 = "cicids2017";
inline constexpr const char* kProfileNslKdd = "nsl-kdd";

// The 81 columns `Flow Duration` .. `Total TCP Flow Time` of the corrected (CNS2022) CSV header.
const std::vector<std::string>& corrected_features();
// The 77 columns `Flow Duration` .. `Idle Min` of the original CIC-IDS2017 CSVs, trimmed of leading
// spaces, the second `Fwd Header Length` named `Fwd Header Length.1` (as pandas names it).
const std::vector<std::string>& cicids2017_features();
// NSL-KDD: 38 numeric columns plus one-hot groups `protocol_type=<v>`, `service=<v>`, `flag=<v>`
// over the standard vocabularies (3 + 70 + 11), in the file's column order.
const std::vector<std::string>& nslkdd_features();

// Returns nullptr for an unknown profile name.
const std::vector<std::string>* profile_features(std::string_view profile);

// The features of a feature group the capture agent appends after the profile's (`--csv-groups`,
// FlowRecord.group_features), in the agent's order; nullptr for an unknown group.
const std::vector<std::string>* group_features(std::string_view group);

// The label map applied by default when training (models/README.md, "Label map"): labels whose flows
// show the same observable behaviour are one class.
const std::map<std::string, std::string>& merged_label_map();
// A label after the map (itself when the map does not name it).
std::string map_label(const std::map<std::string, std::string>& map, const std::string& label);

// Whether a class name denotes benign traffic ("BENIGN" in CIC-IDS2017, "normal" in NSL-KDD).
bool looks_benign(std::string_view label);

// The NSL-KDD column layout (no header in the files): 41 features, label, difficulty.
struct NslKddColumn {
  std::string name;
  std::vector<std::string> categories;  // empty for numeric columns
};
const std::vector<NslKddColumn>& nslkdd_columns();

}  // namespace flowguard::train
