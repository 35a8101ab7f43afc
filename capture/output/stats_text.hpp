#pragma once
// One-line statistics of the capture agent (periodic and at exit), "key=value" pairs for log scraping.

#include "decode/decode_counters.hpp"
#include "flow/flow_engine.hpp"
#include "source/packet_source.hpp"

#include <string>

namespace flowguard::capture::output {

std::string format_stats(const DecodeCounters& decode, const EngineStats& engine, const SourceStats& source);

}  // namespace flowguard::capture::output
