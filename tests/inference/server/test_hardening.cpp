// Issue 15: what a hostile or careless peer on the same host could do to flowguard-infer, each attack
// reproduced on real sockets (in-process server) or against the real binary, and shown not to work.
#include "support/support.hpp"

#include "framing.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace fgtest;
namespace v1 = flowguard::v1;
namespace inf = flowguard::inference;

namespace {

const std::vector<float> kBenign{0, 0, 0, 0};

// A raw connection with a send timeout (a peer the server stops reading must not hang the test).
struct RawConn {
  int fd = -1;
  explicit RawConn(const std::string& path, int rcvbuf = 0) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{0, 200 * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~RawConn() {
    if (fd >= 0) ::close(fd);
  }
  RawConn(const RawConn&) = delete;
  bool send(const std::string& bytes) const {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Like send(), but a send timeout is retried until `patience` passes without any byte going out (a
  // busy server is not a server that stopped reading).
  bool send_patiently(const std::string& bytes, std::chrono::milliseconds patience) const {
    std::size_t off = 0;
    auto last_progress = std::chrono::steady_clock::now();
    while (off < bytes.size()) {
      const auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        last_progress = std::chrono::steady_clock::now();
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (std::chrono::steady_clock::now() - last_progress >= patience) return false;
      } else {
        return false;
      }
    }
    return true;
  }
  // True once the peer closed (EOF or reset) within `timeout`; data before that is discarded.
  bool closed_within(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
    return false;
  }
};

std::string hello_frame(const std::string& agent) {
  v1::AgentMessage m;
  auto* h = m.mutable_hello();
  h->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  h->set_agent_id(agent);
  h->set_agent_version("test");
  h->set_feature_profile("corrected");
  for (const auto& n : feature_names(4)) h->add_feature_names(n);
  return flowguard::wire::encode_frame(m);
}

std::string flows_frame(std::uint64_t seq, std::size_t n) {
  v1::AgentMessage m;
  auto* b = m.mutable_flows();
  b->set_batch_seq(seq);
  for (std::size_t i = 0; i < n; ++i) {
    auto* f = b->add_flows();
    f->set_flow_id(seq * 100000 + i);
    f->mutable_features()->Add(kBenign.begin(), kBenign.end());
  }
  return flowguard::wire::encode_frame(m);
}

// The value of a per-session sample (family `name`, label agent=`agent`), or -1 when absent.
std::int64_t session_sample(const flowguard::metrics::Snapshot& snap, const std::string& name,
                            const std::string& agent) {
  for (const auto& s : snap.samples) {
    if (s.name != name) continue;
    for (const auto& [k, v] : s.labels)
      if (k == "agent" && v == agent)
        return s.type == flowguard::metrics::Type::counter ? static_cast<std::int64_t>(s.counter) : s.gauge;
  }
  return -1;
}

std::uint64_t stat_of(const v1::ControlResponse& r, const std::string& key) {
  for (const auto& c : r.stats())
    if (c.name() == key) return c.value();
  return ~std::uint64_t{0};
}

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("an agent flooding 4096-flow batches cannot make another agent's flows SHED") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.batch.max_queue = 1024;  // fair share with two agents: 512 each
    o.batch.max_batch = 64;
  });
  AgentClient good(srv.socket()), flood(srv.socket());
  REQUIRE(good.hello(feature_names(4), "corrected", "good")->accepted());
  REQUIRE(flood.hello(feature_names(4), "corrected", "flood")->accepted());

  // The attacker: 4096-flow batches without pause; a second thread reads its verdicts so that the
  // flood is limited by the server, not by the attacker's own socket buffer.
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> flood_sent{0}, flood_answered{0}, flood_shed{0};
  std::thread sender([&] {
    for (std::uint64_t seq = 1; !done.load() && seq <= 2000; ++seq) {
      if (!flood.send_flows(seq, seq * 10000, 4096, kBenign)) break;
      flood_sent.fetch_add(1);
    }
  });
  std::thread reader([&] {
    for (;;) {
      auto vb = flood.read_verdicts(5s);
      if (!vb) return;
      for (const auto& v : vb->verdicts()) flood_shed += v.action() == v1::ACTION_SHED ? 1 : 0;
      if (flood_answered.fetch_add(1) + 1 == flood_sent.load() && done.load()) return;
    }
  });
  // Wait until the attack is on (the first oversized batch was shed), then act as a quiet agent.
  REQUIRE(eventually([&] { return srv.server->metrics().value("shed_fair_share") > 0; }));
  std::size_t good_shed = 0, good_judged = 0;
  for (std::uint64_t r = 1; r <= 40; ++r) {
    REQUIRE(good.send_flows(r, r * 1000, 64, kBenign));
    auto vb = good.read_verdicts();
    REQUIRE(vb);
    for (const auto& v : vb->verdicts()) {
      good_shed += v.action() == v1::ACTION_SHED ? 1 : 0;
      good_judged += v.action() == v1::ACTION_ALLOW ? 1 : 0;
    }
  }
  done = true;
  sender.join();
  reader.join();

