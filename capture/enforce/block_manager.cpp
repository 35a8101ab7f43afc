#include "enforce/block_manager.hpp"

#include "common/log_safe.hpp"

#include "enforce/event_store.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace flowguard::capture::enforce {

nlohmann::json evidence_json(const BlockEvidence& e) {
  return {{"rule", e.rule},
          {"flows", e.flows},
          {"classes", e.classes},
          {"level", e.level},
          {"max_score", e.max_score},
          {"window_start_us", e.window_start_us},
          {"window_end_us", e.window_end_us},
          {"offence", e.offence},
          {"block_seconds", e.block_seconds}};
}

BlockEvidence evidence_from_json(const nlohmann::json& j) {
  BlockEvidence e;
  if (!j.is_object()) return e;
  e.rule = j.value("rule", std::string{});
  e.flows = j.value("flows", 0u);
  if (j.contains("classes") && j["classes"].is_array())
    for (const auto& c : j["classes"])
      if (c.is_string()) e.classes.push_back(c.get<std::string>());
  e.level = j.value("level", 0.0f);
  e.max_score = j.value("max_score", 0.0f);
  e.window_start_us = j.value("window_start_us", std::int64_t{0});
  e.window_end_us = j.value("window_end_us", std::int64_t{0});
  e.offence = j.value("offence", 0u);
  e.block_seconds = j.value("block_seconds", 0u);
  return e;
}

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view to_string(EnforceMode mode) {
  switch (mode) {
    case EnforceMode::off:
      return "off";
    case EnforceMode::dry_run:
      return "dry-run";
    case EnforceMode::nftables:
      return "nftables";
  }
  return "?";
}

std::string_view to_string(BlockOutcome outcome) {
  switch (outcome) {
    case BlockOutcome::none:
      return "none";
    case BlockOutcome::blocked:
      return "blocked";
    case BlockOutcome::renewed:
      return "renewed";
    case BlockOutcome::still_blocked:
      return "still-blocked";
    case BlockOutcome::dry_run:
      return "dry-run";
    case BlockOutcome::dry_run_listed:
      return "dry-run-listed";
    case BlockOutcome::allowlisted:
      return "blocked-but-allowlisted";
    case BlockOutcome::cap_reached:
      return "cap-reached";
    case BlockOutcome::not_blockable:
      return "not-blockable";
    case BlockOutcome::failed:
      return "failed";
    case BlockOutcome::off:
      return "off";
    case BlockOutcome::responder:
      return "responder-refused";
  }
  return "?";
}

std::optional<IpAddress> block_target(const FlowVerdict& v) {
  if (v.block_side == FlowSide::unspecified) return std::nullopt;
  if (v.initiator != FlowSide::unspecified && v.initiator != v.block_side) return std::nullopt;
  return canonical(v.block_side == FlowSide::src ? v.src : v.dst);
}

std::uint32_t block_ttl(const FlowVerdict& v, const BlockManagerOptions& o) {
  if (v.evidence.block_seconds == 0) return o.ttl_seconds;
  return std::max<std::uint32_t>(1, std::min(v.evidence.block_seconds, o.ttl_max_seconds));
}

bool is_enforced(BlockOutcome o) {
  return o == BlockOutcome::blocked || o == BlockOutcome::renewed || o == BlockOutcome::still_blocked;
}

BlockManager::BlockManager(BlockManagerOptions options, Allowlist allowlist, EventStore* events)
    : options_(std::move(options)), allowlist_(std::move(allowlist)), events_(events) {}

BlockManager::~BlockManager() { stop(); }

BlockManager::Key BlockManager::key_of(const IpAddress& a) {
  const IpAddress c = canonical(a);
  Key k{};
  k[0] = c.family;
  std::copy(c.bytes.begin(), c.bytes.end(), k.begin() + 1);
  return k;
}

std::string BlockManager::state_file() const {
  if (options_.state_dir.empty() || options_.mode == EnforceMode::off) return {};
  return options_.state_dir +
         (options_.mode == EnforceMode::nftables ? "/blocks.json" : "/blocks.dry-run.json");
}

