// flowguard-infer and flowguardctl as real processes: signals, start-up errors, the CLI.
#include "support/support.hpp"

#include <catch2/catch.hpp>
#include "support/skip.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sys/stat.h>

using namespace fgtest;
namespace v1 = flowguard::v1;

namespace {

std::vector<std::string> infer_args(const TempDir& /*dir*/, const std::string& model,
                                    const std::string& sock) {
  return {FG_INFER_BIN, "--model", model, "--socket", sock, "--max-batch", "16"};
}

std::string ctl_of(const std::string& sock) { return flowguard::inference::default_control_path(sock); }

}  // namespace

TEST_CASE("SIGHUP reloads the configured model file and SIGTERM stops and removes the sockets", "[long]") {
  TempDir d;
  const auto model = d.file("current.pt"), sock = d.file("infer.sock");
  save_linear_model(model, "A");
  Process p(infer_args(d, model, sock), d.file("infer.log"));
  REQUIRE(eventually([&] { return serving(ctl_of(sock)); }));
  AgentClient c(sock);
  auto ack = c.hello(feature_names(4));
  REQUIRE(ack);
  REQUIRE(ack->accepted());
  CHECK(ack->model().version() == "A");

  save_linear_model(model, "B");  // atomic replace, as a deploy script does
  p.signal(SIGHUP);
  REQUIRE(eventually([&] { return control_status(ctl_of(sock)).status().model().version() == "B"; }));
  auto m = c.read();
  REQUIRE(m);
  REQUIRE(m->has_model_changed());
  CHECK(m->model_changed().version() == "B");
  REQUIRE(c.send_flows(1, 1, 3, {10, 0, 0, 0}));
  auto vb = c.read_verdicts();
  REQUIRE(vb);
  CHECK(vb->verdicts(0).model_version() == "B");
  // Three DoS flows from one source: evidence below the default rule's 5, so alerts.
  CHECK(vb->verdicts(0).action() == v1::ACTION_ALERT);
  CHECK(vb->verdicts(2).evidence().flows() == 3);

  p.signal(SIGTERM);
  auto rc = p.wait();
  REQUIRE(rc);
  CHECK(*rc == 0);
  CHECK(c.wait_closed());
  CHECK_FALSE(fs::exists(sock));
  CHECK_FALSE(fs::exists(ctl_of(sock)));
  CHECK(p.log().find("received SIGTERM") != std::string::npos);
}

TEST_CASE("a bad model at start-up exits 1 with the reason", "[long]") {
  TempDir d;
  write_garbage(d.file("bad.pt"));
  Process p(infer_args(d, d.file("bad.pt"), d.file("s.sock")), d.file("log"));
  auto rc = p.wait();
  REQUIRE(rc);
  CHECK(*rc == 1);
  CHECK(p.log().find("not a loadable TorchScript module") != std::string::npos);
  CHECK_FALSE(fs::exists(d.file("s.sock")));
}

