#pragma once
// Evidence-based blocking: the server decides to block a source only when it has accumulated enough
// evidence about it, not on one flow (fail2ban's maxretry/findtime, CrowdSec's leaky buckets).
//
// Per source address (a flow's initiator, never its responder) and per predicted class, a leaky bucket:
// every counted alert adds 1 (plus a host-context bonus when the agent sends host context), the bucket
// drains `evidence` units every `window` seconds of packet time and holds `evidence - 1`: the flow that
// overflows it blocks. So a rule {evidence: K, window: W} blocks a source at its K-th alert of one class
// when they come faster than one per W/K seconds, later when they are spread out; a source raising a
// few alerts now and then never fills its bucket.
// A source blocked before (within `remember_seconds`) is blocked longer each time: base x factor^(n-1),
// capped (fail2ban's bantime.increment).
//
// The state is one preallocated, set-associative table (8 ways per set) addressed by a seeded hash of
// the address: memory is fixed at start-up whatever the traffic, and a flood of spoofed sources evicts
// (counted) the entries with the least at stake: no block memory, least evidence, oldest.

#include "common/metrics.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace flowguard::inference {

// Where a flow's counted score must be: the model's alert threshold, its (per-class) block threshold,
// or a number.
struct ScoreFloor {
  enum class Kind : std::uint8_t { alert, block, value } kind = Kind::alert;
  double value = 0;
};

struct EvidenceRule {
  std::string name;
  std::vector<std::string> classes;  // empty for the default rule
  double evidence = 5;               // counted flows that block (the bucket holds evidence - 1)
  double window_s = 30;              // seconds of packet time to drain `evidence` units
  ScoreFloor min_score;              // flows below it are alerts that add no evidence
  // Host context (the agent's "host_context" feature group): a flow whose feature >= threshold (any
  // listed) counts 1 + context_weight. Absent features add nothing.
  std::vector<std::pair<std::string, double>> context;
  double context_weight = 0;
};

struct EvidenceConfig {
  bool enabled = true;  // false: one flow >= the block threshold blocks (the pre-evidence behaviour)
  std::size_t max_sources = 65536;
  // FlowRecord.initiator unspecified (an agent without initiator detection): true treats the flow's
  // src as the initiator (basis: first packet); false never blocks on such a flow.
  bool unspecified_initiator_is_src = true;
  std::uint32_t base_block_s = 600;
  double factor = 2;
  std::uint32_t max_block_s = 86400;
  std::uint32_t remember_s = 86400;
  std::vector<EvidenceRule> rules;
  EvidenceRule default_rule;

  // The documented defaults (docs/operations.md), for the shipped model's CIC-IDS2017 class names.
  static EvidenceConfig defaults();
  // Rule index for a class (rules.size() = the default rule).
  std::size_t rule_for(const std::string& cls) const;
  const EvidenceRule& rule(std::size_t index) const {
    return index < rules.size() ? rules[index] : default_rule;
  }
  std::size_t rule_count() const { return rules.size() + 1; }
  // Distinct host-context feature names the rules read (at most kMaxContextFeatures, checked on load).
  std::vector<std::string> context_names() const;
  static constexpr std::size_t kMaxContextFeatures = 8;
  std::string describe() const;
};

// Address key: family (4 or 6) + 16 bytes (IPv4 in the first 4). Built from FlowRecord bytes.
using SourceKey = std::array<std::uint8_t, 17>;
std::optional<SourceKey> source_key(std::string_view address_bytes);

struct Observation {
  SourceKey source{};
  std::uint64_t flow_fingerprint = 0;  // (session, flow_id): snapshots of one flow count once
  std::int64_t ts_us = 0;              // packet time of the verdict (the record's last packet)
  std::uint16_t class_index = 0;
  std::uint16_t rule = 0;
  float score = 0;
  double weight = 1;  // 1 + host-context bonus
};

