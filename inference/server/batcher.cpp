#include "batcher.hpp"

#include "framing.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include <fmt/format.h>

namespace flowguard::inference {

void make_shed(v1::Verdict& v, const std::string& reason) {
  v.set_action(v1::ACTION_SHED);
  v.set_reason(reason);
}

void apply_unknown(Decision& d, float ood, double threshold) {
  // Abstention (docs/inference.md): the flow is far from everything the model was trained on, so its
  // class score means little. It may still alert (an operator looks at it), but it never blocks and is
  // never evidence for a block; an allow stays an allow (the model found nothing to report).
  if (d.action == v1::ACTION_ALLOW) return;
  if (d.action == v1::ACTION_BLOCK) d.action = v1::ACTION_ALERT;
  d.reason = fmt::format("unknown: ood score {:.3f} > {:.3f}, at most an alert; {}", ood, threshold, d.reason);
}

Batcher::Batcher(BatcherOptions opts, ModelHolder& models, const Policy& policy, ServeMetrics& metrics,
                 metrics::Registry* registry)
    : opts_(opts),
      models_(models),
      policy_(policy),
      metrics_(metrics),
      evidence_(policy.evidence, 0, EvidenceHooks{&metrics.evidence_evictions, &metrics.evidence_duplicates}) {
  const auto context_names = policy_.evidence.context_names();
  for (std::size_t i = 0; i < policy_.evidence.rule_count(); ++i) {
    auto& ctx = rule_context_.emplace_back();
    for (const auto& [feature, threshold] : policy_.evidence.rule(i).context) {
      const auto pos = static_cast<std::size_t>(
          std::find(context_names.begin(), context_names.end(), feature) - context_names.begin());
      if (pos < FlowMeta{}.context.size()) ctx.emplace_back(pos, threshold);
    }
    const auto& name = policy_.evidence.rule(i).name;
    blocks_by_rule_.push_back(
        registry ? &registry->counter({"flowguard_infer_evidence_blocks_total",
                                       "Block decisions (new blocks and renewals), by evidence rule",
                                       "blocks_" + name,
                                       {{"rule", name}},
                                       1.0,
                                       false})
                 : nullptr);
  }
  opts_.max_batch = std::max<std::size_t>(opts_.max_batch, 1);
  opts_.workers = std::max(opts_.workers, 1u);
  for (unsigned i = 0; i < opts_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

Batcher::~Batcher() { stop(); }

Batcher::Admission Batcher::reserve(std::uint64_t session, std::size_t want, std::size_t sessions) {
  Admission a;
  if (want == 0) return a;
  std::lock_guard lock(mu_);
  const std::size_t max = opts_.max_queue;
  const std::size_t share = std::max<std::size_t>(max / std::max<std::size_t>(sessions, 1), 1);
  const std::size_t total = queued_.load(std::memory_order_relaxed);
  std::size_t& held = held_[session];
  // Within its share a session is always admitted (the shares of the connected sessions add up to
  // max_queue); beyond it only into spare room below max_queue. Hard cap: 2 x max_queue in total.
  const std::size_t hard_room = total >= 2 * max ? 0 : 2 * max - total;
  const std::size_t guaranteed = std::min({want, held < share ? share - held : 0, hard_room});
  const std::size_t after = total + guaranteed;
  const std::size_t spare = after >= max ? 0 : max - after;
  const std::size_t borrowed = std::min(want - guaranteed, spare);
  a.admitted = guaranteed + borrowed;
  const std::size_t shed = want - a.admitted;
  if (held + guaranteed >= share && sessions > 1)
    a.fair_share = shed;
  else
    a.overload = shed;
  held += a.admitted;
  if (held == 0) held_.erase(session);
  queued_.fetch_add(a.admitted, std::memory_order_relaxed);
  return a;
}

void Batcher::release_locked(std::uint64_t session, std::size_t n) {
  queued_.fetch_sub(n, std::memory_order_relaxed);
  auto it = held_.find(session);
  if (it == held_.end()) return;
  it->second -= std::min(it->second, n);
  if (it->second == 0) held_.erase(it);
}

void Batcher::unreserve(std::uint64_t session, std::size_t n) {
  std::lock_guard lock(mu_);
  release_locked(session, n);
}

std::size_t Batcher::queued_for(std::uint64_t session) const {
  std::lock_guard lock(mu_);
  const auto it = held_.find(session);
  return it == held_.end() ? 0 : it->second;
}

Job* Batcher::peek_locked() const {
  if (ready_.empty()) return nullptr;
  return queues_.at(ready_.front()).front().get();
}

std::unique_ptr<Job> Batcher::pop_locked() {
  const std::uint64_t id = ready_.front();
  ready_.pop_front();
  auto it = queues_.find(id);
  auto job = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty())
    queues_.erase(it);
  else
    ready_.push_back(id);  // its next job waits until every other session had a turn
  return job;
}

void Batcher::submit(std::unique_ptr<Job> job) {
  job->enqueued = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    auto& q = queues_[job->session];
    if (q.empty()) ready_.push_back(job->session);
    q.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Batcher::drain_now() {
  {
    std::lock_guard lock(mu_);
    draining_ = true;
  }
  cv_.notify_all();
}

void Batcher::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void Batcher::worker_loop() {
  std::vector<std::unique_ptr<Job>> jobs;
  for (;;) {
    jobs.clear();
    bool more = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !ready_.empty(); });
      if (ready_.empty()) return;  // stopping, and everything queued has been taken
      const auto deadline = peek_locked()->enqueued + opts_.max_delay;
      std::size_t rows = 0;
      for (;;) {
        while (!ready_.empty() && (rows == 0 || rows + peek_locked()->slots.size() <= opts_.max_batch)) {
          rows += peek_locked()->slots.size();
          jobs.push_back(pop_locked());
          release_locked(jobs.back()->session, jobs.back()->slots.size());
        }
        // Full, or the next job does not fit, or nothing more may wait.
        if (rows >= opts_.max_batch || !ready_.empty() || stopping_ || draining_) break;
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
          if (ready_.empty() || rows + peek_locked()->slots.size() > opts_.max_batch) break;
        }
      }
      more = !ready_.empty();
    }
    if (more) cv_.notify_one();  // another worker may start on the rest
    run(jobs);
  }
}

