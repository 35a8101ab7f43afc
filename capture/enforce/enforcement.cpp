#include "enforce/enforcement.hpp"

#include "metrics_proto.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace flowguard::capture::enforce {

EnforceMode parse_mode(const std::string& text) {
  if (text == "nftables") return EnforceMode::nftables;
  if (text == "dry-run") return EnforceMode::dry_run;
  if (text == "off") return EnforceMode::off;
  throw std::invalid_argument("unknown enforce mode '" + text + "' (nftables, dry-run, off)");
}

EnforceOptionHandles register_enforce_options(CLI::App& app, EnforceOptions& o) {
  const std::string g = "Enforcement";
  app.add_option("--enforce", o.mode,
                 "Act on block verdicts: nftables (drop in the kernel), dry-run (log only), off")
      ->capture_default_str()
      ->check(CLI::IsMember({"nftables", "dry-run", "off"}))
      ->group(g);
  app.add_option("--block-ttl", o.block_ttl_s, "Seconds a block lasts (nftables element timeout)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 30u * 86400u))
      ->group(g);
  app.add_option("--block-ttl-max", o.block_ttl_max_s,
                 "Longest block the server may ask for (its escalated duration for repeat offenders is "
                 "capped here; --block-ttl applies when it asks for none)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 30u * 86400u))
      ->group(g);
  app.add_option("--block-renew-interval", o.renew_interval_s,
                 "Restart a blocked source's timeout at most this often (seconds) while it keeps attacking")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u))
      ->group(g);
  app.add_option("--max-blocks", o.max_blocks,
                 "Most addresses blocked at once; further blocks are counted, not applied")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1'000'000u))
      ->group(g);
  app.add_option("--allow", o.allow, "Never block this CIDR (repeatable; IPv4 or IPv6)")->group(g);
  app.add_option("--allowlist", o.allowlist_file, "File of CIDRs never to block, one per line, '#' comments")
      ->check(CLI::ExistingFile)
      ->group(g);
  app.add_flag("--no-host-allowlist", o.no_host_allowlist,
               "Do not allowlist this host's own interface addresses (loopback stays allowlisted)")
      ->group(g);
  auto* control = app.add_option("--control-socket", o.control_socket,
                                 "Unix socket for flowguardctl blocks/block/unblock/status ('none' disables)")
                      ->capture_default_str()
                      ->group(g);
  app.add_option("--max-control-connections", o.control_max_connections,
                 "Open control connections; when full the one idle longest is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096))
      ->group(g);
  app.add_option("--allow-group", o.control_allow_groups,
                 "Groups (names or ids) whose members may use the control socket, besides root and this "
                 "process's user (default: the socket file's group)")
      ->group(g);
  app.add_option("--control-idle-timeout-ms", o.control_idle_timeout_ms,
                 "Close a control connection idle (or stopped mid-frame) this long")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000))
      ->group(g);
  auto* state = app.add_option("--state-dir", o.state_dir,
                               "Where the block list persists across restarts ('none' disables)")
                    ->capture_default_str()
                    ->group(g);
  app.add_option("--alerts", o.alerts_path,
                 "Append alerts as Suricata-compatible EVE JSON lines to this file")
      ->group(g);
  app.add_option(
         "--alert-interval", o.alert_interval_s,
         "Fold repeated alerts per (source, class) into one per this many seconds of packet time (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0))
      ->group(g);
  app.add_flag("--quiet-alerts", o.quiet_alerts, "No console line per alert")->group(g);
  app.add_option("--events", o.events_path, "SQLite event store (alerts, blocks, unblocks)")->group(g);
  app.add_option("--events-retention-days", o.events_retention_days,
                 "Delete events older than this (0: keep)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--nft-table", o.nft_table, "Name of the nftables table (family inet)")
      ->capture_default_str()
      ->check([](const std::string& s) {
        const bool ok = !s.empty() && s.size() <= 32 &&
                        s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
        return ok ? std::string() : std::string("table name: 1-32 of [a-z0-9_]");
      })
      ->group(g);
  return {control, state};
}

void mark_explicit(const EnforceOptionHandles& h, EnforceOptions& o) {
  o.control_socket_explicit = h.control_socket != nullptr && h.control_socket->count() > 0;
  o.state_dir_explicit = h.state_dir != nullptr && h.state_dir->count() > 0;
}

