#include "common/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace flowguard::metrics {

std::string_view to_string(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

Histogram::Histogram(std::vector<std::uint64_t> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

std::vector<std::uint64_t> exponential_bounds(std::uint64_t start, double factor, std::size_t n) {
  std::vector<std::uint64_t> out;
  double v = static_cast<double>(std::max<std::uint64_t>(start, 1));
  while (out.size() < n) {
    const auto b = static_cast<std::uint64_t>(std::llround(v));
    if (out.empty() || b > out.back())
      out.push_back(b);
    else
      out.push_back(out.back() + 1);
    v *= factor;
  }
  return out;
}

std::uint64_t Sample::quantile_bound(double q) const {
  if (count == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
  for (const auto& [bound, cum] : buckets)
    if (cum >= std::max<std::uint64_t>(rank, 1)) return bound;
  return buckets.empty() ? 0 : buckets.back().first;
}

const Sample* Snapshot::find(std::string_view key) const {
  for (const auto& s : samples)
    if (s.key == key) return &s;
  for (const auto& s : samples)
    if (s.name == key) return &s;
  return nullptr;
}

std::uint64_t Snapshot::value(std::string_view key) const {
  const Sample* s = find(key);
  if (s == nullptr) return 0;
  switch (s->type) {
    case Type::counter:
      return s->counter;
    case Type::gauge:
      return static_cast<std::uint64_t>(s->gauge);
    case Type::histogram:
      return s->count;
  }
  return 0;
}

// ------------------------------------------------------------------ registry

Status validate_name(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return Error{ErrorCode::invalid_argument, "metric name '" + std::string(name) + "' " + std::string(why)};
  };
  if (name.empty()) return bad("is empty");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return bad("has a character outside [a-zA-Z0-9_:]");
  }
  return {};
}

namespace {

std::string default_key(const Desc& d) {
  std::string_view n = d.name;
  if (n.starts_with("flowguard_")) {
    n.remove_prefix(10);
    if (const auto us = n.find('_'); us != std::string_view::npos) n.remove_prefix(us + 1);
  }
  if (n.ends_with("_total")) n.remove_suffix(6);
  std::string k(n);
  for (const auto& [_, v] : d.labels) {
    k += '_';
    k += v;
  }
  return k;
}

}  // namespace

Registry::Entry& Registry::add(Desc desc, Type type) {
  if (auto st = validate_name(desc.name); !st) throw Exception(std::move(st).error());
  for (const auto& [k, _] : desc.labels) {
    if (auto st = validate_name(k); !st || k.starts_with("__") || k == "le")
      throw Exception(ErrorCode::invalid_argument, "metric " + desc.name + ": bad label name '" + k + "'");
  }
  if (type == Type::counter && !desc.name.ends_with("_total"))
    throw Exception(ErrorCode::invalid_argument, "counter name '" + desc.name + "' must end in _total");
  if (desc.key.empty()) desc.key = default_key(desc);
  for (const auto& e : entries_) {
    if (e.desc.name == desc.name && e.type != type)
      throw Exception(ErrorCode::invalid_argument, "metric '" + desc.name + "' registered with two types");
    if (e.desc.name == desc.name && e.desc.labels == desc.labels)
      throw Exception(ErrorCode::already_exists, "metric '" + desc.name + "' registered twice");
    if (e.desc.key == desc.key)
      throw Exception(ErrorCode::already_exists, "stats key '" + desc.key + "' used by two metrics");
  }
  Entry e;
  e.desc = std::move(desc);
  e.type = type;
  entries_.push_back(std::move(e));
  return entries_.back();
}

Counter& Registry::counter(Desc desc) {
  std::lock_guard lock(mu_);
  auto& e = add(std::move(desc), Type::counter);
  e.counter = &counters_.emplace_back();
  return *e.counter;
}

Gauge& Registry::gauge(Desc desc) {
  std::lock_guard lock(mu_);
  auto& e = add(std::move(desc), Type::gauge);
  e.gauge = &gauges_.emplace_back();
  return *e.gauge;
}

void Registry::gauge_fn(Desc desc, std::function<std::int64_t()> fn) {
  std::lock_guard lock(mu_);
  auto& e = add(std::move(desc), Type::gauge);
  e.fn = std::move(fn);
}

void Registry::collector(std::function<void(std::vector<Sample>&)> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

Histogram& Registry::histogram(Desc desc, std::vector<std::uint64_t> bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())
    throw Exception(ErrorCode::invalid_argument,
                    "histogram '" + desc.name + "' needs strictly increasing bounds");
  if (!(desc.scale > 0))
    throw Exception(ErrorCode::invalid_argument, "histogram '" + desc.name + "': scale <= 0");
  std::lock_guard lock(mu_);
  auto& e = add(std::move(desc), Type::histogram);
  e.histogram = &histograms_.emplace_back(std::move(bounds));
  return *e.histogram;
}

Snapshot Registry::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.samples.reserve(entries_.size());
  std::map<std::string_view, std::size_t> first;  // family -> first registration index
  for (const auto& e : entries_) {
    first.emplace(e.desc.name, first.size());
    Sample x;
    x.name = e.desc.name;
    x.key = e.desc.key;
    x.help = e.desc.help;
    x.type = e.type;
    x.labels = e.desc.labels;
    x.in_line = e.desc.in_line;
    x.scale = e.desc.scale;
    if (e.counter) x.counter = e.counter->value();
    if (e.gauge) x.gauge = e.gauge->value();
    if (e.fn) x.gauge = e.fn();
    if (e.histogram) {
      const auto& b = e.histogram->bounds();
      std::uint64_t cum = 0;
      for (std::size_t i = 0; i < b.size(); ++i) {
        cum += e.histogram->bucket(i);
        x.buckets.emplace_back(b[i], cum);
      }
      x.count = cum + e.histogram->bucket(b.size());
      x.sum = e.histogram->sum();
    }
    s.samples.push_back(std::move(x));
  }
  std::stable_sort(s.samples.begin(), s.samples.end(),
                   [&](const Sample& a, const Sample& b) { return first.at(a.name) < first.at(b.name); });
  for (const auto& fn : collectors_) fn(s.samples);
  return s;
}