namespace {

float floor_of(const ScoreFloor& f, const models::Thresholds& t, const Decision& d) {
  switch (f.kind) {
    case ScoreFloor::Kind::alert:
      return static_cast<float>(t.alert);
    case ScoreFloor::Kind::block:
      return d.block_threshold;
    case ScoreFloor::Kind::value:
      return static_cast<float>(f.value);
  }
  return 1;
}

}  // namespace

void Batcher::decide_with_evidence(v1::Verdict& v, Decision& d, const Model& model, const std::string& cls,
                                   const FlowMeta* meta) {
  const auto& cfg = policy_.evidence;
  const bool unknown = v.unknown();  // abstention (set before this call): at most an alert, no evidence
  auto finish = [&](v1::Action a, std::string reason) {
    v.set_action(a);
    v.set_threshold(d.threshold);
    v.set_reason(std::move(reason));
  };
  if (d.action == v1::ACTION_ALLOW) return finish(d.action, std::move(d.reason));
  if (unknown) {
    metrics_.unknown_not_counted.inc();
    return finish(v1::ACTION_ALERT, d.reason + "; unknown flow: no evidence, never a block");
  }
  const bool has_initiator = meta != nullptr && meta->has_initiator;
  if (!cfg.enabled) {
    // One confident flow blocks (the behaviour before evidence); still only ever its initiator.
    if (d.action == v1::ACTION_BLOCK && !has_initiator) {
      metrics_.evidence_no_initiator.inc();
      return finish(v1::ACTION_ALERT, d.reason + "; initiator unknown: never blocked");
    }
    if (d.action == v1::ACTION_BLOCK) v.set_block_side(meta->side);
    return finish(d.action, std::move(d.reason));
  }
  if (!d.blockable) return finish(v1::ACTION_ALERT, std::move(d.reason));  // allow/alert-only/never_block
  if (!has_initiator) {
    metrics_.evidence_no_initiator.inc();
    return finish(v1::ACTION_ALERT, d.reason + "; initiator unknown: no evidence, never blocked");
  }
  const std::size_t ri = cfg.rule_for(cls);
  const auto& rule = cfg.rule(ri);
  const float floor = floor_of(rule.min_score, model.manifest.thresholds, d);
  if (v.score() < floor) {
    metrics_.alerts_below_block.inc();
    return finish(v1::ACTION_ALERT, fmt::format("{} score {:.3f} >= alert threshold, below rule {}'s min_score "
                                                "{:.3f}: no evidence",
                                                cls, v.score(), rule.name, floor));
  }
  // Host context: any listed feature at or above its threshold adds the rule's weight.
  double weight = 1;
  if (rule.context_weight > 0) {
    for (const auto& [pos, threshold] : rule_context_[ri]) {
      if (meta->context[pos] >= threshold) {  // NaN (no host context) never is
        weight += rule.context_weight;
        break;
      }
    }
  }
  Observation o;
  o.source = meta->initiator;
  o.flow_fingerprint = meta->fingerprint;
  o.ts_us = meta->ts_us;
  o.class_index = static_cast<std::uint16_t>(v.class_index());
  o.rule = static_cast<std::uint16_t>(ri);
  o.score = v.score();
  o.weight = weight;
  const EvidenceResult r = evidence_.observe(o);
  if (!r.counted && !r.block) {  // a later record (snapshot/final) of a flow whose evidence is counted
    metrics_.alerts_below_block.inc();
    return finish(v1::ACTION_ALERT, d.reason + "; flow already counted as evidence");
  }

  auto* ev = v.mutable_evidence();
  const auto& fired = cfg.rule(r.rule);
  ev->set_flows(r.flows);
  ev->set_score_sum(r.level);
  ev->set_max_score(r.max_score);
  ev->set_window_start_us(r.window_start_us);
  ev->set_window_end_us(r.window_end_us);
  ev->set_rule(fired.name);
  for (std::size_t i = 0; i < r.n_classes; ++i)
    if (r.classes[i] < model.manifest.class_names.size()) ev->add_classes(model.manifest.class_names[r.classes[i]]);
  if (!r.block) {
    metrics_.alerts_below_block.inc();
    return finish(v1::ACTION_ALERT, fmt::format("{}; evidence {:.1f}/{:g} ({}, {} flows in {:.1f} s): not blocked",
                                                d.reason, r.level, rule.evidence, rule.name, r.flows,
                                                (r.window_end_us - r.window_start_us) * 1e-6));
  }
  ev->set_offence(r.offence);
  ev->set_block_seconds(r.block_seconds);
  if (ri < blocks_by_rule_.size() && r.rule < blocks_by_rule_.size() && blocks_by_rule_[r.rule])
    blocks_by_rule_[r.rule]->inc();
  std::string why = r.renewal ? fmt::format("{} {:.3f}; source blocked (rule {}, offence {}, {} s), renewed", cls,
                                            v.score(), fired.name, r.offence, r.block_seconds)
                              : fmt::format("{} {:.3f}; evidence {:.1f} >= {:g} (rule {}: {} flows in {:.1f} s, "
                                            "max score {:.3f}); offence {}, block {} s",
                                            cls, v.score(), r.level + 0.0f, fired.evidence, fired.name, r.flows,
                                            (r.window_end_us - r.window_start_us) * 1e-6, r.max_score, r.offence,
                                            r.block_seconds);
  if (policy_.detect_only) return finish(v1::ACTION_ALERT, "detect-only: would block: " + why);
  v.set_block_side(meta->side);
  finish(v1::ACTION_BLOCK, std::move(why));
}

