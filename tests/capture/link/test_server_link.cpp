// ServerLink (the agent side) against a real flowguard-infer in-process, on real sockets.
#include "support/support.hpp"

#include "link/server_link.hpp"
#include "link/in_flight.hpp"

#include "framing.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace fgtest;
using namespace flowguard::capture;
namespace v1 = flowguard::v1;
namespace inf = flowguard::inference;

namespace {

// The link's tests count verdicts per flow: one confident flow blocks (evidence disabled).
inf::Policy per_flow() { return inf::Policy::from_yaml("evidence: {enabled: false}\n"); }

struct CollectingSink : VerdictSink {
  std::mutex mu;
  std::vector<FlowVerdict> got;
  void on_verdict(const FlowVerdict& v) override {
    std::lock_guard lock(mu);
    got.push_back(v);
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return got.size();
  }
};

LinkOptions options(const std::string& socket) {
  LinkOptions o;
  o.socket_path = socket;
  o.queue_flows = 4096;
  o.batch_flows = 64;
  o.delay_ms = 2;
  o.agent_id = "link-test";
  o.reconnect_min = std::chrono::milliseconds(20);
  o.reconnect_max = std::chrono::milliseconds(200);
  return o;
}

LinkSchema schema(std::size_t n = 4) { return {"corrected", feature_names(n)}; }

// A flow record as the flow engine would emit it.
struct Flow {
  std::vector<double> features;
  FlowReport report;
  Flow(std::uint64_t id, double f0, RecordKind kind = RecordKind::final_record, std::size_t n = 4)
      : features(n, 0.0) {
    features[0] = f0;
    report.flow_id = id;
    report.src.family = 4;
    report.src.bytes = {192, 168, 1, static_cast<std::uint8_t>(id % 250)};
    report.dst.family = 4;
    report.dst.bytes = {10, 0, 0, 1};
    report.src_port = static_cast<std::uint16_t>(1024 + id % 1000);
    report.dst_port = 80;
    report.protocol = 6;
    report.fwd_packets = id;
    report.kind = kind;
    // The initiator travels with the identity: odd ids opened by dst (e.g. a SYN-ACK seen first).
    report.initiator = id % 2 ? FlowSide::dst : FlowSide::src;
    report.initiator_basis = id % 2 ? InitiatorBasis::handshake : InitiatorBasis::service_port;
    report.features = features;
  }
};

void offer(ServerLink& link, std::uint64_t first, std::size_t n, double f0 = 0) {
  for (std::size_t i = 0; i < n; ++i) {
    Flow f(first + i, f0);
    link.on_flow(f.report);
  }
}

// Every one of `n` records offered was sent once and judged; none failed open.
void check_all_judged(const LinkCounters& c, std::size_t n) {
  CHECK(c.offered == n);
  CHECK(c.sent == n);
  CHECK(c.judged == n);
  CHECK(c.unjudged() == 0);
}

// A listening Unix socket at `path` for a fake server.
int listen_at(const std::string& path) {
  const int lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(lfd, 4) == 0);
  return lfd;
}

// Fake server side of the handshake: accepts one agent, reads its Hello, accepts it.
int accept_and_ack(int lfd) {
  const int c = ::accept(lfd, nullptr, nullptr);
  char buf[4096];
  (void)::recv(c, buf, sizeof(buf), 0);  // the Hello
  v1::ServerMessage m;
  m.mutable_hello_ack()->set_accepted(true);
  m.mutable_hello_ack()->set_max_batch_flows(4096);
  const auto f = flowguard::wire::encode_frame(m);
  (void)::send(c, f.data(), f.size(), MSG_NOSIGNAL);
  return c;
}

}  // namespace

TEST_CASE("a socket path too long for sun_path is a clear error, never a truncated connect") {
  const std::string path = "/tmp/" + std::string(200, 'x') + ".sock";
  ServerLink link(options(path), schema(), nullptr);
  link.start();
  CHECK_FALSE(link.wait_connected(300ms));
  CHECK_THAT(link.last_error(), Catch::Contains("too long for a Unix socket"));
  CHECK_THAT(link.last_error(), Catch::Contains("cannot connect to flowguard-infer"));
  link.stop();
}

