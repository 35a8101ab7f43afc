#pragma once
// Untrusted strings in log lines (a peer's agent_id / agent_version, control request strings, paths a
// client named): one helper, used everywhere such a string is logged. A peer must not be able to forge
// a log line (newline, carriage return, terminal escape) nor amplify the log (a 1 MiB agent_id).

#include <cstddef>
#include <string>
#include <string_view>

namespace flowguard {

inline constexpr std::size_t kLogSafeMax = 128;

// Printable ASCII is kept except backslash (doubled); every other byte (control characters, DEL, bytes
// >= 0x80) becomes \xNN, so the result is one line of printable ASCII. At most `max` input bytes are
// rendered; a longer input ends in "...(+N bytes)".
std::string log_safe(std::string_view s, std::size_t max = kLogSafeMax);

}  // namespace flowguard
