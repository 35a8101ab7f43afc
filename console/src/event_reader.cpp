#include "event_reader.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <variant>

namespace flowguard::console {
namespace {

using clock = std::chrono::steady_clock;
// A request reads at most this long of the store's new rows itself (the tail thread does the rest):
// while the console is still reading a large store at start, requests answer 503 quickly.
constexpr std::chrono::milliseconds kCatchUpInRequest{100};
// The slack of a time range's id window (rows written out of packet-time order).
constexpr std::int64_t kTimeSlackRows = 10'000;

// SQLite calls this every few thousand VM steps; a non-zero answer interrupts the query.
int over_budget(void* deadline) { return clock::now() > *static_cast<clock::time_point*>(deadline) ? 1 : 0; }

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
  bool failed() const {
    return s_ == nullptr || (rc_ != SQLITE_ROW && rc_ != SQLITE_DONE && rc_ != SQLITE_OK);
  }
  Error error() const {
    if (rc_ == SQLITE_INTERRUPT)
      return {ErrorCode::timeout, "the query took too long: narrow the time range or the filters"};
    return {ErrorCode::io_error, fmt::format("event store: {}", sqlite3_errmsg(db_))};
  }
  void reset() {
    if (s_) sqlite3_reset(s_);
  }
  sqlite3_stmt* handle() const { return s_; }
  int columns() const { return sqlite3_column_count(s_); }
  std::string name(int i) const { return sqlite3_column_name(s_, i); }
  std::int64_t integer(int i) const { return sqlite3_column_int64(s_, i); }
  std::string text(int i) const {
    const auto* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
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
      case SQLITE_BLOB:
        return fmt::format("<{} bytes>", sqlite3_column_bytes(s_, i));
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

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool looks_like_address(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// A single integer answer (COUNT, MAX).
Result<std::int64_t> scalar(Stmt& s) {
  if (!s.step()) return s.failed() ? Result<std::int64_t>(s.error()) : Result<std::int64_t>(std::int64_t{0});
  return s.integer(0);
}

}  // namespace

EventReader::EventReader(std::string path, std::chrono::milliseconds budget, std::int64_t scan_rows)
    : path_(std::move(path)), budget_(budget), scan_rows_(scan_rows) {
  tail_ = std::thread([this] { tail_loop(); });
}

EventReader::~EventReader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  tail_.join();
  std::lock_guard lock(mu_);
  close_locked();
}

void EventReader::tail_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (open_locked()) {
      // Catch up in slices so requests interleave: the lock is released between the calls.
      while (!stop_) {
        const auto st = catch_up_locked(clock::now() + std::chrono::milliseconds(50));
        if (st || st.error().code != ErrorCode::timeout) break;
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
      }
    }
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
  }
}

Status EventReader::catch_up_locked(clock::time_point deadline) {
  {
    Stmt s(db_, "SELECT MAX(id) FROM alerts");
    auto newest = scalar(s);
    if (!newest) return std::move(newest).error();
    if (*newest < last_id_) {  // a new store under the same name: start over
      agg_.clear();
      last_id_ = 0;
    }
  }
  Stmt s(db_, "SELECT id, ts_us, class, action, src_ip FROM alerts WHERE id > ?1 ORDER BY id LIMIT 20000");
  for (;;) {
    s.bind(1, last_id_);
    int rows = 0;
    while (s.step()) {
      ++rows;
      last_id_ = s.integer(0);
      agg_.add(s.integer(1), s.text(2), s.text(3), s.text(4));
    }
    if (s.failed()) return s.error();
    s.reset();
    if (rows < 20000) break;
    if (clock::now() > deadline)
      return Error(ErrorCode::timeout,
                   fmt::format("the console is still reading the event store ({} alerts so far); "
                               "try again in a moment",
                               agg_.total()));
  }
  if (clock::now() - pruned_ > std::chrono::seconds(60)) {  // follow the store's retention
    Stmt m(db_, "SELECT MIN(ts_us) FROM alerts");
    if (m.step() && sqlite3_column_type(m.handle(), 0) != SQLITE_NULL) agg_.prune_before(m.integer(0));
    pruned_ = clock::now();
  }
  return {};
}

