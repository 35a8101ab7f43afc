// libFuzzer target: a sequence of frames (fuzz_input.hpp) decoded and fed to the flow engine with a
// tiny table (evictions), expiry sweeps, snapshots, both profiles and a tiny host-context table
// (evictions, stale handles); every record the engine emits is checked for the invariants its sinks
// rely on.
#include "fuzz_input.hpp"

#include "context/host_context.hpp"
#include "decode/decode_counters.hpp"
#include "decode/decoder.hpp"
#include "decode/reference_scan.hpp"
#include "features/profile.hpp"
#include "flow/flow_engine.hpp"

#include <cstdlib>
#include <vector>

using namespace flowguard::capture;

namespace {

struct CheckingSink final : FlowSink {
  std::size_t n_features = 0;
  void on_flow(const FlowReport& r) override {
    // The link copies exactly n_features values and trusts the timestamps' order.
    if (r.features.size() != n_features || r.last_ts_us < r.first_ts_us) std::abort();
    // Every record carries the whole group, finite and never negative, and a decided initiator.
    if (r.group_features.size() != context::feature_count) std::abort();
    for (const float v : r.group_features)
      if (!(v >= 0.0f) || v > 1e30f) std::abort();
    if (r.initiator == FlowSide::unspecified || r.initiator_basis == InitiatorBasis::unspecified)
      std::abort();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int link = fgfuzz::kLinkTypes[data[0] % fgfuzz::kLinkTypes.size()];
  const std::uint8_t flags = data[1];
  EngineConfig config;
  config.profile = (flags & fgfuzz::kCicids) ? features::Profile::cicids2017 : features::Profile::corrected;
  config.max_flows = 1u << ((flags >> 4) & 7);  // 1..128 flows: evictions, and a cheap table per input
  config.snapshot_packets = (flags & fgfuzz::kSnapshots) ? 3 : 0;
  config.hash_seed = 42;  // reproducible crashes
  CheckingSink sink;
  sink.n_features = features::feature_names(config.profile).size();
  context::HostContextConfig hc;
  hc.max_sources = 1u + ((flags >> 3) & 1) * 7;  // 1 or 8 sources: evictions and stale handles
  hc.max_services = 4;
  hc.hash_seed = 42;
  context::HostContextTable table(hc);
  const auto engine = FlowEngine::create(config, {&sink}, &table);
  const auto build = config.profile == features::Profile::cicids2017 ? ReferenceBuild::cicids2017
                                                                     : ReferenceBuild::corrected;
  fgfuzz::RecordReader records{std::span(data + 2, size - 2)};
  std::span<const std::byte> frame;
  std::uint32_t gap_ms = 0;
  std::int64_t ts = 1'500'000'000'000'000;
  DecodeCounters counters;
  std::vector<DecodedPacket> batch(FlowEngine::max_batch);
  std::size_t n = 0;
  while (records.next(frame, gap_ms)) {
    ts += static_cast<std::int64_t>(gap_ms) * 1000;
    const auto wirelen = static_cast<std::uint32_t>(frame.size());
    const auto status = (flags & fgfuzz::kReference)
                            ? decode_reference(build, frame, ts, wirelen, batch[n], counters)
                            : decode_packet(link, frame, ts, wirelen, batch[n], counters);
    if (status == DecodeStatus::decoded && ++n == batch.size()) {
      engine->on_packets({batch.data(), n});
      n = 0;
    }
    if (gap_ms > 60'000) engine->on_idle(ts);  // a long quiet spell: the live path's expiry
  }
  if (n) engine->on_packets({batch.data(), n});
  engine->finish();
  return 0;
}
