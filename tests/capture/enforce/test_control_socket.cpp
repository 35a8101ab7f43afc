// Round trips over a real Unix socket: flowguardctl's view of the capture agent.
#include "enforce/enforcement.hpp"
#include "framing.hpp"
#include "test_support.hpp"

#include "metrics_proto.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

using namespace flowguard::capture;
using namespace flowguard::capture::enforce;
using namespace flowguard::capture::enforce::test;
namespace v1 = flowguard::v1;
namespace wire = flowguard::wire;

namespace {

class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Client() { ::close(fd_); }
  void send_raw(std::string_view bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  // Reads one response; false on EOF or after 5 s.
  bool receive(v1::ControlResponse& out) {
    std::string_view payload;
    char buf[4096];
    while (!decoder_.next(payload)) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
    std::string why;
    return wire::parse_payload(payload, out, why);
  }
  v1::ControlResponse call(const v1::ControlRequest& req) {
    send_raw(wire::encode_frame(req));
    v1::ControlResponse resp;
    REQUIRE(receive(resp));
    return resp;
  }

 private:
  int fd_ = -1;
  wire::FrameDecoder decoder_;
};

v1::ControlRequest block_req(const char* address, std::uint32_t ttl, const char* reason) {
  v1::ControlRequest r;
  r.mutable_block()->set_address(address);
  r.mutable_block()->set_ttl_seconds(ttl);
  r.mutable_block()->set_reason(reason);
  return r;
}

v1::ControlRequest unblock_req(const char* address) {
  v1::ControlRequest r;
  r.mutable_unblock()->set_address(address);
  return r;
}

v1::ControlRequest list_req() {
  v1::ControlRequest r;
  r.mutable_blocks();
  return r;
}

EnforceOptions dry_options(const TempDir& dir) {
  EnforceOptions o;
  o.mode = "dry-run";
  o.control_socket = dir / "capture.ctl";
  o.control_socket_explicit = true;
  o.state_dir = dir / "state";
  o.state_dir_explicit = true;
  o.allow = {"192.0.2.0/24"};
  o.no_host_allowlist = true;
  o.quiet_alerts = true;
  o.alerts_path = dir / "eve.json";
  o.events_path = dir / "events.db";
  return o;
}

}  // namespace

TEST_CASE("control socket: block, list, unblock round trip", "[control]") {
  TempDir dir;
  auto e = Enforcement::create(dry_options(dir), "test-1.0");
  Client c(dir / "capture.ctl");

  auto r = c.call(block_req("203.0.113.7", 120, "ticket 42"));
  REQUIRE(r.ok());
  CHECK(r.message() == "blocked 203.0.113.7 for 120 s (dry-run)");
  r = c.call(block_req("2001:DB8::0:7", 0, ""));
  REQUIRE(r.ok());
  CHECK(r.message() == "blocked 2001:db8::7 for 600 s (dry-run)");

  r = c.call(list_req());
  REQUIRE(r.ok());
  REQUIRE(r.blocks_size() == 2);
  CHECK(r.blocks(0).address() == "203.0.113.7");
  CHECK(r.blocks(0).reason() == "ticket 42");
  CHECK(r.blocks(0).manual());
  CHECK(r.blocks(0).expires_unix_ms() - r.blocks(0).created_unix_ms() == 120'000);
  CHECK(r.blocks(1).address() == "2001:db8::7");
  CHECK(r.blocks(1).reason() == "manual");

  r = c.call(block_req("192.0.2.10", 0, "oops"));
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "192.0.2.10 is allowlisted");
  r = c.call(block_req("not-an-address", 0, ""));
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "not an IPv4 or IPv6 address");

  r = c.call(unblock_req("203.0.113.7"));
  REQUIRE(r.ok());
  CHECK(r.message() == "unblocked 203.0.113.7");
  r = c.call(list_req());
  REQUIRE(r.blocks_size() == 1);
  CHECK(r.blocks(0).address() == "2001:db8::7");

  // A verdict-driven block shows up in the same list.
  e->on_verdict(verdict("10.9.9.9", VerdictAction::block, "DDoS"));
  r = c.call(list_req());
  REQUIRE(r.blocks_size() == 2);
  CHECK(r.blocks(0).address() == "10.9.9.9");
  CHECK(r.blocks(0).reason() == "DDoS");
  CHECK(r.blocks(0).model_version() == "1");
  CHECK_FALSE(r.blocks(0).manual());
  CHECK_FALSE(r.blocks(0).has_evidence());

  // An evidence-based block lists its evidence (what `flowguardctl blocks` prints under the line).
  FlowVerdict v = verdict("10.9.9.8", VerdictAction::block, "PortScan");
  v.evidence.rule = "scan";
  v.evidence.flows = 9;
  v.evidence.classes = {"PortScan"};
  v.evidence.level = 8.5f;
  v.evidence.offence = 2;
  v.evidence.block_seconds = 1200;
  e->on_verdict(v);
  r = c.call(list_req());
  REQUIRE(r.blocks_size() == 3);
  const auto& b = r.blocks(0);  // listed in address order
  CHECK(b.address() == "10.9.9.8");
  REQUIRE(b.has_evidence());
  CHECK(b.evidence().rule() == "scan");
  CHECK(b.evidence().flows() == 9);
  CHECK(b.evidence().score_sum() == Approx(8.5));
  CHECK(b.evidence().offence() == 2);
  CHECK(b.evidence().block_seconds() == 1200);
  CHECK(b.expires_unix_ms() - b.created_unix_ms() == 1'200'000);
}