TEST_CASE("every record gets a verdict joined with the agent's own flow metadata") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), {}, per_flow());
  CollectingSink sink;
  ServerLink link(options(srv.socket()), schema(), &sink);
  flowguard::metrics::Histogram latency(flowguard::metrics::exponential_bounds(50, 2.0, 18));
  link.set_latency_histogram(&latency);
  link.start();
  REQUIRE(link.wait_connected(10s));
  CHECK(link.model() == "lin A");

  constexpr std::size_t kFlows = 1000;
  for (std::size_t i = 0; i < kFlows; ++i) {
    // Every tenth flow is an attack; flow ids repeat for a snapshot and its final record.
    const bool attack = i % 10 == 0;
    Flow f(i / 2, attack ? 10.0 : 0.0, i % 2 ? RecordKind::final_record : RecordKind::snapshot);
    link.on_flow(f.report);
  }
  REQUIRE(link.flush(15s));
  const auto c = link.counters();
  check_all_judged(c, kFlows);
  CHECK(c.block == kFlows / 10);
  REQUIRE(sink.size() == kFlows);
  std::size_t blocks = 0, snapshots = 0;
  for (const auto& v : sink.got) {
    CHECK(v.src.bytes[3] == v.flow_id % 250);
    CHECK(v.src_port == 1024 + v.flow_id % 1000);
    CHECK(v.fwd_packets == v.flow_id);
    CHECK(v.initiator == (v.flow_id % 2 ? FlowSide::dst : FlowSide::src));
    CHECK(v.initiator_basis == (v.flow_id % 2 ? InitiatorBasis::handshake : InitiatorBasis::service_port));
    CHECK(v.model_version == "A");
    CHECK_FALSE(v.reason.empty());
    if (v.kind == RecordKind::snapshot) ++snapshots;
    if (v.action == VerdictAction::block) {
      ++blocks;
      CHECK(v.predicted_class == "DoS");
      REQUIRE_FALSE(v.top_features.empty());
      CHECK(v.top_features[0].name == "f0");
    }
  }
  CHECK(blocks == kFlows / 10);
  CHECK(snapshots == kFlows / 2);
  // One flow-to-verdict observation per delivered verdict (all in some bucket, +Inf included).
  std::uint64_t observed = 0;
  for (std::size_t b = 0; b <= latency.bounds().size(); ++b) observed += latency.bucket(b);
  CHECK(observed == kFlows);
  link.stop();
  CHECK(link.counters().unjudged_stopped == 0);
}

TEST_CASE("verdicts carry the feature values their record was sent with, valid during on_verdict") {
  // FlowVerdict::features is a view into the link's in-flight batch: a sink copies what it keeps
  // (the event store does, for alerts). Here every verdict's view must equal its own record's values.
  struct FeatureSink : VerdictSink {
    std::mutex mu;
    std::vector<std::pair<std::uint64_t, std::vector<float>>> got;
    std::size_t with_groups = 0;
    void on_verdict(const FlowVerdict& v) override {
      std::lock_guard lock(mu);
      got.emplace_back(v.flow_id, std::vector<float>(v.features.begin(), v.features.end()));
      with_groups += v.group_features.empty() ? 0 : 1;
    }
  };
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  FeatureSink sink;
  ServerLink link(options(srv.socket()), schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  constexpr std::size_t kFlows = 300;  // several batches of 64
  for (std::size_t i = 0; i < kFlows; ++i) {
    Flow f(i, i % 7 == 0 ? 10.0 : 0.0);
    f.features[1] = static_cast<double>(i) + 0.5;
    f.features[3] = -static_cast<double>(i);
    link.on_flow(f.report);
  }
  REQUIRE(link.flush(15s));
  link.stop();
  std::lock_guard lock(sink.mu);
  REQUIRE(sink.got.size() == kFlows);
  for (const auto& [id, features] : sink.got) {
    INFO("flow " << id);
    REQUIRE(features.size() == 4);
    CHECK(features[0] == (id % 7 == 0 ? 10.f : 0.f));
    CHECK(features[1] == static_cast<float>(id) + 0.5f);
    CHECK(features[2] == 0.f);
    CHECK(features[3] == -static_cast<float>(id));
  }
  CHECK(sink.with_groups == 0);  // no feature group announced: no group values
}

TEST_CASE("a refused handshake is reported and retried until a matching model is served", "[long]") {
  TempDir d;
  save_linear_model(d.file("five.pt"), "5F", 5);
  save_linear_model(d.file("four.pt"), "4F", 4);
  InProcessServer srv(d.file("five.pt"), {}, per_flow());
  CollectingSink sink;
  ServerLink link(options(srv.socket()), schema(4), &sink);
  link.start();
  REQUIRE(eventually([&] { return link.counters().hello_refused >= 2; }));
  CHECK_FALSE(link.connected());
  const auto err = link.last_error();
  CHECK(err.find("refused this agent") != std::string::npos);
  CHECK(err.find("1 missing (f4)") != std::string::npos);
  offer(link, 1, 10);
  CHECK(link.counters().unjudged_server_away == 10);  // fail open while refused

  // The operator swaps in a model that matches the agent; no agent is connected, so the schema may change.
  REQUIRE(control_reload(srv.control(), d.file("four.pt")).ok());
  REQUIRE(link.wait_connected(15s));
  CHECK(link.last_error().empty());
  offer(link, 100, 20, 10.0);
  REQUIRE(link.flush(15s));
  CHECK(link.counters().block == 20);
}

TEST_CASE("the link reconnects after the server restarts and resumes judging", "[long]") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  save_linear_model(d.file("b.pt"), "B");
  const auto sock = d.file("infer.sock");
  CollectingSink sink;
  auto srv = std::make_unique<InProcessServer>(d.file("a.pt"), InProcessServer::Tweak{}, per_flow(), sock);
  ServerLink link(options(sock), schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 100);
  REQUIRE(link.flush(15s));
  CHECK(link.counters().judged == 100);

  srv.reset();  // server gone: graceful stop closes the session
  REQUIRE(eventually([&] { return !link.connected(); }));
  offer(link, 1000, 50);
  REQUIRE(link.flush(5s));  // nothing can be pending while the server is away
  CHECK(link.counters().unjudged_server_away >= 50);

  srv = std::make_unique<InProcessServer>(d.file("b.pt"), InProcessServer::Tweak{}, per_flow(), sock);
  REQUIRE(link.wait_connected(15s));
  offer(link, 2000, 100);
  REQUIRE(link.flush(15s));
  const auto c = link.counters();
  CHECK(c.judged == 200);
  CHECK(c.reconnects >= 1);
  CHECK(link.model() == "lin B");
  std::lock_guard lock(sink.mu);
  CHECK(sink.got.back().model_version == "B");
  CHECK(c.offered == c.judged + c.shed + c.unjudged());
}

