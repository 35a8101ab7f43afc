#pragma once
// Alert counts kept in memory so that charts over a week of a busy store answer in milliseconds: SQLite
// needs ~1 s to group a million rows, the console's budget per query is 200 ms (bench/console).
//
// Counts per class and per action in 10-second slots, per source in 10-minute slots; ranges are widened
// to whole slots (the answer says which range it covers). Everything is bounded: at most 4096 distinct
// class/action names (more fold into "(other)"), 200,000 distinct sources and 500,000 (slot, source)
// entries (more are counted in sources_dropped() and left out of the top sources). The EventReader feeds it
// from the store's new rows (id order) and prunes what the store's retention deleted.

#include <nlohmann/json.hpp>

#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flowguard::console {

class AlertAggregate {
 public:
  static constexpr std::int64_t kSlotUs = 10'000'000;
  static constexpr std::int64_t kSourceSlotUs = 600'000'000;
  static constexpr std::size_t kMaxNames = 4096;
  static constexpr std::size_t kMaxSourceEntries = 500'000;
  static constexpr std::size_t kMaxSources = 200'000;  // distinct addresses named since start

  void add(std::int64_t ts_us, std::string_view cls, std::string_view action, std::string_view src);
  void clear();
  // Forgets every slot that ends at or before `ts_us` (the store no longer holds those rows).
  void prune_before(std::int64_t ts_us);

  std::uint64_t total() const { return total_; }
  // Every class name seen (the search box matches them by substring).
  const std::vector<std::string>& class_names() const { return class_names_; }
  std::uint64_t sources_dropped() const { return sources_dropped_; }
  // Alerts in the slots overlapping [from_us, to_us).
  std::uint64_t count(std::int64_t from_us, std::int64_t to_us) const;
  // {"from_us","to_us","step_us","buckets","series":{class:[counts]}}; at most `buckets` buckets of
  // whole slots covering [from_us, to_us).
  nlohmann::json timeline(std::int64_t from_us, std::int64_t to_us, int buckets) const;
  // {"from_us","to_us","classes":[{name,count}],"actions":[...],"top_sources":[...]} (sorted, top n).
  nlohmann::json distribution(std::int64_t from_us, std::int64_t to_us, int top) const;

 private:
  using Counts = std::vector<std::pair<std::uint16_t, std::uint32_t>>;  // name id -> count (a few entries)
  struct Slot {
    Counts classes, actions;
    std::uint32_t total = 0;
  };
  std::uint16_t intern(std::string_view name);
  static void bump(Counts& c, std::uint16_t id);

  std::map<std::int64_t, Slot> slots_;
  // Sources by interned id: merging a week of slots is then an array sum, not string hashing. A slot
  // fills a hash map while it is the newest; once a newer slot starts it is frozen into a flat array,
  // which a week-long distribution walks in a few milliseconds (a late row goes to the map again).
  struct SourceSlot {
    std::unordered_map<std::uint32_t, std::uint32_t> open;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> frozen;
  };
  static void freeze(SourceSlot& s);
  std::map<std::int64_t, SourceSlot> sources_;
  std::int64_t newest_source_slot_ = INT64_MIN;
  std::vector<std::string> source_names_;
  std::unordered_map<std::string, std::uint32_t> source_ids_;
  std::vector<std::string> names_, class_names_;
  std::vector<bool> is_class_;
  std::unordered_map<std::string, std::uint16_t> ids_;
  std::size_t source_entries_ = 0;
  std::uint64_t total_ = 0, sources_dropped_ = 0;
};

}  // namespace flowguard::console
