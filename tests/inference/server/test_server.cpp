// flowguard-infer in-process on real Unix sockets with real TorchScript models.
#include "support/support.hpp"

#include "framing.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace fgtest;
namespace v1 = flowguard::v1;
namespace inf = flowguard::inference;

namespace {

const std::vector<float> kBenign{0, 0, 0, 0};
const std::vector<float> kDoS{10, 0, 0, 0};       // DoS, score ~1: block
const std::vector<float> kWeakDoS{1.5, 0, 0, 0};  // DoS, score ~0.56: alert

std::string frame_header(std::uint32_t len) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(len >> 24);
  h[1] = static_cast<char>(len >> 16);
  h[2] = static_cast<char>(len >> 8);
  h[3] = static_cast<char>(len);
  return h;
}

}  // namespace

TEST_CASE("an accepted agent gets one verdict per flow with class, action, model and reason") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  AgentClient c(srv.socket());
  REQUIRE(c.connected());
  auto ack = c.hello(feature_names(4));
  REQUIRE(ack);
  REQUIRE(ack->accepted());
  CHECK(ack->model().name() == "lin");
  CHECK(ack->model().version() == "A");
  CHECK(ack->model().sha256().size() == 64);

  REQUIRE(c.send_flows(1, 100, 10, kBenign));
  REQUIRE(c.send_flows(2, 200, 5, kDoS));
  REQUIRE(c.send_flows(3, 300, 3, kWeakDoS));
  std::map<std::uint64_t, v1::VerdictBatch> got;
  for (int i = 0; i < 3; ++i) {
    auto vb = c.read_verdicts();
    REQUIRE(vb);
    got[vb->batch_seq()] = *vb;
  }
  REQUIRE(got.size() == 3);
  REQUIRE(got[1].verdicts_size() == 10);
  REQUIRE(got[2].verdicts_size() == 5);
  REQUIRE(got[3].verdicts_size() == 3);
  for (int i = 0; i < 10; ++i) {
    const auto& v = got[1].verdicts(i);
    CHECK(v.flow_id() == 100u + static_cast<unsigned>(i));
    CHECK(v.action() == v1::ACTION_ALLOW);
    CHECK(v.predicted_class() == "BENIGN");
    CHECK(v.model_version() == "A");
    CHECK(v.top_features_size() == 0);  // attribution only for alert/block
    CHECK(v.class_scores_size() == 3);
  }
  for (const auto& v : got[2].verdicts()) {
    CHECK(v.action() == v1::ACTION_BLOCK);
    CHECK(v.predicted_class() == "DoS");
    CHECK(v.score() > 0.99f);
    CHECK(v.threshold() == Approx(0.9));
    CHECK(v.reason().find("block threshold") != std::string::npos);
    CHECK(v.model_name() == "lin");
    REQUIRE(v.top_features_size() == 3);
    CHECK(v.top_features(0).name() == "f0");  // the only feature the DoS logit depends on
    CHECK(v.top_features(0).value() == Approx(10));
    CHECK(v.top_features(0).contribution() == Approx(10));
  }
  for (const auto& v : got[3].verdicts()) {
    CHECK(v.action() == v1::ACTION_ALERT);
    CHECK(v.threshold() == Approx(0.5));
  }
  const auto k = srv.server->metrics();
  CHECK(k.value("flows_received") == 18);
  CHECK(k.value("block") == 5);
  CHECK(k.value("alert") == 3);
  CHECK(k.value("allow") == 10);
  // Every flow went through one forward() and got its flow-to-verdict time; batch sizes add up.
  const auto* batches = k.find("batch_flows");
  REQUIRE(batches != nullptr);
  CHECK(batches->type == flowguard::metrics::Type::histogram);
  CHECK(batches->sum == 18);
  CHECK(batches->count == k.value("inference_batches"));
  CHECK(k.find("inference_us")->count == k.value("inference_batches"));
  CHECK(k.find("flow_to_verdict_us")->count == 18);
}

TEST_CASE("detect-only policy turns blocks into alerts with the reason") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), {}, inf::Policy::from_yaml("detect_only: true\n"));
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  REQUIRE(c.send_flows(1, 1, 4, kDoS));
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  REQUIRE(vb->verdicts_size() == 4);
  for (const auto& v : vb->verdicts()) {
    CHECK(v.action() == v1::ACTION_ALERT);
    CHECK(v.reason().find("detect-only") != std::string::npos);
  }
}

