#include "enforce/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace flowguard::capture::enforce {
namespace {

bool is_v4_mapped(const IpAddress& a) {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family == 6 && std::memcmp(a.bytes.data(), prefix, sizeof prefix) == 0;
}

}  // namespace

IpAddress canonical(const IpAddress& address) {
  IpAddress out{};
  if (is_v4_mapped(address)) {
    out.family = 4;
    std::copy_n(address.bytes.begin() + 12, 4, out.bytes.begin());
    return out;
  }
  out.family = address.family == 6 ? 6 : 4;
  std::copy_n(address.bytes.begin(), out.family == 4 ? 4 : 16, out.bytes.begin());
  return out;  // bytes past the family's length are zero, so == compares what matters
}

std::optional<IpAddress> parse_address(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1] = {};
  std::memcpy(buf, text.data(), text.size());
  IpAddress a{};
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = 6;
    return canonical(a);
  }
  return std::nullopt;
}

std::string format_address(const IpAddress& address) {
  const IpAddress a = canonical(address);
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

bool is_blockable(const IpAddress& address) {
  const IpAddress a = canonical(address);
  const auto len = a.family == 4 ? 4u : 16u;
  const bool all_zero = std::all_of(a.bytes.begin(), a.bytes.begin() + len, [](auto b) { return b == 0; });
  if (all_zero) return false;
  if (a.family == 4) {
    if (a.bytes[0] >= 224) return false;  // multicast 224/4, reserved 240/4, broadcast
    return true;
  }
  return a.bytes[0] != 0xff;  // ff00::/8 multicast
}

bool Cidr::contains_canonical(const IpAddress& a) const {
  if (a.family != network.family) return false;
  const unsigned full = prefix / 8, rest = prefix % 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + full, network.bytes.begin())) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == network.bytes[full];
}

std::string Cidr::to_string() const { return format_address(network) + "/" + std::to_string(prefix); }

Result<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const auto addr_text = text.substr(0, slash);
  // Parse without folding v4-mapped forms so "::ffff:0:0/96" keeps its IPv6 prefix length.
  if (addr_text.empty() || addr_text.size() > INET6_ADDRSTRLEN) {
    return Error{ErrorCode::invalid_argument, "not an address"};
  }
  char buf[INET6_ADDRSTRLEN + 1] = {};
  std::memcpy(buf, addr_text.data(), addr_text.size());
  Cidr c{};
  if (inet_pton(AF_INET, buf, c.network.bytes.data()) == 1) {
    c.network.family = 4;
  } else if (inet_pton(AF_INET6, buf, c.network.bytes.data()) == 1) {
    c.network.family = 6;
  } else {
    return Error{ErrorCode::invalid_argument, "not an IPv4 or IPv6 address"};
  }
  const unsigned max_prefix = c.network.family == 4 ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || prefix > max_prefix) {
      return Error{ErrorCode::invalid_argument, "prefix length must be 0.." + std::to_string(max_prefix)};
    }
  }
  c.prefix = static_cast<std::uint8_t>(prefix);
  // Clear host bits so contains() compares whole bytes.
  for (unsigned i = 0; i < max_prefix / 8; ++i) {
    const unsigned bit = i * 8;
    if (bit >= prefix)
      c.network.bytes[i] = 0;
    else if (prefix - bit < 8)
      c.network.bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (prefix - bit)));
  }
  // A v4-mapped IPv6 network of /96 or longer also matches the folded IPv4 form.
  if (c.network.family == 6 && c.prefix >= 96) {
    IpAddress folded = canonical(c.network);
    if (folded.family == 4) {
      c.network = folded;
      c.prefix = static_cast<std::uint8_t>(c.prefix - 96);
    }
  }
  return c;
}

}  // namespace flowguard::capture::enforce
