#pragma once
// The flow engine: turns decoded packets into flow records under one feature profile and hands them
// to FlowSinks. Everything is driven by packet time (replaying a file is deterministic):
//  - the profile's own lifecycle (timeout split with the strict '>' test, FIN/RST/SYN rules) runs on
//    each packet exactly as the reference does;
//  - a bounded expiry sweep (a few flows per packet) emits flows idle longer than the flow timeout,
//    so dead flows do not pile up on live traffic. Such a flow would be split by its next packet
//    anyway, so the output is unchanged; its record stays (marked expired) until the space is needed,
//    so a late packet still continues the conversation the way the reference would;
//  - when the table is full, an expired record is reclaimed, else the least recently seen of a bounded
//    sample is evicted (its final record is emitted and counted);
//  - optional mid-flow snapshots (every N packets and/or every T seconds of packet time);
//  - each flow's initiator (core/initiator.hpp) and, with a host-context table, the flow's events feed
//    the table and every record carries the group's values (FlowReport::group_features).

#include "context/host_context.hpp"
#include "core/agent_metrics.hpp"
#include "decode/packet.hpp"
#include "features/profile.hpp"
#include "features/profile_common.hpp"
#include "core/flow_report.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace flowguard::capture {

struct EngineConfig {
  features::Profile profile = features::Profile::corrected;
  features::Timeouts timeouts;
  std::uint32_t max_flows = 262'144;
  std::uint64_t snapshot_packets = 0;     // 0 = off
  std::int64_t snapshot_interval_us = 0;  // 0 = off
  std::uint32_t sweep_per_packet = 1;     // flows examined by the expiry sweep per packet
  std::uint32_t eviction_sample = 64;     // flows examined to choose a victim when full
  std::uint64_t hash_seed = 0;            // 0 = random at start-up
};

struct EngineStats {
  std::uint64_t packets = 0;            // decoded packets given to the engine
  std::uint64_t flows_created = 0;      // flow records started (new conversations and successors)
  std::uint64_t flows_ended = 0;        // ended by the profile's lifecycle (timeout split, FIN, SYN, ICMP)
  std::uint64_t flows_expired = 0;      // emitted early by the idle sweep
  std::uint64_t flows_evicted = 0;      // live flows pushed out because the table was full
  std::uint64_t expired_reclaimed = 0;  // expired records reused for new flows
  std::uint64_t late_packets = 0;       // packets for an expired flow arriving within its timeout
  std::uint64_t final_records = 0;      // final records handed to the sinks
  std::uint64_t snapshot_records = 0;
  std::uint64_t suppressed_records = 0;  // flows the profile does not write (cicids2017: 1 packet)
  std::uint64_t flows_active = 0;        // open, not yet emitted
  std::uint64_t table_used = 0;          // occupied records (active + expired)
  std::uint64_t table_capacity = 0;
  std::size_t bytes_per_flow = 0;
};

class FlowEngine {
 public:
  virtual ~FlowEngine() = default;
  // Sinks and the host-context table (may be null: no group values) are not owned and must outlive
  // the engine.
  static std::unique_ptr<FlowEngine> create(const EngineConfig& config, std::vector<FlowSink*> sinks,
                                            context::HostContextTable* host_context = nullptr);

  virtual void on_packet(const DecodedPacket& packet) = 0;
  // Same as on_packet() for each packet in order; looks the batch's flows up ahead of time (prefetch),
  // which hides most of the table's cache misses. Up to max_batch packets per call.
  static constexpr std::size_t max_batch = 32;
  virtual void on_packets(std::span<const DecodedPacket> packets) = 0;
  // No packet for a while (live capture): advance packet time to now_us (never backwards) and run a
  // larger expiry sweep, so idle flows still end when the link is quiet.
  virtual void on_idle(std::int64_t now_us) = 0;
  // End of input: emits every open flow, then tells the sinks the final time.
  virtual void finish() = 0;
  virtual EngineStats stats() const = 0;
  virtual features::Profile profile() const = 0;
};

// Registers the engine's counters and table gauges in the agent's registry. `stats` is called on the
// capture thread by AgentMetrics::publish() (the engine may be created after registration).
void register_engine_metrics(AgentMetrics& metrics, std::function<EngineStats()> stats);

}  // namespace flowguard::capture
