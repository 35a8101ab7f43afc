#pragma once
// Link-layer types as libpcap reports them (pcap_datalink(): DLT_* values, which for the types below
// equal the LINKTYPE_* values stored in files, except the raw-IP aliases noted).

namespace flowguard::capture::link_type {

inline constexpr int null = 0;            // DLT_NULL: 4-byte address family in the capturing host's order
inline constexpr int ethernet = 1;        // DLT_EN10MB
inline constexpr int raw = 12;            // DLT_RAW on Linux and most systems
inline constexpr int raw_openbsd = 14;    // DLT_RAW on OpenBSD
inline constexpr int raw_linktype = 101;  // LINKTYPE_RAW as stored in files (libpcap maps it to DLT_RAW)
inline constexpr int loop = 108;          // DLT_LOOP: like DLT_NULL but network byte order
inline constexpr int linux_sll = 113;     // DLT_LINUX_SLL ("any" device, cooked v1)
inline constexpr int ipv4 = 228;          // DLT_IPV4: raw IPv4 only
inline constexpr int ipv6 = 229;          // DLT_IPV6: raw IPv6 only
inline constexpr int nflog = 239;         // DLT_NFLOG: Linux netfilter log (TLVs around the IP packet)
inline constexpr int linux_sll2 = 276;    // DLT_LINUX_SLL2 (cooked v2)

}  // namespace flowguard::capture::link_type
