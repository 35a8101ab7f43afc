#pragma once
// A named feature group beyond the profile's features (e.g. "host_context"): its values travel with
// each flow record (FlowReport::group_features, wire FlowRecord.group_features) and the link announces
// each group's names in its Hello, so a model reading the group can check it gets what it was trained on.

#include <span>
#include <string_view>

namespace flowguard::capture {

struct FeatureGroupInfo {
  std::string_view name;                            // e.g. "host_context"
  std::span<const std::string_view> feature_names;  // ordered; the record's values follow this order
};

}  // namespace flowguard::capture
