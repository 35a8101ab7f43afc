#include "enforce/nft_blocker.hpp"

#include <nftables/libnftables.h>

#include <stdexcept>

namespace flowguard::capture::enforce {

NftBlocker::NftBlocker(std::string table) : table_(std::move(table)) {
  ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx_ == nullptr) throw Exception(ErrorCode::internal, "nftables: cannot create a libnftables context");
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

NftBlocker::~NftBlocker() { nft_ctx_free(ctx_); }

Status NftBlocker::run(const std::string& commands) {
  std::lock_guard lock(mutex_);
  if (nft_run_cmd_from_buffer(ctx_, commands.c_str()) == 0) return {};
  std::string error = nft_ctx_get_error_buffer(ctx_);
  while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
  if (error.empty()) error = "nft command failed";
  return Error{ErrorCode::io_error, std::move(error)};
}

std::string NftBlocker::element_target(const IpAddress& address) const {
  return "inet " + table_ + (canonical(address).family == 4 ? " blocked4 { " : " blocked6 { ") +
         format_address(address);
}

Status NftBlocker::prepare(std::span<const TimedAddress> initial) {
  const std::string t = "inet " + table_;
  std::string cmd;
  cmd += "add table " + t + "\n";
  cmd += "add set " + t + " blocked4 { type ipv4_addr; flags timeout; }\n";
  cmd += "add set " + t + " blocked6 { type ipv6_addr; flags timeout; }\n";
  for (const char* hook : {"input", "forward"}) {
    cmd +=
        "add chain " + t + " " + hook + " { type filter hook " + hook + " priority -10; policy accept; }\n";
    cmd += "flush chain " + t + " " + hook + "\n";
    cmd += "add rule " + t + " " + hook + " ip saddr @blocked4 counter drop\n";
    cmd += "add rule " + t + " " + hook + " ip6 saddr @blocked6 counter drop\n";
  }
  cmd += "flush set " + t + " blocked4\n";
  cmd += "flush set " + t + " blocked6\n";
  for (const auto& e : initial) {
    if (!is_blockable(e.address) || e.ttl_seconds == 0) continue;
    cmd += "add element " + element_target(e.address) + " timeout " + std::to_string(e.ttl_seconds) + "s }\n";
  }
  return run(cmd);
}

Status NftBlocker::add(const IpAddress& address, std::uint32_t ttl_seconds) {
  if (!is_blockable(address)) {
    return Error{ErrorCode::invalid_argument, "address cannot be blocked"};
  }
  // add (no-op when present) + delete + add with the timeout restarts an existing element's timer in
  // one transaction: a plain `add` leaves an existing element's timeout untouched.
  const std::string target = element_target(address);
  std::string cmd = "add element " + target + " }\n";
  cmd += "delete element " + target + " }\n";
  cmd += "add element " + target + " timeout " + std::to_string(ttl_seconds == 0 ? 1 : ttl_seconds) + "s }\n";
  return run(cmd);
}

Status NftBlocker::remove(const IpAddress& address) {
  if (!is_blockable(address)) return {};
  const std::string target = element_target(address);
  return run("add element " + target + " }\ndelete element " + target + " }\n");
}

Status NftBlocker::drop_table() {
  return run("add table inet " + table_ + "\ndelete table inet " + table_ + "\n");
}

}  // namespace flowguard::capture::enforce