  CHECK(good_shed == 0);
  CHECK(good_judged == 40 * 64);
  // The attack was real: the flooder's batches exceeded its share and only its flows were shed.
  CHECK(flood_shed > 0);
  const auto snap = srv.server->metrics();
  CHECK(snap.value("shed_fair_share") == flood_shed.load());
  CHECK(snap.value("shed_overload") == 0);
  // Counted per session in the registry (labels session + agent).
  CHECK(session_sample(snap, "flowguard_infer_session_flows_shed_total", "good") == 0);
  CHECK(session_sample(snap, "flowguard_infer_session_flows_received_total", "good") == 40 * 64);
  CHECK(session_sample(snap, "flowguard_infer_session_flows_shed_total", "flood") ==
        static_cast<std::int64_t>(flood_shed.load()));
  CHECK(flowguard::metrics::render_prometheus(snap).find(
            "flowguard_infer_session_flows_shed_total{session=\"2\",agent=\"flood\"}") != std::string::npos);
}

TEST_CASE("a lone agent may use the whole queue, beyond it its flows are shed as overload") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) { o.batch.max_queue = 100; });
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  REQUIRE(c.send_flows(1, 1, 300, kBenign));
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  int shed = 0;
  for (const auto& v : vb->verdicts()) shed += v.action() == v1::ACTION_SHED ? 1 : 0;
  CHECK(shed == 200);  // exactly max_queue fit
  CHECK(srv.server->metrics().value("shed_overload") == 200);
  CHECK(srv.server->metrics().value("shed_fair_share") == 0);
}

TEST_CASE("connections beyond --max-sessions get an Error and are closed, a freed slot is reusable") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) { o.max_sessions = 3; });
  std::vector<std::unique_ptr<AgentClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<AgentClient>(srv.socket()));
    REQUIRE(held.back()->hello(feature_names(4))->accepted());
  }
  AgentClient extra(srv.socket());
  auto m = extra.read();
  REQUIRE(m);
  REQUIRE(m->has_error());
  CHECK(m->error().message().find("too many connections") != std::string::npos);
  CHECK(extra.wait_closed());
  CHECK(srv.server->metrics().value("refused_agent") == 1);

  held.pop_back();  // one agent leaves
  REQUIRE(eventually([&] { return srv.server->metrics().value("sessions") == 2; }));
  AgentClient again(srv.socket());
  auto ack = again.hello(feature_names(4));
  REQUIRE(ack);
  CHECK(ack->accepted());
}

TEST_CASE("an agent that stops mid-frame after its Hello is closed after the frame timeout") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) { o.frame_timeout = 200ms; });
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  // A header announcing 1 MiB, then 10 bytes, then nothing: the slow-loris of issue 15.
  std::string partial(4, '\0');
  partial[1] = 0x10;  // 0x00100000 = 1 MiB
  partial += std::string(10, 'x');
  REQUIRE(c.send_raw(partial));
  auto m = c.read();
  REQUIRE(m);
  REQUIRE(m->has_error());
  CHECK(m->error().message().find("frame incomplete") != std::string::npos);
  CHECK(c.wait_closed());
  CHECK(srv.server->metrics().value("closed_frame_timeout") == 1);
  // The session is forgotten just after its socket closes (a ThreadSanitizer run saw it still counted).
  CHECK(eventually([&] { return srv.server->metrics().value("sessions") == 0; }));
}

TEST_CASE("an agent that sends but never reads its verdicts is stopped being read, then closed") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.max_session_buffer = 64 * 1024;
    o.stall_timeout = 300ms;
  });
  RawConn c(srv.socket(), 4096);
  REQUIRE(c.fd >= 0);
  REQUIRE(c.send(hello_frame("deaf")));
  // Never read: the verdicts pile up in the server until it stops reading this socket; then our sends
  // make no progress for 3 s and we stop.
  std::size_t sent = 0;
  for (std::uint64_t seq = 1; seq <= 5000; ++seq, ++sent)
    if (!c.send_patiently(flows_frame(seq, 1024), 3s)) break;
  CHECK(sent < 5000);  // the server stopped reading (back-pressure), so our send timed out
  REQUIRE(eventually([&] { return srv.server->metrics().value("closed_stalled") == 1; }));
  CHECK(c.closed_within(10s));
  CHECK(eventually([&] { return srv.server->metrics().value("sessions") == 0; }));
}

