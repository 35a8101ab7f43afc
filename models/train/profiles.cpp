#include "profiles.hpp"

#include <algorithm>
#include <cctype>

namespace flowguard::train {

const std::vector<std::string>& corrected_features() {
  static const std::vector<std::string> names{
      "Flow Duration", "Total Fwd Packet", "Total Bwd packets", "Total Length of Fwd Packet",
      "Total Length of Bwd Packet", "Fwd Packet Length Max", "Fwd Packet Length Min",
      "Fwd Packet Length Mean", "Fwd Packet Length Std", "Bwd Packet Length Max", "Bwd Packet Length Min",
      "Bwd Packet Length Mean", "Bwd Packet Length Std", "Flow Bytes/s", "Flow Packets/s", "Flow IAT Mean",
      "Flow IAT Std", "Flow IAT Max", "Flow IAT Min", "Fwd IAT Total", "Fwd IAT Mean", "Fwd IAT Std",
      "Fwd IAT Max", "Fwd IAT Min", "Bwd IAT Total", "Bwd IAT Mean", "Bwd IAT Std", "Bwd IAT Max",
      "Bwd IAT Min", "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags", "Bwd URG Flags", "Fwd RST Flags",
      "Bwd RST Flags", "Fwd Header Length", "Bwd Header Length", "Fwd Packets/s", "Bwd Packets/s",
      "Packet Length Min", "Packet Length Max", "Packet Length Mean", "Packet Length Std",
      "Packet Length Variance", "FIN Flag Count", "SYN Flag Count", "RST Flag Count", "PSH Flag Count",
      "ACK Flag Count", "URG Flag Count", "CWR Flag Count", "ECE Flag Count", "Down/Up Ratio",
      "Average Packet Size", "Fwd Segment Size Avg", "Bwd Segment Size Avg", "Fwd Bytes/Bulk Avg",
      "Fwd Packet/Bulk Avg", "Fwd Bulk Rate Avg", "Bwd Bytes/Bulk Avg", "Bwd Packet/Bulk Avg",
      "Bwd Bulk Rate Avg", "Subflow Fwd Packets", "Subflow Fwd Bytes", "Subflow Bwd Packets",
      "Subflow Bwd Bytes", "FWD Init Win Bytes", "Bwd Init Win Bytes", "Fwd Act Data Pkts",
      "Fwd Seg Size Min", "Active Mean", "Active Std", "Active Max", "Active Min", "Idle Mean", "Idle Std",
      "Idle Max", "Idle Min", "ICMP Code", "ICMP Type", "Total TCP Flow Time",
  };
  return names;
}

const std::vector<std::string>& cicids2017_features() {
  static const std::vector<std::string> names{
      "Flow Duration", "Total Fwd Packets", "Total Backward Packets", "Total Length of Fwd Packets",
      "Total Length of Bwd Packets", "Fwd Packet Length Max", "Fwd Packet Length Min",
      "Fwd Packet Length Mean", "Fwd Packet Length Std", "Bwd Packet Length Max", "Bwd Packet Length Min",
      "Bwd Packet Length Mean", "Bwd Packet Length Std", "Flow Bytes/s", "Flow Packets/s", "Flow IAT Mean",
      "Flow IAT Std", "Flow IAT Max", "Flow IAT Min", "Fwd IAT Total", "Fwd IAT Mean", "Fwd IAT Std",
      "Fwd IAT Max", "Fwd IAT Min", "Bwd IAT Total", "Bwd IAT Mean", "Bwd IAT Std", "Bwd IAT Max",
      "Bwd IAT Min", "Fwd PSH Flags", "Bwd PSH Flags", "Fwd URG Flags", "Bwd URG Flags", "Fwd Header Length",
      "Bwd Header Length", "Fwd Packets/s", "Bwd Packets/s", "Min Packet Length", "Max Packet Length",
      "Packet Length Mean", "Packet Length Std", "Packet Length Variance", "FIN Flag Count", "SYN Flag Count",
      "RST Flag Count", "PSH Flag Count", "ACK Flag Count", "URG Flag Count", "CWE Flag Count",
      "ECE Flag Count", "Down/Up Ratio", "Average Packet Size", "Avg Fwd Segment Size",
      "Avg Bwd Segment Size", "Fwd Header Length.1", "Fwd Avg Bytes/Bulk", "Fwd Avg Packets/Bulk",
      "Fwd Avg Bulk Rate", "Bwd Avg Bytes/Bulk", "Bwd Avg Packets/Bulk", "Bwd Avg Bulk Rate",
      "Subflow Fwd Packets", "Subflow Fwd Bytes", "Subflow Bwd Packets", "Subflow Bwd Bytes",
      "Init_Win_bytes_forward", "Init_Win_bytes_backward", "act_data_pkt_fwd", "min_seg_size_forward",
      "Active Mean", "Active Std", "Active Max", "Active Min", "Idle Mean", "Idle Std", "Idle Max",
      "Idle Min",
  };
  return names;
}

const std::vector<NslKddColumn>& nslkdd_columns() {
  static const std::vector<NslKddColumn> columns = [] {
    std::vector<NslKddColumn> c;
    const char* names[] = {"duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land",
                           "wrong_fragment", "urgent", "hot", "num_failed_logins", "logged_in",
                           "num_compromised", "root_shell", "su_attempted", "num_root", "num_file_creations",
                           "num_shells", "num_access_files", "num_outbound_cmds", "is_host_login",
                           "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
                           "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate",
                           "srv_diff_host_rate", "dst_host_count", "dst_host_srv_count",
                           "dst_host_same_srv_rate", "dst_host_diff_srv_rate", "dst_host_same_src_port_rate",
                           "dst_host_srv_diff_host_rate", "dst_host_serror_rate", "dst_host_srv_serror_rate",
                           "dst_host_rerror_rate", "dst_host_srv_rerror_rate"};
    for (const char* n : names) c.push_back({n, {}});
    c[1].categories = {"icmp", "tcp", "udp"};
    c[2].categories = {"IRC", "X11", "Z39_50", "aol", "auth", "bgp", "courier", "csnet_ns", "ctf", "daytime",
                       "discard", "domain", "domain_u", "echo", "eco_i", "ecr_i", "efs", "exec", "finger", "ftp",
                       "ftp_data", "gopher", "harvest", "hostnames", "http", "http_2784", "http_443",
                       "http_8001", "imap4", "iso_tsap", "klogin", "kshell", "ldap", "link", "login", "mtp",
                       "name", "netbios_dgm", "netbios_ns", "netbios_ssn", "netstat", "nnsp", "nntp", "ntp_u",
                       "other", "pm_dump", "pop_2", "pop_3", "printer", "private", "red_i", "remote_job", "rje",
                       "shell", "smtp", "sql_net", "ssh", "sunrpc", "supdup", "systat", "telnet", "tftp_u",
                       "tim_i", "time", "urh_i", "urp_i", "uucp", "uucp_path", "vmnet", "whois"};
    c[3].categories = {"OTH", "REJ", "RSTO", "RSTOS0", "RSTR", "S0", "S1", "S2", "S3", "SF", "SH"};
    return c;
  }();
  return columns;
}

const std::vector<std::string>& nslkdd_features() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& col : nslkdd_columns()) {
      if (col.categories.empty()) {
        out.push_back(col.name);
      } else {
        for (const auto& v : col.categories) out.push_back(col.name + "=" + v);
      }
    }
    return out;
  }();
  return names;
}

const std::vector<std::string>* profile_features(std::string_view profile) {
  if (profile == kProfileCorrected) return &corrected_features();
  if (profile == kProfileCicids2017) return &cicids2017_features();
  if (profile == kProfileNslKdd) return &nslkdd_features();
  return nullptr;
}

bool looks_benign(std::string_view label) {
  std::string lower(label);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return lower == "benign" || lower == "normal";
}

}  // namespace flowguard::train