std::unique_ptr<Enforcement> Enforcement::create(const EnforceOptions& o, std::string version,
                                                 AgentMetrics* metrics) {
  std::unique_ptr<Enforcement> e(new Enforcement());
  e->version_ = std::move(version);
  if (metrics == nullptr) {
    e->own_metrics_ = std::make_unique<AgentMetrics>();
    metrics = e->own_metrics_.get();
  }
  e->metrics_ = metrics;
  const EnforceMode mode = parse_mode(o.mode);

  Allowlist allow;
  allow.add_loopback();
  if (!o.no_host_allowlist) allow.add_host_addresses();
  for (const auto& cidr : o.allow) {
    if (const Status st = allow.add(cidr); !st)
      throw Exception(ErrorCode::invalid_argument, "--allow '" + cidr + "': " + st.error().message);
  }
  if (!o.allowlist_file.empty()) allow.load_file(o.allowlist_file);

  if (!o.events_path.empty()) {
    e->events_ = std::make_unique<EventStore>(
        EventStoreOptions{o.events_path, o.events_retention_days, 8192, 512}, o.feature_schema);
  }

  BlockManagerOptions bo;
  bo.mode = mode;
  bo.ttl_seconds = o.block_ttl_s;
  bo.ttl_max_seconds = std::max(o.block_ttl_max_s, o.block_ttl_s);
  bo.max_blocks = o.max_blocks;
  bo.renew_interval_seconds = o.renew_interval_s;
  bo.nft_table = o.nft_table;
  if (o.state_dir != "none" && !o.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.state_dir, ec);
    const bool usable = !ec && ::access(o.state_dir.c_str(), W_OK) == 0;
    if (usable) {
      bo.state_dir = o.state_dir;
    } else if (o.state_dir_explicit) {
      throw Exception(ErrorCode::permission_denied, "--state-dir " + o.state_dir + " is not writable");
    } else {
      spdlog::warn("enforce: {} not writable; the block list will not survive a restart", o.state_dir);
    }
  }
  e->blocks_ = std::make_unique<BlockManager>(bo, std::move(allow), e->events_.get());
  e->blocks_->start();

  e->alerts_ = std::make_unique<AlertWriter>(
      AlertWriterOptions{o.alerts_path, !o.quiet_alerts, o.alert_interval_s, 16'384}, e->events_.get());

  if (o.control_socket != "none" && !o.control_socket.empty()) {
    try {
      ControlServerOptions co;
      co.path = o.control_socket;
      co.max_clients = o.control_max_connections;
      co.idle_timeout = std::chrono::milliseconds(o.control_idle_timeout_ms);
      co.allow_groups = o.control_allow_groups;
      e->control_ = std::make_unique<ControlServer>(
          std::move(co), [raw = e.get()](const auto& req) { return raw->handle_control(req); });
    } catch (const std::exception& ex) {
      if (o.control_socket_explicit) throw;
      spdlog::warn("enforce: no control socket ({}); flowguardctl blocks/unblock will not reach this agent",
                   ex.what());
    }
  }
  spdlog::info("enforce: mode {}, block TTL {} s, max {} blocks, {} allowlist entries{}{}", o.mode,
               o.block_ttl_s, o.max_blocks, e->blocks_->allowlist().entries().size(),
               e->control_ ? ", control socket " + o.control_socket : std::string(),
               o.alerts_path.empty() ? std::string() : ", alerts " + o.alerts_path);
  e->register_metrics(*metrics);
  return e;
}

Enforcement::~Enforcement() { stop(); }

void Enforcement::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (control_) control_->stop();
  if (blocks_) blocks_->stop();
  if (alerts_) alerts_->flush();
  if (events_) events_->stop();
}

void Enforcement::on_verdict(const FlowVerdict& verdict) {
  verdicts_.fetch_add(1, std::memory_order_relaxed);
  if (verdict.action != VerdictAction::alert && verdict.action != VerdictAction::block) return;
  const BlockOutcome outcome = blocks_->apply(verdict);
  alerts_->emit(verdict, outcome, blocks_->mode());
}

