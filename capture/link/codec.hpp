#pragma once
// The link's side of the wire contract (proto/flowguard/v1/flowguard.proto): what a FlowRecord, a
// Hello and a Verdict carry, in one place. A new FlowIdentity field that travels to the server is added
// here and in the proto.

#include "core/flow_identity.hpp"
#include "core/verdict.hpp"
#include "link/link_options.hpp"

#include "flowguard/v1/flowguard.pb.h"

#include <span>
#include <string>
#include <vector>

namespace flowguard::capture {

void encode_record(const FlowIdentity& id, std::span<const float> features,
                   std::span<const float> group_features, v1::FlowRecord& out);
v1::AgentMessage make_hello(const LinkOptions& options, const LinkSchema& schema);
VerdictAction to_action(v1::Action action);
// The server's part of a verdict (action, class, scores, model, reasons); the identity is the link's.
void decode_verdict(const v1::Verdict& in, FlowVerdict& out);

}  // namespace flowguard::capture