TEST_CASE("control socket: status, stats and requests served by the inference server", "[control]") {
  TempDir dir;
  // The agent's registry: a packet-path counter registered by another part, and enforcement's own.
  AgentMetrics metrics;
  metrics.mirror_counter({"flowguard_capture_packets_total", "Frames handed to the decoder", "packets"},
                         [] { return std::uint64_t{1234}; });
  auto e = Enforcement::create(dry_options(dir), "test-1.0", &metrics);
  e->on_verdict(verdict("10.9.9.9", VerdictAction::block, "DDoS"));
  e->on_verdict(verdict("192.0.2.9", VerdictAction::block, "DDoS"));
  metrics.publish();  // the capture thread's job in the agent
  Client c(dir / "capture.ctl");
  v1::ControlRequest status;
  status.mutable_status();
  auto r = c.call(status);
  REQUIRE(r.ok());
  CHECK(r.status().process() == "flowguard-capture");
  CHECK(r.status().version() == "test-1.0");
  std::map<std::string, std::uint64_t> counters;
  for (const auto& k : r.status().counters()) counters[k.name()] = k.value();
  CHECK(counters["verdicts"] == 2);
  CHECK(counters["blocks_active"] == 1);
  CHECK(counters["blocked_but_allowlisted"] == 1);
  CHECK(counters["alerts_emitted"] == 2);
  CHECK(counters["packets"] == 1234);

  v1::ControlRequest stats;
  stats.mutable_stats();
  r = c.call(stats);
  REQUIRE(r.ok());
  CHECK(r.stats_size() > 10);
  // The structured answer: the same registry with names, types and keys.
  const auto snapshot = flowguard::wire::from_proto(r.metrics());
  const auto* packets = snapshot.find("packets");
  REQUIRE(packets != nullptr);
  CHECK(packets->name == "flowguard_capture_packets_total");
  CHECK(packets->type == flowguard::metrics::Type::counter);
  CHECK(packets->counter == 1234);
  const auto* active = snapshot.find("blocks_active");
  REQUIRE(active != nullptr);
  CHECK(active->type == flowguard::metrics::Type::gauge);
  CHECK(active->gauge == 1);
  CHECK(snapshot.value("verdicts") == 2);
  CHECK(snapshot.value("flowguard_capture_enforce_block_verdicts_total") == 2);

  v1::ControlRequest reload;
  reload.mutable_reload()->set_path("/tmp/x");
  r = c.call(reload);
  CHECK_FALSE(r.ok());
  CHECK(r.error() == "served by flowguard-infer");
  v1::ControlRequest models;
  models.mutable_models();
  CHECK(c.call(models).error() == "served by flowguard-infer");
  CHECK(c.call(v1::ControlRequest{}).error() == "empty request");
}

