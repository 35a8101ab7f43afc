#pragma once
// Helpers shared by the enforcement tests: a temporary directory and verdict builders.

#include "enforce/address.hpp"
#include "core/verdict.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace flowguard::capture::enforce::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fg-enforce-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline IpAddress addr(const char* text) {
  auto a = parse_address(text);
  if (!a) throw std::invalid_argument(text);
  return *a;
}

inline FlowVerdict verdict(const char* src, VerdictAction action, const char* cls = "PortScan",
                           float score = 0.97f) {
  FlowVerdict v;
  v.flow_id = 42;
  v.src = addr(src);
  v.dst = addr(canonical(v.src).family == 4 ? "10.0.0.9" : "2001:db8::9");
  v.src_port = 51234;
  v.dst_port = 22;
  v.protocol = 6;
  v.first_ts_us = 1'700'000'000'000'000;
  v.last_ts_us = 1'700'000'000'250'000;
  v.fwd_packets = 3;
  v.bwd_packets = 2;
  v.fwd_bytes = 120;
  v.bwd_bytes = 80;
  v.kind = RecordKind::final_record;
  v.action = action;
  v.predicted_class = cls;
  v.score = score;
  v.threshold = 0.9f;
  v.reason = "score above block threshold";
  v.model_name = "cnn-lstm";
  v.model_version = "1";
  v.top_features = {{"Flow Duration", 250000.f, 0.4f}, {"SYN Flag Count", 1.f, 0.3f}};
  v.block_side = FlowSide::src;  // the server names the initiator's side on every block
  return v;
}

}  // namespace flowguard::capture::enforce::test
