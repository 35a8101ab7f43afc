#include "enforce/event_store.hpp"

#include "common/error.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace flowguard::capture::enforce {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  ts_us INTEGER NOT NULL,
  flow_id INTEGER NOT NULL,
  src_ip TEXT NOT NULL, src_port INTEGER NOT NULL,
  dest_ip TEXT NOT NULL, dest_port INTEGER NOT NULL,
  proto TEXT NOT NULL,
  class TEXT NOT NULL, score REAL NOT NULL, threshold REAL NOT NULL,
  action TEXT NOT NULL, enforcement TEXT NOT NULL,
  model TEXT NOT NULL, model_version TEXT NOT NULL, reason TEXT NOT NULL,
  eve TEXT NOT NULL,
  features BLOB, group_features BLOB, schema_id INTEGER);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts_us);
CREATE INDEX IF NOT EXISTS alerts_src ON alerts(src_ip, ts_us);
CREATE TABLE IF NOT EXISTS blocks (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  address TEXT NOT NULL,
  reason TEXT NOT NULL, model_version TEXT NOT NULL,
  expires_ms INTEGER NOT NULL, manual INTEGER NOT NULL,
  outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_ts ON blocks(ts_ms);
CREATE INDEX IF NOT EXISTS blocks_address ON blocks(address, ts_ms);
CREATE TABLE IF NOT EXISTS unblocks (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  address TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS unblocks_ts ON unblocks(ts_ms);
CREATE INDEX IF NOT EXISTS unblocks_address ON unblocks(address, ts_ms);
CREATE TABLE IF NOT EXISTS feature_schemas (
  id INTEGER PRIMARY KEY,
  profile TEXT NOT NULL,
  feature_names TEXT NOT NULL,
  group_feature_names TEXT NOT NULL,
  names_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL,
  label TEXT NOT NULL,
  note TEXT NOT NULL,
  operator TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  UNIQUE (alert_id, label));
)sql";

// Columns added to `alerts` after the first release of the store (schema version 2). An existing
// database gets them by ALTER TABLE at open; old rows keep NULL (no features to export).
constexpr const char* kAlertColumnsV2[][2] = {
    {"features", "BLOB"}, {"group_features", "BLOB"}, {"schema_id", "INTEGER"}};
constexpr int kSchemaVersion = 2;

// float32 little-endian, whatever the host's byte order (the file may move between machines).
std::string encode_floats(const std::vector<float>& v) {
  std::string out(v.size() * 4, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto u = std::bit_cast<std::uint32_t>(v[i]);
    for (int b = 0; b < 4; ++b)
      out[i * 4 + static_cast<std::size_t>(b)] = static_cast<char>((u >> (8 * b)) & 0xFF);
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "\n") + x;
  return s;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RAII prepared statement; bind helpers keep write_batch() readable.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // A BLOB, or NULL when empty (no features for this row).
  Statement& bind_blob(int i, const std::string& v) {
    if (v.empty())
      sqlite3_bind_null(stmt_, i);
    else
      sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return rc == SQLITE_DONE;
  }
  // For queries: SQLITE_ROW while rows come; the caller resets with reset().
  int next() { return sqlite3_step(stmt_); }
  std::int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }
  std::string column_text(int i) {
    const auto* t = sqlite3_column_text(stmt_, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  bool column_is_null(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

EventStore::EventStore(EventStoreOptions options, FeatureSchema schema)
    : options_(std::move(options)), schema_(std::move(schema)) {
  if (sqlite3_open_v2(options_.path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Exception(ErrorCode::io_error, "event store " + options_.path + ": " + why);
  }
  sqlite3_busy_timeout(db_, 2000);
  char* err = nullptr;
  const std::string setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") + kSchema;
  if (sqlite3_exec(db_, setup.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_close(db_);
    throw Exception(ErrorCode::io_error, "event store " + options_.path + ": " + why);
  }
  try {
    migrate();
    schema_id_ = store_schema();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
  apply_retention();
  writer_ = std::thread([this] { run(); });
}

EventStore::~EventStore() { stop(); }

std::string feature_schema_hash(const FeatureSchema& schema) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0x1F;  // separator: ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  mix(schema.profile);
  for (const auto& n : schema.feature_names) mix(n);
  for (const auto& g : schema.groups) {
    mix("group:" + g.name);
    for (const auto& n : g.feature_names) mix(n);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Adds the columns a database created by an older agent lacks. Start-up only (throws).
void EventStore::migrate() {
  std::vector<std::string> have;
  {
    Statement info(db_, "PRAGMA table_info(alerts)");
    if (!info.ok())
      throw Exception(ErrorCode::io_error, "event store " + options_.path + ": " + sqlite3_errmsg(db_));
    while (info.next() == SQLITE_ROW) have.push_back(info.column_text(1));
  }
  for (const auto& [name, type] : kAlertColumnsV2) {
    if (std::find(have.begin(), have.end(), name) != have.end()) continue;
    const std::string sql = std::string("ALTER TABLE alerts ADD COLUMN ") + name + " " + type;
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string why = err ? err : "unknown error";
      sqlite3_free(err);
      throw Exception(ErrorCode::io_error, "event store " + options_.path + ": migrating alerts: " + why);
    }
    migrated_ = true;
  }
  if (migrated_)
    spdlog::info(
        "event store {}: migrated to schema version {} (alerts keep their flow features now; "
        "older alerts have none)",
        options_.path, kSchemaVersion);
  exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
}

// The row of feature_schemas for this run's layout (inserted once per distinct layout).
std::int64_t EventStore::store_schema() {
  const FeatureSchema& fs = schema_;
  if (fs.profile.empty()) return 0;
  std::vector<std::string> group_names;
  for (const auto& g : fs.groups)
    for (const auto& n : g.feature_names) group_names.push_back(g.name + "\t" + n);
  const std::string hash = feature_schema_hash(fs);
  Statement ins(
      db_,
      "INSERT OR IGNORE INTO feature_schemas (profile, feature_names, group_feature_names, names_hash) "
      "VALUES (?1,?2,?3,?4)");
  Statement sel(db_, "SELECT id FROM feature_schemas WHERE names_hash = ?1");
  if (!ins.ok() || !sel.ok() ||
      !ins.bind(1, fs.profile)
           .bind(2, join_lines(fs.feature_names))
           .bind(3, join_lines(group_names))
           .bind(4, hash)
           .step())
    throw Exception(ErrorCode::io_error, "event store " + options_.path + ": " + sqlite3_errmsg(db_));
  sel.bind(1, hash);
  if (sel.next() != SQLITE_ROW)
    throw Exception(ErrorCode::io_error, "event store " + options_.path + ": feature schema not stored");
  return sel.column_int(0);
}

Result<FeedbackOutcome> EventStore::mark_false_positive(const FeedbackRequest& r) {
  if ((r.alert_id > 0) == !r.address.empty())
    return Error{ErrorCode::invalid_argument, "give an alert id or an address (exactly one)"};
  flush();  // an alert the operator just saw may still be queued
  std::lock_guard lock(feedback_mutex_);
  if (feedback_db_ == nullptr) {
    if (sqlite3_open_v2(options_.path.c_str(), &feedback_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string why = feedback_db_ ? sqlite3_errmsg(feedback_db_) : "out of memory";
      sqlite3_close(feedback_db_);
      feedback_db_ = nullptr;
      return Error{ErrorCode::io_error, "event store " + options_.path + ": " + why};
    }
    sqlite3_busy_timeout(feedback_db_, 5000);
  }
  sqlite3* db = feedback_db_;
  auto fail = [&](const char* what) {
    return Error{ErrorCode::io_error, std::string("event store: ") + what + ": " + sqlite3_errmsg(db)};
  };
  // Which alerts, and whether each is already marked / has features.
  Statement find(db, r.alert_id > 0
                         ? "SELECT a.id, f.id IS NOT NULL, a.features IS NULL FROM alerts a "
                           "LEFT JOIN feedback f ON f.alert_id = a.id AND f.label = ?2 WHERE a.id = ?1"
                         : "SELECT a.id, f.id IS NOT NULL, a.features IS NULL FROM alerts a "
                           "LEFT JOIN feedback f ON f.alert_id = a.id AND f.label = ?2 WHERE a.src_ip = ?1 "
                           "ORDER BY a.id");
  Statement add(
      db, "INSERT OR IGNORE INTO feedback (alert_id, label, note, operator, ts_ms) VALUES (?1,?2,?3,?4,?5)");
  if (!find.ok() || !add.ok()) return fail("prepare");
  if (r.alert_id > 0)
    find.bind(1, r.alert_id);
  else
    find.bind(1, r.address);
  find.bind(2, r.label);
  FeedbackOutcome out;
  std::vector<std::pair<std::int64_t, bool>> todo;  // id, no features
  int rc;
  while ((rc = find.next()) == SQLITE_ROW) {
    if (find.column_int(1) != 0)
      out.already_marked.push_back(find.column_int(0));
    else
      todo.emplace_back(find.column_int(0), find.column_int(2) != 0);
  }
  if (rc != SQLITE_DONE) return fail("query");
  find.reset();
  if (todo.empty() && out.already_marked.empty()) {
    if (r.alert_id > 0)
      return Error{ErrorCode::not_found,
                   "no alert with id " + std::to_string(r.alert_id) + " in the event store " + options_.path};
    return Error{ErrorCode::not_found, "no alert from " + r.address + " in the event store " + options_.path};
  }
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("begin");
  const std::int64_t t = now_ms();
  for (const auto& [id, no_features] : todo) {
    if (!add.bind(1, id).bind(2, r.label).bind(3, r.note).bind(4, r.operator_name).bind(5, t).step()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return fail("insert");
    }
    out.marked.push_back(id);
    if (no_features) ++out.without_features;
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return fail("commit");
  }
  feedback_rows_.fetch_add(out.marked.size());
  return out;
}

void EventStore::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_ != nullptr) {
    sqlite3_close(db_);
    db_ = nullptr;
  }
  std::lock_guard lock(feedback_mutex_);
  if (feedback_db_ != nullptr) {
    sqlite3_close(feedback_db_);
    feedback_db_ = nullptr;
  }
}

bool EventStore::push(Event&& e) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.queue_capacity) {
      dropped_.fetch_add(1);
      return false;
    }
    queue_.push_back(std::move(e));
    ++enqueued_;
  }
  wake_.notify_one();
  return true;
}

bool EventStore::record(AlertEvent event) { return push(std::move(event)); }
bool EventStore::record(BlockEvent event) { return push(std::move(event)); }
bool EventStore::record(UnblockEvent event) { return push(std::move(event)); }

void EventStore::flush() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = enqueued_;
  idle_.wait(lock, [&] { return committed_ >= target || !writer_.joinable(); });
}

void EventStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    errors_.fetch_add(1);
    spdlog::warn("event store {}: {}", options_.path, err ? err : "error");
    sqlite3_free(err);
  }
}