std::size_t BlockManager::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void BlockManager::start() {
  if (started_) return;
  load_state();
  if (options_.mode == EnforceMode::nftables) {
    nft_ = std::make_unique<NftBlocker>(options_.nft_table);
    std::vector<TimedAddress> initial;
    const std::int64_t now = unix_now_ms();
    {
      std::lock_guard lock(mutex_);
      for (const auto& [k, e] : entries_) {
        const auto remaining_s = (e.record.expires_unix_ms - now + 999) / 1000;  // round up
        if (remaining_s > 0) initial.push_back({e.record.address, static_cast<std::uint32_t>(remaining_s)});
      }
    }
    if (const Status st = nft_->prepare(initial); !st) {
      throw Exception(ErrorCode::permission_denied,
                      "nftables: cannot set up table inet " + options_.nft_table + ": " + st.error().message +
                          " (needs CAP_NET_ADMIN; use --enforce dry-run to run without it)");
    }
    spdlog::info("enforce: nftables table inet {} ready, {} block(s) re-applied", options_.nft_table,
                 initial.size());
  } else if (!entries_.empty()) {
    spdlog::info("enforce: {} block(s) restored ({})", entries_.size(), to_string(options_.mode));
  }
  started_ = true;
  stopping_ = false;
  maintenance_ = std::thread([this] { maintenance(); });
}

void BlockManager::stop() {
  if (!started_) return;
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (maintenance_.joinable()) maintenance_.join();
  save_state();
  started_ = false;
}

void BlockManager::maintenance() {
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    lock.unlock();
    expire_now();
    bool dirty;
    {
      std::lock_guard l(mutex_);
      dirty = dirty_;
    }
    if (dirty) save_state();
    lock.lock();
  }
}

void BlockManager::expire_now() {
  const std::int64_t now = unix_now_ms();
  std::vector<BlockRecord> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.record.expires_unix_ms <= now) {
        gone.push_back(it->second.record);
        it = entries_.erase(it);
        dirty_ = true;
      } else {
        ++it;
      }
    }
  }
  // The kernel drops the element on its own timeout; nothing to do there.
  for (const auto& r : gone) {
    counters_.expired.fetch_add(1);
    spdlog::info("UNBLOCK {} expired ({})", format_address(r.address), to_string(options_.mode));
    if (events_) events_->record(UnblockEvent{now, format_address(r.address), "expired"});
  }
}

void BlockManager::record_block_event(const BlockRecord& r, BlockOutcome outcome, std::int64_t now) {
  if (!events_) return;
  events_->record(BlockEvent{now, format_address(r.address), r.reason, r.model_version, r.expires_unix_ms,
                             r.manual, std::string(to_string(outcome)), r.evidence});
}

bool BlockManager::note_allowlisted(const IpAddress& address, std::int64_t now) {
  // One log line and one event per allowlisted address per renew interval, however many verdicts.
  std::lock_guard lock(mutex_);
  const std::string text = format_address(address);
  auto it = allowlisted_noted_.find(text);
  if (it != allowlisted_noted_.end() && now - it->second < options_.renew_interval_seconds * 1000LL)
    return false;
  if (allowlisted_noted_.size() >= 4096) allowlisted_noted_.clear();
  allowlisted_noted_[text] = now;
  return true;
}

bool BlockManager::kernel_add(const IpAddress& address, std::uint32_t ttl, std::string& error) {
  if (!nft_) return true;
  const Status st = nft_->add(address, ttl);
  if (st) return true;
  counters_.kernel_errors.fetch_add(1);
  error = st.error().message;
  return false;
}

