#include "enforce/enforce_extension.hpp"

#include "enforce/enforcement.hpp"

#include <CLI/CLI.hpp>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "unknown"
#endif

namespace flowguard::capture {
namespace {

class EnforceExtension final : public AgentExtension {
 public:
  std::string_view name() const override { return "enforce"; }
  void add_options(CLI::App& app) override { handles_ = enforce::register_enforce_options(app, options_); }
  void start(AgentContext& context) override {
    enforce::mark_explicit(handles_, options_);
    // The event store keeps each alert's features under this layout (operator feedback, export).
    // Feature groups (host_context) join here once the agent context announces them.
    options_.feature_schema.profile = std::string(context.profile_name);
    for (auto n : context.feature_names) options_.feature_schema.feature_names.emplace_back(n);
    enforcement_ = enforce::Enforcement::create(options_, FLOWGUARD_VERSION, &context.metrics);
    context.verdicts.add(enforcement_.get());
    if (options_.mode == "nftables") context.needs_net_admin = true;  // nft transactions on every block
  }
  void stop() override {
    if (enforcement_) enforcement_->stop();
  }

 private:
  enforce::EnforceOptions options_;
  enforce::EnforceOptionHandles handles_;
  std::unique_ptr<enforce::Enforcement> enforcement_;
};

}  // namespace

std::unique_ptr<AgentExtension> make_enforce_extension() { return std::make_unique<EnforceExtension>(); }

}  // namespace flowguard::capture