TEST_CASE("idle control connections cannot lock out status, idle and mid-frame ones time out") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  SECTION("the connection idle longest makes room") {
    InProcessServer srv(d.file("a.pt"));  // defaults: 16 connections, 10 s idle timeout
    std::vector<std::unique_ptr<RawConn>> idle;
    for (int i = 0; i < 20; ++i) idle.push_back(std::make_unique<RawConn>(srv.control()));
    const auto r = control_status(srv.control());
    CHECK(r.ok());
    CHECK(r.status().process() == "flowguard-infer");
    CHECK(srv.server->metrics().value("refused_control") >= 5);
  }
  SECTION("a short idle timeout closes idle and half-sent connections") {
    InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) { o.control_idle_timeout = 200ms; });
    RawConn idle(srv.control()), half(srv.control());
    REQUIRE(half.send(std::string("\x00\x00\x01\x00\x08", 5)));  // 256-byte frame, 1 byte of it
    CHECK(idle.closed_within(10s));
    CHECK(half.closed_within(10s));
    CHECK(srv.server->metrics().value("control_timeouts") == 2);
    CHECK(control_status(srv.control()).ok());
  }
}

TEST_CASE("a reload of a huge or non-bundle file fails fast with a clear message") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  {  // 8 GiB, sparse, not a zip archive
    std::ofstream(d.file("huge.bin")) << "not a model";
    fs::resize_file(d.file("huge.bin"), 8ull << 30);
  }
  auto r = control_reload(srv.control(), d.file("huge.bin"));
  CHECK_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("more than the 1073741824-byte limit"));
  {  // small, not a zip archive
    std::ofstream(d.file("text.pt")) << "#!/bin/sh\necho hi\n";
  }
  r = control_reload(srv.control(), d.file("text.pt"));
  CHECK_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("zip signature"));
  CHECK(srv.server->metrics().value("reloads_failed") == 2);
  CHECK(control_status(srv.control()).status().model().version() == "A");
}

TEST_CASE("status and verdicts are answered while a reload reads a large file") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  // A 1 GiB file that passes the cheap checks (zip signature, under the cap): hashing it takes a while.
  {
    std::ofstream out(d.file("big.pt"), std::ios::binary);
    out << "PK\x03\x04";
  }
  fs::resize_file(d.file("big.pt"), 1ull << 30);
  InProcessServer srv(d.file("a.pt"));
  AgentClient agent(srv.socket());
  REQUIRE(agent.hello(feature_names(4))->accepted());

  v1::ControlResponse reload_answer;
  std::thread reloader([&] { reload_answer = control_reload(srv.control(), d.file("big.pt")); });
  // Every status below is answered on the I/O thread; the reload runs on the loader thread. The first
  // status that sees the reload started must come back before the reload ended (before issue 15 the
  // status waited for the reload's lock, so it could only ever see it finished).
  v1::ControlResponse during;
  REQUIRE(eventually([&] {
    during = control_status(srv.control());
    std::uint64_t started = 0;
    for (const auto& c : during.status().counters())
      if (c.name() == "reloads_started") started = c.value();
    return started == 1;
  }));
  std::map<std::string, std::uint64_t> counters;
  for (const auto& c : during.status().counters()) counters[c.name()] = c.value();
  CHECK(counters["reloads_failed"] == 0);
  CHECK(counters["reloads_ok"] == 0);
  // Verdicts flow meanwhile, and they too are answered before the reload ends.
  REQUIRE(agent.send_flows(1, 1, 8, kBenign));
  auto vb = agent.read_verdicts();
  REQUIRE(vb);
  CHECK(vb->verdicts_size() == 8);
  CHECK(srv.server->metrics().value("reloads_failed") == 0);
  reloader.join();
  CHECK_FALSE(reload_answer.ok());
  CHECK(srv.server->metrics().value("reloads_failed") == 1);
}