void EventReader::close_locked() {
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
  alert_columns_.clear();
  block_columns_.clear();
}

Status EventReader::open_locked() {
  // Opened immutable (below) while the agent was stopped: try the normal open again every 10 s.
  if (db_ != nullptr && immutable_ && clock::now() - opened_ > std::chrono::seconds(10)) close_locked();
  if (db_ == nullptr) {
    if (path_.empty()) return Error(ErrorCode::unavailable, "no event store configured (--events)");
    // Read-only: the console can never write the agent's store. The file may not exist yet (the agent
    // creates it): every request retries the open.
    int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(db_, "SELECT 1 FROM sqlite_master LIMIT 1", nullptr, nullptr, nullptr);
    immutable_ = false;
    if (rc == SQLITE_CANTOPEN && ::access(path_.c_str(), R_OK) == 0) {
      // A WAL store in a directory the console may not write (systemd ReadOnlyPaths) opens only while
      // the agent holds its -shm file. With the agent stopped the file does not change: read it as
      // immutable until the agent is back.
      sqlite3_close(db_);
      db_ = nullptr;
      std::string uri = "file:";
      for (char c : path_)
        uri += c == '%'   ? std::string("%25")
               : c == '?' ? std::string("%3f")
               : c == '#' ? std::string("%23")
                          : std::string(1, c);
      uri += "?immutable=1";
      rc = sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                           nullptr);
      immutable_ = rc == SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      close_locked();
      return Error(ErrorCode::unavailable, fmt::format("event store {}: {}", path_, why));
    }
    opened_ = clock::now();
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
      // Not the bulky EVE line, nor binary columns (the flow's feature vectors kept for retraining).
      std::string n = s.text(1);
      if (n != "eve" && lower(s.text(2)) != "blob") out.push_back(std::move(n));
    }
    if (s.failed()) return s.error();
    if (out.empty())
      return Error(ErrorCode::unavailable,
                   fmt::format("event store {} has no {} table (not written by flowguard-capture yet?)",
                               path_, table));
    return {};
  };
  if (auto st = names("alerts", alert_columns_); !st) return st;
  if (auto st = names("blocks", block_columns_); !st) return st;
  // Operator feedback (false-positive marks), when the agent keeps it: shown as a `feedback` column.
  {
    Stmt f(db_, "SELECT 1 FROM pragma_table_info('feedback') WHERE name = 'alert_id'");
    has_feedback_ = f.step();
  }
  columns_checked_ = clock::now();
  return {};
}

// Every query: the connection open (or an error), the progress handler armed for the time budget and
// disarmed on the way out.
#define FG_QUERY_PROLOGUE                                            \
  std::lock_guard lock(mu_);                                         \
  if (auto st = open_locked(); !st) return std::move(st).error();    \
  clock::time_point deadline = clock::now() + budget_;               \
  [[maybe_unused]] const clock::time_point catch_up_deadline =       \
      std::min(deadline, clock::now() + kCatchUpInRequest);          \
  sqlite3_progress_handler(db_, 1000, over_budget, &deadline);       \
  struct Disarm {                                                    \
    sqlite3* db;                                                     \
    ~Disarm() { sqlite3_progress_handler(db, 0, nullptr, nullptr); } \
  } disarm {                                                         \
    db_                                                              \
  }

