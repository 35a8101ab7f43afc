#pragma once
// An IPv4 or IPv6 address as the agent stores it everywhere (decoded packets, flow keys, reports,
// verdicts, block lists): the family and 16 raw bytes, IPv4 in the first 4, the rest zero.

#include <array>
#include <cstdint>
#include <cstring>
#include <span>

namespace flowguard::capture {

struct IpAddress {
  std::uint8_t family = 4;               // 4 or 6
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes
  std::span<const std::uint8_t> view() const { return {bytes.data(), family == 4 ? 4u : 16u}; }
  // Same meaning as a defaulted ==, without a library memcmp call on the packet path.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    std::uint64_t x[2], y[2];
    std::memcpy(x, a.bytes.data(), sizeof(x));
    std::memcpy(y, b.bytes.data(), sizeof(y));
    return a.family == b.family && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }
};

}  // namespace flowguard::capture
