#include "alert_aggregate.hpp"

#include <algorithm>
#include <climits>

namespace flowguard::console {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

nlohmann::json ranked(const std::unordered_map<std::string, std::uint64_t>& m, int top) {
  std::vector<std::pair<std::string, std::uint64_t>> v(m.begin(), m.end());
  const auto n = std::min<std::size_t>(v.size(), static_cast<std::size_t>(std::max(top, 0)));
  std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(),
                    [](const auto& a, const auto& b) {
                      return a.second != b.second ? a.second > b.second : a.first < b.first;
                    });
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < n; ++i) out.push_back({{"name", v[i].first}, {"count", v[i].second}});
  return out;
}

}  // namespace

std::uint16_t AlertAggregate::intern(std::string_view name) {
  if (auto it = ids_.find(std::string(name)); it != ids_.end()) return it->second;
  if (names_.size() >= kMaxNames - 1) {  // the last id is "(other)"
    if (names_.size() == kMaxNames - 1) {
      names_.emplace_back("(other)");
      ids_.emplace("(other)", static_cast<std::uint16_t>(kMaxNames - 1));
    }
    return static_cast<std::uint16_t>(kMaxNames - 1);
  }
  const auto id = static_cast<std::uint16_t>(names_.size());
  names_.emplace_back(name);
  ids_.emplace(std::string(name), id);
  return id;
}

void AlertAggregate::bump(Counts& c, std::uint16_t id) {
  for (auto& [k, n] : c)
    if (k == id) {
      ++n;
      return;
    }
  c.emplace_back(id, 1);
}

void AlertAggregate::add(std::int64_t ts_us, std::string_view cls, std::string_view action,
                         std::string_view src) {
  Slot& s = slots_[floor_div(ts_us, kSlotUs)];
  const std::uint16_t c = intern(cls);
  if (is_class_.size() <= c) is_class_.resize(c + 1u, false);
  if (!is_class_[c]) {
    is_class_[c] = true;
    class_names_.push_back(names_[c]);
  }
  bump(s.classes, c);
  bump(s.actions, intern(action));
  ++s.total;
  ++total_;
  std::uint32_t sid = 0;
  if (auto it = source_ids_.find(std::string(src)); it != source_ids_.end()) {
    sid = it->second;
  } else if (source_names_.size() < kMaxSources) {
    sid = static_cast<std::uint32_t>(source_names_.size());
    source_names_.emplace_back(src);
    source_ids_.emplace(std::string(src), sid);
  } else {
    ++sources_dropped_;
    return;
  }
  const std::int64_t key = floor_div(ts_us, kSourceSlotUs);
  if (key > newest_source_slot_) {
    if (auto it = sources_.find(newest_source_slot_); it != sources_.end()) freeze(it->second);
    newest_source_slot_ = key;
  }
  auto& sources = sources_[key].open;
  if (auto it = sources.find(sid); it != sources.end()) {
    ++it->second;
  } else if (source_entries_ < kMaxSourceEntries) {
    sources.emplace(sid, 1);
    ++source_entries_;
  } else {
    ++sources_dropped_;
  }
}

void AlertAggregate::freeze(SourceSlot& s) {
  s.frozen.reserve(s.frozen.size() + s.open.size());
  for (const auto& e : s.open) s.frozen.emplace_back(e);
  std::unordered_map<std::uint32_t, std::uint32_t>().swap(s.open);  // give the table's memory back
}

void AlertAggregate::clear() { *this = AlertAggregate(); }

void AlertAggregate::prune_before(std::int64_t ts_us) {
  const std::int64_t slot = floor_div(ts_us, kSlotUs);  // slots strictly before the one holding ts_us
  for (auto it = slots_.begin(); it != slots_.end() && it->first < slot;) {
    total_ -= it->second.total;
    it = slots_.erase(it);
  }
  const std::int64_t sslot = floor_div(ts_us, kSourceSlotUs);
  for (auto it = sources_.begin(); it != sources_.end() && it->first < sslot;) {
    source_entries_ -= it->second.open.size() + it->second.frozen.size();
    it = sources_.erase(it);
  }
}

