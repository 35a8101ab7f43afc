#pragma once
// The kernel side of blocking: an nftables table of its own (`inet flowguard`) holding two timeout
// sets, blocked4 and blocked6, and two base chains hooked at input and forward with priority -10
// (before the usual filter chains at 0, so an accept there cannot let a blocked source through):
//
//   table inet flowguard {
//     set blocked4 { type ipv4_addr; flags timeout; }
//     set blocked6 { type ipv6_addr; flags timeout; }
//     chain input   { type filter hook input   priority -10; policy accept;
//                     ip saddr @blocked4 counter drop; ip6 saddr @blocked6 counter drop; }
//     chain forward { ...same rules, hook forward... }
//   }
//
// Commands go through libnftables (nft_run_cmd_from_buffer), never a shell. Every address in a
// command is produced by format_address() from parsed bytes. The element timeout is the block TTL,
// so the kernel forgets a block on its own even if this process is gone.

#include "enforce/address.hpp"

#include <cstdint>
#include <mutex>
#include <span>
#include <string>

struct nft_ctx;

namespace flowguard::capture::enforce {

struct TimedAddress {
  IpAddress address;
  std::uint32_t ttl_seconds = 0;
};

class NftBlocker {
 public:
  explicit NftBlocker(std::string table = "flowguard");
  ~NftBlocker();
  NftBlocker(const NftBlocker&) = delete;
  NftBlocker& operator=(const NftBlocker&) = delete;

  // Creates (or repairs) the table, sets and chains and replaces the set contents with `initial`, in
  // one atomic transaction. Returns false with the nft error text.
  Status prepare(std::span<const TimedAddress> initial);
  // Adds the address, or restarts its timeout when it is already there.
  Status add(const IpAddress& address, std::uint32_t ttl_seconds);
  // Removes the address; succeeds when it was not there (e.g. already expired).
  Status remove(const IpAddress& address);
  // Removes the whole table (operator recovery; not used on normal exit).
  Status drop_table();

  const std::string& table() const { return table_; }

 private:
  Status run(const std::string& commands);
  std::string element_target(const IpAddress& address) const;

  std::string table_;
  std::mutex mutex_;  // an nft_ctx is not thread-safe
  nft_ctx* ctx_ = nullptr;
};

}  // namespace flowguard::capture::enforce