TEST_CASE("server SHED verdicts are counted and delivered as shed") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.batch.max_queue = 4;
    o.batch.max_batch = 4;
  }, per_flow());
  CollectingSink sink;
  auto o = options(srv.socket());
  o.batch_flows = 64;
  o.delay_ms = 50;  // fill whole batches
  ServerLink link(o, schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 256);
  REQUIRE(link.flush(15s));
  const auto c = link.counters();
  CHECK(c.sent == 256);
  CHECK(c.shed > 0);
  CHECK(c.shed + c.judged == 256);
  std::size_t shed = 0;
  for (const auto& v : sink.got) shed += v.action == VerdictAction::shed;
  CHECK(shed == c.shed);
}

// A peer that completes the handshake and then never reads again (a hung server): closes after `hold`.
struct StalledPeer {
  int lfd = -1;
  std::thread thread;
  explicit StalledPeer(const std::string& path, std::chrono::milliseconds hold = 3s) : lfd(listen_at(path)) {
    thread = std::thread([this, hold] {
      const int c = accept_and_ack(lfd);
      std::this_thread::sleep_for(hold);
      ::close(c);
    });
  }
  ~StalledPeer() {
    thread.join();
    ::close(lfd);
  }
};

TEST_CASE(
    "a stalled server fills the bounded queue: records are dropped and counted, never queued without bound") {
  TempDir d;
  const auto path = d.file("stalled.sock");
  StalledPeer peer(path);
  auto o = options(path);
  o.queue_flows = 8;
  o.batch_flows = 4;
  o.max_in_flight = 8;
  o.backpressure = Backpressure::fail_open;  // live capture: packets cannot wait
  ServerLink link(o, schema(), nullptr);
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 200);
  const auto c = link.counters();
  CHECK(c.offered == 200);
  CHECK(c.unjudged_queue_full >= 200 - 16);  // at most 8 queued + 8 in flight
  CHECK(c.sent <= 8);
  link.stop();
  const auto e = link.counters();
  CHECK(e.offered == e.judged + e.shed + e.unjudged());
}

