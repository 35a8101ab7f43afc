#include "enforce/allowlist.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace flowguard::capture::enforce {

Status Allowlist::add(std::string_view cidr_text) {
  auto c = parse_cidr(cidr_text);
  if (!c) return c.error();
  entries_.push_back(*c);
  return {};
}

void Allowlist::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Exception(ErrorCode::not_found, "cannot read allowlist file " + path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    const std::string_view entry(line.data() + first, last - first + 1);
    if (const Status st = add(entry); !st) {
      throw Exception(ErrorCode::invalid_argument, path + ":" + std::to_string(number) + ": '" +
                                                       std::string(entry) + "': " + st.error().message);
    }
  }
}

void Allowlist::add_loopback() {
  (void)add("127.0.0.0/8");  // constant and valid
  (void)add("::1/128");
}

void Allowlist::add_host_addresses() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    Cidr c{};
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      c.network.family = 4;
      std::memcpy(c.network.bytes.data(), &sin->sin_addr, 4);
      c.prefix = 32;
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      c.network.family = 6;
      std::memcpy(c.network.bytes.data(), &sin6->sin6_addr, 16);
      c.prefix = 128;
    } else {
      continue;
    }
    c.network = canonical(c.network);
    if (c.network.family == 4) c.prefix = 32;
    entries_.push_back(c);
  }
  freeifaddrs(list);
}

bool Allowlist::contains(const IpAddress& address) const {
  const IpAddress a = canonical(address);
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Cidr& c) { return c.contains_canonical(a); });
}

}  // namespace flowguard::capture::enforce
