#pragma once
// The packet pipeline of flowguard-capture:
//
//   PacketSource --RawPacket--> decode_packet --DecodedPacket--> FlowEngine --FlowReport--> FlowSink*
//                                                                                 (CSV writer, server
//                                                                                  link, enforcement...)
// Sinks are given to the FlowEngine when it is created (main() collects them: the CSV writer and every
// AgentExtension's sinks). The pipeline only moves packets and keeps time; it never knows which sinks
// exist. One thread; no allocation per packet.

#include "decode/decode_counters.hpp"
#include "decode/reference_scan.hpp"
#include "flow/flow_engine.hpp"
#include "source/packet_source.hpp"

#include <functional>
#include <string>

namespace flowguard::capture::app {

struct PipelineResult {
  bool ok = true;
  std::string error;  // when !ok: what failed (libpcap's message included)
};

class Pipeline {
 public:
  Pipeline(PacketSource& source, FlowEngine& engine) : source_(source), engine_(engine) {}
  // `mode` reference decodes as the reference extractor of `build` does (reference_scan.hpp).
  Pipeline(PacketSource& source, FlowEngine& engine, DecodeMode mode, ReferenceBuild build)
      : source_(source), engine_(engine), mode_(mode), build_(build) {}

  // Reads until end of input, a stop request or a read error, then ends every open flow
  // (FlowEngine::finish). `periodic` is called about every `interval_s` seconds of wall-clock time
  // (never if interval_s <= 0), e.g. to print statistics.
  PipelineResult run(const std::function<void()>& periodic, double interval_s);

  const DecodeCounters& decode_counters() const { return counters_; }

 private:
  template <typename Decode>
  PipelineResult run_loop(Decode&& decode, const std::function<void()>& periodic, double interval_s);

  PacketSource& source_;
  FlowEngine& engine_;
  DecodeMode mode_ = DecodeMode::native;
  ReferenceBuild build_ = ReferenceBuild::corrected;
  DecodeCounters counters_;
};

}  // namespace flowguard::capture::app