void Enforcement::register_metrics(AgentMetrics& m) {
  // Every reader is an atomic load (or the block list's own lock): safe from the publishing thread.
  const BlockCounters* b = &blocks_->counters();
  const AlertWriter* a = alerts_.get();
  struct Item {
    const char* key;
    const char* help;
    std::function<std::uint64_t()> read;
    bool in_line;
  };
  std::vector<Item> items = {
      {"verdicts", "Verdicts handed to enforcement", [this] { return verdicts_.load(); }, false},
      {"alerts_emitted", "Alerts written (EVE/console)", [a] { return a->emitted(); }, true},
      {"alerts_suppressed", "Alerts folded into a similar one", [a] { return a->suppressed(); }, true},
      {"alert_write_errors", "Alert lines that could not be written", [a] { return a->write_errors(); },
       false},
      {"block_verdicts", "Block verdicts received", [b] { return b->block_verdicts.load(); }, true},
      {"blocks_added", "Addresses added to the nftables set", [b] { return b->blocked.load(); }, false},
      {"blocks_dry_run", "Block decisions not enforced (dry-run)", [b] { return b->dry_run.load(); }, false},
      {"blocks_renewed", "Block timeouts renewed", [b] { return b->renewed.load(); }, false},
      {"blocks_renew_suppressed", "Renewals skipped (renew interval)",
       [b] { return b->renew_suppressed.load(); }, false},
      {"blocked_but_allowlisted", "Block verdicts for allowlisted addresses (not blocked)",
       [b] { return b->allowlisted.load(); }, true},
      {"responder_blocks_refused", "Block verdicts refused: no side named, or the flow's responder",
       [b] { return b->responder_refused.load(); }, true},
      {"blocks_cap_reached", "Block verdicts refused: --max-blocks reached",
       [b] { return b->cap_reached.load(); }, true},
      {"blocks_not_blockable", "Block verdicts for addresses that cannot be blocked",
       [b] { return b->not_blockable.load(); }, false},
      {"blocks_manual", "Blocks added through the control socket", [b] { return b->manual_blocks.load(); },
       false},
      {"blocks_restored", "Blocks restored from the state directory", [b] { return b->restored.load(); },
       false},
      {"blocks_expired", "Blocks that timed out", [b] { return b->expired.load(); }, false},
      {"unblocks", "Addresses unblocked", [b] { return b->unblocks.load(); }, false},
      {"nft_errors", "nftables transactions that failed", [b] { return b->kernel_errors.load(); }, true},
      {"state_write_errors", "Block list persistence failures", [b] { return b->state_write_errors.load(); },
       false},
  };
  if (events_) {
    const EventStore* ev = events_.get();
    items.push_back({"events_written", "Events stored", [ev] { return ev->written(); }, false});
    items.push_back(
        {"events_dropped", "Events dropped: store queue full", [ev] { return ev->dropped(); }, true});
    items.push_back(
        {"events_write_errors", "Event store write errors", [ev] { return ev->write_errors(); }, false});
    items.push_back({"feedback_marked", "Alerts marked false positive by an operator",
                     [ev] { return ev->feedback_rows(); }, false});
  }
  if (control_) {
    const ControlServer* c = control_.get();
    items.push_back({"control_requests", "Control socket requests", [c] { return c->requests(); }, false});
    items.push_back(
        {"control_bad_frames", "Control socket frames refused", [c] { return c->bad_frames(); }, false});
    items.push_back({"control_refused",
                     "Control connections refused (peer not allowed) or closed to make room",
                     [c] { return c->refused_connections(); }, false});
    items.push_back({"control_accept_errors", "Control socket accept() failures (e.g. out of descriptors)",
                     [c] { return c->accept_errors(); }, false});
    items.push_back({"control_timeouts", "Control connections closed idle or mid-frame",
                     [c] { return c->timeouts(); }, false});
  }
  for (auto& it : items) {
    metrics::Desc d{"flowguard_capture_enforce_" + std::string(it.key) + "_total", it.help, it.key};
    d.in_line = it.in_line;
    m.mirror_counter(std::move(d), std::move(it.read));
  }
  const BlockManager* blocks = blocks_.get();
  m.mirror_gauge({"flowguard_capture_enforce_blocks_active", "Addresses blocked now", "blocks_active"},
                 [blocks] { return static_cast<std::int64_t>(blocks->size()); });
}

namespace {

// The registry as the plain name/value list of `status` and of older `stats` clients (keys as names;
// histograms only in the structured answer).
void add_plain_counters(const metrics::Snapshot& snapshot,
                        google::protobuf::RepeatedPtrField<flowguard::v1::Counter>& out) {
  for (const auto& sample : snapshot.samples) {
    if (sample.type == metrics::Type::histogram) continue;
    auto* c = out.Add();
    c->set_name(sample.key);
    c->set_value(sample.type == metrics::Type::gauge ? static_cast<std::uint64_t>(sample.gauge)
                                                     : sample.counter);
  }
}

}  // namespace

