// BlockManager decisions without the kernel (dry-run and off modes); the nftables side is exercised
// in test_nft_netns.cpp inside a network namespace.
#include "enforce/block_manager.hpp"
#include "enforce/event_store.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

using namespace flowguard::capture;
using namespace flowguard::capture::enforce;
using namespace flowguard::capture::enforce::test;

namespace {

BlockManagerOptions dry(std::string state_dir = {}) {
  BlockManagerOptions o;
  o.mode = EnforceMode::dry_run;
  o.ttl_seconds = 600;
  o.max_blocks = 3;
  o.renew_interval_seconds = 1;
  o.state_dir = std::move(state_dir);
  return o;
}

Allowlist allow(std::initializer_list<const char*> cidrs) {
  Allowlist a;
  a.add_loopback();
  for (const char* c : cidrs) {
    REQUIRE(a.add(c).ok());
  }
  return a;
}

}  // namespace

TEST_CASE("only block verdicts block - allowlisted and unblockable sources never do", "[blocks]") {
  BlockManager m(dry(), allow({"192.0.2.0/24", "2001:db8:aa::/48"}));
  m.start();
  CHECK(m.apply(verdict("10.0.0.5", VerdictAction::alert)) == BlockOutcome::none);
  CHECK(m.apply(verdict("10.0.0.5", VerdictAction::allow)) == BlockOutcome::none);
  CHECK(m.size() == 0);
  CHECK(m.apply(verdict("10.0.0.5", VerdictAction::block)) == BlockOutcome::dry_run);
  CHECK(m.apply(verdict("192.0.2.44", VerdictAction::block, "DDoS", 1.0f)) == BlockOutcome::allowlisted);
  CHECK(m.apply(verdict("2001:db8:aa::1", VerdictAction::block)) == BlockOutcome::allowlisted);
  CHECK(m.apply(verdict("127.0.0.1", VerdictAction::block)) == BlockOutcome::allowlisted);
  CHECK(m.apply(verdict("224.0.0.251", VerdictAction::block)) == BlockOutcome::not_blockable);
  const auto list = m.list();
  REQUIRE(list.size() == 1);
  CHECK(format_address(list[0].address) == "10.0.0.5");
  CHECK(list[0].reason == "PortScan");
  CHECK(list[0].model_version == "1");
  CHECK_FALSE(list[0].manual);
  CHECK(list[0].expires_unix_ms - list[0].created_unix_ms == 600'000);
  CHECK(m.counters().allowlisted == 3);
  CHECK(m.counters().block_verdicts == 5);
  // Manual requests: refused for allowlisted and malformed addresses, never passed on as text.
  CHECK_FALSE(m.block("192.0.2.1", 0, "x").ok());
  CHECK(m.block("10.0.0.1; flush ruleset", 0, "x").error().message == "not an IPv4 or IPv6 address");
  CHECK_FALSE(m.block("ff02::1", 0, "x").ok());
}

TEST_CASE("renewals are rate limited and the cap is counted", "[blocks]") {
  BlockManager m(dry(), allow({}));
  m.start();
  CHECK(m.apply(verdict("10.0.0.5", VerdictAction::block)) == BlockOutcome::dry_run);
  for (int i = 0; i < 50; ++i)
    CHECK(m.apply(verdict("10.0.0.5", VerdictAction::block)) == BlockOutcome::dry_run_listed);
  CHECK_FALSE(is_enforced(BlockOutcome::dry_run_listed));  // dry-run never claims a kernel block
  CHECK(m.counters().renew_suppressed == 50);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(m.apply(verdict("10.0.0.5", VerdictAction::block)) ==
        BlockOutcome::dry_run_listed);  // renewed (dry-run)
  CHECK(m.counters().renewed == 1);
  CHECK(m.apply(verdict("10.0.0.6", VerdictAction::block)) == BlockOutcome::dry_run);
  CHECK(m.apply(verdict("2001:db8::6", VerdictAction::block)) == BlockOutcome::dry_run);
  CHECK(m.apply(verdict("10.0.0.7", VerdictAction::block)) == BlockOutcome::cap_reached);
  CHECK(m.apply(verdict("10.0.0.8", VerdictAction::block)) == BlockOutcome::cap_reached);
  CHECK(m.counters().cap_reached == 2);
  CHECK(m.size() == 3);
  CHECK_FALSE(m.block("10.0.0.9", 60, "manual").ok());  // the cap holds for manual blocks too
  CHECK(m.unblock("10.0.0.6").ok());
  CHECK(m.block("10.0.0.9", 60, "ops ticket 12").ok());
  CHECK(m.size() == 3);
}

TEST_CASE("entries expire after their TTL and manual blocks carry their own TTL", "[blocks]") {
  BlockManager m(dry(), allow({}));
  m.start();
  REQUIRE(m.block("198.51.100.3", 1, "short").ok());
  REQUIRE(m.block("198.51.100.4", 600, "long").ok());
  CHECK(m.size() == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  m.expire_now();
  const auto list = m.list();
  REQUIRE(list.size() == 1);
  CHECK(format_address(list[0].address) == "198.51.100.4");
  CHECK(list[0].manual);
  CHECK(list[0].reason == "long");
  CHECK(m.counters().expired == 1);
  CHECK(m.unblock("198.51.100.4").value() == "unblocked 198.51.100.4");
  CHECK(m.unblock("198.51.100.4").value() == "198.51.100.4 was not blocked");
}

TEST_CASE("the block list survives a restart with its remaining TTL", "[blocks]") {
  TempDir dir;
  std::int64_t expires = 0;
  {
    BlockManager m(dry(dir.str()), allow({}));
    m.start();
    REQUIRE(m.apply(verdict("10.0.0.5", VerdictAction::block)) == BlockOutcome::dry_run);
    REQUIRE(m.block("2001:db8::77", 300, "manual").ok());
    REQUIRE(m.block("10.0.0.99", 600, "soon allowlisted").ok());
    expires = m.list().front().expires_unix_ms;
    m.stop();
    CHECK(std::filesystem::exists(dir / "blocks.dry-run.json"));
    CHECK_FALSE(std::filesystem::exists(dir / "blocks.json"));  // dry-run never feeds real enforcement
  }
  // A new allowlist entry wins over a persisted block.
  BlockManager m(dry(dir.str()), allow({"10.0.0.99/32"}));
  m.start();
  const auto list = m.list();
  REQUIRE(list.size() == 2);
  CHECK(format_address(list[0].address) == "10.0.0.5");
  CHECK(list[0].expires_unix_ms == expires);
  CHECK(format_address(list[1].address) == "2001:db8::77");
  CHECK(list[1].manual);
  CHECK(m.counters().restored == 2);

  // A damaged state file is set aside, not fatal.
  m.stop();
  { std::ofstream(dir / "blocks.dry-run.json") << "{ not json"; }
  BlockManager broken(dry(dir.str()), allow({}));
  broken.start();
  CHECK(broken.size() == 0);
  CHECK(std::filesystem::exists(dir / "blocks.dry-run.json.corrupt"));
}

TEST_CASE("off mode never blocks and refuses manual requests", "[blocks]") {
  BlockManagerOptions o = dry();
  o.mode = EnforceMode::off;
  BlockManager m(o, allow({}));
  m.start();
  CHECK(m.apply(verdict("10.0.0.5", VerdictAction::block)) == BlockOutcome::off);
  CHECK(m.size() == 0);
  CHECK(m.block("10.0.0.5", 0, "").error().message == "enforcement is off (--enforce off)");
}

TEST_CASE("block decisions are recorded in the event store", "[blocks][store]") {
  TempDir dir;
  EventStore store(EventStoreOptions{dir / "events.db", 30, 1024, 64});
  BlockManager m(dry(), allow({"192.0.2.0/24"}), &store);
  m.start();
  m.apply(verdict("10.0.0.5", VerdictAction::block));
  for (int i = 0; i < 20; ++i) m.apply(verdict("192.0.2.9", VerdictAction::block));  // noted once
  m.unblock("10.0.0.5");
  store.flush();
  CHECK(store.written() == 3);
}

namespace {

FlowVerdict evidence_block(const char* src, FlowSide side, std::uint32_t block_seconds, std::uint32_t offence) {
  FlowVerdict v = verdict(src, VerdictAction::block);
  v.block_side = side;
  v.evidence.rule = "scan";
  v.evidence.flows = 12;
  v.evidence.classes = {"PortScan", "DDoS"};
  v.evidence.level = 12.5f;
  v.evidence.max_score = 0.99f;
  v.evidence.window_start_us = v.first_ts_us;
  v.evidence.window_end_us = v.last_ts_us;
  v.evidence.offence = offence;
  v.evidence.block_seconds = block_seconds;
  return v;
}

}  // namespace

TEST_CASE("only the side the server names is blocked, a responder or no side is refused and counted",
          "[blocks]") {
  BlockManager m(dry(), allow({}));
  m.start();
  // The flow as the agent saw it: src 10.0.0.5 (the server answering), dst 10.0.0.9 (the initiator).
  FlowVerdict v = verdict("10.0.0.5", VerdictAction::block);
  v.block_side = FlowSide::dst;
  CHECK(m.apply(v) == BlockOutcome::dry_run);
  REQUIRE(m.list().size() == 1);
  CHECK(format_address(m.list()[0].address) == "10.0.0.9");
  // No side named (an old or confused server): nobody is blocked.
  v = verdict("10.0.0.6", VerdictAction::block);
  v.block_side = FlowSide::unspecified;
  CHECK(m.apply(v) == BlockOutcome::responder);
  // The agent's own view says src opened the flow; a block naming dst (the responder) is refused.
  v = verdict("10.0.0.7", VerdictAction::block);
  v.dst = addr("10.0.0.8");
  v.initiator = FlowSide::src;
  v.block_side = FlowSide::dst;
  CHECK(m.apply(v) == BlockOutcome::responder);
  CHECK(m.counters().responder_refused == 2);
  CHECK(m.list().size() == 1);
  CHECK(to_string(BlockOutcome::responder) == "responder-refused");
}

TEST_CASE("the server's escalated block time is used up to --block-ttl-max, with its evidence kept",
          "[blocks]") {
  TempDir dir;
  BlockManagerOptions o = dry(dir.str());
  o.ttl_seconds = 600;
  o.ttl_max_seconds = 3600;
  {
    BlockManager m(o, allow({}));
    m.start();
    CHECK(m.apply(evidence_block("10.0.0.5", FlowSide::src, 1200, 2)) == BlockOutcome::dry_run);
    CHECK(m.apply(evidence_block("10.0.0.6", FlowSide::src, 86400, 5)) == BlockOutcome::dry_run);
    FlowVerdict plain = verdict("10.0.0.7", VerdictAction::block);  // no duration given: --block-ttl
    CHECK(m.apply(plain) == BlockOutcome::dry_run);
    auto list = m.list();
    REQUIRE(list.size() == 3);
    CHECK(list[0].expires_unix_ms - list[0].created_unix_ms == 1'200'000);
    CHECK(list[1].expires_unix_ms - list[1].created_unix_ms == 3'600'000);  // capped
    CHECK(list[2].expires_unix_ms - list[2].created_unix_ms == 600'000);
    CHECK(list[0].evidence.rule == "scan");
    CHECK(list[0].evidence.offence == 2);
    CHECK(list[0].evidence.classes == std::vector<std::string>{"PortScan", "DDoS"});
    CHECK_FALSE(list[2].evidence.present());
    m.stop();
  }
  // The evidence survives a restart (state file).
  BlockManager m(o, allow({}));
  m.start();
  const auto list = m.list();
  REQUIRE(list.size() == 3);
  CHECK(list[0].evidence.rule == "scan");
  CHECK(list[0].evidence.flows == 12);
  CHECK(list[0].evidence.level == Approx(12.5));
  CHECK(list[0].evidence.block_seconds == 1200);
  CHECK(list[1].evidence.offence == 5);
}
