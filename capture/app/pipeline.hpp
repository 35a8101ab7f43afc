#pragma once
// The packet pipeline of flowguard-capture:
//
//   PacketSource --RawPacket--> decode_packet --DecodedPacket--> FlowEngine --FlowReport--> FlowSink*
//                                                                                 (CSV writer, server
//                                                                                  link, enforcement...)
// Sinks are given to the FlowEngine when it is created (main() collects them: the CSV writer and every
// AgentExtension's sinks). The pipeline only moves packets and keeps time; it never knows which sinks
// exist. One thread; no allocation per packet.

#include "common/result.hpp"
#include "core/agent_metrics.hpp"
#include "decode/decode_counters.hpp"
#include "decode/reference_scan.hpp"
#include "flow/flow_engine.hpp"
#include "source/packet_source.hpp"

#include <functional>
#include <string>

namespace flowguard::capture::app {

class Pipeline {
 public:
  // `mode` reference decodes as the reference extractor of `build` does (reference_scan.hpp). Decode
  // outcomes are counted in `counters`; `metrics` (may be null) is published about once a second of
  // wall-clock time and on every idle poll, from this thread (core/agent_metrics.hpp).
  Pipeline(PacketSource& source, FlowEngine& engine, DecodeCounters& counters, DecodeMode mode,
           ReferenceBuild build, AgentMetrics* metrics)
      : source_(source),
        engine_(engine),
        mode_(mode),
        build_(build),
        counters_(counters),
        metrics_(metrics) {}

  // Reads until end of input, a stop request or a read error, then ends every open flow
  // (FlowEngine::finish); an io_error when reading failed (libpcap's message included). `periodic` is called
  // about every `interval_s` seconds of wall-clock time (never if interval_s <= 0), e.g. to print statistics.
  Status run(const std::function<void()>& periodic, double interval_s);

 private:
  template <typename Decode>
  Status run_loop(Decode&& decode, const std::function<void()>& periodic, double interval_s);

  PacketSource& source_;
  FlowEngine& engine_;
  DecodeMode mode_ = DecodeMode::native;
  ReferenceBuild build_ = ReferenceBuild::corrected;
  DecodeCounters& counters_;
  AgentMetrics* metrics_;
};

}  // namespace flowguard::capture::app