TEST_CASE("wait mode: a producer much faster than a throttled server loses no record") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.batch.max_batch = 1;  // one forward pass per flow
    o.batch.workers = 1;
  }, per_flow());
  CollectingSink sink;
  auto o = options(srv.socket());
  o.queue_flows = 4;
  o.batch_flows = 2;
  o.backpressure = Backpressure::wait;
  ServerLink link(o, schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  constexpr std::size_t kFlows = 3000;
  for (std::size_t i = 0; i < kFlows; ++i) {
    Flow f(i, i % 3 == 0 ? 10.0 : 0.0);
    link.on_flow(f.report);
  }
  REQUIRE(link.flush(15s));
  const auto c = link.counters();
  check_all_judged(c, kFlows);
  CHECK(c.block == kFlows / 3);
  CHECK(sink.size() == kFlows);
  CHECK(link.failure().empty());
}

TEST_CASE("wait mode: a stalled server makes the link give up after the wait limit, with a reason") {
  TempDir d;
  const auto path = d.file("stalled.sock");
  StalledPeer peer(path, 2s);
  auto o = options(path);
  o.queue_flows = 8;
  o.batch_flows = 4;
  o.max_in_flight = 8;
  o.backpressure = Backpressure::wait;
  o.wait_limit = 300ms;
  std::atomic<int> gave_up{0};
  ServerLink link(o, schema(), nullptr);
  link.set_wait_hooks({[] { return false; }, [&] { ++gave_up; }});
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 200);  // returns: the first wait gives up, the rest fail open at once
  CHECK(gave_up == 1);
  const auto why = link.failure();
  CHECK(why.find("took no flow records") != std::string::npos);
  CHECK(why.find("--link-wait-s") != std::string::npos);
  const auto c = link.counters();
  CHECK(c.unjudged_queue_full >= 200 - 17);
  CHECK_FALSE(link.flush(10s));  // gave up: flush does not wait
  link.stop();
  const auto e = link.counters();
  CHECK(e.offered == e.judged + e.shed + e.unjudged());
}

TEST_CASE("wait mode: a stop request ends the wait without giving up") {
  TempDir d;
  const auto path = d.file("stalled.sock");
  StalledPeer peer(path, 1s);
  auto o = options(path);
  o.queue_flows = 4;
  o.batch_flows = 4;
  o.max_in_flight = 4;
  o.backpressure = Backpressure::wait;
  o.wait_limit = 1h;
  std::atomic<bool> cancel{false};
  ServerLink link(o, schema(), nullptr);
  link.set_wait_hooks({[&] { return cancel.load(); }, [] {}});
  link.start();
  REQUIRE(link.wait_connected(10s));
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;  // what SIGINT does through PacketSource::request_stop()
  });
  offer(link, 1, 20);  // would block for an hour without the stop request
  stopper.join();
  CHECK(link.failure().empty());
  CHECK(link.counters().unjudged_queue_full > 0);
  link.stop();
}

TEST_CASE(
    "wait mode: records queued while the server is away and those in flight on a lost connection are judged "
    "after the reconnect") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto path = d.file("infer.sock");
  // A server that takes one FlowBatch and dies without answering it.
  const int lfd = listen_at(path);
  std::atomic<bool> batch_taken{false};
  std::thread peer([&] {
    const int c = accept_and_ack(lfd);
    char buf[65536];
    (void)::recv(c, buf, sizeof(buf), 0);  // (the start of) the first FlowBatch
    ::unlink(path.c_str());
    ::close(lfd);
    ::close(c);
    batch_taken = true;
  });
  CollectingSink sink;
  auto o = options(path);
  o.backpressure = Backpressure::wait;
  ServerLink link(o, schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 10, 10.0);
  peer.join();
  REQUIRE(batch_taken);
  REQUIRE(eventually([&] { return !link.connected(); }));
  offer(link, 100, 20, 10.0);  // the server is away: queued, not failed open
  CHECK(link.counters().unjudged() == 0);

  InProcessServer srv(d.file("a.pt"), InProcessServer::Tweak{}, per_flow(), path);
  REQUIRE(link.flush(20s));
  const auto c = link.counters();
  check_all_judged(c, 30);
  CHECK(c.resent == 10);
  CHECK(c.block == 30);
  CHECK(c.reconnects == 1);
  CHECK(sink.size() == 30);
}

namespace {

// A fake server at `path` that accepts the agent, takes (the start of) its first FlowBatch and dies
// without answering it, as a crashed flowguard-infer does.
void crash_after_first_batch(int lfd, const std::string& path, std::atomic<bool>& taken) {
  const int c = accept_and_ack(lfd);
  char buf[65536];
  (void)::recv(c, buf, sizeof(buf), 0);
  ::unlink(path.c_str());
  ::close(lfd);
  ::close(c);
  taken = true;
}

}  // namespace

