#pragma once
// The profile registry: every feature profile the agent (and the trainer) knows, with its traits, in one
// place. A feature profile says which reference extractor's flow lifecycle and arithmetic the agent
// reproduces:
//   corrected   (default) the fixed CICFlowMeter behind the corrected CIC-IDS2017 data (89 CSV columns)
//   cicids2017  the extractor behind the originally published CIC-IDS2017 CSVs (85 CSV columns)
// Model features are the numeric statistics only (Flow Duration .. last statistic); identifiers travel
// in FlowReport, never in the feature vector.
//
// Choices per profile are `switch`es over Profile without a default (here and in the CSV writer's
// format switches), so with -Werror=switch the compiler names every place a new profile is missing.
// Adding a profile: its class in features/<name>.hpp/.cpp, one enum value and one case in each switch
// below, the .cpp in capture/cmake/core.cmake (4 files; docs/architecture.md).
// This header is torch-free and small: the trainer (models/train) takes its feature names from here
// through the flowguard_profiles library.

#include "decode/reference_scan.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace flowguard::capture::features {

enum class Profile : std::uint8_t { corrected, cicids2017 };
inline constexpr std::array all_profiles{Profile::corrected, Profile::cicids2017};

// How the CSV writer prints the Timestamp and Label columns (output/csv_writer.cpp switches on these).
enum class TimestampStyle : std::uint8_t {
  corrected,   // "yyyy-MM-dd HH:mm:ss[.SSS|.SSSSSS]" (output/java_format.hpp)
  cicids2017,  // "dd/MM/yyyy hh:mm:ss" on the 12-hour clock, no AM/PM marker
};
enum class LabelStyle : std::uint8_t {
  need_manual_label,  // the literal "NeedManualLabel"
  botnet_hosts,       // "BOTNET" when an end is one of the reference's hard-coded bot hosts, else "BENIGN"
};

struct ProfileTraits {
  std::string_view name;           // --profile value, Hello.feature_profile, bundle manifest
  std::string_view csv_header;     // the exact CSV header line the reference prints (no newline)
  std::size_t feature_count;       // statistic columns (the model's input width)
  ReferenceBuild reference_build;  // scanner quirks for --decode reference (decode/reference_scan.hpp)
  TimestampStyle timestamp;
  LabelStyle label;
};

class CorrectedProfile;
class Cicids2017Profile;

// Exact header lines of the references (spec §4.5 and §5.7). Note the spaces after most commas in the
// cicids2017 layout: they are part of the column names there.
constexpr ProfileTraits profile_traits(Profile profile) {
  switch (profile) {
    case Profile::corrected:
      return {
          "corrected",
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
          "Active Max,Active Min,Idle Mean,Idle Std,Idle Max,Idle Min,ICMP Code,ICMP Type,Total TCP Flow "
          "Time,"
          "Label",
          81,
          ReferenceBuild::corrected,
          TimestampStyle::corrected,
          LabelStyle::need_manual_label};
    case Profile::cicids2017:
      return {
          "cicids2017",
          "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow "
          "Duration, "
          "Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd "
          "Packets, "
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
          "Bwd Avg Packets/Bulk,Bwd Avg Bulk Rate,Subflow Fwd Packets, Subflow Fwd Bytes, Subflow Bwd "
          "Packets, "
          "Subflow Bwd Bytes,Init_Win_bytes_forward, Init_Win_bytes_backward, act_data_pkt_fwd, "
          "min_seg_size_forward,Active Mean, Active Std, Active Max, Active Min,Idle Mean, Idle Std, Idle "
          "Max, "
          "Idle Min, Label",
          77,
          ReferenceBuild::cicids2017,
          TimestampStyle::cicids2017,
          LabelStyle::botnet_hosts};
  }
  __builtin_unreachable();  // every enumerator is handled above (-Werror=switch)
}

// Calls f(std::type_identity<ProfileClass>{}) for the profile's class (features/<name>.hpp); the caller
// includes the class headers it instantiates (flow/flow_engine.cpp: the engine factory).
template <typename F>
decltype(auto) visit_profile(Profile profile, F&& f) {
  switch (profile) {
    case Profile::corrected:
      return f(std::type_identity<CorrectedProfile>{});
    case Profile::cicids2017:
      return f(std::type_identity<Cicids2017Profile>{});
  }
  __builtin_unreachable();
}

std::optional<Profile> parse_profile(std::string_view name);
inline std::string_view profile_name(Profile profile) { return profile_traits(profile).name; }
inline std::string_view csv_header(Profile profile) { return profile_traits(profile).csv_header; }
inline std::size_t feature_count(Profile profile) { return profile_traits(profile).feature_count; }

// The model's input columns, in the order FlowReport::features carries them: the header's columns
// after the 7 identifier columns and before Label, leading/trailing spaces trimmed, a repeated name
// suffixed ".1" as pandas does (cicids2017's second "Fwd Header Length").
std::span<const std::string_view> feature_names(Profile profile);

}  // namespace flowguard::capture::features
