#pragma once
// Micro-batching across sessions: FlowBatches from every agent queue here (bounded in flows), workers
// take up to max_batch flows or whatever arrived within max_delay of the oldest, run one forward on the
// model pointer current at that moment, decide each verdict and hand each job its serialized reply.
//
// Fairness (issue 15): every session has its own FIFO and workers take jobs round-robin across the
// sessions that have work, so a flooding agent cannot push a quiet agent's flows behind its backlog.
// Admission gives each of N connected sessions a guaranteed share of max_queue / N queued flows; a
// session may borrow beyond its share only while the whole queue holds fewer than max_queue flows.
// What does not fit is SHED from the session that asked (reason fair_share when other agents are
// connected, overload when it is alone). The queue never holds more than 2 x max_queue flows.

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
#include <unordered_map>
#include <vector>

namespace flowguard::inference {

struct BatcherOptions {
  std::size_t max_batch = 64;
  std::chrono::microseconds max_delay{1000};  // p99 flow-to-verdict 3.6 ms at 5k flows/s (docs/inference.md)
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
  std::uint64_t session = 0;                       // the agent session it came from (fair share)
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

  struct Admission {
    std::size_t admitted = 0;    // queue room reserved for the first `admitted` flows
    std::size_t fair_share = 0;  // shed: the session is over its share and the queue has no spare room
    std::size_t overload = 0;    // shed: the session is alone (or within its share) and the queue is full
  };
  // Reserves queue room for up to `want` flows of `session` while `sessions` agents are connected. The
  // caller sheds the rest and submits a job (Job::session = session) holding exactly the admitted flows,
  // or releases them with unreserve().
  Admission reserve(std::uint64_t session, std::size_t want, std::size_t sessions);
  void unreserve(std::uint64_t session, std::size_t n);
  // Flows of one session queued now (any thread).
  std::size_t queued_for(std::uint64_t session) const;
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
  // Round-robin across sessions (mu_ held): the job a worker would take next, and taking it.
  Job* peek_locked() const;
  std::unique_ptr<Job> pop_locked();
  void release_locked(std::uint64_t session, std::size_t n);

  BatcherOptions opts_;
  ModelHolder& models_;
  const Policy& policy_;
  ServeMetrics& metrics_;
  EvidenceTable evidence_;
  std::vector<metrics::Counter*> blocks_by_rule_;  // one per evidence rule (null without a registry)
  // Per rule: (index into FlowMeta::context, threshold) of its host-context features, resolved once.
  std::vector<std::vector<std::pair<std::size_t, double>>> rule_context_;
  std::atomic<std::size_t> queued_{0};  // flows reserved (queued or about to be), all sessions
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::uint64_t, std::deque<std::unique_ptr<Job>>> queues_;  // per session, FIFO
  std::deque<std::uint64_t> ready_;  // sessions with queued jobs, in round-robin order
  std::unordered_map<std::uint64_t, std::size_t> held_;  // flows reserved per session (fair share)
  bool stopping_ = false;
  bool draining_ = false;
  std::vector<std::thread> threads_;
};

// Fills a SHED verdict (the server did not judge the flow).
void make_shed(v1::Verdict& v, const std::string& reason);

// An unknown flow (ood score > thresholds.ood): a block becomes an alert, alerts say why; allow stays.
void apply_unknown(Decision& d, float ood, double threshold);

}  // namespace flowguard::inference
