#include "link/link_extension.hpp"

#include "link/server_link.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "0.0.0"
#endif

namespace flowguard::capture {

namespace {

class LinkExtension final : public AgentExtension {
 public:
  std::string_view name() const override { return "server link"; }
  void add_options(CLI::App& app) override { register_link_options(app, options_); }

  void start(AgentContext& context) override {
    LinkSchema schema;
    schema.feature_profile = std::string(context.profile_name);
    for (auto n : context.feature_names) schema.feature_names.emplace_back(n);
    for (const FeatureGroupInfo& g : context.feature_groups) {
      LinkGroup& lg = schema.groups.emplace_back();
      lg.name = std::string(g.name);
      for (auto n : g.feature_names) lg.feature_names.emplace_back(n);
    }
    options_.agent_version = FLOWGUARD_VERSION;
    // A file can wait for the server (every flow judged, same answer on every replay); packets on a live
    // interface cannot, so live capture fails open.
    if (options_.backpressure == Backpressure::automatic)
      options_.backpressure = context.input.is_live() ? Backpressure::fail_open : Backpressure::wait;
    waits_ = options_.backpressure == Backpressure::wait;
    link_ = make_server_link(options_, std::move(schema), &context.verdicts);
    InputControl* input = &context.input;
    link_->set_wait_hooks({[input] { return input->stop_requested(); }, [input] { input->request_stop(); }});
    // Flow-to-verdict latency, 50 µs .. ~13 s (the server's batching delay and the model dominate).
    link_->set_latency_histogram(
        &context.metrics.registry().histogram({"flowguard_capture_flow_to_verdict_seconds",
                                               "From a flow record entering the link to its verdict",
                                               "flow_to_verdict_us",
                                               {},
                                               1e-6},
                                              metrics::exponential_bounds(50, 2.0, 18)));
    link_->start();
    context.flow_sinks.push_back(link_.get());
    register_metrics(context.metrics);
    // A capture file starts producing records at once: give the first handshake a moment. If the server
    // is down or refuses us, the agent still runs; the log says what happens to the flows meanwhile.
    if (!link_->wait_connected(std::chrono::seconds(2))) {
      const auto why = link_->last_error().empty() ? std::string("no answer") : link_->last_error();
      if (waits_)
        spdlog::warn(
            "server link: not connected yet ({}); flows queue and the reader waits up to {} ms for it", why,
            options_.wait_limit.count());
      else
        spdlog::warn("server link: not connected yet ({}); flows fail open until it is", why);
    }
  }

  void stop() override {
    if (!link_) return;
    // Wait mode also flushes while disconnected: the queued records wait for the reconnect.
    const auto idle = waits_ ? options_.wait_limit : std::chrono::milliseconds(10000);
    if ((waits_ || link_->connected()) && link_->failure().empty() && !link_->flush(idle)) {
      const auto what = fmt::format(
          "no verdict arrived for {} ms with records outstanding; counting them unjudged", idle.count());
      if (waits_)
        flush_failure_ = what;
      else
        spdlog::warn("server link: {}", what);
    }
    link_->stop();
  }

  std::string failure() const override {
    if (!link_) return {};
    const auto f = link_->failure();
    return f.empty() ? flush_failure_ : f;
  }

 private:
  // The link's counters are atomics (capture, sender and receiver threads); mirrored into the registry.
  void register_metrics(AgentMetrics& metrics) {
    const ServerLink* link = link_.get();
    struct Field {
      const char* name;
      const char* key;
      const char* help;
      std::uint64_t LinkCounters::*member;
      bool in_line;
    };
    static constexpr Field fields[] = {
        {"flowguard_capture_link_offered_total", "link_offered", "Flow records given to the link",
         &LinkCounters::offered, false},
        {"flowguard_capture_link_sent_total", "link_sent", "Flow records sent to flowguard-infer",
         &LinkCounters::sent, true},
        {"flowguard_capture_link_out_of_scope_total", "out_of_scope",
         "Multicast/broadcast/unspecified-source flows not sent", &LinkCounters::out_of_scope, true},
        {"flowguard_capture_link_judged_total", "judged", "Verdicts allow/alert/block received",
         &LinkCounters::judged, true},
        {"flowguard_capture_link_alert_total", "alert", "Alert verdicts", &LinkCounters::alert, true},
        {"flowguard_capture_link_block_total", "block", "Block verdicts", &LinkCounters::block, true},
        {"flowguard_capture_link_shed_total", "shed", "SHED verdicts (server overloaded, failed open)",
         &LinkCounters::shed, true},
        {"flowguard_capture_link_unjudged_queue_full_total", "unjudged_queue_full",
         "Records dropped: link queue full (failed open)", &LinkCounters::unjudged_queue_full, true},
        {"flowguard_capture_link_unjudged_server_away_total", "unjudged_server_away",
         "Records not sent: not connected (failed open)", &LinkCounters::unjudged_server_away, true},
        {"flowguard_capture_link_unjudged_connection_lost_total", "unjudged_connection_lost",
         "Records in flight when the connection dropped", &LinkCounters::unjudged_connection_lost, true},
        {"flowguard_capture_link_unjudged_missing_verdict_total", "unjudged_missing_verdict",
         "Records the server's answer did not cover", &LinkCounters::unjudged_missing_verdict, true},
        {"flowguard_capture_link_unjudged_bad_record_total", "unjudged_bad_record",
         "Records with the wrong number of features", &LinkCounters::unjudged_bad_record, false},
        {"flowguard_capture_link_unjudged_stopped_total", "unjudged_stopped", "Records still queued at stop",
         &LinkCounters::unjudged_stopped, false},
        {"flowguard_capture_link_resent_total", "resent", "Records re-sent after a reconnect (wait mode)",
         &LinkCounters::resent, true},
        {"flowguard_capture_link_connects_total", "connects", "Successful handshakes",
         &LinkCounters::connects, false},
        {"flowguard_capture_link_reconnects_total", "reconnects", "Successful handshakes after the first",
         &LinkCounters::reconnects, true},
        {"flowguard_capture_link_hello_refused_total", "hello_refused", "Handshakes the server refused",
         &LinkCounters::hello_refused, false},
        {"flowguard_capture_link_server_errors_total", "server_errors", "Error messages from the server",
         &LinkCounters::server_errors, false},
        {"flowguard_capture_link_unknown_verdicts_total", "unknown_verdicts",
         "Verdicts for flows not in flight", &LinkCounters::unknown_verdicts, false},
        {"flowguard_capture_link_model_changes_total", "model_changes", "Model swaps announced by the server",
         &LinkCounters::model_changes, false},
    };
    for (const Field& f : fields) {
      metrics::Desc d{f.name, f.help, f.key};
      d.in_line = f.in_line;
      metrics.mirror_counter(std::move(d), [link, m = f.member] { return link->counters().*m; });
      // The total the operator reads first, before its reasons.
      if (f.member == &LinkCounters::shed) {
        metrics.mirror_counter(
            {"flowguard_capture_link_unjudged_total", "Records failed open, all reasons", "unjudged"},
            [link] { return link->counters().unjudged(); });
      }
    }
  }

  LinkOptions options_;
  bool waits_ = false;
  std::string flush_failure_;
  std::unique_ptr<ServerLink> link_;
};

}  // namespace

std::unique_ptr<AgentExtension> make_link_extension() { return std::make_unique<LinkExtension>(); }

}  // namespace flowguard::capture