Result<json> EventReader::counts(std::int64_t now_ms) {
  FG_QUERY_PROLOGUE;
  if (auto st = catch_up_locked(catch_up_deadline); !st) return std::move(st).error();
  json out;
  // Alerts from the aggregate (10-second slots: "last minute" is the slots overlapping it).
  out["alerts_last_minute"] = agg_.count((now_ms - 60'000) * 1000, now_ms * 1000 + 1);
  out["alerts_last_hour"] = agg_.count((now_ms - 3'600'000) * 1000, now_ms * 1000 + 1);
  out["alerts_total"] = agg_.total();
  // New blocks only: renewals and refusals are rows too, but not new blocks.
  auto count_blocks = [&](std::int64_t since_ms) -> Result<std::int64_t> {
    Stmt s(db_, "SELECT COUNT(*) FROM blocks WHERE ts_ms >= ?1 AND outcome IN ('blocked', 'dry-run')");
    s.bind(1, since_ms);
    return scalar(s);
  };
  for (const auto& [k, since] : {std::pair{"blocks_last_minute", now_ms - 60'000},
                                 std::pair{"blocks_last_hour", now_ms - 3'600'000}}) {
    auto v = count_blocks(since);
    if (!v) return v.error();
    out[k] = *v;
  }
  // One aggregate per statement: SQLite answers a lone MIN or MAX from the index end, but scans the
  // whole index when a statement asks for both.
  for (const auto& [k, sql] : {std::pair{"oldest_alert_us", "SELECT MIN(ts_us) FROM alerts"},
                               std::pair{"newest_alert_us", "SELECT MAX(ts_us) FROM alerts"},
                               std::pair{"newest_alert_id", "SELECT MAX(id) FROM alerts"}}) {
    Stmt s(db_, sql);
    if (!s.step()) return s.error();
    out[k] = s.value(0);
  }
  out["sources_dropped"] = agg_.sources_dropped();
  out["alert_columns"] = alert_columns_;
  out["block_columns"] = block_columns_;
  return out;
}

Result<json> EventReader::timeline(std::int64_t from_us, std::int64_t to_us, int buckets) {
  if (to_us <= from_us || buckets < 1 || buckets > 500)
    return Error(ErrorCode::invalid_argument, "timeline: need from < to and 1..500 buckets");
  FG_QUERY_PROLOGUE;
  if (auto st = catch_up_locked(catch_up_deadline); !st) return std::move(st).error();
  return agg_.timeline(from_us, to_us, buckets);
}

Result<json> EventReader::distribution(std::int64_t from_us, std::int64_t to_us, int top) {
  if (to_us <= from_us || top < 1 || top > 100)
    return Error(ErrorCode::invalid_argument, "distribution: need from < to and top 1..100");
  FG_QUERY_PROLOGUE;
  if (auto st = catch_up_locked(catch_up_deadline); !st) return std::move(st).error();
  return agg_.distribution(from_us, to_us, top);
}

Result<json> EventReader::events(const EventFilter& f) {
  if (f.limit < 1 || f.limit > 500) return Error(ErrorCode::invalid_argument, "limit must be 1..500");
  FG_QUERY_PROLOGUE;
  // Newest first by id, scanning at most scan_rows_ ids per request: a page costs the same however
  // rare the filtered rows are, and needs no index beyond the primary key (extra indexes would slow the
  // agent's writer). A page that reaches the end of its window before it is full says where to go on
  // (`next_before_id`); the page shows "older" to continue.
  std::int64_t start = f.before_id;  // exclusive
  if (start <= 0) {
    Stmt s(db_, "SELECT MAX(id) FROM alerts");
    auto newest = scalar(s);
    if (!newest) return std::move(newest).error();
    start = *newest + 1;
  }
  std::int64_t bottom = 0;  // exclusive: nothing at or below it can match
  // A time range narrows the id window through the ts index (ids follow packet time closely; the slack
  // covers rows written out of time order).
  if (f.to_us > 0) {
    Stmt s(db_, "SELECT id FROM alerts WHERE ts_us < ?1 ORDER BY ts_us DESC LIMIT 1");
    s.bind(1, f.to_us);
    const std::int64_t last = s.step() ? s.integer(0) : 0;
    if (s.failed()) return s.error();
    start = std::min(start, last + 1 + kTimeSlackRows);
  }
  if (f.from_us > 0) {
    Stmt s(db_, "SELECT id FROM alerts WHERE ts_us >= ?1 ORDER BY ts_us LIMIT 1");
    s.bind(1, f.from_us);
    const std::int64_t first = s.step() ? s.integer(0) : INT64_MAX - kTimeSlackRows;
    if (s.failed()) return s.error();
    bottom = std::max<std::int64_t>(0, first - 1 - kTimeSlackRows);
  }
  const std::int64_t floor = std::max(bottom, start - 1 - scan_rows_);

  std::string where = "id < ?1 AND id > ?2";
  std::vector<std::variant<std::int64_t, std::string>> params{start, floor};
  auto param = [&](std::variant<std::int64_t, std::string> v) {
    params.push_back(std::move(v));
    return fmt::format("?{}", params.size());
  };
  if (!f.cls.empty()) where += " AND class = " + param(f.cls);
  if (!f.action.empty()) where += " AND action = " + param(f.action);
  if (f.from_us > 0) where += " AND ts_us >= " + param(f.from_us);
  if (f.to_us > 0) where += " AND ts_us < " + param(f.to_us);
  std::string address = f.address;
  if (!f.text.empty()) {
    if (looks_like_address(f.text) && address.empty()) {
      address = f.text;
    } else {
      // Class names containing the text (case-insensitive), or the text as an action.
      if (auto st = catch_up_locked(catch_up_deadline); !st) return std::move(st).error();
      std::string any;
      const std::string needle = lower(f.text);
      for (const auto& c : agg_.class_names())
        if (lower(c).find(needle) != std::string::npos) any += (any.empty() ? "" : ", ") + param(c);
      std::string cond = any.empty() ? "" : "class IN (" + any + ")";
      if (needle == "alert" || needle == "block")
        cond += (cond.empty() ? "" : " OR ") + std::string("action = ") + param(needle);
      if (cond.empty())
        return json{
            {"columns", alert_columns_},
            {"rows", json::array()},
            {"next_before_id", nullptr},
            {"note", "the search matches addresses, actions (alert, block) and parts of class names"}};
      where += " AND (" + cond + ")";
    }
  }
  if (!address.empty()) {
    const std::string p = param(address);
    where += " AND (src_ip = " + p + " OR dest_ip = " + p + ")";
  }
  const std::string feedback =
      has_feedback_
          ? ", (SELECT group_concat(label) FROM feedback WHERE feedback.alert_id = alerts.id) AS feedback"
          : "";
  Stmt s(db_, fmt::format("SELECT {}{} FROM alerts WHERE {} ORDER BY id DESC LIMIT {}",
                          quoted_list(alert_columns_), feedback, where, f.limit + 1));
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (const auto* iv = std::get_if<std::int64_t>(&params[i]))
      s.bind(static_cast<int>(i + 1), *iv);
    else
      s.bind(static_cast<int>(i + 1), std::get<std::string>(params[i]));
  }
  json rows = json::array();
  json next = nullptr;
  bool full = false;
  while (s.step()) {
    if (static_cast<int>(rows.size()) == f.limit) {  // the extra row: there is a next page
      full = true;
      next = rows.back()["id"];
      break;
    }
    rows.push_back(s.row());
  }
  if (s.failed()) return s.error();
  // The window ended before the page filled: go on below it, unless it reached the bottom.
  if (!full && floor > bottom) next = floor + 1;
  json columns = alert_columns_;
  if (has_feedback_) columns.push_back("feedback");
  return json{{"columns", std::move(columns)}, {"rows", std::move(rows)},
              {"next_before_id", next},        {"scanned_from_id", start - 1},
              {"scanned_to_id", floor + 1},    {"partial", !full && floor > bottom}};
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
