#pragma once
// Registry snapshots on the wire: both control servers answer `stats` with to_proto(registry.snapshot());
// flowguardctl turns the answer back into a Snapshot and renders it (line or JSON).

#include "common/metrics.hpp"
#include "flowguard/v1/control.pb.h"

namespace flowguard::wire {

void to_proto(const metrics::Snapshot& snapshot, v1::Metrics& out);
metrics::Snapshot from_proto(const v1::Metrics& in);

}  // namespace flowguard::wire
