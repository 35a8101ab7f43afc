#pragma once
// One metrics registry per process: counters, gauges and fixed-bucket histograms, registered at
// start-up, updated lock-free from any thread (a relaxed atomic add, no allocation), read as a Snapshot
// that renders to the one-line `key=value` stats text, JSON, or the Prometheus text exposition.
//
// Naming: `name` is the Prometheus name (flowguard_<process>_<what>[_<base unit>], counters end in
// `_total`); `key` is the short name of the stats line (`judged`, `flows_received`). Histograms observe
// integers in a small unit (e.g. microseconds) and carry `scale` to the base unit (1e-6 -> seconds), so
// observing never touches a double.

#include "common/result.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowguard::metrics {

enum class Type { counter, gauge, histogram };
std::string_view to_string(Type t);

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Desc {
  std::string name;      // Prometheus name; samples of one family share it and differ in labels
  std::string help;      // one line
  std::string key = {};  // stats-line key; defaults to name without "flowguard_<process>_" and "_total"
  Labels labels = {};
  double scale = 1.0;   // histograms: observation unit -> base unit of `name`
  bool in_line = true;  // false: left out of the one-line stats text (still in JSON / Prometheus)
};

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  void sub(std::int64_t d) noexcept { v_.fetch_sub(d, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds (inclusive, in observation units); +Inf is implicit.
  explicit Histogram(std::vector<std::uint64_t> bounds);
  // `n` observations of the same value (e.g. every flow of one batch).
  void observe(std::uint64_t v, std::uint64_t n = 1) noexcept {
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;  // a dozen buckets: a scan beats a search
    counts_[i].fetch_add(n, std::memory_order_relaxed);
    sum_.fetch_add(v * n, std::memory_order_relaxed);
  }
  const std::vector<std::uint64_t>& bounds() const noexcept { return bounds_; }
  std::uint64_t bucket(std::size_t i) const noexcept { return counts_[i].load(std::memory_order_relaxed); }
  std::uint64_t sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::uint64_t> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1 (the last is +Inf)
  std::atomic<std::uint64_t> sum_{0};
};

// Bucket bounds: `n` bounds start, start*factor, ... (rounded, strictly increasing).
std::vector<std::uint64_t> exponential_bounds(std::uint64_t start, double factor, std::size_t n);

struct Sample {
  std::string name, key, help;
  Type type = Type::counter;
  Labels labels;
  bool in_line = true;
  std::uint64_t counter = 0;
  std::int64_t gauge = 0;
  // Histogram: upper bounds in observation units with cumulative counts (+Inf is `count`), the sum in
  // observation units, and the scale to the base unit.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> buckets;
  std::uint64_t sum = 0;
  std::uint64_t count = 0;
  double scale = 1.0;

  // Histogram quantile estimate: the upper bound of the bucket holding it (observation units; the
  // largest bound when it falls in +Inf; 0 when empty).
  std::uint64_t quantile_bound(double q) const;
};

struct Snapshot {
  std::vector<Sample> samples;  // registration order; one family's samples are adjacent
  // By stats-line key, then by name (first match). nullptr when absent.
  const Sample* find(std::string_view key) const;
  // Counter value (gauge value for a gauge, count for a histogram) by key or name; 0 when absent.
  std::uint64_t value(std::string_view key) const;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registration happens at start-up: an invalid or duplicate name/labels is a programming error and
  // throws flowguard::Exception (invalid_argument / already_exists). The returned reference lives as
  // long as the registry.
  Counter& counter(Desc desc);
  Gauge& gauge(Desc desc);
  Histogram& histogram(Desc desc, std::vector<std::uint64_t> bounds);
  // A gauge computed when a snapshot is taken (queue depth, open sessions). `fn` must be thread-safe.
  void gauge_fn(Desc desc, std::function<std::int64_t()> fn);
  // Samples computed when a snapshot is taken and appended after the registered ones: families whose
  // label sets come and go (one sample per open agent session). `fn` must be thread-safe, keep the
  // samples of one family adjacent, use names no registered metric uses, and bound what it adds.
  void collector(std::function<void(std::vector<Sample>&)> fn);

  Snapshot snapshot() const;

 private:
  struct Entry {
    Desc desc;
    Type type = Type::counter;
    Counter* counter = nullptr;
    Gauge* gauge = nullptr;
    Histogram* histogram = nullptr;
    std::function<std::int64_t()> fn = {};
  };
  Entry& add(Desc desc, Type type);

  mutable std::mutex mu_;  // registration and snapshot only; updates never lock
  std::deque<Entry> entries_;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<Histogram> histograms_;
  std::vector<std::function<void(std::vector<Sample>&)>> collectors_;
};

// Checks a Prometheus metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*, no "__" prefix for labels).
Status validate_name(std::string_view name);

// Renderers. The line: `key=value` pairs separated by one space, registration order; a histogram shows
// as `<key>_count=N <key>_p50=B <key>_p99=B` (bucket upper bounds, observation units).
std::string render_line(const Snapshot& s);
// {"metrics":[{"name":..., "key":..., "type":"counter", "help":..., "labels":{...}, "value":N}, ...]};
// histograms carry "buckets":[{"le":<base unit>,"count":cumulative}...], "sum" (base unit), "count".
std::string render_json(const Snapshot& s);
// Prometheus text exposition format 0.0.4 (HELP/TYPE per family, base units).
std::string render_prometheus(const Snapshot& s);

}  // namespace flowguard::metrics
