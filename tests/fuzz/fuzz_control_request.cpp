// libFuzzer target: the capture agent's control socket after accept(): a byte stream cut into frames,
// each payload parsed as a ControlRequest and handled by the real Enforcement::handle_control()
// (dry-run: block/unblock/list/status/stats on the in-memory block list, no kernel, no files), and the
// response encoded as the server would send it.
#include "enforce/enforcement.hpp"
#include "framing.hpp"
#include "protobuf_log.hpp"

#include "flowguard/v1/control.pb.h"

#include <spdlog/spdlog.h>

#include <string>

namespace v1 = flowguard::v1;
using namespace flowguard::capture::enforce;

namespace {

Enforcement& enforcement() {
  static const auto e = [] {
    spdlog::set_level(spdlog::level::off);  // a log line per block would dominate the run
    EnforceOptions o;
    o.mode = "dry-run";
    o.control_socket = "none";
    o.state_dir = "none";
    o.max_blocks = 256;  // the cap is part of what is exercised
    return Enforcement::create(o, "fuzz");
  }();
  return *e;
}

}  // namespace

// As in both processes: libprotobuf's diagnostics go through spdlog at debug level (raw, they were one
// stderr line per bad string: 613 k lines in the first 4 minutes of a long run).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  flowguard::wire::route_protobuf_log();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& e = enforcement();
  flowguard::wire::FrameDecoder dec(64 * 1024);
  dec.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  std::string_view payload;
  std::string why, out;
  while (dec.next(payload)) {
    v1::ControlRequest req;
    v1::ControlResponse resp;
    if (flowguard::wire::parse_payload(payload, req, why))
      resp = e.handle_control(req);
    else
      resp.set_error("bad request: " + why);
    out.clear();
    (void)flowguard::wire::append_frame(resp, out);
  }
  return 0;
}
