// Evidence arithmetic (leaky buckets, rules, escalation, the capped table) and the policy file's
// `evidence:` section, without sockets.
#include "server/evidence.hpp"
#include "server/policy.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>

using namespace flowguard::inference;

namespace {

constexpr std::int64_t kS = 1'000'000;  // one second in microseconds

SourceKey v4(std::uint32_t a) {
  const char b[4] = {static_cast<char>(a >> 24), static_cast<char>(a >> 16), static_cast<char>(a >> 8),
                     static_cast<char>(a)};
  return *source_key(std::string_view(b, 4));
}

// Rules: 0 "single" {evidence 1}, 1 "scan" {evidence 10 in 10 s}; default {evidence 5 in 30 s}.
EvidenceConfig config() {
  EvidenceConfig c;
  EvidenceRule single;
  single.name = "single";
  single.classes = {"Heartbleed"};
  single.evidence = 1;
  single.window_s = 60;
  EvidenceRule scan;
  scan.name = "scan";
  scan.classes = {"PortScan"};
  scan.evidence = 10;
  scan.window_s = 10;
  c.rules = {single, scan};
  c.default_rule.name = "default";
  c.default_rule.evidence = 5;
  c.default_rule.window_s = 30;
  c.base_block_s = 600;
  c.factor = 2;
  c.max_block_s = 3000;
  c.remember_s = 86400;
  c.max_sources = 1024;
  return c;
}

std::uint64_t next_flow = 1;

Observation obs(const SourceKey& k, std::int64_t ts, std::uint16_t rule, std::uint16_t cls = 1,
                double weight = 1, float score = 0.9f) {
  Observation o;
  o.source = k;
  o.ts_us = ts;
  o.rule = rule;
  o.class_index = cls;
  o.weight = weight;
  o.score = score;
  o.flow_fingerprint = next_flow++;
  return o;
}

}  // namespace