TEST_CASE("attribution is capped per batch so a flood of alerts cannot make the server shed") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.batch.explain_max_rows = 2;
    o.batch.max_delay = std::chrono::microseconds(50000);  // one batch for the whole FlowBatch
  });
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  REQUIRE(c.send_flows(1, 1, 6, kDoS));
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  REQUIRE(vb->verdicts_size() == 6);
  int explained = 0;
  for (const auto& v : vb->verdicts()) {
    CHECK(v.action() == v1::ACTION_BLOCK);
    explained += v.top_features_size() > 0;
  }
  CHECK(explained == 2);
  CHECK(srv.server->metrics().value("explained_rows") == 2);
}

TEST_CASE("a refused agent is told which features differ, then the session closes") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  AgentClient c(srv.socket());
  auto ack = c.hello({"f0", "f1", "fx", "f3"});
  REQUIRE(ack);
  CHECK_FALSE(ack->accepted());
  REQUIRE(ack->missing_features_size() == 1);
  CHECK(ack->missing_features(0) == "f2");
  REQUIRE(ack->unexpected_features_size() == 1);
  CHECK(ack->unexpected_features(0) == "fx");
  CHECK(ack->reason().find("model 'lin' version A") != std::string::npos);
  CHECK(c.wait_closed());

  AgentClient p(srv.socket());
  ack = p.hello(feature_names(4), "cicids2017");
  REQUIRE(ack);
  CHECK_FALSE(ack->accepted());
  CHECK(ack->reason().find("feature profile 'cicids2017'") != std::string::npos);
  CHECK(srv.server->metrics().value("sessions_refused") == 2);
}

TEST_CASE("garbage, oversized and out-of-order frames close that session only") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  AgentClient good(srv.socket());
  REQUIRE(good.hello(feature_names(4))->accepted());

  auto expect_error_and_close = [](AgentClient& c, const std::string& what) {
    auto m = c.read();
    REQUIRE(m);
    REQUIRE(m->has_error());
    CHECK(m->error().message().find(what) != std::string::npos);
    CHECK(c.wait_closed());
  };
  SECTION("garbage payload") {
    AgentClient bad(srv.socket());
    REQUIRE(bad.send_raw(frame_header(5) + "\xff\xff\xff\xff\xff"));
    expect_error_and_close(bad, "malformed");
  }
  SECTION("oversized frame") {
    AgentClient bad(srv.socket());
    REQUIRE(bad.send_raw(frame_header(100u * 1024u * 1024u) + "xxxx"));
    expect_error_and_close(bad, "exceeds the maximum");
  }
  SECTION("flows before Hello") {
    AgentClient bad(srv.socket());
    REQUIRE(bad.send_flows(1, 1, 1, kBenign));
    expect_error_and_close(bad, "before an accepted Hello");
  }
  SECTION("wrong number of features") {
    AgentClient bad(srv.socket());
    REQUIRE(bad.hello(feature_names(4))->accepted());
    REQUIRE(bad.send_flows(1, 1, 1, {1, 2, 3}));
    expect_error_and_close(bad, "has 3 features");
  }
  SECTION("second Hello") {
    AgentClient bad(srv.socket());
    REQUIRE(bad.hello(feature_names(4))->accepted());
    v1::AgentMessage h;
    h.mutable_hello()->set_protocol_version(1);
    REQUIRE(bad.send(h));
    expect_error_and_close(bad, "second Hello");
  }
  // The other session and the server are unaffected.
  REQUIRE(good.send_flows(7, 1, 3, kBenign));
  auto vb = good.read_verdicts();
  REQUIRE(vb);
  CHECK(vb->batch_seq() == 7);
  CHECK(vb->verdicts_size() == 3);
  CHECK(srv.server->metrics().value("protocol_errors") == 1);
}

