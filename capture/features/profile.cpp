#include "features/profile.hpp"

#include <string>
#include <vector>

namespace flowguard::capture::features {
namespace {

// Identifier columns before the first statistic (Flow ID .. Timestamp); Label follows the last one.
constexpr std::size_t leading_identifier_columns = 7;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

struct NameTable {
  std::vector<std::string> storage;
  std::vector<std::string_view> names;
};

// Splits the header and keeps the statistic columns; a repeated name gets pandas' ".1" suffix.
NameTable build_names(const ProfileTraits& t) {
  NameTable table;
  std::string_view header = t.csv_header;
  std::size_t column = 0;
  while (!header.empty() && table.storage.size() < t.feature_count) {
    const auto comma = header.find(',');
    const std::string_view field = trim(header.substr(0, comma));
    if (column >= leading_identifier_columns) {
      std::string name(field);
      for (const auto& seen : table.storage) {
        if (seen == field) {
          name += ".1";
          break;
        }
      }
      table.storage.push_back(std::move(name));
    }
    ++column;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  table.names.assign(table.storage.begin(), table.storage.end());
  return table;
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view name) {
  for (const Profile p : all_profiles) {
    if (profile_traits(p).name == name) return p;
  }
  return std::nullopt;
}

std::span<const std::string_view> feature_names(Profile profile) {
  // Built once for every profile (thread-safe static initialisation), indexed by the enum value.
  static const auto tables = [] {
    std::array<NameTable, all_profiles.size()> t;
    for (const Profile p : all_profiles) t[static_cast<std::size_t>(p)] = build_names(profile_traits(p));
    return t;
  }();
  return tables[static_cast<std::size_t>(profile)].names;
}

}  // namespace flowguard::capture::features