// ------------------------------------------------------------------ renderers

namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  // Plain decimals for the usual range (0.0005, not 5e-04); exponents only for extreme values.
  const double a = std::fabs(v);
  const auto r = (a == 0 || (a >= 1e-9 && a < 1e15))
                     ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                     : std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string prom_label_value(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string prom_help(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string prom_labels(const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + prom_label_value(v) + "\"";
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"" + *le + "\"";
  }
  out += '}';
  return out;
}

}  // namespace

std::string render_line(const Snapshot& s) {
  std::string out;
  auto put = [&](std::string_view k, const std::string& v) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += v;
  };
  for (const auto& x : s.samples) {
    if (!x.in_line) continue;
    switch (x.type) {
      case Type::counter:
        put(x.key, std::to_string(x.counter));
        break;
      case Type::gauge:
        put(x.key, std::to_string(x.gauge));
        break;
      case Type::histogram:
        put(x.key + "_count", std::to_string(x.count));
        put(x.key + "_p50", std::to_string(x.quantile_bound(0.5)));
        put(x.key + "_p99", std::to_string(x.quantile_bound(0.99)));
        break;
    }
  }
  return out;
}

std::string render_json(const Snapshot& s) {
  std::string out = "{\"metrics\":[";
  bool first = true;
  for (const auto& x : s.samples) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":" + json_string(x.name) + ",\"key\":" + json_string(x.key) +
           ",\"type\":" + json_string(to_string(x.type)) + ",\"help\":" + json_string(x.help) +
           ",\"labels\":{";
    bool lf = true;
    for (const auto& [k, v] : x.labels) {
      if (!lf) out += ',';
      lf = false;
      out += json_string(k) + ":" + json_string(v);
    }
    out += '}';
    switch (x.type) {
      case Type::counter:
        out += ",\"value\":" + std::to_string(x.counter);
        break;
      case Type::gauge:
        out += ",\"value\":" + std::to_string(x.gauge);
        break;
      case Type::histogram: {
        out += ",\"buckets\":[";
        for (std::size_t i = 0; i < x.buckets.size(); ++i) {
          if (i) out += ',';
          out += "{\"le\":" + number(static_cast<double>(x.buckets[i].first) * x.scale) +
                 ",\"count\":" + std::to_string(x.buckets[i].second) + "}";
        }
        out += "],\"sum\":" + number(static_cast<double>(x.sum) * x.scale) +
               ",\"count\":" + std::to_string(x.count);
        break;
      }
    }
    out += '}';
  }
  out += "]}";
  return out;
}

std::string render_prometheus(const Snapshot& s) {
  std::string out;
  const std::string* family = nullptr;
  for (const auto& x : s.samples) {
    if (family == nullptr || *family != x.name) {
      out += "# HELP " + x.name + " " + prom_help(x.help) + "\n";
      out += "# TYPE " + x.name + " " + std::string(to_string(x.type)) + "\n";
      family = &x.name;
    }
    switch (x.type) {
      case Type::counter:
        out += x.name + prom_labels(x.labels) + " " + std::to_string(x.counter) + "\n";
        break;
      case Type::gauge:
        out += x.name + prom_labels(x.labels) + " " + std::to_string(x.gauge) + "\n";
        break;
      case Type::histogram: {
        for (const auto& [bound, cum] : x.buckets) {
          const std::string le = number(static_cast<double>(bound) * x.scale);
          out += x.name + "_bucket" + prom_labels(x.labels, &le) + " " + std::to_string(cum) + "\n";
        }
        const std::string inf = "+Inf";
        out += x.name + "_bucket" + prom_labels(x.labels, &inf) + " " + std::to_string(x.count) + "\n";
        out += x.name + "_sum" + prom_labels(x.labels) + " " + number(static_cast<double>(x.sum) * x.scale) +
               "\n";
        out += x.name + "_count" + prom_labels(x.labels) + " " + std::to_string(x.count) + "\n";
        break;
      }
    }
  }
  return out;
}

}  // namespace flowguard::metrics
