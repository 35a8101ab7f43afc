#pragma once
// Addresses as enforcement handles them: parsed strictly (inet_pton), compared as bytes, formatted
// back with inet_ntop. Text that reaches nftables is always produced by format_address() from bytes,
// never copied from a request or a config file.

#include "common/result.hpp"
#include "core/ip_address.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace flowguard::capture::enforce {

// Parses "192.0.2.1" or "2001:db8::1". An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4,
// so the same host is one entry whichever way it was written.
std::optional<IpAddress> parse_address(std::string_view text);

// Canonical text (inet_ntop); IPv4-mapped IPv6 is folded to IPv4 as in parse_address().
std::string format_address(const IpAddress& address);

IpAddress canonical(const IpAddress& address);

// Addresses that must never go into a block set: unspecified, multicast, IPv4 broadcast.
bool is_blockable(const IpAddress& address);

struct Cidr {
  IpAddress network;  // host bits cleared
  std::uint8_t prefix = 0;

  bool contains(const IpAddress& address) const { return contains_canonical(canonical(address)); }
  // For callers that canonicalized once and test many networks (Allowlist).
  bool contains_canonical(const IpAddress& address) const;
  std::string to_string() const;
};

// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). An invalid_argument error
// says why on malformed input or a prefix longer than the family allows.
Result<Cidr> parse_cidr(std::string_view text);

}  // namespace flowguard::capture::enforce
