// libFuzzer target: the server's view of an agent's byte stream. Bytes arrive in two pieces (partial
// reads), the FrameDecoder cuts frames (64 KiB limit), each payload is parsed as an AgentMessage; a
// Hello goes through the real Hello check against a fixed model manifest, a FlowBatch is walked as the
// session does, and every parsed message is re-encoded. The agent's view (ServerMessage) is parsed too.
#include "framing.hpp"
#include "protobuf_log.hpp"
#include "handshake.hpp"

#include "flowguard/v1/flowguard.pb.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace v1 = flowguard::v1;

namespace {

const flowguard::models::Manifest& manifest() {
  static const auto m = [] {
    flowguard::models::Manifest x;
    x.name = "fuzz";
    x.version = "1";
    x.architecture = "mlp";
    x.feature_profile = "corrected";
    x.feature_names = {"Flow Duration", "Total Fwd Packet", "Total Bwd packets", "f3"};
    x.feature_groups = {{"host_context", {"hc_src_flows_1s", "hc_src_failed_1s"}}};
    x.class_names = {"BENIGN", "DoS"};
    x.benign_class = "BENIGN";
    return x;
  }();
  return m;
}

void drain(flowguard::wire::FrameDecoder& dec) {
  static v1::ModelInfo info;
  std::string_view payload;
  std::string why, out;
  while (dec.next(payload)) {
    v1::AgentMessage m;
    if (flowguard::wire::parse_payload(payload, m, why)) {
      if (m.has_hello()) {
        flowguard::inference::GroupSelection groups;
        const auto ack = flowguard::inference::check_hello(m.hello(), manifest(), info, &groups);
        // An accepted session's slices lie within what the agent announced.
        for (const auto& [offset, length] : groups.slices)
          if (offset + length > groups.offered_width) std::abort();
        (void)ack.accepted();
      }
      if (m.has_flows()) {
        std::size_t values = 0;
        for (const auto& f : m.flows().flows())
          values += static_cast<std::size_t>(f.features_size()) + f.src_ip().size();
        (void)values;
      }
      out.clear();
      (void)flowguard::wire::append_frame(m, out);
    }
    v1::ServerMessage s;
    (void)flowguard::wire::parse_payload(payload, s, why);
  }
}

}  // namespace

// As in both processes: libprotobuf's diagnostics go through spdlog at debug level (raw, they were one
// stderr line per bad string: 613 k lines in the first 4 minutes of a long run).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  flowguard::wire::route_protobuf_log();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  flowguard::wire::FrameDecoder dec(64 * 1024);
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = std::min<std::size_t>(rest.size(), std::size_t{data[0]} * 4);
  dec.feed(rest.substr(0, split));
  drain(dec);
  dec.feed(rest.substr(split));
  drain(dec);
  return 0;
}