TEST_CASE("16 concurrent agents each get every verdict") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"));
  constexpr int kAgents = 16, kBatches = 20, kFlows = 8;
  std::atomic<int> complete{0};
  std::vector<std::thread> agents;
  for (int a = 0; a < kAgents; ++a) {
    agents.emplace_back([&, a] {
      AgentClient c(srv.socket());
      auto ack = c.hello(feature_names(4), "corrected", "agent-" + std::to_string(a));
      if (!ack || !ack->accepted()) return;
      for (int b = 1; b <= kBatches; ++b)
        if (!c.send_flows(static_cast<std::uint64_t>(b), static_cast<std::uint64_t>(b * 1000), kFlows,
                          (a + b) % 3 ? kBenign : kDoS))
          return;
      std::set<std::uint64_t> seqs;
      std::size_t verdicts = 0;
      for (int b = 0; b < kBatches; ++b) {
        auto vb = c.read_verdicts();
        if (!vb) return;
        seqs.insert(vb->batch_seq());
        for (const auto& v : vb->verdicts())
          if (v.flow_id() / 1000 == vb->batch_seq() && v.action() != v1::ACTION_SHED) ++verdicts;
      }
      if (seqs.size() == kBatches && verdicts == kBatches * kFlows) ++complete;
    });
  }
  for (auto& t : agents) t.join();
  CHECK(complete.load() == kAgents);
  CHECK(srv.server->metrics().value("verdicts_sent") == kAgents * kBatches * kFlows);
}

TEST_CASE("a full inference queue answers SHED instead of growing") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.batch.max_queue = 8;
    o.batch.max_batch = 4;
  });
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  REQUIRE(c.send_flows(1, 1, 100, kBenign));
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  REQUIRE(vb->verdicts_size() == 100);
  int shed = 0, judged = 0;
  for (const auto& v : vb->verdicts()) {
    if (v.action() == v1::ACTION_SHED) {
      ++shed;
      CHECK(v.reason().find("queue full") != std::string::npos);
    } else {
      ++judged;
    }
  }
  CHECK(judged == 8);  // the queue was empty: exactly max_queue flows fit
  CHECK(shed == 92);
  CHECK(srv.server->metrics().value("shed_overload") == 92);
}

TEST_CASE("hot swap under continuous load: versions change, no verdict is lost", "[long]") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  save_linear_model(d.file("b.pt"), "B");
  InProcessServer srv(d.file("a.pt"));
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());

  constexpr std::size_t kFlows = 8;
  std::atomic<std::uint64_t> sent{0}, answered{0}, answered_b{0};
  std::atomic<bool> stop_sending{false}, send_failed{false};
  std::thread sender([&] {
    for (std::uint64_t seq = 1; !stop_sending.load(); ++seq) {
      while (sent.load() - answered.load() > 32 && !stop_sending.load()) std::this_thread::sleep_for(100us);
      if (!c.send_flows(seq, seq * 100, kFlows, seq % 5 ? kBenign : kDoS)) {
        send_failed = true;
        return;
      }
      sent.store(seq);
    }
  });
  std::map<std::uint64_t, std::string> version_of;  // batch -> model version
  bool saw_model_changed = false, complete_batches = true, mixed_batch = false;
  std::thread swapper;
  bool reloaded = false;
  auto read_one = [&]() -> bool {
    auto m = c.read();
    if (!m) return false;
    if (m->has_model_changed()) {
      saw_model_changed = m->model_changed().version() == "B";
      return true;
    }
    if (!m->has_verdicts()) return false;
    const auto& vb = m->verdicts();
    if (vb.verdicts_size() != static_cast<int>(kFlows) || version_of.count(vb.batch_seq()))
      complete_batches = false;
    const auto ver = vb.verdicts(0).model_version();
    for (const auto& v : vb.verdicts()) {
      if (v.model_version() != ver) mixed_batch = true;
      if (v.action() == v1::ACTION_SHED) complete_batches = false;
    }
    version_of[vb.batch_seq()] = ver;
    ++answered;
    if (ver == "B") ++answered_b;
    return true;
  };
  while (answered.load() < 30 && read_one()) {
  }
  REQUIRE(answered.load() >= 30);
  // Reload through the control socket while the sender keeps going.
  swapper = std::thread([&] { reloaded = control_reload(srv.control(), d.file("b.pt")).ok(); });
  while (answered_b.load() < 30 && read_one()) {
  }
  swapper.join();
  stop_sending = true;
  sender.join();
  REQUIRE_FALSE(send_failed.load());
  while (answered.load() < sent.load() && read_one()) {
  }

  CHECK(reloaded);
  CHECK(saw_model_changed);
  CHECK(complete_batches);
  CHECK_FALSE(mixed_batch);
  CHECK(answered.load() == sent.load());
  REQUIRE(version_of.size() == sent.load());
  // Every batch answered once; A before the swap, B after, never A again once B served.
  bool seen_b = false, a_after_b = false;
  for (const auto& [seq, ver] : version_of) {
    if (ver == "B")
      seen_b = true;
    else if (seen_b)
      a_after_b = true;
    CHECK((ver == "A" || ver == "B"));
  }
  CHECK(seen_b);
  CHECK_FALSE(a_after_b);
  CHECK(srv.server->model()->info.version() == "B");
}