BlockOutcome BlockManager::add_locked(const IpAddress& address, std::uint32_t ttl, std::string reason,
                                      std::string model_version, bool manual, std::int64_t now,
                                      std::string& error, bool& renewal, const BlockEvidence* evidence) {
  renewal = false;
  const bool dry = options_.mode != EnforceMode::nftables;
  const Key key = key_of(address);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    Entry& e = it->second;
    if (!manual && now - e.last_renew_ms < options_.renew_interval_seconds * 1000LL) {
      counters_.renew_suppressed.fetch_add(1);
      return dry ? BlockOutcome::dry_run_listed : BlockOutcome::still_blocked;
    }
    if (!kernel_add(address, ttl, error)) return BlockOutcome::failed;
    e.last_renew_ms = now;
    e.record.expires_unix_ms =
        std::max<std::int64_t>(e.record.expires_unix_ms, now + ttl * std::int64_t{1000});
    if (manual) {
      e.record.manual = true;
      e.record.reason = std::move(reason);
    } else if (evidence != nullptr && evidence->present()) {
      e.record.evidence = *evidence;  // the latest evidence (a repeat offence carries its escalation)
    }
    dirty_ = true;
    counters_.renewed.fetch_add(1);
    renewal = true;
    return dry ? BlockOutcome::dry_run_listed : BlockOutcome::renewed;
  }
  if (entries_.size() >= options_.max_blocks) {
    counters_.cap_reached.fetch_add(1);
    return BlockOutcome::cap_reached;
  }
  if (!kernel_add(address, ttl, error)) return BlockOutcome::failed;
  Entry e;
  e.record = BlockRecord{canonical(address),
                         std::move(reason),
                         std::move(model_version),
                         now,
                         now + ttl * std::int64_t{1000},
                         manual,
                         evidence != nullptr ? *evidence : BlockEvidence{}};
  e.last_renew_ms = now;
  entries_.emplace(key, std::move(e));
  dirty_ = true;
  if (options_.mode == EnforceMode::nftables) {
    counters_.blocked.fetch_add(1);
    return BlockOutcome::blocked;
  }
  counters_.dry_run.fetch_add(1);
  return BlockOutcome::dry_run;
}

