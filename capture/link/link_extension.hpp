#pragma once
// Plugs the server link into flowguard-capture through core/extension.hpp: registers --socket,
// --link-queue, --link-batch, --link-delay-ms, --link-backpressure, --link-wait-s, --agent-id; after
// parsing connects to flowguard-infer, receives every flow record (snapshots and finals) and delivers
// verdicts to the agent's VerdictFanout. `--link-backpressure auto` waits for the server when the
// source is a file and fails open on a live interface; a link that gave up makes the agent exit 1.

#include "core/extension.hpp"

#include <memory>

namespace flowguard::capture {

std::unique_ptr<AgentExtension> make_link_extension();

}  // namespace flowguard::capture
