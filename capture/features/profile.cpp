#include "features/profile.hpp"

#include <array>

namespace flowguard::capture::features {
namespace {

// Exact header lines of the two references (spec §4.5 and §5.7). Note the spaces after most commas
// in the legacy layout: they are part of the column names there.
constexpr std::string_view cicids2017_header =
    "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, "
    "Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets, "
    "Fwd Packet Length Max, Fwd Packet Length Min, Fwd Packet Length Mean, Fwd Packet Length Std,"
    "Bwd Packet Length Max, Bwd Packet Length Min, Bwd Packet Length Mean, Bwd Packet Length Std,"
    "Flow Bytes/s, Flow Packets/s, Flow IAT Mean, Flow IAT Std, Flow IAT Max, Flow IAT Min,"
    "Fwd IAT Total, Fwd IAT Mean, Fwd IAT Std, Fwd IAT Max, Fwd IAT Min,"
    "Bwd IAT Total, Bwd IAT Mean, Bwd IAT Std, Bwd IAT Max, Bwd IAT Min,"
    "Fwd PSH Flags, Bwd PSH Flags, Fwd URG Flags, Bwd URG Flags, Fwd Header Length, Bwd Header Length,"
    "Fwd Packets/s, Bwd Packets/s, Min Packet Length, Max Packet Length, Packet Length Mean, "
    "Packet Length Std, Packet Length Variance,FIN Flag Count, SYN Flag Count, RST Flag Count, "
    "PSH Flag Count, ACK Flag Count, URG Flag Count, CWE Flag Count, ECE Flag Count, Down/Up Ratio, "
    "Average Packet Size, Avg Fwd Segment Size, Avg Bwd Segment Size, Fwd Header Length,"
    "Fwd Avg Bytes/Bulk, Fwd Avg Packets/Bulk, Fwd Avg Bulk Rate, Bwd Avg Bytes/Bulk, "
    "Bwd Avg Packets/Bulk,Bwd Avg Bulk Rate,Subflow Fwd Packets, Subflow Fwd Bytes, Subflow Bwd Packets, "
    "Subflow Bwd Bytes,Init_Win_bytes_forward, Init_Win_bytes_backward, act_data_pkt_fwd, "
    "min_seg_size_forward,Active Mean, Active Std, Active Max, Active Min,Idle Mean, Idle Std, Idle Max, "
    "Idle Min, Label";

constexpr std::string_view corrected_header =
    "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Total Fwd Packet,"
    "Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,Fwd Packet Length Max,"
    "Fwd Packet Length Min,Fwd Packet Length Mean,Fwd Packet Length Std,Bwd Packet Length Max,"
    "Bwd Packet Length Min,Bwd Packet Length Mean,Bwd Packet Length Std,Flow Bytes/s,Flow Packets/s,"
    "Flow IAT Mean,Flow IAT Std,Flow IAT Max,Flow IAT Min,Fwd IAT Total,Fwd IAT Mean,Fwd IAT Std,"
    "Fwd IAT Max,Fwd IAT Min,Bwd IAT Total,Bwd IAT Mean,Bwd IAT Std,Bwd IAT Max,Bwd IAT Min,"
    "Fwd PSH Flags,Bwd PSH Flags,Fwd URG Flags,Bwd URG Flags,Fwd RST Flags,Bwd RST Flags,"
    "Fwd Header Length,Bwd Header Length,Fwd Packets/s,Bwd Packets/s,Packet Length Min,"
    "Packet Length Max,Packet Length Mean,Packet Length Std,Packet Length Variance,FIN Flag Count,"
    "SYN Flag Count,RST Flag Count,PSH Flag Count,ACK Flag Count,URG Flag Count,CWR Flag Count,"
    "ECE Flag Count,Down/Up Ratio,Average Packet Size,Fwd Segment Size Avg,Bwd Segment Size Avg,"
    "Fwd Bytes/Bulk Avg,Fwd Packet/Bulk Avg,Fwd Bulk Rate Avg,Bwd Bytes/Bulk Avg,Bwd Packet/Bulk Avg,"
    "Bwd Bulk Rate Avg,Subflow Fwd Packets,Subflow Fwd Bytes,Subflow Bwd Packets,Subflow Bwd Bytes,"
    "FWD Init Win Bytes,Bwd Init Win Bytes,Fwd Act Data Pkts,Fwd Seg Size Min,Active Mean,Active Std,"
    "Active Max,Active Min,Idle Mean,Idle Std,Idle Max,Idle Min,ICMP Code,ICMP Type,Total TCP Flow Time,"
    "Label";

// Identifier columns before the first statistic and the Label after the last one.
constexpr std::size_t leading_identifier_columns = 7;
constexpr std::size_t corrected_feature_count = 81;
constexpr std::size_t cicids2017_feature_count = 77;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

template <std::size_t N>
struct NameTable {
  std::array<std::string_view, N> names{};
};

// Splits the header and keeps the statistic columns; a repeated name gets pandas' ".1" suffix.
template <std::size_t N>
NameTable<N> build_names(std::string_view header) {
  NameTable<N> table;
  std::size_t column = 0, kept = 0;
  while (!header.empty() && kept < N) {
    const auto comma = header.find(',');
    const std::string_view field = trim(header.substr(0, comma));
    if (column >= leading_identifier_columns) table.names[kept++] = field;
    ++column;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return table;
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view name) {
  if (name == "corrected") return Profile::corrected;
  if (name == "cicids2017") return Profile::cicids2017;
  return std::nullopt;
}

std::string_view profile_name(Profile profile) {
  return profile == Profile::corrected ? "corrected" : "cicids2017";
}

std::span<const std::string_view> feature_names(Profile profile) {
  static const auto corrected = build_names<corrected_feature_count>(corrected_header);
  static const auto cicids2017 = [] {
    auto table = build_names<cicids2017_feature_count>(cicids2017_header);
    // The legacy layout prints "Fwd Header Length" twice (columns 41 and 62); the training frame
    // names the second one "Fwd Header Length.1".
    bool seen = false;
    for (auto& name : table.names) {
      if (name == "Fwd Header Length") {
        if (seen) name = "Fwd Header Length.1";
        seen = true;
      }
    }
    return table;
  }();
  if (profile == Profile::corrected) return corrected.names;
  return cicids2017.names;
}

std::size_t feature_count(Profile profile) {
  return profile == Profile::corrected ? corrected_feature_count : cicids2017_feature_count;
}

std::string_view csv_header(Profile profile) {
  return profile == Profile::corrected ? corrected_header : cicids2017_header;
}

}  // namespace flowguard::capture::features
