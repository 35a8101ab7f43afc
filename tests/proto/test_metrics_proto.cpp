// A registry snapshot survives the control socket: to_proto -> bytes -> from_proto renders the same.
#include "metrics_proto.hpp"

#include <catch2/catch.hpp>

using namespace flowguard;

TEST_CASE("a metrics snapshot round-trips through the control message and renders identically") {
  metrics::Registry r;
  r.counter({"flowguard_infer_flows_received_total", "Flows received"}).inc(12);
  r.counter({"flowguard_infer_verdicts_total", "Verdicts", {}, {{"action", "block"}}}).inc(2);
  r.gauge({"flowguard_infer_queue_depth", "Queued", "queue", {}, 1.0, false}).set(-1);
  auto& h =
      r.histogram({"flowguard_infer_inference_seconds", "forward()", "inference_us", {}, 1e-6}, {10, 100});
  h.observe(5);
  h.observe(500);
  const auto snap = r.snapshot();

  v1::ControlResponse resp;
  wire::to_proto(snap, *resp.mutable_metrics());
  v1::ControlResponse back;
  REQUIRE(back.ParseFromString(resp.SerializeAsString()));
  const auto got = wire::from_proto(back.metrics());

  REQUIRE(got.samples.size() == snap.samples.size());
  CHECK(metrics::render_line(got) == metrics::render_line(snap));
  CHECK(metrics::render_json(got) == metrics::render_json(snap));
  CHECK(metrics::render_prometheus(got) == metrics::render_prometheus(snap));
  CHECK(got.value("flows_received") == 12);
  CHECK(got.find("queue")->gauge == -1);
  CHECK_FALSE(got.find("queue")->in_line);
  CHECK(got.find("inference_us")->count == 2);
  CHECK(got.find("verdicts_block")->labels == metrics::Labels{{"action", "block"}});
}
