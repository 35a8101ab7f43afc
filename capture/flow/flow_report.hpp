#pragma once
// What the flow engine hands to its consumers (CSV writer, server link, enforcement): one record per
// emitted flow, either a mid-flow snapshot or the final record. The view is valid only during the
// FlowSink call; consumers copy what they keep. Nothing here depends on a transport or a model.

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace flowguard::capture {

struct IpAddress {
  std::uint8_t family = 4;               // 4 or 6
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes
  std::span<const std::uint8_t> view() const { return {bytes.data(), family == 4 ? 4u : 16u}; }
  // Same meaning as a defaulted ==, without a library memcmp call on the packet path.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    std::uint64_t x[2], y[2];
    std::memcpy(x, a.bytes.data(), sizeof(x));
    std::memcpy(y, b.bytes.data(), sizeof(y));
    return a.family == b.family && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }
};

enum class RecordKind : std::uint8_t { snapshot = 1, final_record = 2 };

struct FlowReport {
  std::uint64_t flow_id = 0;  // unique within one agent run; snapshots and final record share it
  IpAddress src, dst;         // the flow's forward orientation as the profile defines it
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t protocol = 0;  // IANA number as the profile reports it
  std::uint16_t vlan_id = 0;  // outermost 802.1Q tag, 0 if none
  std::int64_t first_ts_us = 0, last_ts_us = 0;
  std::uint64_t fwd_packets = 0, bwd_packets = 0, fwd_bytes = 0, bwd_bytes = 0;
  RecordKind kind = RecordKind::final_record;
  std::span<const double> features;  // in the profile's feature_names() order

  // Added by the flow engine for exact CSV output; other consumers may ignore them.
  // Per feature: 1 if the reference prints it as an integer literal (long columns and the int 0 of
  // empty statistics), 0 if as a Java double.
  std::span<const std::uint8_t> feature_integral;
  // The order the flow is stored under (the reference's "Flow ID"); may differ from src/dst after a
  // timeout split in the corrected profile, and is the canonical order in cicids2017.
  IpAddress key_src, key_dst;
  std::uint16_t key_src_port = 0, key_dst_port = 0;
};

class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void on_flow(const FlowReport& report) = 0;
  // Called as packet time advances (after each packet or batch of packets, and at end of input), so
  // consumers can flush
  // batches and expire state on capture time rather than wall-clock time.
  virtual void on_time(std::int64_t /*now_us*/) {}
};

}  // namespace flowguard::capture
