#include "profiles.hpp"

#include "features/profile.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace flowguard::train {

namespace {

// The capture agent's feature names for `profile`, copied once into the trainer's string vectors.
const std::vector<std::string>& capture_features(capture::features::Profile profile) {
  static const auto tables = [] {
    std::array<std::vector<std::string>, capture::features::all_profiles.size()> t;
    for (const auto p : capture::features::all_profiles) {
      for (const auto name : capture::features::feature_names(p))
        t[static_cast<std::size_t>(p)].emplace_back(name);
    }
    return t;
  }();
  return tables[static_cast<std::size_t>(profile)];
}

}  // namespace

const std::vector<std::string>& corrected_features() {
  return capture_features(capture::features::Profile::corrected);
}

const std::vector<std::string>& cicids2017_features() {
  return capture_features(capture::features::Profile::cicids2017);
}

const std::vector<NslKddColumn>& nslkdd_columns() {
  static const std::vector<NslKddColumn> columns = [] {
    std::vector<NslKddColumn> c;
    const char* names[] = {"duration",
                           "protocol_type",
                           "service",
                           "flag",
                           "src_bytes",
                           "dst_bytes",
                           "land",
                           "wrong_fragment",
                           "urgent",
                           "hot",
                           "num_failed_logins",
                           "logged_in",
                           "num_compromised",
                           "root_shell",
                           "su_attempted",
                           "num_root",
                           "num_file_creations",
                           "num_shells",
                           "num_access_files",
                           "num_outbound_cmds",
                           "is_host_login",
                           "is_guest_login",
                           "count",
                           "srv_count",
                           "serror_rate",
                           "srv_serror_rate",
                           "rerror_rate",
                           "srv_rerror_rate",
                           "same_srv_rate",
                           "diff_srv_rate",
                           "srv_diff_host_rate",
                           "dst_host_count",
                           "dst_host_srv_count",
                           "dst_host_same_srv_rate",
                           "dst_host_diff_srv_rate",
                           "dst_host_same_src_port_rate",
                           "dst_host_srv_diff_host_rate",
                           "dst_host_serror_rate",
                           "dst_host_srv_serror_rate",
                           "dst_host_rerror_rate",
                           "dst_host_srv_rerror_rate"};
    for (const char* n : names) c.push_back({n, {}});
    c[1].categories = {"icmp", "tcp", "udp"};
    c[2].categories = {
        "IRC",      "X11",      "Z39_50",      "aol",        "auth",        "bgp",      "courier",
        "csnet_ns", "ctf",      "daytime",     "discard",    "domain",      "domain_u", "echo",
        "eco_i",    "ecr_i",    "efs",         "exec",       "finger",      "ftp",      "ftp_data",
        "gopher",   "harvest",  "hostnames",   "http",       "http_2784",   "http_443", "http_8001",
        "imap4",    "iso_tsap", "klogin",      "kshell",     "ldap",        "link",     "login",
        "mtp",      "name",     "netbios_dgm", "netbios_ns", "netbios_ssn", "netstat",  "nnsp",
        "nntp",     "ntp_u",    "other",       "pm_dump",    "pop_2",       "pop_3",    "printer",
        "private",  "red_i",    "remote_job",  "rje",        "shell",       "smtp",     "sql_net",
        "ssh",      "sunrpc",   "supdup",      "systat",     "telnet",      "tftp_u",   "tim_i",
        "time",     "urh_i",    "urp_i",       "uucp",       "uucp_path",   "vmnet",    "whois"};
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
  if (profile == kProfileNslKdd) return &nslkdd_features();
  if (const auto p = capture::features::parse_profile(profile)) return &capture_features(*p);
  return nullptr;
}

const std::vector<std::string>* group_features(std::string_view group) {
  // Host context: the capture agent's names and order (capture/context/host_context.cpp, docs/host-context.md).
  static const std::vector<std::string> host_context = [] {
    std::vector<std::string> names;
    for (const char* base : {"hc_src_flows", "hc_src_dst_ports", "hc_src_dst_hosts", "hc_src_failed",
                             "hc_src_short_share", "hc_src_same_size_share", "hc_src_packets", "hc_src_bytes"})
      for (const char* w : {"1s", "10s", "60s"}) names.push_back(std::string(base) + "_" + w);
    names.insert(names.end(), {"hc_src_open_flows", "hc_svc_flows_10s", "hc_svc_sources_10s"});
    return names;
  }();
  if (group == "host_context") return &host_context;
  return nullptr;
}

const std::map<std::string, std::string>& merged_label_map() {
  // Only labels whose flows cannot be told apart by what flowguard observes. "Infiltration - Portscan"
  // (nmap from the infected inside host) and "Portscan" (nmap from outside) share 54 distinct feature
  // vectors (1,435 rows) in the corrected sample, and no other pair of labels shares any: addresses are
  // not features, so the origin of the scan is not observable per flow. models/README.md, "Label map".
  static const std::map<std::string, std::string> map = {{"Infiltration - Portscan", "Portscan"}};
  return map;
}

std::string map_label(const std::map<std::string, std::string>& map, const std::string& label) {
  const auto it = map.find(label);
  return it == map.end() ? label : it->second;
}

bool looks_benign(std::string_view label) {
  std::string lower(label);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  return lower == "benign" || lower == "normal";
}

}  // namespace flowguard::train