TEST_CASE("evidence: a scanner is blocked at the K-th flow, a host with a few alerts never") {
  EvidenceTable t(config(), 42);
  const auto scanner = v4(0x0a000042), benign = v4(0x0a000015);
  // Scan alerts 10 ms apart: the bucket (capacity 9) drains 1 unit/s, so the 10th overflows it.
  for (int i = 0; i < 9; ++i) {
    const auto r = t.observe(obs(scanner, 1000 * kS + i * 10'000, 1));
    CHECK(r.counted);
    CHECK_FALSE(r.block);  // at most 9 - 0.08
    CHECK(r.flows == static_cast<std::uint32_t>(i + 1));
  }
  auto r = t.observe(obs(scanner, 1000 * kS + 90'000, 1));
  REQUIRE(r.block);
  CHECK_FALSE(r.renewal);
  CHECK(r.rule == 1);
  CHECK(r.flows == 10);
  CHECK(r.level == Approx(10 - 0.09).margin(1e-3));
  CHECK(r.max_score == Approx(0.9f));
  CHECK(r.window_start_us == 1000 * kS);
  CHECK(r.window_end_us == 1000 * kS + 90'000);
  CHECK(r.offence == 1);
  CHECK(r.block_seconds == 600);
  // Later alerts while blocked renew the same offence.
  r = t.observe(obs(scanner, 1001 * kS, 1));
  CHECK(r.block);
  CHECK(r.renewal);
  CHECK(r.offence == 1);

  // The benign host: one scan-class alert every 2 s for a minute never fills a bucket draining 1/s.
  for (int i = 0; i < 30; ++i) {
    r = t.observe(obs(benign, 1000 * kS + i * 2 * kS, 1));
    CHECK_FALSE(r.block);
    CHECK(r.level <= 1.0f + 1e-6f);
  }
  // Default rule (K = 5, 30 s): four alerts in 3 s leave 3.5 units, within the capacity of 4; a fifth
  // soon after overflows it. Five spread over a minute never do.
  for (int i = 0; i < 4; ++i) CHECK_FALSE(t.observe(obs(benign, 2000 * kS + i * kS, 2, 7)).block);
  CHECK(t.observe(obs(benign, 2000 * kS + 3 * kS + 1000, 2, 7)).block);
  const auto spread = v4(0x0a000016);
  for (int i = 0; i < 5; ++i) CHECK_FALSE(t.observe(obs(spread, 3000 * kS + i * 12 * kS, 2, 7)).block);
}

TEST_CASE("evidence: the bucket drains evidence/window per second of packet time") {
  EvidenceTable t(config(), 7);
  const auto k = v4(0x0a000001);
  // Default rule: 5 units per 30 s = 1/6 unit per second.
  auto r = t.observe(obs(k, 100 * kS, 2));
  CHECK(r.level == Approx(1));
  r = t.observe(obs(k, 103 * kS, 2));  // 1 - 0.5 + 1
  CHECK(r.level == Approx(1.5));
  CHECK(r.flows == 2);
  r = t.observe(obs(k, 112 * kS, 2));  // 1.5 - 1.5 = 0: an empty bucket starts a new window
  CHECK(r.level == Approx(1));
  CHECK(r.flows == 1);
  CHECK(r.window_start_us == 112 * kS);
  // Packet time going backwards (another agent's clock) never drains negatively or refills.
  r = t.observe(obs(k, 50 * kS, 2));
  CHECK(r.level == Approx(2));
  // Host context weight: one flow counting 1 + 4.
  r = t.observe(obs(k, 112 * kS, 2, 1, 5));
  CHECK(r.block);
  CHECK(r.level == Approx(7));
}

TEST_CASE("evidence: one confident flow blocks under a single-flow rule, and classes keep their own buckets") {
  EvidenceTable t(config(), 9);
  const auto k = v4(0x0a000002);
  auto r = t.observe(obs(k, 10 * kS, 2, 3));
  CHECK_FALSE(r.block);
  r = t.observe(obs(k, 10 * kS, 2, 4));
  CHECK_FALSE(r.block);
  CHECK(r.n_classes == 2);
  r = t.observe(obs(k, 10 * kS, 0, 5));
  CHECK(r.block);
  CHECK(r.rule == 0);
  CHECK(r.n_classes == 3);  // every class with evidence at the block, the firing one included
}

TEST_CASE("evidence: repeat offenders are blocked longer each time, capped, and forgiven after remember") {
  auto c = config();
  c.remember_s = 10'000;
  EvidenceTable t(c, 11);
  const auto k = v4(0x0a000003);
  std::int64_t now = 5000 * kS;
  std::vector<std::uint32_t> durations;
  for (int offence = 1; offence <= 4; ++offence) {
    EvidenceResult r;
    for (int i = 0; i < 5 && !r.block; ++i) r = t.observe(obs(k, now, 2));
    REQUIRE(r.block);
    CHECK(r.offence == static_cast<std::uint32_t>(offence));
    durations.push_back(r.block_seconds);
    now += (r.block_seconds + 1) * kS;  // after the block expired
  }
  CHECK(durations == std::vector<std::uint32_t>{600, 1200, 2400, 3000});
  CHECK(t.counters().repeat_offences.load() == 3);
  // Beyond remember_s after the last block: a first offence again.
  now += 10'001 * kS;
  EvidenceResult r;
  for (int i = 0; i < 5; ++i) r = t.observe(obs(k, now, 2));
  REQUIRE(r.block);
  CHECK(r.offence == 1);
  CHECK(r.block_seconds == 600);
}

TEST_CASE("evidence: snapshots and the final record of one flow count once") {
  EvidenceTable t(config(), 13);
  const auto k = v4(0x0a000004);
  auto o = obs(k, 10 * kS, 2);
  CHECK(t.observe(o).counted);
  o.ts_us += kS;
  const auto r = t.observe(o);
  CHECK_FALSE(r.counted);
  CHECK_FALSE(r.block);
  CHECK(t.counters().duplicates.load() == 1);
  CHECK(t.observe(obs(k, 11 * kS, 2)).flows == 2);
}

TEST_CASE("evidence: a million spoofed sources never grow the table past its cap") {
  auto c = config();
  c.max_sources = 4096;
  EvidenceTable t(c, 17);
  const std::size_t bytes = t.bytes();
  const auto attacker = v4(0x0a000066);
  // The real attacker is blocked first; its block memory must survive the flood.
  EvidenceResult r;
  for (int i = 0; i < 5 && !r.block; ++i) r = t.observe(obs(attacker, 100 * kS, 2));
  REQUIRE(r.block);

  struct rusage before {};
  getrusage(RUSAGE_SELF, &before);
  int blocks = 0;
  for (std::uint32_t i = 0; i < 1'000'000; ++i) {
    const auto src = v4(0xc0000000u + i);  // one alert per forged source, all within 10 s
    if (t.observe(obs(src, 100 * kS + i / 2, 1)).block) ++blocks;  // all within 0.5 s
  }
  CHECK(blocks == 0);
  struct rusage after {};
  getrusage(RUSAGE_SELF, &after);
  CHECK(t.size() <= t.capacity());
  CHECK(t.capacity() == 4096);
  CHECK(t.bytes() == bytes);
  CHECK(t.counters().evictions.load() >= 1'000'000 - 4096);
  // The table allocates nothing after construction: the peak RSS may not grow by more than noise.
  CHECK(after.ru_maxrss - before.ru_maxrss < 8 * 1024);  // KiB
  // Entries with block memory are evicted last: the attacker is still known as blocked.
  const auto still = t.blocked(attacker, 101 * kS);
  REQUIRE(still.has_value());
  CHECK(still->offence == 1);
}

TEST_CASE("evidence: IPv4-mapped IPv6 is the IPv4 source, other lengths are refused") {
  const char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff', 10, 0, 0, 1};
  CHECK(source_key(std::string_view(mapped, 16)) == v4(0x0a000001));
  CHECK_FALSE(source_key(std::string_view("abc", 3)).has_value());
  CHECK_FALSE(source_key(std::string_view()).has_value());
}

TEST_CASE("policy file: evidence rules, escalation and defaults") {
  auto p = Policy::from_yaml("");
  CHECK(p.evidence.enabled);
  CHECK(p.evidence.rule(p.evidence.rule_for("Portscan")).name == "scan");
  CHECK(p.evidence.rule(p.evidence.rule_for("Heartbleed")).evidence == 1);
  CHECK(p.evidence.rule(p.evidence.rule_for("Something else")).name == "default");
  CHECK(p.describe().find("scan: 8 in 60s") != std::string::npos);

  p = Policy::from_yaml(R"(
evidence:
  max_sources: 1000
  unspecified_initiator: none
  escalation: {base_seconds: 60, factor: 3, max_seconds: 600, remember_seconds: 3600}
  default_rule: {evidence: 3, window: 20, min_score: 0.8}
  rules:
    - {name: ddos, classes: [DDoS, DoS Hulk], evidence: 50, window: 5, min_score: block,
       context: {hc_src_flows_1s: 100}, context_weight: 9}
)");
  const auto& e = p.evidence;
  CHECK(e.max_sources == 1000);
  CHECK_FALSE(e.unspecified_initiator_is_src);
  CHECK(e.base_block_s == 60);
  CHECK(e.factor == 3);
  CHECK(e.max_block_s == 600);
  CHECK(e.remember_s == 3600);
  REQUIRE(e.rules.size() == 1);
  CHECK(e.rules[0].classes == std::vector<std::string>{"DDoS", "DoS Hulk"});
  CHECK(e.rules[0].min_score.kind == ScoreFloor::Kind::block);
  CHECK(e.rules[0].context_weight == 9);
  CHECK(e.context_names() == std::vector<std::string>{"hc_src_flows_1s", "hc_src_failed_1s"});  // + default_rule's
  CHECK(e.rule_for("Portscan") == 1);  // not in the file's rules: the default rule
  CHECK(e.default_rule.evidence == 3);
  CHECK(e.default_rule.min_score.kind == ScoreFloor::Kind::value);
  CHECK(e.default_rule.min_score.value == Approx(0.8));

  CHECK_FALSE(Policy::from_yaml("evidence: {enabled: false}\n").evidence.enabled);
}

TEST_CASE("policy file: evidence errors name the key") {
  using Catch::Contains;
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {windw: 3}\n"), Contains("evidence: unknown key 'windw'"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {rules: [{name: a, classes: [X], window: 0}]}\n"),
                    Contains("evidence.rules[0].window: must be a number > 0"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {rules: [{name: a, classes: [X], evidnce: 2}]}\n"),
                    Contains("evidence.rules[0]: unknown key 'evidnce'"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {rules: [{name: a, classes: [X]}, {name: b, classes: [X]}]}\n"),
                    Contains("evidence.rules[1].classes: 'X' is already in rule 'a'"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {rules: [{classes: [X]}]}\n"),
                    Contains("evidence.rules[0]: a rule needs a name"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {escalation: {factor: 0.5}}\n"),
                    Contains("evidence.escalation.factor: must be within [1, 100]"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {escalation: {base_seconds: 100, max_seconds: 10}}\n"),
                    Contains("evidence.escalation.max_seconds: must be >= base_seconds"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {default_rule: {min_score: high}}\n"),
                    Contains("evidence.default_rule.min_score: expected a number"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {unspecified_initiator: dst}\n"),
                    Contains("evidence.unspecified_initiator: expected src or none"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {enabled: maybe}\n"),
                    Contains("evidence.enabled: expected true or false"));
  CHECK_THROWS_WITH(Policy::from_yaml("evidence: {max_sources: 2}\n"),
                    Contains("evidence.max_sources: must be within [8, 100000000]"));
}
