// The metrics registry: registration rules, concurrent updates, snapshot and the three renderings.
#include <catch2/catch.hpp>

#include "common/metrics.hpp"

#include <string>
#include <thread>
#include <vector>

namespace m = flowguard::metrics;
using flowguard::ErrorCode;
using flowguard::Exception;

TEST_CASE("counters, gauges and histograms register once and read back through a snapshot") {
  m::Registry r;
  auto& flows = r.counter({"flowguard_infer_flows_received_total", "Flows received from agents"});
  auto& depth = r.gauge({"flowguard_infer_queue_depth", "Flows waiting for inference", "queue"});
  auto& lat =
      r.histogram({"flowguard_infer_inference_seconds", "forward() time per batch", "inference_us", {}, 1e-6},
                  {100, 1000, 10000});
  r.gauge_fn({"flowguard_infer_sessions", "Open agent sessions"}, [] { return 3; });
  flows.inc();
  flows.inc(4);
  depth.set(7);
  depth.sub(2);
  for (const std::uint64_t v : {50u, 100u, 101u, 5000u, 20000u}) lat.observe(v);

  const auto s = r.snapshot();
  REQUIRE(s.samples.size() == 4);
  CHECK(s.value("flows_received") == 5);  // default key: no process prefix, no _total
  CHECK(s.value("flowguard_infer_flows_received_total") == 5);
  CHECK(s.value("queue") == 5);
  CHECK(s.value("sessions") == 3);
  CHECK(s.value("absent") == 0);
  const auto* h = s.find("inference_us");
  REQUIRE(h != nullptr);
  CHECK(h->type == m::Type::histogram);
  CHECK(h->count == 5);
  CHECK(h->sum == 25251);
  // Bounds are inclusive: 100 falls in le=100.
  REQUIRE(h->buckets.size() == 3);
  CHECK(h->buckets[0] == std::pair<std::uint64_t, std::uint64_t>{100, 2});
  CHECK(h->buckets[1] == std::pair<std::uint64_t, std::uint64_t>{1000, 3});
  CHECK(h->buckets[2] == std::pair<std::uint64_t, std::uint64_t>{10000, 4});
  CHECK(h->quantile_bound(0.5) == 1000);
  CHECK(h->quantile_bound(0.99) == 10000);  // +Inf: the largest bound
}

TEST_CASE("registration errors are start-up errors with a code") {
  m::Registry r;
  r.counter({"flowguard_x_a_total", "a"});
  CHECK_THROWS_AS(r.counter({"flowguard_x_a_total", "again"}), Exception);
  try {
    r.counter({"flowguard_x_a_total", "again"});
  } catch (const Exception& e) {
    CHECK(e.code() == ErrorCode::already_exists);
  }
  CHECK_THROWS_WITH(r.counter({"flowguard_x_b", "no suffix"}), Catch::Contains("must end in _total"));
  CHECK_THROWS_WITH(r.gauge({"flowguard x", "space"}), Catch::Contains("outside"));
  CHECK_THROWS_WITH(r.gauge({"flowguard_x_a_total", "other type"}), Catch::Contains("two types"));
  CHECK_THROWS_WITH(r.gauge({"flowguard_x_c", "same key", "a"}), Catch::Contains("stats key 'a'"));
  CHECK_THROWS(r.histogram({"flowguard_x_h", "h"}, {10, 10}));
  CHECK_THROWS(r.histogram({"flowguard_x_h", "h"}, {}));
  // One family, several label sets: allowed, and keyed apart.
  r.counter({"flowguard_x_verdicts_total", "v", {}, {{"action", "allow"}}});
  r.counter({"flowguard_x_verdicts_total", "v", {}, {{"action", "block"}}});
  CHECK(r.snapshot().find("verdicts_block") != nullptr);
}

TEST_CASE("updates from many threads are all counted") {
  m::Registry r;
  auto& c = r.counter({"flowguard_t_events_total", "events"});
  auto& h = r.histogram({"flowguard_t_size", "size"}, {1, 2, 4, 8});
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(static_cast<std::uint64_t>(i % 10));
      }
    });
  for (auto& t : ts) t.join();
  const auto s = r.snapshot();
  CHECK(s.value("events") == 40000);
  CHECK(s.find("size")->count == 40000);
  CHECK(s.find("size")->sum == 4u * 1000u * 45u);
}

