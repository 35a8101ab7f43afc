#pragma once
// Host context: what the agent knows about a flow's initiator and its destination service beyond the
// flow itself, as the feature group "host_context" (docs/host-context.md). A scan, a flood of
// one-request connections or a brute force is many flows that each look ordinary; the group says how
// many flows, ports, hosts and failures the same source produced over the last 1 s, 10 s and 60 s of
// packet time, so a model can see the pattern on every single record.
//
// The flow engine (flow/) drives it with the flow's events and reads the values whenever it emits a
// record (snapshot or final):
//   flow_started  a flow record starts (new conversation, or the successor of a split)
//   packet        a packet of the flow (initiator's packets and bytes; SYN-ACK / RST answers)
//   flow_ended    the flow's final record is produced (short / same-size shares, half-open failures)
//   values        the 27 features for the record, at the engine's packet time
//
// Two bounded tables, preallocated at start-up and never grown: sources (keyed by address) and services
// (destination address, protocol, port). Keys are trivially copyable and hashed with a per-process
// random seed; a full table evicts the least recently seen entry of a small sample (counted). A flow
// keeps the slot and generation of its entries (FlowContext), so its packets reach them without a hash
// lookup; an entry evicted meanwhile is looked up again (or re-created) by address. Nothing allocates
// after construction.

#include "context/sliding.hpp"
#include "core/agent_metrics.hpp"
#include "core/initiator.hpp"
#include "core/ip_address.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>

namespace flowguard::capture::context {

inline constexpr std::string_view group_name = "host_context";
inline constexpr std::size_t feature_count = 27;
// The group's feature names, in the order of values() (and of the CSV columns and the wire).
std::span<const std::string_view> feature_names();

struct HostContextConfig {
  std::uint32_t max_sources = 65'536;   // --host-context-max-sources
  std::uint32_t max_services = 65'536;  // same cap as sources (a port sweep creates one per port)
  std::uint32_t eviction_sample = 16;   // entries examined to choose a victim when full
  std::uint64_t hash_seed = 0;          // 0 = random at start-up
};

struct HostContextStats {
  std::uint64_t sources_used = 0, sources_capacity = 0, sources_evicted = 0;
  std::uint64_t services_used = 0, services_capacity = 0, services_evicted = 0;
  std::uint64_t stale_handles = 0;  // a flow's entry had been evicted and was looked up again
  std::size_t bytes_per_source = 0, bytes_per_service = 0;
  std::size_t bytes_total = 0;  // both tables with their indexes, as preallocated
};

// Per-flow part, kept inline in the flow record (trivially copyable, zero = not started).
struct FlowContext {
  std::uint32_t src_slot = 0, src_gen = 0;  // slot + 1 (0 = none)
  std::uint32_t svc_slot = 0, svc_gen = 0;
  bool started = false;
  bool expects_answer = false;  // the initiator's SYN (without ACK) opened it
  bool answered = false;        // the responder's SYN+ACK was seen
  bool failed = false;          // already counted as failed (RST answer or never answered)
};
static_assert(std::is_trivially_copyable_v<FlowContext>);

// What the engine knows about a flow when it starts.
struct FlowStart {
  IpAddress initiator, responder;
  std::uint16_t responder_port = 0;  // 0 for protocols without ports
  std::uint8_t protocol = 0;
  std::int64_t ts = 0;
  bool new_conversation = true;  // false for the successor of a timeout split (same conversation)
  bool expects_answer = false;   // opened by the initiator's SYN without ACK
  bool answered = false;         // opened by the responder's SYN+ACK (the SYN was missed)
};

class HostContextTable {
 public:
  explicit HostContextTable(const HostContextConfig& config);
  ~HostContextTable();
  HostContextTable(const HostContextTable&) = delete;
  HostContextTable& operator=(const HostContextTable&) = delete;

  void flow_started(FlowContext& fc, const FlowStart& start);
  // `from_initiator`: the packet's sender is the flow's initiator. `bytes`: L4 payload bytes.
  void packet(FlowContext& fc, const IpAddress& initiator, bool from_initiator, std::uint8_t tcp_flags,
              std::int64_t bytes, std::int64_t ts);
  // The final record is about to be produced. `packets`/`bytes`: the flow's totals, both directions.
  void flow_ended(FlowContext& fc, const IpAddress& initiator, std::int64_t packets, std::int64_t bytes,
                  std::int64_t ts);
  // The group's values for a record emitted at packet time `now` (feature_names() order). A flow
  // whose entries were evicted reads them by address, or zeros when they are gone.
  void values(const FlowContext& fc, const IpAddress& initiator, const IpAddress& responder,
              std::uint16_t responder_port, std::uint8_t protocol, std::int64_t now,
              std::span<float, feature_count> out);

  HostContextStats stats() const;

  struct SourceEntry;
  struct ServiceEntry;
  struct Tables;

 private:
  std::unique_ptr<Tables> t_;
};

// Registers the tables' use, capacity, evictions and bytes per entry in the agent's registry; `stats` is
// called on the capture thread by AgentMetrics::publish().
void register_host_context_metrics(AgentMetrics& metrics, std::function<HostContextStats()> stats);

}  // namespace flowguard::capture::context