ControlResult Enforcement::mark_false_positive(const flowguard::v1::MarkFalsePositiveRequest& req) {
  if (!events_)
    return Error{ErrorCode::unavailable, "this agent keeps no event store (start it with --events FILE.db)"};
  FeedbackRequest r;
  r.alert_id = req.alert_id();
  r.address = req.address();
  if (r.alert_id < 0) return Error{ErrorCode::invalid_argument, "alert ids are positive"};
  if (!r.address.empty()) {
    // The address as the store writes it (canonical text), so another spelling of an IPv6 address or
    // an IPv4-mapped one still finds its alerts.
    const auto parsed = parse_address(r.address);
    if (!parsed)
      return Error{ErrorCode::invalid_argument, "'" + r.address + "' is not an IPv4 or IPv6 address"};
    r.address = format_address(*parsed);
  }
  r.note = req.note();
  r.operator_name = req.operator_();
  auto out = events_->mark_false_positive(r);
  if (!out) return out.error();
  auto ids = [](const std::vector<std::int64_t>& v) {
    std::string s;
    constexpr std::size_t kShown = 20;  // a block can have thousands of alerts: the message stays short
    for (std::size_t i = 0; i < v.size() && i < kShown; ++i) s += (i ? "," : "") + std::to_string(v[i]);
    if (v.size() > kShown) s += ",... (" + std::to_string(v.size()) + " in all)";
    return s;
  };
  std::string msg = "marked " + std::to_string(out->marked.size()) + " alert(s) as false positive (BENIGN)";
  if (!out->marked.empty()) msg += ": " + ids(out->marked);
  if (!out->already_marked.empty()) msg += "; already marked: " + ids(out->already_marked);
  if (out->without_features > 0)
    msg += "; " + std::to_string(out->without_features) +
           " of them were stored without features (older agent) and cannot be exported for training";
  spdlog::info("feedback: {}{}{}", msg, r.operator_name.empty() ? "" : " by " + r.operator_name,
               r.note.empty() ? "" : " (" + r.note + ")");
  return msg;
}

metrics::Snapshot Enforcement::metrics_snapshot() {
  // The agent's registry is published by its capture thread; a registry of our own only holds atomics.
  if (own_metrics_) own_metrics_->publish();
  return metrics_->snapshot();
}

flowguard::v1::ControlResponse Enforcement::handle_control(const flowguard::v1::ControlRequest& req) {
  using flowguard::v1::ControlRequest;
  flowguard::v1::ControlResponse resp;
  auto apply_result = [&](const ControlResult& r) {
    resp.set_ok(r.ok());
    if (r.ok())
      resp.set_message(*r);
    else
      resp.set_error(r.error().message);
  };
  switch (req.body_case()) {
    case ControlRequest::kBlocks: {
      resp.set_ok(true);
      for (const BlockRecord& r : blocks_->list()) {
        auto* b = resp.add_blocks();
        b->set_address(format_address(r.address));
        b->set_reason(r.reason);
        b->set_model_version(r.model_version);
        b->set_created_unix_ms(r.created_unix_ms);
        b->set_expires_unix_ms(r.expires_unix_ms);
        b->set_manual(r.manual);
        if (r.evidence.present()) {
          auto* e = b->mutable_evidence();
          e->set_flows(r.evidence.flows);
          for (const auto& c : r.evidence.classes) e->add_classes(c);
          e->set_score_sum(r.evidence.level);
          e->set_max_score(r.evidence.max_score);
          e->set_window_start_us(r.evidence.window_start_us);
          e->set_window_end_us(r.evidence.window_end_us);
          e->set_offence(r.evidence.offence);
          e->set_block_seconds(r.evidence.block_seconds);
          e->set_rule(r.evidence.rule);
        }
      }
      resp.set_message(std::to_string(resp.blocks_size()) + " address(es) blocked (" +
                       std::string(to_string(blocks_->mode())) + ")");
      break;
    }
    case ControlRequest::kBlock:
      apply_result(blocks_->block(req.block().address(), req.block().ttl_seconds(), req.block().reason()));
      break;
    case ControlRequest::kUnblock:
      apply_result(blocks_->unblock(req.unblock().address()));
      break;
    case ControlRequest::kStatus: {
      resp.set_ok(true);
      auto* s = resp.mutable_status();
      s->set_process("flowguard-capture");
      s->set_version(version_);
      s->set_uptime_ms(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_)
              .count());
      add_plain_counters(metrics_snapshot(), *s->mutable_counters());
      break;
    }
    case ControlRequest::kStats: {
      resp.set_ok(true);
      const metrics::Snapshot snapshot = metrics_snapshot();
      // The plain list for older clients; `metrics` is the structured registry (types, labels, histograms).
      add_plain_counters(snapshot, *resp.mutable_stats());
      wire::to_proto(snapshot, *resp.mutable_metrics());
      break;
    }
    case ControlRequest::kMarkFalsePositive:
      apply_result(mark_false_positive(req.mark_false_positive()));
      break;
    case ControlRequest::kReload:
    case ControlRequest::kModels:
      resp.set_ok(false);
      resp.set_error("served by flowguard-infer");
      break;
    case ControlRequest::BODY_NOT_SET:
      resp.set_ok(false);
      resp.set_error("empty request");
      break;
  }
  return resp;
}

}  // namespace flowguard::capture::enforce