std::uint64_t AlertAggregate::count(std::int64_t from_us, std::int64_t to_us) const {
  std::uint64_t n = 0;
  const auto end = slots_.lower_bound(ceil_div(to_us, kSlotUs));
  for (auto it = slots_.lower_bound(floor_div(from_us, kSlotUs)); it != end; ++it) n += it->second.total;
  return n;
}

nlohmann::json AlertAggregate::timeline(std::int64_t from_us, std::int64_t to_us, int buckets) const {
  const std::int64_t first = floor_div(from_us, kSlotUs), last = ceil_div(to_us, kSlotUs);  // [first, last)
  const std::int64_t slots = std::max<std::int64_t>(1, last - first);
  const std::int64_t step = std::max<std::int64_t>(1, ceil_div(slots, std::max(buckets, 1)));
  const auto n = static_cast<std::size_t>(ceil_div(slots, step));
  std::map<std::string, std::vector<std::uint64_t>> series;
  std::vector<std::vector<std::uint64_t>*> by_id(names_.size(), nullptr);
  const auto end = slots_.lower_bound(first + static_cast<std::int64_t>(n) * step);
  for (auto it = slots_.lower_bound(first); it != end; ++it) {
    const auto b = static_cast<std::size_t>((it->first - first) / step);
    for (const auto& [id, c] : it->second.classes) {
      auto*& v = by_id[id];
      if (v == nullptr) {
        v = &series[names_[id]];
        v->assign(n, 0);
      }
      (*v)[b] += c;
    }
  }
  nlohmann::json out{{"from_us", first * kSlotUs},
                     {"to_us", (first + static_cast<std::int64_t>(n) * step) * kSlotUs},
                     {"step_us", step * kSlotUs},
                     {"buckets", n}};
  out["series"] = nlohmann::json::object();
  for (auto& [k, v] : series) out["series"][k] = std::move(v);
  return out;
}

nlohmann::json AlertAggregate::distribution(std::int64_t from_us, std::int64_t to_us, int top) const {
  const std::int64_t first = floor_div(from_us, kSlotUs), last = ceil_div(to_us, kSlotUs);
  std::vector<std::uint64_t> cls(names_.size(), 0), act(names_.size(), 0);
  const auto end = slots_.lower_bound(last);
  for (auto it = slots_.lower_bound(first); it != end; ++it) {
    for (const auto& [id, c] : it->second.classes) cls[id] += c;
    for (const auto& [id, c] : it->second.actions) act[id] += c;
  }
  std::unordered_map<std::string, std::uint64_t> classes, actions, sources;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (cls[i]) classes[names_[i]] = cls[i];
    if (act[i]) actions[names_[i]] = act[i];
  }
  const std::int64_t sfirst = floor_div(from_us, kSourceSlotUs), slast = ceil_div(to_us, kSourceSlotUs);
  std::vector<std::uint64_t> per_source(source_names_.size(), 0);
  const auto send = sources_.lower_bound(slast);
  for (auto it = sources_.lower_bound(sfirst); it != send; ++it) {
    for (const auto& [sid, c] : it->second.frozen) per_source[sid] += c;
    for (const auto& [sid, c] : it->second.open) per_source[sid] += c;
  }
  // Only the top `top` go out: keep a bounded candidate set instead of a map of every source.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> best;  // (count, id)
  for (std::uint32_t i = 0; i < per_source.size(); ++i)
    if (per_source[i]) best.emplace_back(per_source[i], i);
  const auto n = std::min<std::size_t>(best.size(), static_cast<std::size_t>(std::max(top, 0)));
  std::partial_sort(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(n), best.end(),
                    [&](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first
                                                : source_names_[a.second] < source_names_[b.second];
                    });
  for (std::size_t i = 0; i < n; ++i) sources[source_names_[best[i].second]] = best[i].first;
  return {{"from_us", first * kSlotUs},
          {"to_us", last * kSlotUs},
          {"sources_from_us", sfirst * kSourceSlotUs},
          {"sources_to_us", slast * kSourceSlotUs},
          {"classes", ranked(classes, 1000)},
          {"actions", ranked(actions, 1000)},
          {"top_sources", ranked(sources, top)}};
}

}  // namespace flowguard::console
