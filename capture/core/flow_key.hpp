#pragma once
// The key a flow is stored under: raw bytes, padding zeroed explicitly, compared in full and hashed as
// bytes with a per-process random seed (attackers choose flow keys; an unseeded hash invites flooding).
// The key's order is the profile's business: cicids2017 stores a canonical order, corrected stores the
// orientation of the conversation's first packet (spec §4.1, §5.1); the key text is the "Flow ID" column.

#include "core/ip_address.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace flowguard::capture {

struct FlowKey {
  std::array<std::uint8_t, 16> addr_a{};  // IPv4 in the first 4 bytes, the rest zero
  std::array<std::uint8_t, 16> addr_b{};
  std::uint16_t port_a = 0, port_b = 0;
  std::uint8_t protocol = 0;
  std::uint8_t family = 4;
  std::array<std::uint8_t, 2> padding{};  // always zero: the key is hashed and compared as raw bytes

  static FlowKey make(const IpAddress& a, std::uint16_t pa, const IpAddress& b, std::uint16_t pb,
                      std::uint8_t protocol) {
    FlowKey k;
    const auto va = a.view();
    const auto vb = b.view();
    std::memcpy(k.addr_a.data(), va.data(), va.size());
    std::memcpy(k.addr_b.data(), vb.data(), vb.size());
    k.port_a = pa;
    k.port_b = pb;
    k.protocol = protocol;
    k.family = a.family;
    return k;
  }

  FlowKey reversed() const {
    FlowKey k = *this;
    k.addr_a = addr_b;
    k.addr_b = addr_a;
    k.port_a = port_b;
    k.port_b = port_a;
    return k;
  }

  // The same key for both orientations: the smaller (address, port) end first.
  // (Any fixed total order will do; comparing native 64-bit words is cheapest.)
  FlowKey canonical() const {
    std::uint64_t a[2], b[2];
    std::memcpy(a, addr_a.data(), sizeof(a));
    std::memcpy(b, addr_b.data(), sizeof(b));
    const bool keep = a[0] != b[0] ? a[0] < b[0] : (a[1] != b[1] ? a[1] < b[1] : port_a <= port_b);
    return keep ? *this : reversed();
  }

  IpAddress address_a() const { return to_address(addr_a); }
  IpAddress address_b() const { return to_address(addr_b); }

  friend bool operator==(const FlowKey& x, const FlowKey& y) {
    std::uint64_t a[5], b[5];
    std::memcpy(a, &x, sizeof(a));
    std::memcpy(b, &y, sizeof(b));
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
  }

 private:
  IpAddress to_address(const std::array<std::uint8_t, 16>& bytes) const {
    IpAddress ip;
    ip.family = family;
    ip.bytes = bytes;
    return ip;
  }
};

static_assert(sizeof(FlowKey) == 40);
static_assert(std::has_unique_object_representations_v<FlowKey>, "FlowKey must have no padding bits");
static_assert(std::is_trivially_copyable_v<FlowKey>);

// Seeded hash over the key's 40 raw bytes (five 64-bit words, folded with 128-bit multiplies).
class FlowKeyHasher {
 public:
  explicit FlowKeyHasher(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (auto& k : secret_) k = splitmix(s);
  }

  std::uint64_t operator()(const FlowKey& key) const {
    std::uint64_t w[5];
    std::memcpy(w, &key, sizeof(w));
    std::uint64_t h = fold(w[0] ^ secret_[0], w[1] ^ secret_[1]);
    h = fold(h ^ w[2] ^ secret_[2], w[3] ^ secret_[3]);
    return fold(h ^ w[4] ^ secret_[4], secret_[5]);
  }

 private:
  __extension__ using u128 = unsigned __int128;
  static std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
    const u128 r = static_cast<u128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
  }
  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (z ^ (z >> 31)) | 1;  // odd: a zero multiplier would collapse the fold
  }
  std::uint64_t secret_[6];
};

}  // namespace flowguard::capture