TEST_CASE("a second server on a live socket refuses to start and a stale socket left by a kill is reused",
          "[long]") {
  TempDir d;
  const auto model = d.file("m.pt"), sock = d.file("infer.sock");
  save_linear_model(model, "A");
  auto first = std::make_unique<Process>(infer_args(d, model, sock), d.file("1.log"));
  REQUIRE(eventually([&] { return serving(ctl_of(sock)); }));
  struct stat st {};
  REQUIRE(::stat(sock.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);

  Process second(infer_args(d, model, sock), d.file("2.log"));
  auto rc = second.wait();
  REQUIRE(rc);
  CHECK(*rc == 1);
  CHECK(second.log().find("already listening") != std::string::npos);
  CHECK(serving(ctl_of(sock)));  // the first one is untouched

  first->signal(SIGKILL);
  REQUIRE(first->wait());
  REQUIRE(fs::exists(sock));  // stale: nobody listens
  Process third(infer_args(d, model, sock), d.file("3.log"));
  REQUIRE(eventually([&] { return serving(ctl_of(sock)); }));
  CHECK(third.log().find("removed stale") != std::string::npos);
}

TEST_CASE("flowguardctl against a real server and against an absent socket", "[long]") {
  TempDir d;
  const auto model = d.file("m.pt"), sock = d.file("infer.sock"), ctl = ctl_of(sock);
  save_linear_model(model, "A");
  save_linear_model(d.file("b.pt"), "B");
  write_garbage(d.file("bad.pt"));
  Process p(infer_args(d, model, sock), d.file("infer.log"));
  REQUIRE(eventually([&] { return serving(ctl); }));

  auto [rc, out] = run_command({FG_CTL_BIN, "--socket", ctl, "status"});
  CHECK(rc == 0);
  CHECK(out.find("flowguard-infer") != std::string::npos);
  CHECK(out.find("lin A (linear, profile corrected, 3 classes") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl, "--json", "status"});
  CHECK(rc == 0);
  CHECK(out.find("\"version\": \"A\"") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl, "reload", d.file("b.pt")});
  CHECK(rc == 0);
  CHECK(out.find("now serving lin B") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl, "reload", d.file("bad.pt")});
  CHECK(rc == 1);
  CHECK(out.find("not a loadable TorchScript module") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl, "status"});
  CHECK(out.find("lin B") != std::string::npos);
  CHECK(out.find("last reload:  FAILED") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl, "models"});
  CHECK(rc == 0);
  CHECK(out.find("* lin B") != std::string::npos);
  CHECK(out.find("  lin A") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl, "stats"});
  CHECK(rc == 0);
  CHECK(out.find("reloads_failed") != std::string::npos);

  const auto absent = d.file("absent.ctl");
  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", absent, "status"});
  CHECK(rc == 1);
  CHECK(out.find("cannot connect to flowguard-infer at " + absent +
                 ": No such file or directory — is the server running?") != std::string::npos);
  std::tie(rc, out) =
      run_command({FG_CTL_BIN, "--capture-socket", absent, "block", "10.0.0.1", "--ttl", "60"});
  CHECK(rc == 1);
  CHECK(out.find("cannot connect to flowguard-capture at " + absent) != std::string::npos);
  // A block request sent to the inference server's socket is answered, not served.
  std::tie(rc, out) = run_command({FG_CTL_BIN, "--capture-socket", ctl, "blocks"});
  CHECK(rc == 1);
  CHECK(out.find("served by the capture agent") != std::string::npos);
}

TEST_CASE(
    "flowguardctl stats renders a live server's registry: readable, and Prometheus text promtool accepts",
    "[long]") {
  TempDir d;
  const auto model = d.file("m.pt"), sock = d.file("infer.sock");
  save_linear_model(model, "A");
  Process p(infer_args(d, model, sock), d.file("infer.log"));
  REQUIRE(eventually([&] { return serving(ctl_of(sock)); }));
  AgentClient c(sock);
  REQUIRE(c.hello(feature_names(4))->accepted());
  REQUIRE(c.send_flows(1, 1, 5, {10, 0, 0, 0}));
  REQUIRE(c.read_verdicts());

  auto [rc, out] = run_command({FG_CTL_BIN, "--socket", ctl_of(sock), "stats"});
  CHECK(rc == 0);
  CHECK(out.find("flows_received       5\n") != std::string::npos);
  CHECK(out.find("flow_to_verdict_us   count 5 ") != std::string::npos);

  std::tie(rc, out) = run_command({FG_CTL_BIN, "--socket", ctl_of(sock), "stats", "--prometheus"});
  CHECK(rc == 0);
  CHECK(out.find("flowguard_infer_flows_received_total 5\n") != std::string::npos);
  // Five DoS flows from one source at once: the fifth reaches the default rule's evidence (5).
  CHECK(out.find("flowguard_infer_verdicts_total{action=\"block\"} 1\n") != std::string::npos);
  CHECK(out.find("flowguard_infer_verdicts_total{action=\"alert\"} 4\n") != std::string::npos);
  CHECK(out.find("flowguard_infer_evidence_blocks_total{rule=\"default\"} 1\n") != std::string::npos);
  CHECK(out.find("flowguard_infer_evidence_alerts_below_block_total 4\n") != std::string::npos);
  CHECK(out.find("flowguard_infer_evidence_sources 1\n") != std::string::npos);
  CHECK(out.find("flowguard_infer_inference_seconds_count 1\n") != std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) FLOWGUARD_SKIP("promtool not installed");
  { std::ofstream(d.file("metrics.txt")) << out; }
  std::tie(rc, out) = run_command({"/bin/sh", "-c", "promtool check metrics < " + d.file("metrics.txt")});
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.empty());  // no lint findings
}
