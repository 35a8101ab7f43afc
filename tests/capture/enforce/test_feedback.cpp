// Operator feedback in the event store: each alert keeps its flow's features, an operator marks alerts
// as false positives (by id or by blocked address), a database from before feature storage is migrated.
// Real SQLite files; a second connection reads what the store committed.
#include "enforce/enforcement.hpp"
#include "enforce/event_store.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <cstring>

using namespace flowguard::capture;
using namespace flowguard::capture::enforce;
using namespace flowguard::capture::enforce::test;
namespace v1 = flowguard::v1;

namespace {

class Reader {
 public:
  explicit Reader(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
  ~Reader() { sqlite3_close(db_); }
  std::string one(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out = "<no row>";
    if (sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    sqlite3_finalize(st);
    return out;
  }
  std::vector<float> floats(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::vector<float> out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB) {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, 0));
      const int n = sqlite3_column_bytes(st, 0);
      for (int i = 0; i + 4 <= n; i += 4) {
        const std::uint32_t u =
            p[i] | (p[i + 1] << 8) | (p[i + 2] << 16) | (static_cast<std::uint32_t>(p[i + 3]) << 24);
        float f;
        std::memcpy(&f, &u, 4);
        out.push_back(f);
      }
    }
    sqlite3_finalize(st);
    return out;
  }
  void exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }

 private:
  sqlite3* db_ = nullptr;
};

FeatureSchema schema3() {
  return FeatureSchema{"corrected",
                       {"Flow Duration", "Total Fwd Packet", "Flow Bytes/s"},
                       {{"host_context", {"hc_src_flows_1s", "hc_src_flows_10s"}}}};
}

EnforceOptions options(const TempDir& dir) {
  EnforceOptions o;
  o.mode = "dry-run";
  o.control_socket = "none";
  o.state_dir = "none";
  o.no_host_allowlist = true;
  o.quiet_alerts = true;
  o.alert_interval_s = 0;
  o.events_path = dir / "events.db";
  o.feature_schema = schema3();
  return o;
}

v1::ControlRequest mark(std::int64_t id, const char* address = "", const char* note = "",
                        const char* who = "") {
  v1::ControlRequest r;
  auto* m = r.mutable_mark_false_positive();
  m->set_alert_id(id);
  m->set_address(address);
  m->set_note(note);
  m->set_operator_(who);
  return r;
}

// The version-1 schema of the alerts table exactly as earlier agents created it.
constexpr const char* kOldAlerts = R"sql(
CREATE TABLE alerts (
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
INSERT INTO alerts VALUES (1, 1700000000000000, 5, '10.0.0.5', 40000, '10.0.0.9', 80, 'TCP', 'DDoS', 0.99, 0.9,
  'alert', 'none', 'm', '1', 'r', '{}');
)sql";

}  // namespace

TEST_CASE("alerts keep the flow's features and feature groups and a false positive is marked by id",
          "[feedback]") {
  TempDir dir;
  auto e = Enforcement::create(options(dir), "test");
  const std::vector<float> features{250000.f, 3.f, std::numeric_limits<float>::infinity()};
  const std::vector<float> group{4.f, 17.f};
  FlowVerdict v = verdict("10.0.0.5", VerdictAction::alert, "PortScan");
  v.features = features;
  v.group_features = group;
  e->on_verdict(v);
  FlowVerdict allow = verdict("10.0.0.6", VerdictAction::allow, "BENIGN");
  allow.features = features;
  e->on_verdict(allow);  // allow verdicts never reach the store
  FlowVerdict other = verdict("10.0.0.7", VerdictAction::block, "PortScan");
  other.features = features;  // no group values (an agent without host context): stored without them
  e->on_verdict(other);
  e->events()->flush();

  Reader r(dir / "events.db");
  CHECK(r.one("SELECT COUNT(*) FROM alerts") == "2");
  CHECK(r.floats("SELECT features FROM alerts WHERE src_ip = '10.0.0.5'") == features);
  CHECK(r.floats("SELECT group_features FROM alerts WHERE src_ip = '10.0.0.5'") == group);
  CHECK(r.one("SELECT group_features IS NULL FROM alerts WHERE src_ip = '10.0.0.7'") == "1");
  CHECK(r.one("SELECT profile || '|' || replace(feature_names, char(10), ',') || '|' || "
              "replace(replace(group_feature_names, char(10), ','), char(9), '/') FROM feature_schemas") ==
        "corrected|Flow Duration,Total Fwd Packet,Flow "
        "Bytes/s|host_context/hc_src_flows_1s,host_context/hc_src_flows_10s");
  CHECK(r.one("SELECT names_hash FROM feature_schemas") == feature_schema_hash(schema3()));
  FeatureSchema renamed = schema3();
  renamed.feature_names[2] = "Flow Packets/s";
  CHECK(feature_schema_hash(renamed) != feature_schema_hash(schema3()));
  CHECK(r.one("PRAGMA user_version") == "2");

  const std::string id = r.one("SELECT id FROM alerts WHERE src_ip = '10.0.0.5'");
  auto resp = e->handle_control(mark(std::stoll(id), "", "backup job", "alice"));
  REQUIRE(resp.ok());
  CHECK(resp.message() == "marked 1 alert(s) as false positive (BENIGN): " + id);
  CHECK(r.one("SELECT alert_id || '|' || label || '|' || note || '|' || operator FROM feedback") ==
        id + "|BENIGN|backup job|alice");
  CHECK(r.one("SELECT COUNT(*) FROM alerts") == "2");  // the alert stays

  // Again: nothing new, said so.
  resp = e->handle_control(mark(std::stoll(id)));
  REQUIRE(resp.ok());
  CHECK(resp.message() == "marked 0 alert(s) as false positive (BENIGN); already marked: " + id);
  CHECK(r.one("SELECT COUNT(*) FROM feedback") == "1");

  // An unknown id is a clear error; so is asking for nothing.
  resp = e->handle_control(mark(999));
  CHECK_FALSE(resp.ok());
  CHECK(resp.error() == "no alert with id 999 in the event store " + (dir / "events.db"));
  resp = e->handle_control(mark(0));
  CHECK_FALSE(resp.ok());
  CHECK(resp.error() == "give an alert id or an address (exactly one)");
  CHECK(r.one("SELECT COUNT(*) FROM feedback") == "1");
  CHECK(e->events()->feedback_rows() == 1);
}