// What the table knows about a source after one observation.
struct EvidenceResult {
  bool counted = false;  // the flow added evidence (false: duplicate record of a counted flow)
  bool block = false;    // the source is to be blocked (newly, or still within its block time)
  bool renewal = false;  // block == true because an earlier block is still running
  std::uint32_t flows = 0;
  float level = 0, score_sum = 0, max_score = 0;
  std::int64_t window_start_us = 0, window_end_us = 0;
  std::uint32_t offence = 0, block_seconds = 0;
  std::uint16_t rule = 0;
  std::array<std::uint16_t, 4> classes{};  // classes with evidence now (class indices)
  std::uint8_t n_classes = 0;
};

struct EvidenceCounters {
  std::atomic<std::uint64_t> evictions{0};     // live entries pushed out by new sources (table full)
  std::atomic<std::uint64_t> bucket_evictions{0};  // a source's 5th class replaced its weakest bucket
  std::atomic<std::uint64_t> duplicates{0};    // records of an already counted flow
  std::atomic<std::uint64_t> blocks_new{0}, blocks_renewed{0}, repeat_offences{0};
};

// Registry counters the table also increments (any may be null).
struct EvidenceHooks {
  metrics::Counter* evictions = nullptr;
  metrics::Counter* duplicates = nullptr;
};

class EvidenceTable {
 public:
  // `seed` 0: random (std::random_device). Allocates everything now.
  explicit EvidenceTable(const EvidenceConfig& config, std::uint64_t seed = 0, EvidenceHooks hooks = {});
  EvidenceTable(const EvidenceTable&) = delete;
  EvidenceTable& operator=(const EvidenceTable&) = delete;

  // Thread-safe; never allocates.
  EvidenceResult observe(const Observation& o);
  // A source's block state as of packet time `now_us` (nullopt: not blocked), without adding evidence.
  std::optional<EvidenceResult> blocked(const SourceKey& source, std::int64_t now_us);

  std::size_t capacity() const { return entries_.size(); }
  std::size_t size() const { return used_.load(std::memory_order_relaxed); }
  static constexpr std::size_t bytes_per_entry();
  std::size_t bytes() const;
  const EvidenceCounters& counters() const { return counters_; }
  std::uint64_t hash(const SourceKey& k) const;

  static constexpr std::size_t kWays = 8;
  static constexpr std::size_t kBuckets = 4;

 private:
  struct Bucket {
    float level = 0, score_sum = 0, max_score = 0;
    std::uint32_t flows = 0;
    std::int64_t start_us = 0, last_us = 0;
    std::uint16_t class_index = 0;
    std::uint16_t rule = 0;
    bool used = false;
  };
  struct Entry {
    SourceKey key{};
    bool used = false;
    std::uint8_t offences = 0;
    std::uint16_t block_rule = 0;
    std::uint32_t block_seconds = 0;
    std::int64_t last_seen_us = 0;
    std::int64_t last_block_us = 0;  // 0: never blocked
    std::int64_t blocked_until_us = 0;
    std::array<Bucket, kBuckets> buckets{};
  };

  void drain(Bucket& b, std::int64_t now) const;
  bool vacant(Entry& e, std::int64_t now) const;
  Entry* find_or_insert(const SourceKey& key, std::int64_t now);
  std::optional<EvidenceResult> blocked_locked(const SourceKey& source, std::int64_t now_us);
  void fill(const Entry& e, std::int64_t now, EvidenceResult& r) const;
  std::uint32_t block_seconds_for(std::uint32_t offence) const;

  EvidenceConfig config_;
  std::uint64_t seed_;
  EvidenceHooks hooks_;
  std::size_t sets_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;           // sets_ * kWays, preallocated
  std::vector<std::uint64_t> counted_;   // direct-mapped fingerprints of counted flows
  std::atomic<std::size_t> used_{0};
  EvidenceCounters counters_;
};

constexpr std::size_t EvidenceTable::bytes_per_entry() { return sizeof(Entry); }

}  // namespace flowguard::inference
