#include "enforce/event_store.hpp"

#include "common/error.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
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
  eve TEXT NOT NULL);
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
)sql";

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
  bool step() {
    const int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return rc == SQLITE_DONE;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

EventStore::EventStore(EventStoreOptions options) : options_(std::move(options)) {
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
  apply_retention();
  writer_ = std::thread([this] { run(); });
}

EventStore::~EventStore() { stop(); }

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
  Statement a(db_, "DELETE FROM alerts WHERE ts_us < ?1");
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
      "threshold, action, enforcement, model, model_version, reason, eve) "
      "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)");
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
