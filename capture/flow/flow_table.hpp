#pragma once
// Bounded flow table: a preallocated pool of flow records (sized by --max-flows, never grown) indexed
// by an open-addressing hash (linear probing, backward-shift deletion, load <= 0.5) over seeded key
// hashes. A dense list of occupied slots lets the engine sweep and evict with bounded work per packet.
// Nothing here allocates after construction.

#include "context/host_context.hpp"
#include "core/flow_key.hpp"
#include "core/initiator.hpp"
#include "features/flow_state.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

namespace flowguard::capture {

struct FlowRecord {
  FlowKey key;                // stored key: the Flow ID
  std::uint64_t flow_id = 0;  // unique per run, shared by a flow's snapshots and final record
  std::uint32_t hash32 = 0;
  std::uint32_t dense_pos = 0;  // position in FlowTable::occupied()
  // Already emitted by the expiry sweep but kept so that a late packet continues the conversation
  // exactly as the reference would (inherited orientation, Flow ID, TCP flow time); reclaimed first
  // when the table is full.
  bool expired = false;
  std::int64_t last_snapshot_ts = 0;
  Initiator initiator;          // decided from the first packet (core/initiator.hpp)
  context::FlowContext context;  // the flow's handles into the host-context table (when enabled)
  features::FlowState state;
};
static_assert(std::is_trivially_destructible_v<FlowRecord>);

class FlowTable {
 public:
  static constexpr std::uint32_t npos = 0xFFFFFFFFu;

  FlowTable(std::uint32_t max_flows, std::uint64_t seed);

  // Symmetric: a key and its reverse hash alike, so the corrected profile's two-orientation lookup
  // walks one probe chain (and touches one cache line of the index).
  std::uint64_t hash(const FlowKey& key) const { return hasher_(key.canonical()); }
  std::uint32_t find(const FlowKey& key, std::uint64_t hash) const;
  // The slot stored under `key` or under `reverse` (both share `hash`; the engine never stores both).
  std::uint32_t find_either(const FlowKey& key, const FlowKey& reverse, std::uint64_t hash) const;
  // Hints for batched lookups: bring the index bucket, then the record it most likely names, into cache.
  void prefetch_bucket(std::uint64_t hash) const { __builtin_prefetch(&index_[hash & mask_]); }
  void prefetch_record(std::uint64_t hash) const;
  void prefetch_slot(std::uint32_t slot) const { __builtin_prefetch(&pool_[slot]); }
  // Requires !full() and that the key is absent. The record is value-initialised except key/hash.
  std::uint32_t insert(const FlowKey& key, std::uint64_t hash);
  void erase(std::uint32_t slot);
  // Forget every record (end of input); with many records one pass over the index replaces a
  // backward-shift deletion per flow.
  void clear();

  FlowRecord& at(std::uint32_t slot) { return pool_[slot]; }
  const FlowRecord& at(std::uint32_t slot) const { return pool_[slot]; }
  std::span<const std::uint32_t> occupied() const { return occupied_; }

  // Last activity (packet time) of each occupied record, parallel to occupied(): the expiry sweep and
  // the eviction sample scan this compact array instead of touching idle records (cache misses).
  // Records already emitted by the sweep are `parked` (the oldest possible value: reclaimed first).
  static constexpr std::int64_t parked = std::numeric_limits<std::int64_t>::min();
  std::span<const std::int64_t> activity() const { return activity_; }
  void set_activity(std::uint32_t slot, std::int64_t ts) { activity_[pool_[slot].dense_pos] = ts; }

  std::size_t size() const { return occupied_.size(); }
  std::uint32_t capacity() const { return max_flows_; }
  bool full() const { return occupied_.size() >= max_flows_; }
  // Record plus its share of the index and the dense list.
  std::size_t bytes_per_flow() const;

 private:
  struct Entry {
    std::uint32_t slot_plus1 = 0;  // 0 = empty
    std::uint32_t hash32 = 0;
  };
  // Anonymous memory mapped on 2 MiB boundaries and advised for transparent huge pages, zero-filled
  // and touched lazily. A 50 000-flow table spans ~40 MiB of records: with 4 KiB pages nearly every
  // record access is a TLB miss and every new 4 KiB a page fault.
  class HugePageBlock {
   public:
    explicit HugePageBlock(std::size_t bytes);
    ~HugePageBlock();
    HugePageBlock(const HugePageBlock&) = delete;
    HugePageBlock& operator=(const HugePageBlock&) = delete;
    void* data() const { return data_; }

   private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
  };

  std::uint32_t max_flows_;
  std::uint32_t mask_;
  FlowKeyHasher hasher_;
  std::size_t buckets_;
  HugePageBlock index_block_;
  Entry* index_;  // buckets_ entries, all-zero (empty) initially
  // Raw storage: pages are touched only when a slot is first used.
  HugePageBlock pool_block_;
  FlowRecord* pool_;
  std::uint32_t never_used_ = 0;     // slots [never_used_, max_flows_) were never handed out
  std::vector<std::uint32_t> free_;  // recycled slots
  std::vector<std::uint32_t> occupied_;
  std::vector<std::int64_t> activity_;
};

}  // namespace flowguard::capture