TEST_CASE("fail-open mode: records in flight when the server crashed are re-sent after it is back") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto path = d.file("infer.sock");
  const int lfd = listen_at(path);
  std::atomic<bool> taken{false};
  std::thread peer([&] { crash_after_first_batch(lfd, path, taken); });
  CollectingSink sink;
  auto o = options(path);
  o.backpressure = Backpressure::fail_open;  // live capture
  o.resend_window = std::chrono::milliseconds(60000);
  ServerLink link(o, schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 10, 10.0);
  peer.join();
  REQUIRE(taken);
  REQUIRE(eventually([&] { return !link.connected(); }));
  CHECK(link.counters().unjudged_connection_lost == 0);  // kept for the re-send, not dropped

  InProcessServer srv(d.file("a.pt"), InProcessServer::Tweak{}, per_flow(), path);
  REQUIRE(eventually([&] { return link.counters().judged == 10; }));
  const auto c = link.counters();
  CHECK(c.resent == 10);
  CHECK(c.block == 10);
  CHECK(c.unjudged() == 0);
  CHECK(sink.size() == 10);
}

TEST_CASE("fail-open mode: in-flight records older than the resend window are counted lost, not re-sent") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto path = d.file("infer.sock");
  const int lfd = listen_at(path);
  std::atomic<bool> taken{false};
  std::thread peer([&] { crash_after_first_batch(lfd, path, taken); });
  CollectingSink sink;
  auto o = options(path);
  o.backpressure = Backpressure::fail_open;
  o.resend_window = std::chrono::milliseconds(50);
  ServerLink link(o, schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(10s));
  offer(link, 1, 10, 10.0);
  peer.join();
  // The window passes while the server is away: the records are counted lost (by the sender's next
  // reconnect attempt), never re-sent to the server that comes back.
  REQUIRE(eventually([&] { return link.counters().unjudged_connection_lost == 10; }));
  InProcessServer srv(d.file("a.pt"), InProcessServer::Tweak{}, per_flow(), path);
  REQUIRE(link.wait_connected(20s));
  offer(link, 100, 5, 10.0);
  REQUIRE(eventually([&] { return link.counters().judged == 5; }));
  const auto c = link.counters();
  CHECK(c.resent == 0);
  CHECK(c.offered == c.judged + c.shed + c.unjudged());
}

TEST_CASE("the in-flight table drops the oldest batches first when trimmed") {
  InFlightTable t;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    InFlightBatch b;
    b.metas.resize(4);
    b.frame = "frame" + std::to_string(seq);
    t.add(seq, std::move(b));
  }
  CHECK(t.trim_oldest(8) == 4);
  CHECK(t.flows() == 8);
  const auto frames = t.frames();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].second == "frame2");
  CHECK(frames[1].second == "frame3");
}

TEST_CASE("the link survives flowguard-infer being killed with SIGKILL and restarted", "[long]") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto sock = d.file("infer.sock");
  std::ofstream(d.file("policy.yaml")) << "evidence: {enabled: false}\n";  // count per-flow blocks
  const std::vector<std::string> args{FG_INFER_BIN, "--model",  d.file("a.pt"),          "--socket", sock,
                                      "--max-batch", "16", "--policy", d.file("policy.yaml")};
  auto server = std::make_unique<Process>(args, d.file("1.log"));
  CollectingSink sink;
  ServerLink link(options(sock), schema(), &sink);
  link.start();
  REQUIRE(link.wait_connected(15s));
  offer(link, 1, 50, 10.0);
  REQUIRE(link.flush(15s));
  CHECK(link.counters().block == 50);

  server->signal(SIGKILL);
  REQUIRE(server->wait());
  REQUIRE(eventually([&] { return !link.connected(); }));
  offer(link, 100, 10);  // fail open while the server is down
  CHECK(link.counters().unjudged_server_away >= 10);

  server = std::make_unique<Process>(args, d.file("2.log"));  // finds the stale socket file and replaces it
  REQUIRE(link.wait_connected(20s));
  offer(link, 200, 50, 10.0);
  REQUIRE(link.flush(15s));
  const auto c = link.counters();
  CHECK(c.block == 100);
  CHECK(c.reconnects >= 1);
  CHECK(c.offered == c.judged + c.shed + c.unjudged());
  CHECK(server->log().find("removed stale") != std::string::npos);
}