BlockOutcome BlockManager::apply(const FlowVerdict& v) {
  if (v.action != VerdictAction::block) return BlockOutcome::none;
  counters_.block_verdicts.fetch_add(1);
  if (options_.mode == EnforceMode::off) return BlockOutcome::off;
  const std::int64_t now = unix_now_ms();
  const std::optional<IpAddress> target = block_target(v);
  if (!target) {
    // Only a flow's initiator is ever blocked: a server answering a scan, a victim's backscatter to
    // forged sources stay reachable whatever the verdict says.
    counters_.responder_refused.fetch_add(1);
    return BlockOutcome::responder;
  }
  const IpAddress src = *target;
  const std::uint32_t ttl = block_ttl(v, options_);
  if (!is_blockable(src)) {
    counters_.not_blockable.fetch_add(1);
    return BlockOutcome::not_blockable;
  }
  if (allowlist_.contains(src)) {
    counters_.allowlisted.fetch_add(1);
    if (note_allowlisted(src, now)) {
      spdlog::warn("blocked-but-allowlisted {} ({} {:.3f}, model {} {})", format_address(src),
                   log_safe(v.predicted_class), v.score, log_safe(v.model_name), log_safe(v.model_version));
      record_block_event(BlockRecord{src, v.predicted_class, v.model_version, now, now, false, v.evidence},
                         BlockOutcome::allowlisted, now);
    }
    return BlockOutcome::allowlisted;
  }
  std::string error;
  BlockOutcome outcome;
  BlockRecord snapshot;
  bool renewal = false;
  {
    std::lock_guard lock(mutex_);
    outcome = add_locked(src, ttl, v.predicted_class, v.model_version, false, now, error, renewal, &v.evidence);
    if (auto it = entries_.find(key_of(src)); it != entries_.end()) snapshot = it->second.record;
    if (outcome == BlockOutcome::cap_reached) {
      if (now - cap_noted_ms_ < 10'000) return outcome;  // one warning and event per 10 s
      cap_noted_ms_ = now;
      snapshot = BlockRecord{src, v.predicted_class, v.model_version, now, now, false, v.evidence};
    }
  }
  switch (outcome) {
    case BlockOutcome::blocked:
    case BlockOutcome::dry_run:
    case BlockOutcome::renewed:
    case BlockOutcome::dry_run_listed:
      if (outcome == BlockOutcome::dry_run_listed && !renewal) break;  // within the renew interval
      spdlog::info("BLOCK {} for {} s ({} {:.3f}, model {} {}){} [{}{}]", format_address(src), ttl,
                   log_safe(v.predicted_class), v.score, log_safe(v.model_name), log_safe(v.model_version),
                   v.evidence.present() ? fmt::format(" evidence: rule {}, {} flows, level {:.1f}, offence {}",
                                                      log_safe(v.evidence.rule), v.evidence.flows, v.evidence.level,
                                                      v.evidence.offence)
                                        : std::string(),
                   to_string(options_.mode), renewal ? ", renewed" : "");
      record_block_event(snapshot, renewal ? BlockOutcome::renewed : outcome, now);
      break;
    case BlockOutcome::cap_reached:
      spdlog::warn("enforce: block list full (--max-blocks {}), {} not blocked", options_.max_blocks,
                   format_address(src));
      record_block_event(snapshot, outcome, now);
      break;
    case BlockOutcome::failed:
      spdlog::error("enforce: cannot block {}: {}", format_address(src), error);
      break;
    default:
      break;
  }
  return outcome;
}

ControlResult BlockManager::block(std::string_view address_text, std::uint32_t ttl_seconds,
                                  std::string_view reason) {
  if (options_.mode == EnforceMode::off)
    return Error{ErrorCode::unavailable, "enforcement is off (--enforce off)"};
  const auto address = parse_address(address_text);
  if (!address) return Error{ErrorCode::invalid_argument, "not an IPv4 or IPv6 address"};
  if (!is_blockable(*address))
    return Error{ErrorCode::invalid_argument,
                 "unspecified, multicast and broadcast addresses cannot be blocked"};
  const std::string text = format_address(*address);
  if (allowlist_.contains(*address)) return Error{ErrorCode::invalid_argument, text + " is allowlisted"};
  const std::uint32_t ttl = ttl_seconds == 0 ? options_.ttl_seconds : ttl_seconds;
  const std::int64_t now = unix_now_ms();
  std::string error;
  BlockOutcome outcome;
  BlockRecord snapshot;
  {
    std::lock_guard lock(mutex_);
    bool renewal = false;
    outcome = add_locked(*address, ttl, reason.empty() ? std::string("manual") : std::string(reason), "",
                         true, now, error, renewal);
    if (auto it = entries_.find(key_of(*address)); it != entries_.end()) snapshot = it->second.record;
  }
  if (outcome == BlockOutcome::cap_reached) {
    return Error{ErrorCode::resource_exhausted,
                 "block list is full (--max-blocks " + std::to_string(options_.max_blocks) + ")"};
  }
  if (outcome == BlockOutcome::failed) return Error{ErrorCode::io_error, "nftables: " + error};
  counters_.manual_blocks.fetch_add(1);
  record_block_event(snapshot, outcome, now);
  spdlog::info("BLOCK {} for {} s (manual: {}) [{}]", text, ttl, log_safe(snapshot.reason),
               to_string(options_.mode));
  return "blocked " + text + " for " + std::to_string(ttl) + " s (" + std::string(to_string(options_.mode)) +
         ")";
}

ControlResult BlockManager::unblock(std::string_view address_text) {
  if (options_.mode == EnforceMode::off)
    return Error{ErrorCode::unavailable, "enforcement is off (--enforce off)"};
  const auto address = parse_address(address_text);
  if (!address) return Error{ErrorCode::invalid_argument, "not an IPv4 or IPv6 address"};
  const std::string text = format_address(*address);
  bool was_listed;
  {
    std::lock_guard lock(mutex_);
    // Remove from the kernel even when the list does not know the address (e.g. a stale element).
    if (nft_) {
      if (const Status st = nft_->remove(*address); !st) {
        counters_.kernel_errors.fetch_add(1);
        return Error{st.error().code, "nftables: " + st.error().message};
      }
    }
    was_listed = entries_.erase(key_of(*address)) > 0;
    if (was_listed) dirty_ = true;
  }
  counters_.unblocks.fetch_add(1);
  if (events_) events_->record(UnblockEvent{unix_now_ms(), text, "manual"});
  spdlog::info("UNBLOCK {} (manual) [{}]", text, to_string(options_.mode));
  return was_listed ? "unblocked " + text : text + " was not blocked";
}

std::vector<BlockRecord> BlockManager::list() const {
  const std::int64_t now = unix_now_ms();
  std::vector<BlockRecord> out;
  std::lock_guard lock(mutex_);
  for (const auto& [k, e] : entries_) {
    if (e.record.expires_unix_ms > now) out.push_back(e.record);
  }
  return out;
}

void BlockManager::load_state() {
  const std::string path = state_file();
  if (path.empty() || !std::filesystem::exists(path)) return;
  nlohmann::json doc;
  try {
    std::ifstream in(path);
    doc = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    // A damaged state file must not keep the agent down; keep it aside for inspection.
    spdlog::error("enforce: state file {} unreadable ({}); starting with an empty block list", path,
                  e.what());
    std::error_code ec;
    std::filesystem::rename(path, path + ".corrupt", ec);
    return;
  }
  const std::int64_t now = unix_now_ms();
  std::lock_guard lock(mutex_);
  if (!doc.contains("blocks") || !doc["blocks"].is_array()) return;
  for (const auto& b : doc["blocks"]) {
    if (!b.is_object()) continue;
    const auto address = parse_address(b.value("address", std::string{}));
    const std::int64_t expires = b.value("expires_unix_ms", std::int64_t{0});
    if (!address || !is_blockable(*address) || expires <= now) continue;
    if (allowlist_.contains(*address)) {
      spdlog::warn("enforce: persisted block of {} dropped: now allowlisted", format_address(*address));
      continue;
    }
    if (entries_.size() >= options_.max_blocks) break;
    Entry e;
    e.record = BlockRecord{canonical(*address),
                           b.value("reason", std::string{}),
                           b.value("model_version", std::string{}),
                           b.value("created_unix_ms", now),
                           expires,
                           b.value("manual", false),
                           b.contains("evidence") ? evidence_from_json(b["evidence"]) : BlockEvidence{}};
    e.last_renew_ms = 0;
    entries_.emplace(key_of(*address), std::move(e));
    counters_.restored.fetch_add(1);
  }
}

void BlockManager::save_state() {
  const std::string path = state_file();
  nlohmann::json blocks = nlohmann::json::array();
  {
    std::lock_guard lock(mutex_);
    dirty_ = false;
    if (path.empty()) return;
    for (const auto& [k, e] : entries_) {
      nlohmann::json b{{"address", format_address(e.record.address)},
                       {"reason", e.record.reason},
                       {"model_version", e.record.model_version},
                       {"created_unix_ms", e.record.created_unix_ms},
                       {"expires_unix_ms", e.record.expires_unix_ms},
                       {"manual", e.record.manual}};
      if (e.record.evidence.present()) b["evidence"] = evidence_json(e.record.evidence);
      blocks.push_back(std::move(b));
    }
  }
  const nlohmann::json doc{
      {"version", 1}, {"mode", std::string(to_string(options_.mode))}, {"blocks", blocks}};
  // Write a temporary file and rename it over the old one: a crash leaves either list, never half.
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << '\n';
    out.flush();
    if (!out) {
      counters_.state_write_errors.fetch_add(1);
      spdlog::error("enforce: cannot write {}", tmp);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    counters_.state_write_errors.fetch_add(1);
    spdlog::error("enforce: cannot replace {}: {}", path, ec.message());
  }
}

}  // namespace flowguard::capture::enforce
