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
    options_.agent_version = FLOWGUARD_VERSION;
    link_ = make_server_link(options_, std::move(schema), &context.verdicts);
    link_->start();
    context.flow_sinks.push_back(link_.get());
    // A capture file starts producing records at once: give the first handshake a moment. If the server
    // is down or refuses us, the agent still runs and fails open; the log says why.
    if (!link_->wait_connected(std::chrono::seconds(2)))
      spdlog::warn("server link: not connected yet ({}); flows fail open until it is",
                   link_->last_error().empty() ? "no answer" : link_->last_error());
  }

  void append_stats(std::string& line) const override {
    if (!link_) return;
    const auto c = link_->counters();
    line += fmt::format(" link_sent={} out_of_scope={} judged={} alert={} block={} shed={} unjudged={} (queue_full={} away={} lost={} "
                        "missing={}) reconnects={}",
                        c.sent, c.out_of_scope, c.judged, c.alert, c.block, c.shed, c.unjudged(), c.unjudged_queue_full,
                        c.unjudged_server_away, c.unjudged_connection_lost, c.unjudged_missing_verdict, c.reconnects);
  }

  void stop() override {
    if (!link_) return;
    if (link_->connected() && !link_->flush(std::chrono::seconds(10)))
      spdlog::warn("server link: verdicts still outstanding after 10 s; counting them unjudged");
    link_->stop();
  }

 private:
  LinkOptions options_;
  std::unique_ptr<ServerLink> link_;
};

}  // namespace

std::unique_ptr<AgentExtension> make_link_extension() { return std::make_unique<LinkExtension>(); }

}  // namespace flowguard::capture