TEST_CASE("the stats line renders every in-line sample as key=value in registration order") {
  m::Registry r;
  r.counter({"flowguard_infer_flow_batches_total", "b"}).inc(2);
  r.counter({"flowguard_infer_judged_total", "j", "judged"}).inc(9);
  r.gauge({"flowguard_infer_hidden", "not in the line", "hidden", {}, 1.0, false}).set(1);
  auto& h = r.histogram({"flowguard_infer_batch_size", "rows", "batch"}, {1, 8, 64});
  h.observe(3);
  h.observe(100);
  CHECK(m::render_line(r.snapshot()) == "flow_batches=2 judged=9 batch_count=2 batch_p50=8 batch_p99=64");
}

TEST_CASE("JSON rendering carries names, keys, labels and histogram buckets in base units") {
  m::Registry r;
  r.counter({"flowguard_infer_verdicts_total", "Verdicts \"sent\"", {}, {{"action", "alert"}}}).inc(3);
  auto& h = r.histogram({"flowguard_infer_inference_seconds", "t", "inference_us", {}, 1e-6}, {500, 2000});
  h.observe(400);
  h.observe(1000);
  const auto j = m::render_json(r.snapshot());
  CHECK(j ==
        "{\"metrics\":[{\"name\":\"flowguard_infer_verdicts_total\",\"key\":\"verdicts_alert\",\"type\":"
        "\"counter\","
        "\"help\":\"Verdicts \\\"sent\\\"\",\"labels\":{\"action\":\"alert\"},\"value\":3},"
        "{\"name\":\"flowguard_infer_inference_seconds\",\"key\":\"inference_us\",\"type\":\"histogram\","
        "\"help\":\"t\",\"labels\":{},\"buckets\":[{\"le\":0.0005,\"count\":1},{\"le\":0.002,\"count\":2}],"
        "\"sum\":0.0014,\"count\":2}]}");
}

TEST_CASE(
    "Prometheus rendering: HELP and TYPE once per family, labels, cumulative buckets, +Inf, sum, count") {
  m::Registry r;
  r.counter({"flowguard_infer_verdicts_total", "Verdicts by action", {}, {{"action", "allow"}}}).inc(5);
  r.gauge({"flowguard_infer_queue_depth", "Queued flows"}).set(2);
  r.counter({"flowguard_infer_verdicts_total", "Verdicts by action", {}, {{"action", "block"}}}).inc(1);
  auto& h = r.histogram({"flowguard_infer_inference_seconds", "forward() time", "inference_us", {}, 1e-6},
                        {1000, 10000});
  h.observe(10);
  h.observe(20000);
  CHECK(m::render_prometheus(r.snapshot()) ==
        "# HELP flowguard_infer_verdicts_total Verdicts by action\n"
        "# TYPE flowguard_infer_verdicts_total counter\n"
        "flowguard_infer_verdicts_total{action=\"allow\"} 5\n"
        "flowguard_infer_verdicts_total{action=\"block\"} 1\n"
        "# HELP flowguard_infer_queue_depth Queued flows\n"
        "# TYPE flowguard_infer_queue_depth gauge\n"
        "flowguard_infer_queue_depth 2\n"
        "# HELP flowguard_infer_inference_seconds forward() time\n"
        "# TYPE flowguard_infer_inference_seconds histogram\n"
        "flowguard_infer_inference_seconds_bucket{le=\"0.001\"} 1\n"
        "flowguard_infer_inference_seconds_bucket{le=\"0.01\"} 1\n"
        "flowguard_infer_inference_seconds_bucket{le=\"+Inf\"} 2\n"
        "flowguard_infer_inference_seconds_sum 0.02001\n"
        "flowguard_infer_inference_seconds_count 2\n");
}

TEST_CASE("exponential bounds are strictly increasing") {
  const auto b = m::exponential_bounds(1, 1.5, 10);
  REQUIRE(b.size() == 10);
  for (std::size_t i = 1; i < b.size(); ++i) CHECK(b[i] > b[i - 1]);
  CHECK(b.front() == 1);
}
