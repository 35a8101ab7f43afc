#pragma once
// Server-wide counters, written by the I/O thread and the workers, read by `flowguardctl stats`.

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace flowguard::inference {

struct ServeCounters {
  using C = std::atomic<std::uint64_t>;
  C flow_batches{0};          // FlowBatch frames received
  C flows_received{0};
  C verdicts_sent{0};         // verdicts handed to a session writer
  C verdicts_dropped{0};      // computed for a session that had already closed
  C allow{0}, alert{0}, block{0};
  C shed_overload{0};         // queue full
  C shed_error{0};            // forward() threw, or the feature schema changed under the flow
  C inference_batches{0};     // forward() calls
  C inference_rows{0};
  C explained_rows{0};
  C sessions_accepted{0};
  C sessions_refused{0};      // HelloAck accepted=false
  C protocol_errors{0};       // sessions closed for a bad frame or protocol violation
  C control_requests{0};
  C reloads_ok{0};
  C reloads_failed{0};

  std::vector<std::pair<std::string, std::uint64_t>> snapshot() const {
    auto v = [](const C& c) { return c.load(std::memory_order_relaxed); };
    return {{"flow_batches", v(flow_batches)},
            {"flows_received", v(flows_received)},
            {"verdicts_sent", v(verdicts_sent)},
            {"verdicts_dropped", v(verdicts_dropped)},
            {"allow", v(allow)},
            {"alert", v(alert)},
            {"block", v(block)},
            {"shed_overload", v(shed_overload)},
            {"shed_error", v(shed_error)},
            {"inference_batches", v(inference_batches)},
            {"inference_rows", v(inference_rows)},
            {"explained_rows", v(explained_rows)},
            {"sessions_accepted", v(sessions_accepted)},
            {"sessions_refused", v(sessions_refused)},
            {"protocol_errors", v(protocol_errors)},
            {"control_requests", v(control_requests)},
            {"reloads_ok", v(reloads_ok)},
            {"reloads_failed", v(reloads_failed)}};
  }
};

}  // namespace flowguard::inference