TEST_CASE("a bad model file keeps the serving model and status reports the error") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  write_garbage(d.file("garbage.pt"));
  save_wrong_shape_model(d.file("shape.pt"));
  save_throwing_model(d.file("throws.pt"));
  save_linear_model(d.file("five.pt"), "5F", 5);
  InProcessServer srv(d.file("a.pt"));
  std::optional<AgentClient> c;
  c.emplace(srv.socket());
  REQUIRE(c->hello(feature_names(4))->accepted());

  struct Case {
    std::string file, expect;
  };
  for (const auto& [file, expect] : std::vector<Case>{{"garbage.pt", "not a loadable TorchScript module"},
                                                      {"shape.pt", "expected [1, 3]"},
                                                      {"throws.pt", "forward() threw"},
                                                      {"five.pt", "different feature schema"},
                                                      {"absent.pt", "does not exist"}}) {
    INFO(file);
    auto r = control_reload(srv.control(), d.file(file));
    CHECK_FALSE(r.ok());
    CHECK(r.error().find(expect) != std::string::npos);
    auto st = control_status(srv.control());
    REQUIRE(st.ok());
    CHECK(st.status().model().version() == "A");
    CHECK(st.status().last_reload_error().find(expect) != std::string::npos);
    CHECK(st.status().last_reload_unix_ms() > 0);
    REQUIRE(c->send_flows(1, 1, 2, kDoS));
    auto vb = c->read_verdicts();
    REQUIRE(vb);
    CHECK(vb->verdicts(0).model_version() == "A");
    CHECK(vb->verdicts(0).action() == v1::ACTION_BLOCK);
  }
  CHECK(srv.server->metrics().value("reloads_failed") == 5);

  // A successful reload clears the error; with no agent connected a new feature schema is accepted.
  c.reset();
  REQUIRE(eventually([&] { return control_status(srv.control()).status().sessions() == 0; }));
  auto r = control_reload(srv.control(), d.file("five.pt"));
  CHECK(r.ok());
  auto st = control_status(srv.control());
  CHECK(st.status().model().version() == "5F");
  CHECK(st.status().last_reload_error().empty());
}

TEST_CASE("a watched directory serves a bundle renamed into the directory and ignores a bad one", "[long]") {
  TempDir d;
  fs::create_directories(d.path / "models");
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"),
                      [&](inf::ServerOptions& o) { o.watch_dir = (d.path / "models").string(); });
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  // save_bundle writes "<name>.tmp.<pid>" in the same directory and renames it: an atomic appearance.
  save_linear_model((d.path / "models" / "next.pt").string(), "W");
  REQUIRE(eventually([&] { return srv.server->model()->info.version() == "W"; }));
  auto m = c.read();
  REQUIRE(m);
  CHECK(m->has_model_changed());
  CHECK(m->model_changed().version() == "W");

  write_garbage(d.file("junk.tmp"));
  fs::rename(d.file("junk.tmp"), d.path / "models" / "junk.pt");
  REQUIRE(eventually([&] { return !control_status(srv.control()).status().last_reload_error().empty(); }));
  CHECK(srv.server->model()->info.version() == "W");
  REQUIRE(c.send_flows(1, 1, 1, kBenign));
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  CHECK(vb->verdicts(0).model_version() == "W");
}

