#pragma once
// Turns block verdicts into kernel blocks and keeps the block list: who is blocked, why, until when.
//
// Modes: nftables (elements in the `inet flowguard` sets, see nft_blocker.hpp), dry-run (the same
// decisions, logs and list, nothing touches the kernel), off (verdicts never block; manual requests are
// refused). The list is persisted as JSON in the state directory after every change (by the
// maintenance thread, within a second) and at stop, and re-applied at start with the remaining TTL,
// so blocks survive a restart of either process. Dry-run keeps its own file, so switching to
// nftables never enforces decisions that were only simulated.

#include "enforce/allowlist.hpp"
#include "enforce/nft_blocker.hpp"
#include "core/verdict.hpp"

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace flowguard::capture::enforce {

class EventStore;

enum class EnforceMode : std::uint8_t { off, dry_run, nftables };
std::string_view to_string(EnforceMode mode);

// What enforcement did with one verdict (also reported in alerts and the event store).
enum class BlockOutcome : std::uint8_t {
  none,            // not a block verdict
  blocked,         // newly blocked
  renewed,         // already blocked; timeout restarted
  still_blocked,   // already blocked; renewal skipped (rate limit)
  dry_run,         // would have been blocked (dry-run mode)
  dry_run_listed,  // dry-run, and the source is already in the (simulated) list
  allowlisted,     // blocked-but-allowlisted: the verdict asked for a block, the allowlist refused it
  cap_reached,     // --max-blocks addresses are already blocked
  not_blockable,   // unspecified/multicast/broadcast source
  failed,          // the kernel refused (error logged and counted)
  off,             // enforcement is off
  responder,       // refused: the block named no side, or the flow's responder (never blocked)
};
std::string_view to_string(BlockOutcome outcome);
// True when packets from the source are dropped by the kernel after this outcome.
bool is_enforced(BlockOutcome outcome);
// The address a block verdict applies to: the side the server named (the flow's initiator), unless
// it names no side or contradicts the agent's own initiator (then nothing: responders are never blocked).
std::optional<IpAddress> block_target(const FlowVerdict& verdict);

struct BlockManagerOptions {
  EnforceMode mode = EnforceMode::dry_run;
  std::uint32_t ttl_seconds = 600;  // manual blocks, and verdicts that carry no block duration
  // The server's escalated block duration (Verdict.evidence.block_seconds) is used up to this.
  std::uint32_t ttl_max_seconds = 86400;
  std::uint32_t max_blocks = 10'000;
  // A source that keeps attacking gets its timeout restarted at most this often, so a flood of block
  // verdicts costs one kernel transaction per address per interval, not one per verdict.
  std::uint32_t renew_interval_seconds = 10;
  std::string state_dir;  // empty: no persistence
  std::string nft_table = "flowguard";
};

// Block duration for a verdict: the server's (escalated) one capped at ttl_max, else the default.
std::uint32_t block_ttl(const FlowVerdict& verdict, const BlockManagerOptions& options);

struct BlockRecord {
  IpAddress address;
  std::string reason;
  std::string model_version;
  std::int64_t created_unix_ms = 0;
  std::int64_t expires_unix_ms = 0;
  bool manual = false;
  BlockEvidence evidence;  // the server's evidence (empty for manual blocks)
};

// A manual block/unblock: the message for the operator on success, else the error.
using ControlResult = Result<std::string>;

struct BlockCounters {
  std::atomic<std::uint64_t> block_verdicts{0}, blocked{0}, renewed{0}, renew_suppressed{0}, dry_run{0},
      allowlisted{0}, cap_reached{0}, not_blockable{0}, kernel_errors{0}, expired{0}, manual_blocks{0},
      unblocks{0}, restored{0}, state_write_errors{0}, responder_refused{0};
};

class BlockManager final : public VerdictSink {
 public:
  // `events` may be null. Nothing happens until start().
  BlockManager(BlockManagerOptions options, Allowlist allowlist, EventStore* events = nullptr);
  ~BlockManager() override;
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  // Loads the persisted list, sets up the nftables table (nftables mode) with the remaining TTLs and
  // starts the maintenance thread. Throws flowguard::Exception (start-up only) when the kernel refuses.
  void start();
  // Persists the list and joins the maintenance thread. The nftables table and its elements are left
  // in place on purpose: protection continues while the agent restarts, and the kernel expires each
  // element on its own timeout.
  void stop();

  void on_verdict(const FlowVerdict& verdict) override { apply(verdict); }
  BlockOutcome apply(const FlowVerdict& verdict);

  // Control-socket operations. `address` is untrusted text: it is parsed, never passed on.
  ControlResult block(std::string_view address, std::uint32_t ttl_seconds, std::string_view reason);
  ControlResult unblock(std::string_view address);
  std::vector<BlockRecord> list() const;

  // Drops expired entries now (the maintenance thread calls this every second).
  void expire_now();

  EnforceMode mode() const { return options_.mode; }
  const BlockManagerOptions& options() const { return options_; }
  const Allowlist& allowlist() const { return allowlist_; }
  const BlockCounters& counters() const { return counters_; }
  std::size_t size() const;
  std::string state_file() const;

 private:
  struct Entry {
    BlockRecord record;
    std::int64_t last_renew_ms = 0;
  };
  using Key = std::array<std::uint8_t, 17>;  // family + 16 bytes
  static Key key_of(const IpAddress& a);

  // `renewal` tells the caller that an existing entry got a fresh timeout (both modes).
  // nftables add (nothing without nftables); on failure counts a kernel error and says why in `error`.
  bool kernel_add(const IpAddress& address, std::uint32_t ttl, std::string& error);
  BlockOutcome add_locked(const IpAddress& address, std::uint32_t ttl, std::string reason,
                          std::string model_version, bool manual, std::int64_t now, std::string& error,
                          bool& renewal, const BlockEvidence* evidence = nullptr);
  bool note_allowlisted(const IpAddress& address, std::int64_t now);
  void record_block_event(const BlockRecord& r, BlockOutcome outcome, std::int64_t now);
  void load_state();
  void save_state();
  void maintenance();

  BlockManagerOptions options_;
  Allowlist allowlist_;
  EventStore* events_;
  std::unique_ptr<NftBlocker> nft_;

  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  std::unordered_map<std::string, std::int64_t> allowlisted_noted_;  // bounded: cleared at 4096
  std::int64_t cap_noted_ms_ = 0;
  bool dirty_ = false;

  BlockCounters counters_;
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  std::thread maintenance_;
};

std::int64_t unix_now_ms();

// The evidence as JSON (state file, EVE) and back (a missing or damaged object gives empty evidence).
nlohmann::json evidence_json(const BlockEvidence& evidence);
BlockEvidence evidence_from_json(const nlohmann::json& json);

}  // namespace flowguard::capture::enforce
