#include "event_reader.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <variant>

namespace flowguard::console {
namespace {

using clock = std::chrono::steady_clock;

// SQLite calls this every few thousand VM steps; a non-zero answer interrupts the query.
int over_budget(void* deadline) {
  return clock::now() > *static_cast<clock::time_point*>(deadline) ? 1 : 0;
}

// One prepared statement of one query; binds by position, reads columns as JSON values.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v) {
    if (s_) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    if (s_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // true: a row is ready; false: done or failed (see error()).
  bool step() {
    if (!s_) return false;
    rc_ = sqlite3_step(s_);
    return rc_ == SQLITE_ROW;
  }
  bool failed() const { return s_ == nullptr || (rc_ != SQLITE_ROW && rc_ != SQLITE_DONE && rc_ != SQLITE_OK); }
  Error error() const {
    if (rc_ == SQLITE_INTERRUPT)
      return {ErrorCode::timeout, "the query took too long: narrow the time range or the filters"};
    return {ErrorCode::io_error, fmt::format("event store: {}", sqlite3_errmsg(db_))};
  }
  int columns() const { return sqlite3_column_count(s_); }
  std::string name(int i) const { return sqlite3_column_name(s_, i); }
  std::int64_t integer(int i) const { return sqlite3_column_int64(s_, i); }
  std::string text(int i) const {
    const auto* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }
  json value(int i) const {
    switch (sqlite3_column_type(s_, i)) {
      case SQLITE_INTEGER:
        return sqlite3_column_int64(s_, i);
      case SQLITE_FLOAT:
        return sqlite3_column_double(s_, i);
      case SQLITE_NULL:
        return nullptr;
      default:
        return text(i);  // TEXT; a BLOB shows as its bytes, which the store never holds
    }
  }
  json row() const {
    json r = json::object();
    for (int i = 0; i < columns(); ++i) r[name(i)] = value(i);
    return r;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

std::string quoted_list(const std::vector<std::string>& cols) {
  std::string out;
  for (const auto& c : cols) {
    if (!out.empty()) out += ", ";
    out += '"';
    for (char ch : c) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    out += '"';
  }
  return out;
}

// A single integer answer (COUNT, MAX).
Result<std::int64_t> scalar(Stmt& s) {
  if (!s.step()) return s.failed() ? Result<std::int64_t>(s.error()) : Result<std::int64_t>(std::int64_t{0});
  return s.integer(0);
}

}  // namespace

EventReader::EventReader(std::string path, std::chrono::milliseconds budget)
    : path_(std::move(path)), budget_(budget) {}

EventReader::~EventReader() {
  std::lock_guard lock(mu_);
  close_locked();
}

void EventReader::close_locked() {
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
  alert_columns_.clear();
  block_columns_.clear();
}

Status EventReader::open_locked() {
  if (db_ == nullptr) {
    if (path_.empty()) return Error(ErrorCode::unavailable, "no event store configured (--events)");
    // Read-only: the console can never write the agent's store. The file may not exist yet (the agent
    // creates it): every request retries the open.
    const int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      close_locked();
      return Error(ErrorCode::unavailable, fmt::format("event store {}: {}", path_, why));
    }
    sqlite3_busy_timeout(db_, 200);
    sqlite3_exec(db_, "PRAGMA query_only=1", nullptr, nullptr, nullptr);
  }
  // The agent may add columns when it is upgraded: look again every 10 s.
  if (alert_columns_.empty() || clock::now() - columns_checked_ > std::chrono::seconds(10)) {
    if (auto st = refresh_columns_locked(); !st) {
      close_locked();
      return st;
    }
  }
  return {};
}

Status EventReader::refresh_columns_locked() {
  auto names = [&](const char* table, std::vector<std::string>& out) -> Status {
    Stmt s(db_, fmt::format("PRAGMA table_info({})", table));
    out.clear();
    while (s.step()) {
      std::string n = s.text(1);
      if (n != "eve") out.push_back(std::move(n));
    }
    if (s.failed()) return s.error();
    if (out.empty())
      return Error(ErrorCode::unavailable,
                   fmt::format("event store {} has no {} table (not written by flowguard-capture yet?)", path_, table));
    return {};
  };
  if (auto st = names("alerts", alert_columns_); !st) return st;
  if (auto st = names("blocks", block_columns_); !st) return st;
  columns_checked_ = clock::now();
  return {};
}

// Every query: the connection open (or an error), the progress handler armed for the time budget and
// disarmed on the way out.
#define FG_QUERY_PROLOGUE                                             \
  std::lock_guard lock(mu_);                                          \
  if (auto st = open_locked(); !st) return std::move(st).error();     \
  clock::time_point deadline = clock::now() + budget_;                \
  sqlite3_progress_handler(db_, 1000, over_budget, &deadline);        \
  struct Disarm {                                                     \
    sqlite3* db;                                                      \
    ~Disarm() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }  \
  } disarm{db_}

Result<json> EventReader::counts(std::int64_t now_ms) {
  FG_QUERY_PROLOGUE;
  json out;
  auto count_alerts = [&](std::int64_t since_ms) -> Result<std::int64_t> {
    Stmt s(db_, "SELECT COUNT(*) FROM alerts WHERE ts_us >= ?1");
    s.bind(1, since_ms * 1000);
    return scalar(s);
  };
  // New blocks only: renewals and refusals are rows too, but not new blocks.
  auto count_blocks = [&](std::int64_t since_ms) -> Result<std::int64_t> {
    Stmt s(db_, "SELECT COUNT(*) FROM blocks WHERE ts_ms >= ?1 AND outcome IN ('blocked', 'dry-run')");
    s.bind(1, since_ms);
    return scalar(s);
  };
  const std::pair<const char*, Result<std::int64_t>> parts[] = {
      {"alerts_last_minute", count_alerts(now_ms - 60'000)},
      {"alerts_last_hour", count_alerts(now_ms - 3'600'000)},
      {"blocks_last_minute", count_blocks(now_ms - 60'000)},
      {"blocks_last_hour", count_blocks(now_ms - 3'600'000)},
  };
  for (const auto& [k, v] : parts) {
    if (!v) return v.error();
    out[k] = *v;
  }
  {
    Stmt s(db_, "SELECT COUNT(*), MIN(ts_us), MAX(ts_us), MAX(id) FROM alerts");
    if (!s.step()) return s.error();
    out["alerts_total"] = s.integer(0);
    out["oldest_alert_us"] = s.value(1);
    out["newest_alert_us"] = s.value(2);
    out["newest_alert_id"] = s.value(3);
  }
  out["alert_columns"] = alert_columns_;
  out["block_columns"] = block_columns_;
  return out;
}

Result<json> EventReader::timeline(std::int64_t from_us, std::int64_t to_us, int buckets) {
  if (to_us <= from_us || buckets < 1 || buckets > 500)
    return Error(ErrorCode::invalid_argument, "timeline: need from < to and 1..500 buckets");
  FG_QUERY_PROLOGUE;
  const std::int64_t step = std::max<std::int64_t>(1, (to_us - from_us + buckets - 1) / buckets);
  Stmt s(db_,
         "SELECT (ts_us - ?1) / ?3 AS b, class, COUNT(*) FROM alerts WHERE ts_us >= ?1 AND ts_us < ?2 "
         "GROUP BY b, class");
  s.bind(1, from_us).bind(2, to_us).bind(3, step);
  std::map<std::string, std::vector<std::int64_t>> series;
  while (s.step()) {
    auto& v = series[s.text(1)];
    v.resize(static_cast<std::size_t>(buckets), 0);
    const auto b = s.integer(0);
    if (b >= 0 && b < buckets) v[static_cast<std::size_t>(b)] = s.integer(2);
  }
  if (s.failed()) return s.error();
  json out{{"from_us", from_us}, {"to_us", to_us}, {"step_us", step}, {"buckets", buckets}};
  out["series"] = json::object();
  for (auto& [k, v] : series) out["series"][k] = v;
  return out;
}

Result<json> EventReader::distribution(std::int64_t from_us, std::int64_t to_us, int top) {
  if (to_us <= from_us || top < 1 || top > 100)
    return Error(ErrorCode::invalid_argument, "distribution: need from < to and top 1..100");
  FG_QUERY_PROLOGUE;
  json out{{"from_us", from_us}, {"to_us", to_us}};
  auto grouped = [&](const char* sql, const char* key) -> Status {
    Stmt s(db_, sql);
    s.bind(1, from_us).bind(2, to_us).bind(3, static_cast<std::int64_t>(top));
    json list = json::array();
    while (s.step()) list.push_back({{"name", s.text(0)}, {"count", s.integer(1)}});
    if (s.failed()) return s.error();
    out[key] = std::move(list);
    return {};
  };
  if (auto st = grouped("SELECT class, COUNT(*) n FROM alerts WHERE ts_us >= ?1 AND ts_us < ?2 "
                        "GROUP BY class ORDER BY n DESC LIMIT ?3",
                        "classes");
      !st)
    return std::move(st).error();
  if (auto st = grouped("SELECT action, COUNT(*) n FROM alerts WHERE ts_us >= ?1 AND ts_us < ?2 "
                        "GROUP BY action ORDER BY n DESC LIMIT ?3",
                        "actions");
      !st)
    return std::move(st).error();
  if (auto st = grouped("SELECT src_ip, COUNT(*) n FROM alerts WHERE ts_us >= ?1 AND ts_us < ?2 "
                        "GROUP BY src_ip ORDER BY n DESC LIMIT ?3",
                        "top_sources");
      !st)
    return std::move(st).error();
  return out;
}

Result<json> EventReader::events(const EventFilter& f) {
  if (f.limit < 1 || f.limit > 500) return Error(ErrorCode::invalid_argument, "limit must be 1..500");
  FG_QUERY_PROLOGUE;
  std::string where = "1";
  std::vector<std::pair<std::string, std::variant<std::int64_t, std::string>>> params;
  int n = 0;
  auto add = [&](const std::string& cond, std::variant<std::int64_t, std::string> v) {
    ++n;
    std::string c;  // every '?' of the condition becomes ?n: one parameter, bound once
    for (char ch : cond) c += ch == '?' ? fmt::format("?{}", n) : std::string(1, ch);
    where += " AND " + c;
    params.emplace_back(c, std::move(v));
  };
  if (f.before_id > 0) add("id < ?", f.before_id);
  if (!f.cls.empty()) add("class = ?", f.cls);
  if (!f.action.empty()) add("action = ?", f.action);
  // Two indexed lookups (src, dest) rather than one OR the planner may turn into a scan.
  if (!f.address.empty())
    add("id IN (SELECT id FROM alerts WHERE src_ip = ? UNION ALL SELECT id FROM alerts WHERE dest_ip = ?)",
        f.address);
  if (f.from_us > 0) add("ts_us >= ?", f.from_us);
  if (f.to_us > 0) add("ts_us < ?", f.to_us);
  if (!f.text.empty())
    add("instr(lower(src_ip || ' ' || dest_ip || ' ' || class || ' ' || enforcement || ' ' || reason), lower(?)) > 0",
        f.text);
  Stmt s(db_, fmt::format("SELECT {} FROM alerts WHERE {} ORDER BY id DESC LIMIT {}", quoted_list(alert_columns_),
                          where, f.limit + 1));
  for (int i = 0; i < n; ++i) {
    const auto& v = params[static_cast<std::size_t>(i)].second;
    if (const auto* iv = std::get_if<std::int64_t>(&v))
      s.bind(i + 1, *iv);
    else
      s.bind(i + 1, std::get<std::string>(v));
  }
  json rows = json::array();
  json next = nullptr;
  while (s.step()) {
    if (static_cast<int>(rows.size()) == f.limit) {  // the extra row: there is a next page
      next = rows.back()["id"];
      break;
    }
    rows.push_back(s.row());
  }
  if (s.failed()) return s.error();
  return json{{"columns", alert_columns_}, {"rows", std::move(rows)}, {"next_before_id", next}};
}

Result<json> EventReader::event(std::int64_t id) {
  FG_QUERY_PROLOGUE;
  Stmt s(db_, "SELECT * FROM alerts WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) {
    if (s.failed()) return s.error();
    return Error(ErrorCode::not_found, fmt::format("no alert with id {}", id));
  }
  json r = s.row();
  if (r.contains("eve") && r["eve"].is_string()) {
    // The stored EVE line is JSON: hand it over parsed (or as text when it is not).
    auto parsed = json::parse(r["eve"].get<std::string>(), nullptr, false);
    if (!parsed.is_discarded()) r["eve"] = std::move(parsed);
  }
  return r;
}

Result<json> EventReader::block_history(const std::vector<std::string>& addresses) {
  FG_QUERY_PROLOGUE;
  json out = json::object();
  for (const auto& a : addresses) {
    Stmt one(db_, fmt::format("SELECT {} FROM blocks WHERE address = ?1 ORDER BY ts_ms DESC LIMIT 1",
                              quoted_list(block_columns_)));
    one.bind(1, a);
    if (one.step())
      out[a] = one.row();
    else if (one.failed())
      return one.error();
  }
  return out;
}

}  // namespace flowguard::console
