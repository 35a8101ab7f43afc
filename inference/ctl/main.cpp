// flowguardctl: operator CLI for both control sockets (docs/inference.md, docs/protocol.md).
#include "control_client.hpp"
#include "metrics_proto.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>

using namespace flowguard;

namespace {

std::string when(std::int64_t unix_ms) {
  if (unix_ms <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string duration(std::int64_t ms) {
  const auto s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
}

std::string model_line(const v1::ModelInfo& m) {
  return fmt::format("{} {} ({}, profile {}, {} classes, sha256 {}, loaded {})", m.name(), m.version(),
                     m.architecture(), m.feature_profile(), m.class_names_size(), m.sha256().substr(0, 12),
                     when(m.loaded_at_unix_ms()));
}

// One line per sample: counters and gauges as `key value`; histograms with their count, mean and the
// bucket bounds holding the median and the 99th percentile (observation units, e.g. microseconds).
void print_stats(const v1::ControlResponse& r) {
  if (r.metrics().samples().empty()) {  // a process from before the registry
    for (const auto& c : r.stats()) std::cout << fmt::format("{:<20} {}\n", c.name(), c.value());
    return;
  }
  const auto snap = wire::from_proto(r.metrics());
  for (const auto& s : snap.samples) {
    switch (s.type) {
      case metrics::Type::counter:
        std::cout << fmt::format("{:<20} {}\n", s.key, s.counter);
        break;
      case metrics::Type::gauge:
        std::cout << fmt::format("{:<20} {}\n", s.key, s.gauge);
        break;
      case metrics::Type::histogram:
        std::cout << fmt::format("{:<20} count {} mean {:.0f} p50 <= {} p99 <= {}\n", s.key, s.count,
                                 s.count ? static_cast<double>(s.sum) / static_cast<double>(s.count) : 0.0,
                                 s.quantile_bound(0.5), s.quantile_bound(0.99));
        break;
    }
  }
}

void print_human(const v1::ControlResponse& r, const std::string& what) {
  if (!r.ok()) {
    std::cerr << "error: " << r.error() << "\n";
    return;
  }
  if (!r.message().empty()) std::cout << r.message() << "\n";
  if (what == "status" && r.has_status()) {
    const auto& s = r.status();
    std::cout << fmt::format("{} {}, up {}\n", s.process(), s.version(), duration(s.uptime_ms()));
    if (s.has_model()) std::cout << "model:        " << model_line(s.model()) << "\n";
    std::cout << fmt::format("sessions:     {}\nqueue:        {} flows\n", s.sessions(), s.queue_depth());
    if (s.last_reload_unix_ms() > 0) {
      if (s.last_reload_error().empty())
        std::cout << "last reload:  ok at " << when(s.last_reload_unix_ms()) << "\n";
      else
        std::cout << "last reload:  FAILED at " << when(s.last_reload_unix_ms()) << ": "
                  << s.last_reload_error() << "\n";
    }
    for (const auto& c : s.counters()) std::cout << fmt::format("  {:<20} {}\n", c.name(), c.value());
  }
  if (what == "models") {
    for (const auto& m : r.models())
      std::cout << (m.serving() ? "* " : "  ") << model_line(m.info()) << "\n    " << m.path() << "\n";
  }
  if (what == "stats") print_stats(r);
  if (what == "blocks") {
    if (r.blocks().empty()) std::cout << "no blocked addresses\n";
    for (const auto& b : r.blocks())
      std::cout << fmt::format(
          "{:<40} {:<7} expires {:<21} model {:<10} {}\n", b.address(), b.manual() ? "manual" : "model",
          b.expires_unix_ms() > 0 ? when(b.expires_unix_ms()) : "never", b.model_version(), b.reason());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flowguardctl: control flowguard-infer (models) and flowguard-capture (block list)"};
  app.require_subcommand(1);
  std::string infer_socket = "/run/flowguard/infer.ctl";
  std::string capture_socket = "/run/flowguard/capture.ctl";
  bool json = false;
  unsigned timeout_s = 120;
  app.add_option("--socket", infer_socket, "flowguard-infer control socket")->capture_default_str();
  app.add_option("--capture-socket", capture_socket, "flowguard-capture control socket")
      ->capture_default_str();
  app.add_flag("--json", json, "print the response as JSON");
  app.add_option("--timeout", timeout_s, "seconds to wait for an answer (a reload warms the model up)")
      ->capture_default_str();

  v1::ControlRequest req;
  std::string reload_file, address, reason;
  unsigned ttl = 0;
  auto* status = app.add_subcommand("status", "server status: model, sessions, queue, last reload");
  auto* reload = app.add_subcommand("reload", "load a model file (default: the server's --model) and swap");
  reload->add_option("file", reload_file, "model bundle (*.pt), as the server sees the path");
  auto* models = app.add_subcommand("models", "models served in this run");
  auto* stats = app.add_subcommand("stats", "counters, gauges and latency histograms");
  bool prometheus = false;
  stats->add_flag("--prometheus", prometheus, "print the Prometheus text exposition format");
  bool stats_of_capture = false;
  stats->add_flag("--capture", stats_of_capture,
                  "ask the capture agent (--capture-socket) instead of the server");
  auto* blocks = app.add_subcommand("blocks", "addresses the capture agent currently blocks");
  auto* block = app.add_subcommand("block", "block an address now (capture agent)");
  block->add_option("address", address, "IPv4 or IPv6 address")->required();
  block->add_option("--ttl", ttl, "seconds until the block expires (0: agent default)");
  block->add_option("--reason", reason, "shown in blocks and alerts");
  auto* unblock = app.add_subcommand("unblock", "remove an address from the block set (capture agent)");
  unblock->add_option("address", address, "IPv4 or IPv6 address")->required();
  auto* mark_fp = app.add_subcommand(
      "mark-fp",
      "mark an alert, or every alert that led to a block, as a false positive (capture agent; needs "
      "--events): the flow's features stay in the event store labelled BENIGN for "
      "`flowguard-train export-feedback`; nothing is deleted and nothing is unblocked");
  std::int64_t alert_id = 0;
  std::string fp_address, note, operator_name;
  auto* fp_alert = mark_fp->add_option("--alert", alert_id, "alert id (event store alerts.id)")
                       ->check(CLI::PositiveNumber);
  auto* fp_block =
      mark_fp->add_option("--block", fp_address, "blocked address: mark every alert from it (its src_ip)");
  fp_alert->excludes(fp_block);
  mark_fp->add_option("--note", note, "why this was no attack (stored with the feedback)");
  mark_fp->add_option("--operator", operator_name, "who decided (default: $USER)");
  CLI11_PARSE(app, argc, argv);

  std::string what;
  bool to_capture = false;
  if (status->parsed()) req.mutable_status(), what = "status";
  if (reload->parsed()) req.mutable_reload()->set_path(reload_file), what = "reload";
  if (models->parsed()) req.mutable_models(), what = "models";
  if (stats->parsed())
    req.mutable_stats(), what = prometheus ? "prometheus" : "stats", to_capture = stats_of_capture;
  if (blocks->parsed()) req.mutable_blocks(), what = "blocks", to_capture = true;
  if (block->parsed()) {
    auto* b = req.mutable_block();
    b->set_address(address);
    b->set_ttl_seconds(ttl);
    b->set_reason(reason);
    what = "block", to_capture = true;
  }
  if (unblock->parsed()) req.mutable_unblock()->set_address(address), what = "unblock", to_capture = true;
  if (mark_fp->parsed()) {
    if (fp_alert->count() == 0 && fp_block->count() == 0) {
      std::cerr << "flowguardctl mark-fp: give --alert ID or --block ADDRESS\n";
      return 2;
    }
    auto* m = req.mutable_mark_false_positive();
    m->set_alert_id(alert_id);
    m->set_address(fp_address);
    m->set_note(note);
    if (operator_name.empty())
      if (const char* user = std::getenv("USER")) operator_name = user;
    m->set_operator_(operator_name);
    what = "mark-fp", to_capture = true;
  }

  v1::ControlResponse resp;
  try {
    resp = control::call(to_capture ? capture_socket : infer_socket, req, std::chrono::seconds(timeout_s),
                         to_capture ? "flowguard-capture" : "flowguard-infer");
  } catch (const control::ControlError& e) {
    std::cerr << "flowguardctl: " << e.what() << "\n";
    return 1;
  }
  if (what == "prometheus" && resp.ok()) {
    std::cout << metrics::render_prometheus(wire::from_proto(resp.metrics()));
    return 0;
  }
  if (json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.always_print_primitive_fields = true;
    o.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(resp, &out, o);
    std::cout << out;
  } else {
    print_human(resp, what);
  }
  return resp.ok() ? 0 : 1;
}