TEST_CASE("both sockets refuse a peer whose uid is not allowed, even with a widened file mode") {
  if (::geteuid() != 0) {
    WARN("not root: cannot fork a peer with another uid; the peer check is covered by test_privileges");
    return;
  }
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  ::chmod(srv.socket().c_str(), 0666);
  ::chmod(srv.control().c_str(), 0666);
  const std::string hello = hello_frame("intruder");
  v1::ControlRequest req;
  req.mutable_status();
  const std::string status = flowguard::wire::encode_frame(req);
  // A child running as nobody (65534): connects, sends, and reports whether any answer came.
  auto as_nobody = [](const std::string& path, const std::string& frame) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(100);
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::_Exit(9);
      (void)!::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) std::_Exit(8);
      char buf[64];
      std::_Exit(::recv(fd, buf, sizeof buf, 0) > 0 ? 11 : 10);  // 10: closed without an answer
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  CHECK(as_nobody(srv.socket(), hello) == 10);
  CHECK(as_nobody(srv.control(), status) == 10);
  const auto k = srv.server->metrics();
  CHECK(k.value("refused_agent") == 1);
  CHECK(k.value("refused_control") == 1);
  CHECK(k.value("sessions_accepted") == 0);
  // Root (the test) still gets through.
  CHECK(control_status(srv.control()).ok());
  AgentClient ok(srv.socket());
  CHECK(ok.hello(feature_names(4))->accepted());
}

#if defined(FG_INFER_BIN)
namespace {

std::vector<std::string> infer_args(const std::string& model, const std::string& sock) {
  return {FG_INFER_BIN, "--model", model, "--socket", sock, "--max-batch", "16", "--stats-interval", "0"};
}

}  // namespace

TEST_CASE("a newline in agent_id cannot forge a log line, and a 1 MiB agent_id is not logged whole", "[long]") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto sock = d.file("infer.sock");
  Process p(infer_args(d.file("a.pt"), sock), d.file("infer.log"));
  REQUIRE(eventually([&] { return serving(inf::default_control_path(sock)); }));
  {
    AgentClient c(sock);
    auto ack = c.hello(feature_names(4), "corrected", "evil\n[2020-01-01 00:00:00.000] [info] FORGED admin login");
    REQUIRE(ack);
    AgentClient big(sock);
    REQUIRE(big.hello(feature_names(4), "corrected", std::string(1 << 20, 'A')));
  }
  REQUIRE(eventually([&] { return count_lines_with(p.log(), "disconnected") == 2; }));
  p.signal(SIGTERM);
  REQUIRE(p.wait());
  const auto log = p.log();
  CHECK(log.find("\n[2020-01-01") == std::string::npos);  // no line starts with the forged prefix
  CHECK(log.find("evil\\x0a[2020-01-01") != std::string::npos);
  CHECK(log.size() < 64 * 1024);  // a 1 MiB id would otherwise appear twice
}

TEST_CASE("at the file-descriptor limit the accept loops back off instead of spinning", "[long]") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto sock = d.file("infer.sock");
  const auto ctl = inf::default_control_path(sock);
  auto args = infer_args(d.file("a.pt"), sock);
  args.insert(args.begin(), {"/usr/bin/prlimit", "--nofile=64:64"});
  args.insert(args.end(), {"--max-sessions", "1000"});
  Process p(args, d.file("infer.log"));
  REQUIRE(eventually([&] { return serving(ctl); }));
  // Exhaust the server's descriptors: every connection below is accepted until accept() fails with
  // EMFILE, and the rest wait in the backlog of both sockets.
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 80; ++i) conns.push_back(std::make_unique<RawConn>(sock));
  for (int i = 0; i < 8; ++i) conns.push_back(std::make_unique<RawConn>(ctl));
  REQUIRE(eventually([&] { return count_lines_with(p.log(), "accept on agent socket failed") >= 1; }));
  std::this_thread::sleep_for(1500ms);  // let it run at the limit (no timing is asserted)
  conns.clear();
  v1::ControlRequest req;
  req.mutable_stats();
  v1::ControlResponse stats;
  REQUIRE(eventually([&] {
    try {
      stats = control(ctl, req);
      return stats.ok();
    } catch (const std::exception&) {
      return false;
    }
  }));
  const auto errors = stat_of(stats, "accept_errors_agent");
  INFO("accept_errors_agent=" << errors << " accept_errors_control=" << stat_of(stats, "accept_errors_control"));
  CHECK(errors >= 1);
  CHECK(errors < 100);  // a spinning loop counts hundreds of thousands in 1.5 s (issue 15: 746,386 in 5 s)
  const auto log = p.log();
  CHECK(count_lines_with(log, "accept on agent socket failed") <= 2);  // one line per 10 s at most
  CHECK(count_lines_with(log, "accept on control socket failed") <= 2);
  // After the pressure, the server works as before.
  AgentClient c(sock);
  auto ack = c.hello(feature_names(4));
  REQUIRE(ack);
  CHECK(ack->accepted());
}
#endif
