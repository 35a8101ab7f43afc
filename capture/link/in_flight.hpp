#pragma once
// Batches sent and not yet answered, keyed by batch_seq: the identity of every record (so verdicts
// act on addresses the agent observed) and, in wait mode, the encoded frame for a resend after a
// reconnect. Bounded by LinkOptions::max_in_flight (the sender waits); not thread-safe (the link holds
// its mutex around every call).

#include "core/flow_identity.hpp"

#include "flowguard/v1/flowguard.pb.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flowguard::capture {

struct InFlightBatch {
  std::vector<FlowIdentity> metas;
  std::vector<std::int64_t> enqueued_ns;  // parallel to metas: when each record entered the ring
  // The feature values as sent, so a verdict can hand them to its sinks (an alert keeps them in the
  // event store for operator feedback). Flat: record i's features are features[i*nf, (i+1)*nf);
  // its group features group_features[group_offsets[i], group_offsets[i+1]) (offsets: metas.size()+1).
  std::vector<float> features;
  std::vector<float> group_features;
  std::vector<std::uint32_t> group_offsets;
  std::size_t n_features = 0;
  std::string frame;  // wait mode: the encoded batch, re-sent if the connection drops before its verdicts
};

class InFlightTable {
 public:
  void add(std::uint64_t seq, InFlightBatch batch);
  // Removes and returns the batch answered by `seq` (nullopt: not in flight).
  std::optional<InFlightBatch> take(std::uint64_t seq);
  // After the sink has seen every verdict of a taken batch: it no longer counts as in flight.
  void answered(std::size_t records) { flows_ -= records; }
  // Forgets everything (connection lost, fail-open mode); returns the records dropped.
  std::size_t clear();
  // Drops the oldest batches until at most `max_flows` records remain; returns the records dropped.
  std::size_t trim_oldest(std::size_t max_flows);
  // Record counts and frames of the unanswered batches, oldest first (wait mode resend).
  std::vector<std::pair<std::size_t, std::string>> frames() const;
  std::size_t flows() const { return flows_; }

 private:
  std::map<std::uint64_t, InFlightBatch> batches_;
  std::size_t flows_ = 0;  // records sent and not yet delivered to the sink
};

// Joins a VerdictBatch with its in-flight batch by flow_id (in order when the server kept it, else by
// search). Calls deliver(index into batch.metas, verdict) for each match; returns the verdicts that
// matched no record (`unknown`) and the records that got no verdict (`missing`).
struct MatchResult {
  std::uint64_t unknown = 0;
  std::uint64_t missing = 0;
};
template <typename Deliver>
MatchResult match_verdicts(const InFlightBatch& batch, const v1::VerdictBatch& vb, Deliver&& deliver) {
  MatchResult r;
  std::vector<bool> matched(batch.metas.size(), false);
  for (int i = 0; i < vb.verdicts_size(); ++i) {
    const auto& v = vb.verdicts(i);
    std::size_t at = batch.metas.size();
    const auto ui = static_cast<std::size_t>(i);
    if (ui < batch.metas.size() && !matched[ui] && batch.metas[ui].flow_id == v.flow_id()) {
      at = ui;
    } else {
      for (std::size_t k = 0; k < batch.metas.size(); ++k)
        if (!matched[k] && batch.metas[k].flow_id == v.flow_id()) {
          at = k;
          break;
        }
    }
    if (at == batch.metas.size()) {
      ++r.unknown;
      continue;
    }
    matched[at] = true;
    deliver(at, v);
  }
  for (bool m : matched) r.missing += m ? 0 : 1;
  return r;
}

}  // namespace flowguard::capture
