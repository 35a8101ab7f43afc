#include "metrics_proto.hpp"

namespace flowguard::wire {

namespace {

v1::MetricType to_proto(metrics::Type t) {
  switch (t) {
    case metrics::Type::counter:
      return v1::METRIC_TYPE_COUNTER;
    case metrics::Type::gauge:
      return v1::METRIC_TYPE_GAUGE;
    case metrics::Type::histogram:
      return v1::METRIC_TYPE_HISTOGRAM;
  }
  return v1::METRIC_TYPE_UNSPECIFIED;
}

metrics::Type from_proto(v1::MetricType t) {
  switch (t) {
    case v1::METRIC_TYPE_GAUGE:
      return metrics::Type::gauge;
    case v1::METRIC_TYPE_HISTOGRAM:
      return metrics::Type::histogram;
    default:
      return metrics::Type::counter;
  }
}

}  // namespace

void to_proto(const metrics::Snapshot& snapshot, v1::Metrics& out) {
  for (const auto& s : snapshot.samples) {
    auto* m = out.add_samples();
    m->set_name(s.name);
    m->set_key(s.key);
    m->set_help(s.help);
    m->set_type(to_proto(s.type));
    for (const auto& [k, v] : s.labels) {
      auto* l = m->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
    m->set_counter(s.counter);
    m->set_gauge(s.gauge);
    for (const auto& [bound, cum] : s.buckets) {
      auto* b = m->add_buckets();
      b->set_upper_bound(bound);
      b->set_cumulative_count(cum);
    }
    m->set_sum(s.sum);
    m->set_count(s.count);
    m->set_scale(s.scale);
    m->set_in_line(s.in_line);
  }
}

metrics::Snapshot from_proto(const v1::Metrics& in) {
  metrics::Snapshot out;
  out.samples.reserve(static_cast<std::size_t>(in.samples_size()));
  for (const auto& m : in.samples()) {
    metrics::Sample s;
    s.name = m.name();
    s.key = m.key();
    s.help = m.help();
    s.type = from_proto(m.type());
    for (const auto& l : m.labels()) s.labels.emplace_back(l.name(), l.value());
    s.counter = m.counter();
    s.gauge = m.gauge();
    for (const auto& b : m.buckets()) s.buckets.emplace_back(b.upper_bound(), b.cumulative_count());
    s.sum = m.sum();
    s.count = m.count();
    s.scale = m.scale() > 0 ? m.scale() : 1.0;
    s.in_line = m.in_line();
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace flowguard::wire
