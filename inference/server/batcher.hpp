#pragma once
// Micro-batching across sessions: FlowBatches from every agent queue here (bounded in flows), workers
// take up to max_batch flows or whatever arrived within max_delay of the oldest, run one forward on the
// model pointer current at that moment, decide each verdict and hand each job its serialized reply.

#include "evidence.hpp"
#include "model.hpp"
#include "policy.hpp"
#include "server_metrics.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace flowguard::inference {

struct BatcherOptions {
  std::size_t max_batch = 64;
  std::chrono::microseconds max_delay{2000};
  unsigned workers = 1;
  std::size_t max_queue = 65536;  // flows waiting for a worker, across all sessions
  std::size_t explain_top = 3;    // top features on alert/block verdicts; 0 disables
  // Attribution costs a backward pass (~3x a forward per row on a CNN-LSTM): during an attack where most
  // flows alert, only this many verdicts per batch get top features, so explaining cannot cause shedding.
  std::size_t explain_max_rows = 16;
};

// What the evidence layer needs of one flow besides its features (filled by the session).
struct FlowMeta {
  SourceKey initiator{};
  bool has_initiator = false;  // false: the flow can add no evidence and never block
  v1::FlowSide side = v1::FLOW_SIDE_UNSPECIFIED;  // the initiator's side (what a block applies to)
  std::int64_t ts_us = 0;                          // packet time: the record's last packet
  std::uint64_t fingerprint = 0;                   // (session, flow_id)
  // Host-context values for EvidenceConfig::context_names(), NaN when the agent sends none.
  std::array<float, EvidenceConfig::kMaxContextFeatures> context{};
};

// One FlowBatch on its way through the queue.
struct Job {
  v1::ServerMessage reply;           // reply.verdicts: one Verdict per flow, in flow order
  std::vector<std::uint32_t> slots;  // reply positions of the flows admitted to the queue
  std::vector<float> features;       // slots.size() x n_features, row-major
  std::vector<FlowMeta> meta;        // one per slot (same order)
  std::size_t n_features = 0;
  std::chrono::steady_clock::time_point enqueued;  // when the FlowBatch arrived (flow-to-verdict time)
  // Called on a worker thread with the serialized ServerMessage frame.
  std::function<void(std::string frame, std::size_t verdicts)> done;
};

class Batcher {
 public:
  // `registry` (optional) gets the per-rule block counters.
  Batcher(BatcherOptions opts, ModelHolder& models, const Policy& policy, ServeMetrics& metrics,
          metrics::Registry* registry = nullptr);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Reserves queue room for up to `want` flows; returns how many fit. The caller sheds the rest and
  // submits a job holding exactly the reserved flows (or releases them with unreserve()).
  std::size_t reserve(std::size_t want);
  void unreserve(std::size_t n);
  void submit(std::unique_ptr<Job> job);
  // From now on batches run as soon as a worker is free instead of waiting max_delay to fill (shutdown:
  // the last verdicts should not wait for flows that will never come). Workers keep running.
  void drain_now();
  // Finishes every queued job, then joins the workers. Idempotent.
  void stop();
  std::size_t queued_flows() const { return queued_.load(std::memory_order_relaxed); }
  const BatcherOptions& options() const { return opts_; }
  const Policy& policy() const { return policy_; }
  const EvidenceTable& evidence() const { return evidence_; }

 private:
  void worker_loop();
  void run(std::vector<std::unique_ptr<Job>>& jobs);
  // Turns the per-flow decision into the verdict's action using the source's evidence.
  void decide_with_evidence(v1::Verdict& v, Decision& d, const Model& model, const std::string& cls,
                            const FlowMeta* meta);

  BatcherOptions opts_;
  ModelHolder& models_;
  const Policy& policy_;
  ServeMetrics& metrics_;
  EvidenceTable evidence_;
  std::vector<metrics::Counter*> blocks_by_rule_;  // one per evidence rule (null without a registry)
  // Per rule: (index into FlowMeta::context, threshold) of its host-context features, resolved once.
  std::vector<std::vector<std::pair<std::size_t, double>>> rule_context_;
  std::atomic<std::size_t> queued_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;
  bool draining_ = false;
  std::vector<std::thread> threads_;
};

// Fills a SHED verdict (the server did not judge the flow).
void make_shed(v1::Verdict& v, const std::string& reason);

// An unknown flow (ood score > thresholds.ood): a block becomes an alert, alerts say why; allow stays.
void apply_unknown(Decision& d, float ood, double threshold);

}  // namespace flowguard::inference