TEST_CASE("control socket: models, stats, and block requests answered as not served") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  save_linear_model(d.file("b.pt"), "B");
  InProcessServer srv(d.file("a.pt"));
  REQUIRE(control_reload(srv.control(), d.file("b.pt")).ok());
  v1::ControlRequest req;
  req.mutable_models();
  auto r = control(srv.control(), req);
  REQUIRE(r.ok());
  REQUIRE(r.models_size() == 2);
  CHECK(r.models(0).info().version() == "B");
  CHECK(r.models(0).serving());
  CHECK(r.models(0).path() == d.file("b.pt"));
  CHECK_FALSE(r.models(1).serving());

  req.Clear();
  req.mutable_stats();
  r = control(srv.control(), req);
  REQUIRE(r.ok());
  bool found = false;
  for (const auto& c : r.stats())
    if (c.name() == "reloads_ok") found = c.value() == 1;
  CHECK(found);
  // The same registry as structured samples: Prometheus names, keys, types, histograms.
  const flowguard::v1::MetricSample* reloads = nullptr;
  const flowguard::v1::MetricSample* inference = nullptr;
  for (const auto& m : r.metrics().samples()) {
    if (m.name() == "flowguard_infer_reloads_ok_total") reloads = &m;
    if (m.name() == "flowguard_infer_inference_seconds") inference = &m;
  }
  REQUIRE(reloads != nullptr);
  CHECK(reloads->key() == "reloads_ok");
  CHECK(reloads->type() == flowguard::v1::METRIC_TYPE_COUNTER);
  CHECK(reloads->counter() == 1);
  REQUIRE(inference != nullptr);
  CHECK(inference->type() == flowguard::v1::METRIC_TYPE_HISTOGRAM);
  CHECK(inference->scale() == Approx(1e-6));
  CHECK(inference->buckets_size() > 0);

  req.Clear();
  req.mutable_block()->set_address("10.0.0.1");
  r = control(srv.control(), req);
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("served by the capture agent") != std::string::npos);

  req.Clear();
  req.mutable_mark_false_positive()->set_alert_id(1);
  r = control(srv.control(), req);
  CHECK_FALSE(r.ok());
  CHECK(r.error().find("false-positive marks are served by the capture agent") != std::string::npos);
}

TEST_CASE("socket files: mode 0660, stale file replaced, live server or non-socket refused") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const auto path = d.file("s.sock");
  {
    // A stale socket file: bound, then closed without unlink (what a crashed server leaves).
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);
    REQUIRE(fs::exists(path));
  }
  InProcessServer srv(d.file("a.pt"), {}, {}, path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  REQUIRE(::stat(srv.control().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  AgentClient c(path);
  CHECK(c.hello(feature_names(4))->accepted());

  CHECK_THROWS_WITH(InProcessServer(d.file("a.pt"), {}, {}, path), Catch::Contains("already listening"));
  write_garbage(d.file("plain"));
  CHECK_THROWS_WITH(InProcessServer(d.file("a.pt"), {}, {}, d.file("plain")),
                    Catch::Contains("not a socket"));
  srv.stop();
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(inf::default_control_path(path)));
  CHECK(inf::default_control_path("/run/flowguard/infer.sock") == "/run/flowguard/infer.ctl");
}

TEST_CASE(
    "a socket path too long for sockaddr_un is the same clear error for the server and flowguardctl's "
    "client") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  const std::string long_path = d.file(std::string(120, 's') + ".sock");
  const std::string expected = "path '" + long_path + "' is too long for a Unix socket";
  CHECK_THROWS_WITH(InProcessServer(d.file("a.pt"), {}, {}, long_path),
                    Catch::Contains("agent socket " + expected));
  v1::ControlRequest req;
  req.mutable_status();
  CHECK_THROWS_WITH(control(long_path, req), Catch::Contains(expected) && Catch::Contains("107 bytes max"));
  CHECK_FALSE(fs::exists(long_path.substr(0, 107)));  // never truncated into a different file
}

TEST_CASE("a graceful stop answers the batches still queued before closing the sessions") {
  TempDir d;
  save_linear_model(d.file("a.pt"), "A");
  InProcessServer srv(d.file("a.pt"), [](inf::ServerOptions& o) {
    o.batch.max_batch = 64;
    o.batch.max_delay = std::chrono::microseconds(5'000'000);  // the batch would wait 5 s to fill
  });
  AgentClient c(srv.socket());
  REQUIRE(c.hello(feature_names(4))->accepted());
  REQUIRE(c.send_flows(1, 1, 3, kDoS));
  REQUIRE(eventually([&] { return srv.server->metrics().value("flows_received") == 3; }));
  srv.server->stop();  // while the flows sit in the queue
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  CHECK(vb->batch_seq() == 1);
  REQUIRE(vb->verdicts_size() == 3);
  for (const auto& v : vb->verdicts()) CHECK(v.action() == v1::ACTION_BLOCK);
  CHECK(c.wait_closed());
}
