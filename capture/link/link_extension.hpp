#pragma once
// Plugs the server link into flowguard-capture through app/extension.hpp: registers --socket,
// --link-queue, --link-batch, --link-delay-ms, --agent-id; after parsing connects to flowguard-infer,
// receives every flow record (snapshots and finals) and delivers verdicts to the agent's VerdictFanout.

#include "core/extension.hpp"

#include <memory>

namespace flowguard::capture {

std::unique_ptr<AgentExtension> make_link_extension();

}  // namespace flowguard::capture
