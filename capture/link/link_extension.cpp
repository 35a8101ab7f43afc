#include "link/link_extension.hpp"

#include "link/server_link.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "0.0.0"
#endif

namespace flowguard::capture {

namespace {

class LinkExtension final : public app::AgentExtension {
 public:
  std::string_view name() const override { return "server link"; }
  bool is_server_link() const override { return true; }
  void add_options(CLI::App& app) override { register_link_options(app, options_); }

  void start(app::AgentContext& context) override {
    LinkSchema schema;
    schema.feature_profile = std::string(features::profile_name(context.profile));
    for (auto n : context.feature_names) schema.feature_names.emplace_back(n);
    options_.agent_version = FLOWGUARD_VERSION;
    // A file can wait for the server (every flow judged, same answer on every replay); packets on a live
    // interface cannot, so live capture fails open.
    if (options_.backpressure == Backpressure::automatic)
      options_.backpressure = context.source.is_live() ? Backpressure::fail_open : Backpressure::wait;
    waits_ = options_.backpressure == Backpressure::wait;
    link_ = make_server_link(options_, std::move(schema), &context.verdicts);
    PacketSource* source = &context.source;
    link_->set_wait_hooks({[source] { return source->stop_requested(); }, [source] { source->request_stop(); }});
    link_->start();
    context.flow_sinks.push_back(link_.get());
    // A capture file starts producing records at once: give the first handshake a moment. If the server
    // is down or refuses us, the agent still runs; the log says what happens to the flows meanwhile.
    if (!link_->wait_connected(std::chrono::seconds(2))) {
      const auto why = link_->last_error().empty() ? std::string("no answer") : link_->last_error();
      if (waits_)
        spdlog::warn("server link: not connected yet ({}); flows queue and the reader waits up to {} ms for it",
                     why, options_.wait_limit.count());
      else
        spdlog::warn("server link: not connected yet ({}); flows fail open until it is", why);
    }
  }

  void append_stats(std::string& line) const override {
    if (!link_) return;
    const auto c = link_->counters();
    line += fmt::format(" link_sent={} out_of_scope={} judged={} alert={} block={} shed={} unjudged={} (queue_full={} away={} lost={} "
                        "missing={}) resent={} reconnects={}",
                        c.sent, c.out_of_scope, c.judged, c.alert, c.block, c.shed, c.unjudged(), c.unjudged_queue_full,
                        c.unjudged_server_away, c.unjudged_connection_lost, c.unjudged_missing_verdict, c.resent, c.reconnects);
  }

  void stop() override {
    if (!link_) return;
    // Wait mode also flushes while disconnected: the queued records wait for the reconnect.
    const auto idle = waits_ ? options_.wait_limit : std::chrono::milliseconds(10000);
    if ((waits_ || link_->connected()) && link_->failure().empty() && !link_->flush(idle)) {
      const auto what = fmt::format("no verdict arrived for {} ms with records outstanding; counting them unjudged",
                                    idle.count());
      if (waits_) flush_failure_ = what;
      else spdlog::warn("server link: {}", what);
    }
    link_->stop();
  }

  std::string failure() const override {
    if (!link_) return {};
    const auto f = link_->failure();
    return f.empty() ? flush_failure_ : f;
  }

 private:
  LinkOptions options_;
  bool waits_ = false;
  std::string flush_failure_;
  std::unique_ptr<ServerLink> link_;
};

}  // namespace

std::unique_ptr<app::AgentExtension> make_link_extension() { return std::make_unique<LinkExtension>(); }

}  // namespace flowguard::capture