TEST_CASE("mark-fp --block marks every alert from the blocked address and retention keeps them",
          "[feedback]") {
  TempDir dir;
  {
    auto o = options(dir);
    o.events_retention_days = 0;
    auto e = Enforcement::create(o, "test");
    const std::vector<float> features{1.f, 2.f, 3.f};
    for (int i = 0; i < 4; ++i) {
      FlowVerdict v = verdict(i < 3 ? "2001:db8::5" : "10.0.0.8", VerdictAction::alert, "PortScan");
      v.flow_id = static_cast<std::uint64_t>(i);
      v.last_ts_us = 1'000'000;  // packet time of 1970: older than any retention
      v.features = features;
      e->on_verdict(v);
    }
    e->events()->flush();
    // Any spelling of the address finds the stored canonical text.
    auto resp = e->handle_control(mark(0, "2001:DB8:0::5", "lab host"));
    REQUIRE(resp.ok());
    CHECK(resp.message() == "marked 3 alert(s) as false positive (BENIGN): 1,2,3");
    resp = e->handle_control(mark(0, "192.0.2.1"));
    CHECK_FALSE(resp.ok());
    CHECK(resp.error() == "no alert from 192.0.2.1 in the event store " + (dir / "events.db"));
    resp = e->handle_control(mark(0, "not-an-address"));
    CHECK_FALSE(resp.ok());
    CHECK(resp.error() == "'not-an-address' is not an IPv4 or IPv6 address");
  }
  // Reopened with 7-day retention: the unmarked old alert goes, the marked ones are training data.
  EventStore store(EventStoreOptions{dir / "events.db", 7, 16, 4});
  CHECK(store.expired_rows() == 1);
  Reader r(dir / "events.db");
  CHECK(r.one("SELECT group_concat(id) FROM alerts") == "1,2,3");
}

TEST_CASE(
    "an event store of an older agent is migrated in place and its old alerts are marked without features",
    "[feedback][migration]") {
  TempDir dir;
  const std::string path = dir / "events.db";
  {
    Reader old(path);
    old.exec(kOldAlerts);
  }
  {
    EventStore store(EventStoreOptions{path, 0, 16, 4}, schema3());
    CHECK(store.migrated());
    AlertEvent a;
    a.ts_us = 1;
    a.src_ip = "10.0.0.6";
    a.dest_ip = "10.0.0.9";
    a.proto = "TCP";
    a.features = {7.f, 8.f, 9.f};
    REQUIRE(store.record(a));
    store.flush();
    CHECK(store.write_errors() == 0);

    FeedbackRequest fr;
    fr.alert_id = 1;
    auto out = store.mark_false_positive(fr);
    REQUIRE(out);
    CHECK(out->marked == std::vector<std::int64_t>{1});
    CHECK(out->without_features == 1);
    fr.alert_id = 2;
    out = store.mark_false_positive(fr);
    REQUIRE(out);
    CHECK(out->without_features == 0);
  }
  Reader r(path);
  CHECK(r.one("PRAGMA user_version") == "2");
  CHECK(r.one("SELECT src_ip || ' ' || class FROM alerts WHERE id = 1") ==
        "10.0.0.5 DDoS");  // old row intact
  CHECK(r.one("SELECT features IS NULL FROM alerts WHERE id = 1") == "1");
  CHECK(r.floats("SELECT features FROM alerts WHERE id = 2") == std::vector<float>{7.f, 8.f, 9.f});
  CHECK(r.one("SELECT COUNT(*) FROM feedback") == "2");
  // Opening again migrates nothing more.
  EventStore again(EventStoreOptions{path, 0, 16, 4}, schema3());
  CHECK_FALSE(again.migrated());
}

TEST_CASE("mark-fp on an agent without an event store says how to get one", "[feedback]") {
  TempDir dir;
  auto o = options(dir);
  o.events_path.clear();
  auto e = Enforcement::create(o, "test");
  const auto resp = e->handle_control(mark(1));
  CHECK_FALSE(resp.ok());
  CHECK(resp.error() == "this agent keeps no event store (start it with --events FILE.db)");
}
