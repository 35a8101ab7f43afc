// libFuzzer target: flowguard-infer's control service (inference/server/control_service.cpp) as it runs
// after accept(): the input is the client's byte stream, written into one end of a real socketpair whose
// other end the ControlService serves on an io_context (frames, ControlRequest parse, dispatch including
// the awaited reload path, response encoding, the per-connection state of the idle/mid-frame limits).
// Handlers answer like the server's, without a model: status and models fill fixed messages, stats a
// tiny registry snapshot, reload a refusal from a coroutine (the loader's answer).
#include "control_service.hpp"
#include "model_manager.hpp"
#include "metrics_proto.hpp"
#include "protobuf_log.hpp"

#include "common/metrics.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace inf = flowguard::inference;
namespace v1 = flowguard::v1;

namespace {

struct Fixture {
  flowguard::metrics::Registry registry;
  flowguard::metrics::Counter& requests = registry.counter({"flowguard_infer_control_requests_total", "r"});
  flowguard::metrics::Counter& refused = registry.counter({"flowguard_infer_refused_total", "x"});
  flowguard::metrics::Counter& timeouts = registry.counter({"flowguard_infer_timeouts_total", "t"});
  Fixture() { spdlog::set_level(spdlog::level::off); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

inf::awaitable<inf::ReloadResult> refuse_reload(std::string path) {
  co_return inf::ReloadResult{false, "fuzz: not loading '" + path.substr(0, 64) + "'"};
}

}  // namespace

// As in both processes: libprotobuf's diagnostics go through spdlog at debug level (raw, they were one
// stderr line per bad string: 613 k lines in the first 4 minutes of a long run).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  flowguard::wire::route_protobuf_log();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& f = fixture();
  inf::asio::io_context ioc;
  inf::ControlHandlers h;
  h.status = [](v1::Status& st) {
    st.set_process("flowguard-infer");
    st.set_sessions(1);
  };
  h.reload = refuse_reload;
  h.models = [](v1::ControlResponse& r) { r.add_models()->set_path("/models/a.pt"); };
  h.stats = [&f](v1::ControlResponse& r) { flowguard::wire::to_proto(f.registry.snapshot(), *r.mutable_metrics()); };
  h.counted = [&f] { f.requests.inc(); };
  inf::ControlOptions o;
  o.refused = &f.refused;
  o.timeouts = &f.timeouts;
  inf::ControlService service(ioc, o, h);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  inf::error_code ec;
  service.serve(inf::local::socket(ioc, inf::local(), sv[1]));
  // Interleave: write what the socket takes, let the service run, read (and drop) its answers, so a
  // large input never blocks either side. Bounded: every round either moves bytes or ends.
  std::size_t off = 0;
  bool half_closed = false;
  char sink[65536];
  bool ended = false;
  for (int round = 0; round < 100000; ++round) {
    if (off < size) {
      const auto n = ::send(sv[0], data + off, size - off, MSG_NOSIGNAL);
      if (n > 0) off += static_cast<std::size_t>(n);
      else if (n < 0 && errno != EAGAIN) off = size;  // the service closed the connection
    } else if (!half_closed) {
      ::shutdown(sv[0], SHUT_WR);
      half_closed = true;
    }
    ioc.poll();
    ioc.restart();
    const auto r = ::recv(sv[0], sink, sizeof sink, 0);
    if (half_closed && service.open() == 0 && r <= 0) {
      ended = true;
      break;
    }
  }
  // After EOF (or a bad frame) the service must have closed the connection: one still open would be a
  // client that can hold a slot forever.
  if (!ended) __builtin_trap();
  service.close_all();
  ioc.poll();
  ::close(sv[0]);
  service.clear();
  return 0;
}
