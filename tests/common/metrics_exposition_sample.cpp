// Prints a registry with every metric type, labels and escapes in the Prometheus text format, for
// `promtool check metrics` (tests/common/CMakeLists.txt).
#include "common/metrics.hpp"

#include <cstdio>

int main() {
  namespace m = flowguard::metrics;
  m::Registry r;
  r.counter({"flowguard_infer_flows_received_total", "Flows received from agents"}).inc(42);
  r.counter({"flowguard_infer_verdicts_total", "Verdicts sent, by action", {}, {{"action", "allow"}}})
      .inc(40);
  r.counter({"flowguard_infer_verdicts_total", "Verdicts sent, by action", {}, {{"action", "block"}}}).inc(2);
  r.counter({"flowguard_capture_decode_malformed_total",
             "Malformed frames \\ by \"reason\"",
             {},
             {{"reason", "truncated \"ipv4\"\nheader"}}})
      .inc();
  r.gauge({"flowguard_infer_queue_depth_flows", "Flows waiting for inference"}).set(3);
  r.gauge_fn({"flowguard_infer_sessions", "Open agent sessions"}, [] { return 1; });
  auto& h = r.histogram(
      {"flowguard_infer_inference_seconds", "Time of one forward() call", "inference_us", {}, 1e-6},
      m::exponential_bounds(50, 2.0, 12));
  for (std::uint64_t v = 1; v < 200000; v *= 3) h.observe(v);
  auto& b =
      r.histogram({"flowguard_infer_batch_size_flows", "Flows per inference batch", "batch"}, {1, 4, 16, 64});
  b.observe(1);
  b.observe(30);
  std::fputs(m::render_prometheus(r.snapshot()).c_str(), stdout);
  return 0;
}
