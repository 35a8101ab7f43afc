#pragma once
// The capture agent's one metrics registry (common/metrics.hpp), and how the agent's counters reach it.
//
// The packet path keeps its counters as plain fields (decode, flow engine: one thread, no atomic
// read-modify-write per packet), the link and enforcement as atomics. Each part registers them here once
// at start-up as a *mirror*: a registry counter plus a function reading the owner's value. publish() adds
// what changed since the last call. It runs on the capture thread (the only thread that may read the
// packet path's plain fields): every few thousand packets, on each idle poll of a live capture, and
// before each stats line. The periodic stats line, the control socket's `stats`/`status` and (next)
// Prometheus all render registry snapshots; so a value seen on the control socket is at most one
// publish interval old.
//
// Adding a counter: the field where it is counted, and one mirror_counter() line next to the part's
// other registrations (2 files, often 1).

#include "common/metrics.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace flowguard::capture {

class AgentMetrics {
 public:
  metrics::Registry& registry() { return registry_; }
  const metrics::Registry& registry() const { return registry_; }

  // `read` returns the owner's running total (never decreasing).
  void mirror_counter(metrics::Desc desc, std::function<std::uint64_t()> read) {
    metrics::Counter& c = registry_.counter(std::move(desc));
    std::lock_guard lock(mu_);
    counters_.push_back({&c, std::move(read), 0});
  }
  void mirror_gauge(metrics::Desc desc, std::function<std::int64_t()> read) {
    metrics::Gauge& g = registry_.gauge(std::move(desc));
    std::lock_guard lock(mu_);
    gauges_.push_back({&g, std::move(read)});
  }

  // Brings every mirror up to date. Only on the thread that owns the packet path's counters.
  void publish() {
    std::lock_guard lock(mu_);
    for (auto& m : counters_) {
      const std::uint64_t now = m.read();
      if (now > m.last) m.counter->inc(now - m.last);
      m.last = now;
    }
    for (auto& m : gauges_) m.gauge->set(m.read());
  }

  metrics::Snapshot snapshot() const { return registry_.snapshot(); }

 private:
  struct CounterMirror {
    metrics::Counter* counter;
    std::function<std::uint64_t()> read;
    std::uint64_t last;
  };
  struct GaugeMirror {
    metrics::Gauge* gauge;
    std::function<std::int64_t()> read;
  };
  metrics::Registry registry_;
  std::mutex mu_;  // registration vs publish; never contended on the packet path
  std::vector<CounterMirror> counters_;
  std::vector<GaugeMirror> gauges_;
};

}  // namespace flowguard::capture
