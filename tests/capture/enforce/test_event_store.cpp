#include "enforce/alert_writer.hpp"
#include "enforce/event_store.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <fstream>

using namespace flowguard::capture::enforce;
using namespace flowguard::capture::enforce::test;

namespace {

// A second, independent connection reads what the store committed.
class Reader {
 public:
  explicit Reader(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
  ~Reader() { sqlite3_close(db_); }
  std::vector<std::vector<std::string>> rows(const char* sql) {
    std::vector<std::vector<std::string>> out;
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }
  std::string one(const char* sql) {
    auto r = rows(sql);
    REQUIRE(r.size() == 1);
    return r[0][0];
  }
  void exec(const char* sql) { REQUIRE(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK); }

 private:
  sqlite3* db_ = nullptr;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AlertEvent alert(std::int64_t ts_us, const char* src) {
  AlertEvent a;
  a.ts_us = ts_us;
  a.flow_id = 7;
  a.src_ip = src;
  a.dest_ip = "10.0.0.9";
  a.src_port = 40000;
  a.dest_port = 80;
  a.proto = "TCP";
  a.predicted_class = "DDoS";
  a.score = 0.99;
  a.threshold = 0.9;
  a.action = "block";
  a.enforcement = "blocked";
  a.model = "cnn-lstm";
  a.model_version = "1";
  a.reason = "r";
  a.eve_json = R"({"event_type":"alert"})";
  return a;
}

}  // namespace

TEST_CASE("event store writes alerts, blocks and unblocks to a real SQLite file in WAL mode", "[store]") {
  TempDir dir;
  const std::string path = dir / "events.db";
  const std::int64_t t = now_ms();
  {
    EventStore store(EventStoreOptions{path, 30, 1024, 64});
    for (int i = 0; i < 200; ++i) REQUIRE(store.record(alert(t * 1000 + i, i % 2 ? "10.0.0.5" : "10.0.0.6")));
    REQUIRE(store.record(BlockEvent{t, "10.0.0.5", "DDoS", "1", t + 600'000, false, "blocked"}));
    REQUIRE(store.record(BlockEvent{t + 1, "2001:db8::7", "manual", "", t + 60'000, true, "dry-run"}));
    REQUIRE(store.record(UnblockEvent{t + 2, "10.0.0.5", "manual"}));
    store.flush();
    CHECK(store.written() == 203);
    CHECK(store.dropped() == 0);
    CHECK(store.write_errors() == 0);

    Reader r(path);  // while the writer is open: WAL lets readers in
    CHECK(r.one("PRAGMA journal_mode") == "wal");
    CHECK(r.one("SELECT COUNT(*) FROM alerts") == "200");
    CHECK(r.one("SELECT COUNT(*) FROM alerts WHERE src_ip = '10.0.0.5'") == "100");
    const auto a = r.rows(
        "SELECT src_ip, src_port, dest_ip, dest_port, proto, class, action, enforcement, eve "
        "FROM alerts ORDER BY ts_us LIMIT 1");
    CHECK(a[0] == std::vector<std::string>{"10.0.0.6", "40000", "10.0.0.9", "80", "TCP", "DDoS", "block",
                                           "blocked", R"({"event_type":"alert"})"});
    const auto b =
        r.rows("SELECT address, reason, manual, outcome, expires_ms - ts_ms FROM blocks ORDER BY ts_ms");
    REQUIRE(b.size() == 2);
    CHECK(b[0] == std::vector<std::string>{"10.0.0.5", "DDoS", "0", "blocked", "600000"});
    CHECK(b[1] == std::vector<std::string>{"2001:db8::7", "manual", "1", "dry-run", "59999"});
    CHECK(r.one("SELECT address || ' ' || reason FROM unblocks") == "10.0.0.5 manual");
    // Time and address lookups are indexed.
    const auto plan = r.rows("EXPLAIN QUERY PLAN SELECT * FROM blocks WHERE address = '10.0.0.5'");
    CHECK(plan.back().back().find("blocks_address") != std::string::npos);
    CHECK(r.rows("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_ts'").size() == 3);
  }
  // Reopening keeps the rows (schema creation is idempotent).
  EventStore again(EventStoreOptions{path, 30, 1024, 64});
  Reader r(path);
  CHECK(r.one("SELECT COUNT(*) FROM alerts") == "200");
}

TEST_CASE("event store retention deletes rows older than the setting at start", "[store]") {
  TempDir dir;
  const std::string path = dir / "events.db";
  const std::int64_t t = now_ms();
  const std::int64_t old = t - 10LL * 86'400'000;
  {
    EventStore store(EventStoreOptions{path, 0, 1024, 64});  // 0: keep everything
    store.record(alert(old * 1000, "10.0.0.1"));
    store.record(alert(t * 1000, "10.0.0.2"));
    store.record(BlockEvent{old, "10.0.0.1", "x", "", old + 1, false, "blocked"});
    store.record(UnblockEvent{old, "10.0.0.1", "expired"});
    store.record(UnblockEvent{t, "10.0.0.2", "expired"});
    store.flush();
  }
  {
    EventStore keep(EventStoreOptions{path, 30, 1024, 64});
    CHECK(keep.expired_rows() == 0);
  }
  EventStore store(EventStoreOptions{path, 7, 1024, 64});
  CHECK(store.expired_rows() == 3);
  Reader r(path);
  CHECK(r.one("SELECT group_concat(src_ip) FROM alerts") == "10.0.0.2");
  CHECK(r.one("SELECT COUNT(*) FROM blocks") == "0");
  CHECK(r.one("SELECT group_concat(address) FROM unblocks") == "10.0.0.2");
}

TEST_CASE("event store queue is bounded: events beyond it are dropped and counted", "[store]") {
  TempDir dir;
  EventStore store(EventStoreOptions{dir / "events.db", 30, 4, 2});
  // The writer drains concurrently, so a burst far beyond the capacity must drop some and keep the rest.
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) accepted += store.record(UnblockEvent{i, "10.0.0.1", "manual"}) ? 1 : 0;
  store.flush();
  CHECK(store.dropped() == static_cast<std::uint64_t>(5000 - accepted));
  CHECK(store.dropped() > 0);
  CHECK(store.written() == static_cast<std::uint64_t>(accepted));
  store.stop();
  CHECK_FALSE(store.record(UnblockEvent{1, "10.0.0.1", "manual"}));
  CHECK(store.dropped() == static_cast<std::uint64_t>(5000 - accepted) + 1);
}

TEST_CASE("event store refuses a path it cannot open", "[store]") {
  TempDir dir;
  CHECK_THROWS_WITH(EventStore(EventStoreOptions{dir / "missing/dir/events.db", 30, 16, 4}),
                    Catch::Contains("missing/dir/events.db"));
}

TEST_CASE("folded alerts are folded in EVE only: the event store keeps a row for every alert verdict",
          "[store][eve]") {
  TempDir dir;
  const std::string db = dir / "events.db";
  const std::string eve = dir / "eve.json";
  {
    EventStore store(EventStoreOptions{db, 0, 4096, 64});
    AlertWriter w(AlertWriterOptions{eve, false, 1.0, 16}, &store);
    flowguard::capture::FlowVerdict v = verdict("10.0.0.5", flowguard::capture::VerdictAction::alert, "DDoS");
    int emitted = 0;
    for (int i = 0; i < 50; ++i) {
      v.flow_id = static_cast<std::uint64_t>(i);
      v.last_ts_us = 1'700'000'000'000'000 + i * 1'000;
      emitted += w.emit(v, BlockOutcome::none, EnforceMode::dry_run) ? 1 : 0;
    }
    CHECK(emitted == 1);
    CHECK(w.suppressed() == 49);
    store.flush();
    Reader r(db);
    CHECK(r.one("SELECT COUNT(*) FROM alerts") == "50");
    CHECK(r.one("SELECT COUNT(DISTINCT flow_id) FROM alerts") == "50");
    CHECK(r.one("SELECT COUNT(*) FROM alerts WHERE eve = ''") == "49");  // folded out of the EVE file
  }
  std::ifstream in(eve);
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);) lines += line.empty() ? 0 : 1;
  CHECK(lines == 1);
}

TEST_CASE("block events carry the server's evidence, and an older database gains the columns", "[store]") {
  TempDir dir;
  const std::string path = dir / "old.db";
  {
    // The blocks table as versions before evidence-based blocking created it, with one row.
    Reader old(path);
    old.exec(
        "CREATE TABLE blocks (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, address TEXT NOT NULL, "
        "reason TEXT NOT NULL, model_version TEXT NOT NULL, expires_ms INTEGER NOT NULL, manual INTEGER NOT "
        "NULL, outcome TEXT NOT NULL)");
    old.exec("INSERT INTO blocks (ts_ms, address, reason, model_version, expires_ms, manual, outcome) "
             "VALUES (1, '10.0.0.1', 'PortScan', '1', 2, 0, 'blocked')");
  }
  {
    EventStore store(EventStoreOptions{path, 0, 64, 16});
    BlockEvent b{1000, "10.0.0.66", "DDoS", "1", 5000, false, "dry-run", {}};
    b.evidence.rule = "flood";
    b.evidence.flows = 40;
    b.evidence.classes = {"DDoS", "DoS Hulk"};
    b.evidence.level = 39.5f;
    b.evidence.max_score = 0.98f;
    b.evidence.window_start_us = 100;
    b.evidence.window_end_us = 900;
    b.evidence.offence = 3;
    b.evidence.block_seconds = 2400;
    REQUIRE(store.record(b));
    store.flush();
  }
  Reader r(path);
  const auto rows = r.rows(
      "SELECT address, rule, evidence_flows, evidence_classes, evidence_level, evidence_max_score, "
      "window_start_us, window_end_us, offence, block_seconds FROM blocks ORDER BY id");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"10.0.0.1", "", "0", "", "0.0", "0.0", "0", "0", "0", "0"});
  CHECK(rows[1][0] == "10.0.0.66");
  CHECK(rows[1][1] == "flood");
  CHECK(rows[1][2] == "40");
  CHECK(rows[1][3] == "DDoS,DoS Hulk");
  CHECK(std::stod(rows[1][4]) == Approx(39.5));
  CHECK(rows[1][6] == "100");
  CHECK(rows[1][7] == "900");
  CHECK(rows[1][8] == "3");
  CHECK(rows[1][9] == "2400");
}
