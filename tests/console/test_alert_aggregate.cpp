// The console's in-memory alert counts (console/src/alert_aggregate.hpp): slot alignment of ranges,
// timelines and distributions against hand-counted data, retention pruning and the bounds.
#include "alert_aggregate.hpp"

#include <catch2/catch.hpp>

#include <string>

using flowguard::console::AlertAggregate;

namespace {
constexpr std::int64_t kS = 1'000'000;            // one second in microseconds
constexpr std::int64_t kT0 = 1'700'000'000 * kS;  // a whole minute, so slot boundaries are easy to see
}  // namespace

TEST_CASE("counts fall into 10-second slots and ranges widen to whole slots") {
  AlertAggregate a;
  a.add(kT0 + 1 * kS, "Portscan", "alert", "10.0.0.1");
  a.add(kT0 + 9 * kS, "Portscan", "block", "10.0.0.1");
  a.add(kT0 + 10 * kS, "DDoS", "alert", "10.0.0.2");
  a.add(kT0 + 65 * kS, "DDoS", "alert", "10.0.0.3");
  CHECK(a.total() == 4);
  CHECK(a.count(kT0, kT0 + 10 * kS) == 2);           // exactly the first slot
  CHECK(a.count(kT0 + 5 * kS, kT0 + 11 * kS) == 3);  // widened to [T0, T0+20 s)
  CHECK(a.count(kT0 + 20 * kS, kT0 + 60 * kS) == 0);
  CHECK(a.count(kT0, kT0 + 70 * kS) == 4);
}

TEST_CASE("the timeline sums slots into at most the requested buckets") {
  AlertAggregate a;
  for (int i = 0; i < 60; ++i) a.add(kT0 + i * kS, i % 2 ? "A" : "B", "alert", "10.0.0.1");
  const auto t = a.timeline(kT0, kT0 + 60 * kS, 3);  // 6 slots -> 3 buckets of 2 slots (20 s)
  REQUIRE(t["buckets"] == 3);
  CHECK(t["step_us"] == 20 * kS);
  CHECK(t["from_us"] == kT0);
  CHECK(t["to_us"] == kT0 + 60 * kS);
  CHECK(t["series"]["A"] == nlohmann::json::array({10, 10, 10}));
  CHECK(t["series"]["B"] == nlohmann::json::array({10, 10, 10}));
  const auto odd = a.timeline(kT0, kT0 + 60 * kS, 4);  // 6 slots in 4 buckets: step 2 slots, 3 buckets
  CHECK(odd["buckets"] == 3);
  const auto empty = a.timeline(kT0 + 3600 * kS, kT0 + 7200 * kS, 60);
  CHECK(empty["series"].empty());
}

TEST_CASE("the distribution ranks classes, actions and sources") {
  AlertAggregate a;
  for (int i = 0; i < 5; ++i) a.add(kT0 + i * kS, "Portscan", "block", "10.0.0.9");
  for (int i = 0; i < 3; ++i) a.add(kT0 + i * kS, "DDoS", "alert", "10.0.0.2");
  a.add(kT0, "Bot", "alert", "10.0.0.3");
  const auto d = a.distribution(kT0, kT0 + 10 * kS, 2);
  CHECK(d["classes"] ==
        nlohmann::json::parse(
            R"([{"name":"Portscan","count":5},{"name":"DDoS","count":3},{"name":"Bot","count":1}])"));
  CHECK(d["actions"] == nlohmann::json::parse(R"([{"name":"block","count":5},{"name":"alert","count":4}])"));
  CHECK(d["top_sources"] ==
        nlohmann::json::parse(R"([{"name":"10.0.0.9","count":5},{"name":"10.0.0.2","count":3}])"));
  CHECK(a.class_names() == std::vector<std::string>{"Portscan", "DDoS", "Bot"});
}

TEST_CASE("source counts survive freezing: a late row for an older slot still counts") {
  AlertAggregate a;
  a.add(kT0, "A", "alert", "10.0.0.1");
  a.add(kT0 + 700 * kS, "A", "alert", "10.0.0.2");  // a newer 10-minute slot: the first is frozen
  a.add(kT0 + 1 * kS, "A", "alert", "10.0.0.1");    // late, into the frozen slot
  const auto d = a.distribution(kT0, kT0 + 3600 * kS, 10);
  CHECK(d["top_sources"] ==
        nlohmann::json::parse(R"([{"name":"10.0.0.1","count":2},{"name":"10.0.0.2","count":1}])"));
}

TEST_CASE("pruning follows the store's retention") {
  AlertAggregate a;
  a.add(kT0, "A", "alert", "10.0.0.1");
  a.add(kT0 + 3600 * kS, "A", "alert", "10.0.0.1");
  a.prune_before(kT0 + 1800 * kS);
  CHECK(a.total() == 1);
  CHECK(a.count(kT0, kT0 + 10 * kS) == 0);
  CHECK(a.distribution(kT0, kT0 + 7200 * kS, 10)["top_sources"][0]["count"] == 1);
  a.clear();
  CHECK(a.total() == 0);
}

TEST_CASE("names and sources are bounded and the excess is counted") {
  AlertAggregate a;
  for (std::size_t i = 0; i < AlertAggregate::kMaxNames + 10; ++i)
    a.add(kT0, "class-" + std::to_string(i), "alert", "10.0.0.1");
  const auto d = a.distribution(kT0, kT0 + kS, 10);
  std::uint64_t other = 0;
  for (const auto& c : d["classes"])
    if (c["name"] == "(other)") other = c["count"];
  CHECK(other == 12);  // 4096 ids: "alert" takes one, "(other)" the last, so 4094 classes fit, 12 do not
  CHECK(a.total() == AlertAggregate::kMaxNames + 10);

  AlertAggregate s;
  for (std::size_t i = 0; i < AlertAggregate::kMaxSources + 5; ++i)
    s.add(kT0 + static_cast<std::int64_t>(i) * 100 * kS, "A", "alert", "src-" + std::to_string(i));
  CHECK(s.sources_dropped() >= 5);
  CHECK(s.total() == AlertAggregate::kMaxSources + 5);  // counts stay exact; only the source detail is capped
}