TEST_CASE("control socket: a bad frame closes only that connection", "[control]") {
  TempDir dir;
  auto e = Enforcement::create(dry_options(dir), "test-1.0");
  Client good(dir / "capture.ctl");
  Client bad(dir / "capture.ctl");
  // A garbage payload in a valid frame gets an error answer; the connection stays usable.
  bad.send_raw(std::string("\x00\x00\x00\x03\xff\xff\xff", 7));
  v1::ControlResponse r;
  REQUIRE(bad.receive(r));
  CHECK_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::StartsWith("malformed ControlRequest"));
  CHECK(bad.call(list_req()).ok());
  // A frame declaring 1 GiB is refused before anything is buffered, and that connection is closed.
  bad.send_raw(std::string("\x40\x00\x00\x00", 4));
  CHECK_FALSE(bad.receive(r));
  CHECK(e->control()->bad_frames() == 1);
  CHECK(good.call(list_req()).ok());
}

TEST_CASE("control socket path in use by a live agent is a start-up error - a stale one is replaced",
          "[control]") {
  TempDir dir;
  {
    auto first = Enforcement::create(dry_options(dir), "1");
    CHECK_THROWS_WITH(Enforcement::create(dry_options(dir), "2"), Catch::Contains("in use"));
  }
  // Leave a stale socket file behind (bound, never listening, closed).
  const std::string path = dir / "capture.ctl";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  ::close(fd);
  auto e = Enforcement::create(dry_options(dir), "3");
  Client c(path);
  CHECK(c.call(list_req()).ok());
}

TEST_CASE("enforcement writes EVE alerts and events for the verdicts it sees", "[control][eve][store]") {
  TempDir dir;
  {
    auto e = Enforcement::create(dry_options(dir), "1");
    e->on_verdict(verdict("10.9.9.9", VerdictAction::block, "DDoS"));
    e->on_verdict(verdict("10.9.9.8", VerdictAction::alert, "PortScan"));
    e->on_verdict(verdict("10.9.9.7", VerdictAction::allow, "BENIGN"));
    e->stop();
  }
  std::ifstream in(dir / "eve.json");
  std::vector<nlohmann::json> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["src_ip"] == "10.9.9.9");
  CHECK(lines[0]["flowguard"]["enforcement"] == "dry-run");
  CHECK(lines[0]["alert"]["action"] == "allowed");
  CHECK(lines[1]["alert"]["signature"] == "flowguard ML: PortScan");
  // Persisted block list (dry-run file) and the event store exist.
  CHECK(std::filesystem::exists(dir / "state/blocks.dry-run.json"));
  CHECK(std::filesystem::file_size(dir / "events.db") > 0);
}

TEST_CASE("a flood of block verdicts from one source gives one block and folded alerts (dry-run)",
          "[eve][blocks]") {
  TempDir dir;
  auto e = Enforcement::create(dry_options(dir), "1");
  for (int i = 0; i < 1000; ++i) {
    FlowVerdict v = verdict("10.9.9.9", VerdictAction::block, "DDoS");
    v.last_ts_us = 1'700'000'000'000'000 + i * 500;  // 0.5 s of packet time
    e->on_verdict(v);
  }
  e->stop();
  CHECK(e->blocks().size() == 1);
  CHECK(e->alerts().emitted() == 1);
  CHECK(e->alerts().suppressed() == 999);
  std::ifstream in(dir / "eve.json");
  std::string line;
  REQUIRE(std::getline(in, line));
  const auto eve = nlohmann::json::parse(line);
  CHECK(eve["alert"]["action"] == "allowed");
  CHECK(eve["flowguard"]["block"] == true);
  CHECK_FALSE(std::getline(in, line));
}
