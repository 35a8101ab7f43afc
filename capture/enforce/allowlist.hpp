#pragma once
// Networks that are never blocked, however confident a verdict is: loopback, the host's own
// addresses, and what the operator lists (--allow CIDR, --allowlist FILE).

#include "enforce/address.hpp"

#include <string>
#include <vector>

namespace flowguard::capture::enforce {

class Allowlist {
 public:
  void add(const Cidr& cidr) { entries_.push_back(cidr); }
  // An invalid_argument error saying why when the text is not a CIDR.
  Status add(std::string_view cidr_text);
  // One CIDR per line; '#' starts a comment; blank lines ignored. Throws flowguard::Exception (start-up
  // only) naming the file and line of the first bad entry, so a typo never silently shrinks the list.
  void load_file(const std::string& path);
  void add_loopback();        // 127.0.0.0/8, ::1/128
  void add_host_addresses();  // every address on every local interface (getifaddrs)

  bool contains(const IpAddress& address) const;
  const std::vector<Cidr>& entries() const { return entries_; }

 private:
  std::vector<Cidr> entries_;
};

}  // namespace flowguard::capture::enforce
