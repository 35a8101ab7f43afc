#pragma once
// libprotobuf writes its own diagnostics straight to stderr, outside our log format, level and rate:
// one "String field 'flowguard.v1.Hello.agent_id' contains invalid UTF-8 data" line for every bad string
// a peer sends, before the parse fails. Our code already reports that failed parse with the peer's context
// (and closes the connection), so route_protobuf_log() demotes libprotobuf's lines to spdlog's debug level,
// lets at most one through per 10 s (with the number swallowed), and counts them all. FATAL stays critical
// (libprotobuf aborts after it). Call once at start-up, in every process that parses a peer's bytes.

#include <cstdint>

namespace flowguard::wire {

void route_protobuf_log();
// Diagnostics libprotobuf has emitted since route_protobuf_log() (logged or not).
std::uint64_t protobuf_log_messages();

}  // namespace flowguard::wire