void Batcher::run(std::vector<std::unique_ptr<Job>>& jobs) {
  // One model pointer for the whole batch: a swap during the forward affects only later batches.
  const auto model = models_.get();
  const std::size_t nf = model->n_features();
  const std::size_t nc = model->n_classes();
  const auto& m = model->manifest;

  // Rows of jobs whose width matches the model, concatenated. A width mismatch can only happen when a
  // model with another schema was swapped in while no agent was connected and one raced in: shed.
  std::vector<float> x;
  std::vector<std::pair<Job*, std::uint32_t>> where;  // row -> (job, reply slot)
  for (auto& job : jobs) {
    if (job->n_features != nf) {
      for (auto slot : job->slots)
        make_shed(*job->reply.mutable_verdicts()->mutable_verdicts(static_cast<int>(slot)),
                  "model feature schema changed while the flow was queued");
      metrics_.shed_error.inc(job->slots.size());
      continue;
    }
    x.insert(x.end(), job->features.begin(), job->features.end());
    for (auto slot : job->slots) where.emplace_back(job.get(), slot);
  }

  std::vector<Prediction> preds;
  std::vector<float> probs;
  std::vector<std::size_t> flagged;  // rows that became alert/block, for attribution
  std::string why;
  for (std::size_t begin = 0; begin < where.size(); begin += opts_.max_batch) {
    const std::size_t rows = std::min(opts_.max_batch, where.size() - begin);
    const std::span<const float> chunk(x.data() + begin * nf, rows * nf);
    metrics_.inference_batches.inc(1);
    metrics_.inference_rows.inc(rows);
    metrics_.batch_flows.observe(rows);
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = model->predict(chunk, rows, preds, &probs, why);
    metrics_.inference_us.observe(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count()));
    if (!ok) spdlog::error("model {} {}: {} ({} flows shed)", m.name, m.version, why, rows);
    for (std::size_t r = 0; r < rows; ++r) {
      auto [job, slot] = where[begin + r];
      auto& v = *job->reply.mutable_verdicts()->mutable_verdicts(static_cast<int>(slot));
      v.set_model_name(m.name);
      v.set_model_version(m.version);
      if (!ok) {
        make_shed(v, "inference failed: " + why);
        metrics_.shed_error.inc(1);
        continue;
      }
      const auto& p = preds[r];
      const auto& cls = m.class_names[p.class_index];
      v.set_predicted_class(cls);
      v.set_class_index(p.class_index);
      v.set_score(p.score);
      v.mutable_class_scores()->Add(probs.begin() + static_cast<std::ptrdiff_t>(r * nc),
                                    probs.begin() + static_cast<std::ptrdiff_t>((r + 1) * nc));
      auto d = decide(policy_, m.thresholds, cls,
                      model->benign_index && *model->benign_index == p.class_index, p.score);
      if (p.unknown) {
        apply_unknown(d, p.ood, *m.thresholds.ood);
        metrics_.unknown.inc(1);
      }
      v.set_unknown(p.unknown);
      v.set_ood_score(p.ood);
      const auto& metas = job->meta;
      decide_with_evidence(v, d, *model, cls, slot < metas.size() ? &metas[slot] : nullptr);
      switch (v.action()) {
        case v1::ACTION_ALERT:
          metrics_.alert.inc(1);
          break;
        case v1::ACTION_BLOCK:
          metrics_.block.inc(1);
          break;
        default:
          metrics_.allow.inc(1);
          break;
      }
      if (v.action() != v1::ACTION_ALLOW && opts_.explain_top > 0 && flagged.size() < opts_.explain_max_rows)
        flagged.push_back(begin + r);
    }
  }

  // Attribution only for the verdicts an operator will look at.
  if (!flagged.empty()) {
    std::vector<float> fx(flagged.size() * nf);
    std::vector<std::uint32_t> cls(flagged.size());
    for (std::size_t i = 0; i < flagged.size(); ++i) {
      std::copy_n(x.data() + flagged[i] * nf, nf, fx.data() + i * nf);
      auto [job, slot] = where[flagged[i]];
      cls[i] = job->reply.verdicts().verdicts(static_cast<int>(slot)).class_index();
    }
    std::vector<std::vector<Attribution>> attr;
    if (model->explain(fx, flagged.size(), cls, opts_.explain_top, attr)) {
      metrics_.explained_rows.inc(flagged.size());
      for (std::size_t i = 0; i < flagged.size(); ++i) {
        auto [job, slot] = where[flagged[i]];
        auto& v = *job->reply.mutable_verdicts()->mutable_verdicts(static_cast<int>(slot));
        for (const auto& a : attr[i]) {
          auto* f = v.add_top_features();
          f->set_name(a.feature < model->input_names.size() ? model->input_names[a.feature] : std::string());
          f->set_value(fx[i * nf + a.feature]);
          f->set_contribution(a.contribution);
        }
      }
    }
  }

  const auto answered = std::chrono::steady_clock::now();
  for (auto& job : jobs) {
    const auto n = static_cast<std::size_t>(job->reply.verdicts().verdicts_size());
    metrics_.flow_to_verdict_us.observe(
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(answered - job->enqueued).count()),
        n);
    std::string frame = wire::encode_frame(job->reply);
    job->done(std::move(frame), n);
  }
}

}  // namespace flowguard::inference
