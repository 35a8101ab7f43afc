// flowguard-train export-feedback and --extra-benign without LibTorch: the capture agent's real event
// store (flowguard_enforce) writes alerts and feedback; the export must read back, through the trainer's
// own loader, exactly the features stored, labelled BENIGN; mismatching names are refused by name.
#include "enforce/event_store.hpp"
#include "train/dataset.hpp"
#include "train/feedback.hpp"
#include "train/profiles.hpp"
#include "train_fixtures.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

using namespace flowguard::train;
namespace enforce = flowguard::capture::enforce;
using fixtures::TempDir;

namespace {

enforce::FeatureSchema corrected_schema(bool with_group) {
  enforce::FeatureSchema s;
  s.profile = "corrected";
  s.feature_names = corrected_features();
  if (with_group) s.groups.push_back({"host_context", {"hc_src_flows_1s", "hc_src_dst_ports_1s"}});
  return s;
}

enforce::AlertEvent alert(const std::string& src, std::uint16_t sport, std::vector<float> features,
                          std::vector<float> group = {}) {
  enforce::AlertEvent a;
  a.ts_us = 1'700'000'000'123'456;
  a.src_ip = src;
  a.src_port = sport;
  a.dest_ip = "10.0.0.9";
  a.dest_port = 8080;
  a.proto = "TCP";
  a.predicted_class = "PortScan";
  a.action = "alert";
  a.features = std::move(features);
  a.group_features = std::move(group);
  return a;
}

std::vector<float> ramp(float scale) {
  std::vector<float> v(corrected_features().size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>(i) + 0.125f;
  return v;
}

void mark(enforce::EventStore& store, std::int64_t id) {
  enforce::FeedbackRequest r;
  r.alert_id = id;
  r.note = "not an attack";
  REQUIRE(store.mark_false_positive(r));
}

// A store holding one alert (features ramp(1)) written under `schema`, marked when `marked`.
void store_one_alert(const std::string& db, const enforce::FeatureSchema& schema, bool marked) {
  enforce::EventStore store(enforce::EventStoreOptions{db, 0, 64, 8}, schema);
  REQUIRE(store.record(alert("10.0.0.5", 40001, ramp(1.f))));
  store.flush();
  if (marked) mark(store, 1);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("export-feedback writes marked flows as BENIGN rows the trainer's loader reads back exactly",
          "[feedback]") {
  TempDir dir;
  const std::string db = dir.file("events.db");
  auto odd = ramp(3.f);
  odd[5] = std::numeric_limits<float>::quiet_NaN();
  odd[6] = std::numeric_limits<float>::infinity();
  odd[7] = -1.5e-7f;
  {
    enforce::EventStore store(enforce::EventStoreOptions{db, 0, 64, 8}, corrected_schema(true));
    REQUIRE(store.record(alert("10.0.0.5", 40001, odd, {4.f, 9.f})));
    REQUIRE(store.record(alert("10.0.0.6", 40002, ramp(1.f), {1.f, 1.f})));  // not marked: not exported
    REQUIRE(store.record(alert("10.0.0.7", 40003, ramp(2.f), {2.f, 2.f})));
    store.flush();
    mark(store, 1);
    mark(store, 3);
  }
  ExportFeedbackOptions o;
  o.events = db;
  o.out = dir.file("fp.csv");
  std::ostringstream log;
  const auto r = export_feedback(o, log);
  CHECK(r.rows == 2);
  CHECK(r.profile == "corrected");
  CHECK(r.group_columns == std::vector<std::string>{"hc_src_flows_1s", "hc_src_dst_ports_1s"});
  CHECK(log.str().find(
            "exported 2 flow(s) marked BENIGN (profile corrected, 81 features + 2 group features)") !=
        std::string::npos);
  const std::string text = slurp(o.out);
  CHECK(text.find(",Total TCP Flow Time,hc_src_flows_1s,hc_src_dst_ports_1s,Label,Feedback Alert ID\n") !=
        std::string::npos);

  const Dataset d = load_dataset({o.out});
  REQUIRE(d.rows() == 2);
  CHECK(d.profile == "corrected");
  CHECK(d.class_names == std::vector<std::string>{"BENIGN"});
  CHECK(d.stats.rows_dropped_malformed == 0);
  const float* row = d.row(0);
  for (std::size_t i = 0; i < d.n_features(); ++i) {
    INFO("feature " << d.feature_names[i]);
    if (std::isnan(odd[i]))
      CHECK(std::isnan(row[i]));
    else
      CHECK(row[i] == odd[i]);  // bit-exact: float32 printed with 9 significant digits
  }
  CHECK(d.row(1)[10] == ramp(2.f)[10]);
  CHECK(std::abs(d.time[0] - 1'700'000'000.123456) < 1e-3);
}

TEST_CASE("export-feedback refuses a store whose feature names differ from the trainer's and names them",
          "[feedback]") {
  TempDir dir;
  const std::string db = dir.file("events.db");
  auto schema = corrected_schema(false);
  schema.feature_names[2] = "Total Bwd Packets (renamed)";
  store_one_alert(db, schema, true);
  ExportFeedbackOptions o;
  o.events = db;
  o.out = dir.file("fp.csv");
  std::ostringstream log;
  CHECK_THROWS_WITH(export_feedback(o, log),
                    Catch::Contains("feature names differ from this flowguard-train's: position 3: "
                                    "'Total Bwd Packets (renamed)' vs 'Total Bwd packets'"));
  o.profile = "cicids2017";
  CHECK_THROWS_WITH(export_feedback(o, log),
                    Catch::Contains("no alert marked BENIGN with stored features of profile 'cicids2017'"));
}

TEST_CASE("export-feedback explains an event store without feedback or without marked alerts", "[feedback]") {
  TempDir dir;
  ExportFeedbackOptions o;
  o.out = dir.file("fp.csv");
  std::ostringstream log;
  o.events = dir.file("old.db");
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(o.events.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "CREATE TABLE alerts (id INTEGER PRIMARY KEY)", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(raw);
  }
  CHECK_THROWS_WITH(export_feedback(o, log), Catch::Contains("has no feedback tables"));
  o.events = dir.file("events.db");
  store_one_alert(o.events, corrected_schema(false), false);
  CHECK_THROWS_WITH(export_feedback(o, log), Catch::Contains("no alert marked BENIGN with stored features"));
}

TEST_CASE("extra benign rows (train --extra-benign) join the training split repeated and are checked first",
          "[feedback]") {
  TempDir dir;
  const std::string db = dir.file("events.db");
  store_one_alert(db, corrected_schema(false), true);
  ExportFeedbackOptions o;
  o.events = db;
  o.out = dir.file("fp.csv");
  std::ostringstream log;
  export_feedback(o, log);
  const Dataset extra = load_dataset({o.out});

  std::mt19937_64 rng(1);
  {
    std::ofstream f(dir.file("train.csv"));
    f << fixtures::corrected_header() << "\n";
    for (int i = 0; i < 6; ++i)
      f << fixtures::corrected_row(i + 1, i % 2 ? "BENIGN" : "DoS", i % 2, rng, i) << "\n";
  }
  Dataset train = load_dataset({dir.file("train.csv")});
  const std::size_t before = train.rows();
  CHECK(add_extra_rows(train, extra, "BENIGN", 5) == 1);
  REQUIRE(train.rows() == before + 5);
  CHECK(train.x.size() == train.rows() * train.n_features());
  CHECK(train.class_names[static_cast<std::size_t>(train.y.back())] == "BENIGN");
  CHECK(train.row(train.rows() - 1)[3] == ramp(1.f)[3]);
  CHECK(train.ids.back() == "extra:1");

  CHECK_THROWS_WITH(add_extra_rows(train, extra, "DoS", 1),
                    Catch::Contains("extra row 1 is labelled 'BENIGN'; only 'DoS' rows may be added"));
  Dataset other = extra;
  other.feature_names[0] = "Duration";
  CHECK_THROWS_WITH(add_extra_rows(train, other, "BENIGN", 1),
                    Catch::Contains("position 1: 'Duration' vs 'Flow Duration'"));
}