void EventStore::apply_retention() {
  if (options_.retention_days == 0) return;
  const std::int64_t cutoff_ms = now_ms() - static_cast<std::int64_t>(options_.retention_days) * 86'400'000;
  // Alerts an operator gave feedback on are training data now: retention keeps them.
  Statement a(db_, "DELETE FROM alerts WHERE ts_us < ?1 AND id NOT IN (SELECT alert_id FROM feedback)");
  Statement b(db_, "DELETE FROM blocks WHERE ts_ms < ?1");
  Statement u(db_, "DELETE FROM unblocks WHERE ts_ms < ?1");
  if (!a.ok() || !b.ok() || !u.ok()) {
    errors_.fetch_add(1);
    return;
  }
  a.bind(1, cutoff_ms * 1000).step();
  expired_rows_.fetch_add(static_cast<std::uint64_t>(sqlite3_changes(db_)));
  b.bind(1, cutoff_ms).step();
  expired_rows_.fetch_add(static_cast<std::uint64_t>(sqlite3_changes(db_)));
  u.bind(1, cutoff_ms).step();
  expired_rows_.fetch_add(static_cast<std::uint64_t>(sqlite3_changes(db_)));
}

void EventStore::write_batch(std::deque<Event>& batch) {
  Statement alert(
      db_,
      "INSERT INTO alerts (ts_us, flow_id, src_ip, src_port, dest_ip, dest_port, proto, class, score, "
      "threshold, action, enforcement, model, model_version, reason, eve, features, group_features, "
      "schema_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)");
  Statement block(db_,
                  "INSERT INTO blocks (ts_ms, address, reason, model_version, expires_ms, manual, outcome) "
                  "VALUES (?1,?2,?3,?4,?5,?6,?7)");
  Statement unblock(db_, "INSERT INTO unblocks (ts_ms, address, reason) VALUES (?1,?2,?3)");
  if (!alert.ok() || !block.ok() || !unblock.ok()) {
    errors_.fetch_add(batch.size());
    spdlog::warn("event store {}: {}", options_.path, sqlite3_errmsg(db_));
    return;
  }
  exec("BEGIN");
  std::uint64_t ok = 0;
  for (const Event& e : batch) {
    bool done = false;
    if (const auto* a = std::get_if<AlertEvent>(&e)) {
      // Features only with a schema that names them (and of its width); otherwise the row has none.
      const bool keep =
          schema_id_ != 0 && !a->features.empty() && a->features.size() == schema_.feature_names.size();
      std::size_t group_width = 0;
      for (const auto& g : schema_.groups) group_width += g.feature_names.size();
      const bool keep_groups = keep && !a->group_features.empty() && a->group_features.size() == group_width;
      alert.bind_blob(17, keep ? encode_floats(a->features) : std::string())
          .bind_blob(18, keep_groups ? encode_floats(a->group_features) : std::string());
      if (keep)
        alert.bind(19, schema_id_);
      else
        alert.bind_null(19);
      done = alert.bind(1, a->ts_us)
                 .bind(2, static_cast<std::int64_t>(a->flow_id))
                 .bind(3, a->src_ip)
                 .bind(4, std::int64_t{a->src_port})
                 .bind(5, a->dest_ip)
                 .bind(6, std::int64_t{a->dest_port})
                 .bind(7, a->proto)
                 .bind(8, a->predicted_class)
                 .bind(9, a->score)
                 .bind(10, a->threshold)
                 .bind(11, a->action)
                 .bind(12, a->enforcement)
                 .bind(13, a->model)
                 .bind(14, a->model_version)
                 .bind(15, a->reason)
                 .bind(16, a->eve_json)
                 .step();
    } else if (const auto* b = std::get_if<BlockEvent>(&e)) {
      done = block.bind(1, b->ts_ms)
                 .bind(2, b->address)
                 .bind(3, b->reason)
                 .bind(4, b->model_version)
                 .bind(5, b->expires_ms)
                 .bind(6, std::int64_t{b->manual ? 1 : 0})
                 .bind(7, b->outcome)
                 .step();
    } else if (const auto* u = std::get_if<UnblockEvent>(&e)) {
      done = unblock.bind(1, u->ts_ms).bind(2, u->address).bind(3, u->reason).step();
    }
    done ? ++ok : errors_.fetch_add(1);
  }
  exec("COMMIT");
  written_.fetch_add(ok);
}

void EventStore::run() {
  using clock = std::chrono::steady_clock;
  auto next_retention = clock::now() + std::chrono::hours(1);
  std::deque<Event> batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
    const bool stop_now = stopping_ && queue_.empty();
    while (!queue_.empty() && batch.size() < options_.batch_max) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    if (!batch.empty()) write_batch(batch);
    if (clock::now() >= next_retention) {
      apply_retention();
      next_retention = clock::now() + std::chrono::hours(1);
    }
    const auto n = batch.size();
    batch.clear();
    lock.lock();
    committed_ += n;
    if (queue_.empty()) idle_.notify_all();
    if (stop_now) break;
  }
  idle_.notify_all();
}

}  // namespace flowguard::capture::enforce
