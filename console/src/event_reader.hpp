#pragma once
// Read-only view of the capture agent's event store (capture/enforce/event_store.hpp: tables alerts,
// blocks, unblocks in WAL mode). The console never writes it: the file is opened with mode=ro, so a
// reader can never stall or corrupt the agent's writer.
//
// Every query is bounded: a row limit, and a time budget enforced by SQLite's progress handler (a query
// over budget is interrupted and answered as ErrorCode::timeout: "narrow the range or the filters").
// Columns added by later versions of the agent (unknown, evidence, ...) are discovered with
// PRAGMA table_info and passed through, so the console shows them without knowing them.

#include "alert_aggregate.hpp"

#include "common/result.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;

namespace flowguard::console {

using json = nlohmann::json;

struct EventFilter {
  std::string cls;      // exact class name
  std::string action;   // exact action (alert | block)
  std::string address;  // exact source or destination address
  // Search box: an address (source or destination), an action, or part of a class name
  // (case-insensitive). Every form runs on an index, so a search never scans the whole store.
  std::string text;
  std::int64_t from_us = 0, to_us = 0;  // packet time range [from, to); 0 = open
  std::int64_t before_id = 0;           // keyset paging: rows with id < before_id (0 = newest)
  int limit = 50;
};

class EventReader {
 public:
  // Starts a thread that keeps the in-memory aggregate (charts, KPIs) up to date with the store's new
  // rows: one indexed query a second, nothing else at idle. `scan_rows`: ids one events page scans at
  // most (100,000 take about 50 ms here).
  EventReader(std::string path, std::chrono::milliseconds budget, std::int64_t scan_rows = 100'000);
  ~EventReader();
  EventReader(const EventReader&) = delete;
  EventReader& operator=(const EventReader&) = delete;

  const std::string& path() const { return path_; }

  // alerts and blocks in the last minute / hour of `now_ms`, totals, newest alert time.
  Result<json> counts(std::int64_t now_ms);
  // Alerts per class in `buckets` equal buckets of [from_us, to_us).
  Result<json> timeline(std::int64_t from_us, std::int64_t to_us, int buckets);
  // Alerts per class, per action and the top sources in [from_us, to_us).
  Result<json> distribution(std::int64_t from_us, std::int64_t to_us, int top);
  // Newest first, keyset paged: {"columns":[...], "rows":[{...}], "next_before_id": N|null, "partial"}.
  // One call scans at most `scan_rows` ids below before_id: a page of a rare filter may come back short
  // ("partial": true) with next_before_id saying where to go on.
  Result<json> events(const EventFilter& f);
  // One alert with its EVE record.
  Result<json> event(std::int64_t id);
  // The newest `blocks` row of each address (reason, evidence and whatever else the store holds).
  Result<json> block_history(const std::vector<std::string>& addresses);

 private:
  Status open_locked();
  Status refresh_columns_locked();
  void close_locked();
  // Reads the store's rows newer than the aggregate (in chunks, until `deadline`); resets it when the
  // store was replaced and prunes what retention deleted. timeout when not caught up by the deadline.
  Status catch_up_locked(std::chrono::steady_clock::time_point deadline);
  void tail_loop();

  std::string path_;
  std::chrono::milliseconds budget_;
  std::int64_t scan_rows_;
  std::mutex mu_;  // one connection, one query at a time
  sqlite3* db_ = nullptr;
  bool immutable_ = false;  // opened with immutable=1 (agent stopped, directory read-only)
  std::chrono::steady_clock::time_point opened_{};
  std::vector<std::string> alert_columns_, block_columns_;  // without the bulky `eve` and BLOBs
  bool has_feedback_ = false;                               // the store has the feedback table
  std::chrono::steady_clock::time_point columns_checked_{};
  AlertAggregate agg_;
  std::int64_t last_id_ = 0;  // newest alerts.id in agg_
  std::chrono::steady_clock::time_point pruned_{};
  bool stop_ = false;
  std::condition_variable wake_;
  std::thread tail_;
};

}  // namespace flowguard::console
