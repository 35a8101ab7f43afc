// flowguard-train without LibTorch: CSV layouts, odd values, splits, audit, metrics, report.
#include "train/audit.hpp"
#include "train/dataset.hpp"
#include "train/metrics.hpp"
#include "train/profiles.hpp"
#include "train/report.hpp"
#include "train/split.hpp"
#include "train_fixtures.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <set>

using namespace flowguard::train;
using fixtures::TempDir;

namespace {

// The original CIC-IDS2017 TrafficLabelling header: leading spaces, `Fwd Header Length` twice.
std::string traffic_labelling_header() {
  std::string h = "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp";
  bool second = false;
  for (auto f : cicids2017_features()) {
    if (f == "Fwd Header Length.1") f = "Fwd Header Length";
    (void)second;
    h += ", " + f;
  }
  return h + ", Label";
}

std::string original_row(const std::string& ts, const std::string& label, double duration, double fwd_hdr,
                         double fwd_hdr_again, const std::string& bytes_per_s) {
  std::string row = "1.2.3.4-5.6.7.8-1-2-6, 1.2.3.4, 1, 5.6.7.8, 2, 6, " + ts;
  for (const auto& f : cicids2017_features()) {
    std::string v = "1";
    if (f == "Flow Duration") v = std::to_string(duration);
    if (f == "Fwd Header Length") v = std::to_string(fwd_hdr);
    if (f == "Fwd Header Length.1") v = std::to_string(fwd_hdr_again);
    if (f == "Flow Bytes/s") v = bytes_per_s;
    row += ", " + v;
  }
  return row + ", " + label;
}

}  // namespace

TEST_CASE("profiles list the contract's feature names in order") {
  const auto& c = corrected_features();
  REQUIRE(c.size() == 81);
  CHECK(c.front() == "Flow Duration");
  CHECK(c[1] == "Total Fwd Packet");
  CHECK(c[2] == "Total Bwd packets");
  CHECK(c.back() == "Total TCP Flow Time");
  CHECK(std::find(c.begin(), c.end(), "FWD Init Win Bytes") != c.end());
  const auto& o = cicids2017_features();
  REQUIRE(o.size() == 77);
  CHECK(o.front() == "Flow Duration");
  CHECK(o.back() == "Idle Min");
  CHECK(std::count(o.begin(), o.end(), "Fwd Header Length") == 1);
  CHECK(std::count(o.begin(), o.end(), "Fwd Header Length.1") == 1);
  CHECK(nslkdd_features().size() == 38 + 3 + 70 + 11);
  CHECK(std::set<std::string>(c.begin(), c.end()).size() == c.size());
}

TEST_CASE("timestamps of both CIC layouts parse to epoch seconds") {
  CHECK(parse_timestamp("2017-07-06 12:39:06.818901") == Approx(1499344746.818901).epsilon(1e-12));
  CHECK(parse_timestamp("1970-01-01 00:00:00") == 0.0);
  CHECK(parse_timestamp("6/7/2017 12:39") == Approx(1499344740.0));  // d/m/y
  CHECK(parse_timestamp("6/7/2017 1:05:30 PM") == Approx(1499346330.0));
  CHECK(std::isnan(parse_timestamp("yesterday")));
  CHECK(std::isnan(parse_timestamp("2017-13-01 00:00:00")));
}

TEST_CASE("corrected layout: NaN, Infinity and negative durations are kept and counted, bad rows dropped") {
  TempDir dir;
  const auto path = dir.file("flows.csv");
  {
    std::mt19937_64 rng(1);
    std::ofstream out(path);
    out << fixtures::corrected_header() << "\n";
    out << fixtures::corrected_row(11, "BENIGN", 0, rng, 5) << "\n";
    // NaN and Infinity in `Flow Bytes/s` (column 14 of the features) and a negative duration.
    std::string row = fixtures::corrected_row(12, "DoS Hulk", 1, rng, 1);
    std::vector<std::string> cells;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= row.size(); ++i)
      if (i == row.size() || row[i] == ',') {
        cells.push_back(row.substr(start, i - start));
        start = i + 1;
      }
    cells[8] = "-5";             // Flow Duration
    cells[8 + 13] = "NaN";       // Flow Bytes/s
    cells[8 + 14] = "Infinity";  // Flow Packets/s
    std::string joined;
    for (std::size_t i = 0; i < cells.size(); ++i) joined += (i ? "," : "") + cells[i];
    out << joined << "\r\n";
    out << "13,short,row\n";  // malformed: wrong field count
    std::string text_row = fixtures::corrected_row(14, "BENIGN", 0, rng, 2);
    text_row.replace(text_row.find(".000000,") + 8, 1, "x");  // non-numeric feature
    out << text_row << "\n\n";
    out << fixtures::corrected_row(15, "BENIGN", 0, rng, 3) << "\n";
  }
  const Dataset d = load_dataset({path});
  CHECK(d.profile == "corrected");
  REQUIRE(d.rows() == 3);
  CHECK(d.stats.rows_read == 5);
  CHECK(d.stats.rows_dropped_malformed == 2);
  CHECK(d.stats.rows_with_nan == 1);
  CHECK(d.stats.rows_with_inf == 1);
  CHECK(d.stats.cells_nan == 1);
  CHECK(d.stats.cells_inf == 1);
  CHECK(d.stats.rows_negative_duration == 1);
  CHECK(d.ids == std::vector<std::string>{"11", "12", "15"});
  CHECK(d.class_names == std::vector<std::string>{"BENIGN", "DoS Hulk"});
  CHECK(d.y == std::vector<std::int32_t>{0, 1, 0});
  CHECK(d.row(1)[0] == -5.0f);
  CHECK(std::isnan(d.row(1)[13]));
  CHECK(std::isinf(d.row(1)[14]));
  CHECK(d.time[0] == Approx(parse_timestamp("2017-07-05 12:00:05")));
  CHECK(d.has_timestamps);
  CHECK(d.stats.notes.size() == 2);
}

TEST_CASE("original TrafficLabelling layout: leading spaces and the duplicate Fwd Header Length") {
  TempDir dir;
  const auto path = dir.file("Tuesday-WorkingHours.pcap_ISCX.csv");
  {
    std::ofstream out(path);
    out << traffic_labelling_header() << "\n";
    out << original_row("4/7/2017 8:55", "BENIGN", 100, 40, 41, "NaN") << "\n";
    out << original_row("4/7/2017 9:10", "FTP-Patator", 200, 60, 61, "Infinity") << "\n";
    out << original_row("4/7/2017 9:12", "FTP-Patator", -1, 60, 61, "12.5") << "\n";
  }
  const Dataset d = load_dataset({path});
  CHECK(d.profile == "cicids2017");
  REQUIRE(d.n_features() == 77);
  REQUIRE(d.rows() == 3);
  const auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(d.feature_names.begin(), d.feature_names.end(), name) -
                                    d.feature_names.begin());
  };
  CHECK(d.row(0)[col("Fwd Header Length")] == 40.0f);
  CHECK(d.row(0)[col("Fwd Header Length.1")] == 41.0f);
  CHECK(d.row(2)[col("Flow Bytes/s")] == 12.5f);
  CHECK(d.stats.rows_with_nan == 1);
  CHECK(d.stats.rows_with_inf == 1);
  CHECK(d.stats.rows_negative_duration == 1);
  CHECK(d.class_names == std::vector<std::string>{"BENIGN", "FTP-Patator"});
  CHECK(d.ids == std::vector<std::string>{"1", "2", "3"});  // no id column: data row numbers
  CHECK(d.time[1] - d.time[0] == Approx(15 * 60.0));
}

TEST_CASE("original MachineLearningCVE layout: no identifiers, starts with Destination Port") {
  TempDir dir;
  const auto path = dir.file("ml.csv");
  {
    std::ofstream out(path);
    std::string h = " Destination Port";
    for (auto f : cicids2017_features())
      h += ", " + (f == "Fwd Header Length.1" ? std::string("Fwd Header Length") : f);
    out << h << ", Label\n";
    for (int i = 0; i < 4; ++i) {
      std::string r = "80";
      for (std::size_t f = 0; f < 77; ++f) r += ", " + std::to_string(i * 100 + static_cast<int>(f));
      out << r << ", " << (i % 2 ? "DDoS" : "BENIGN") << "\n";
    }
  }
  const Dataset d = load_dataset({dir.path.string()});  // a directory works too
  CHECK(d.profile == "cicids2017");
  REQUIRE(d.rows() == 4);
  CHECK(d.row(3)[0] == 300.0f);  // Destination Port is not a feature: Flow Duration comes first
  CHECK(d.row(3)[76] == 376.0f);
  CHECK_FALSE(d.has_timestamps);
  const auto split = make_split(d, SplitKind::kTime, 1);
  CHECK(split.description.find("file order") != std::string::npos);
}

TEST_CASE("NSL-KDD: no header, categorical columns one-hot, unknown categories counted") {
  TempDir dir;
  const auto path = dir.file("KDDTest+.txt");
  {
    std::ofstream out(path);
    out << "0,tcp,http,SF,215,45076,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,0,"
           "0,"
           "0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,normal,21\n";
    out << "0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,511,511,0.00,0.00,0.00,0.00,1.00,0.00,0."
           "00,255,"
           "255,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,smurf,21\n";
    out << "2,udp,brand_new_service,SF,1,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,"
           "0.00,"
           "1,1,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,normal,15\n";
  }
  const Dataset d = load_dataset({path});
  CHECK(d.profile == "nsl-kdd");
  REQUIRE(d.rows() == 3);
  CHECK(d.n_features() == 122);
  const auto idx = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(d.feature_names.begin(), d.feature_names.end(), name) -
                                    d.feature_names.begin());
  };
  CHECK(d.row(0)[idx("protocol_type=tcp")] == 1.0f);
  CHECK(d.row(0)[idx("protocol_type=udp")] == 0.0f);
  CHECK(d.row(0)[idx("service=http")] == 1.0f);
  CHECK(d.row(1)[idx("service=ecr_i")] == 1.0f);
  CHECK(d.row(0)[idx("src_bytes")] == 215.0f);
  CHECK(d.row(0)[idx("dst_host_srv_rerror_rate")] == 0.0f);
  CHECK(d.row(1)[idx("dst_host_count")] == 255.0f);
  CHECK(d.stats.rows_unknown_category == 1);
  float service_sum = 0;
  for (const auto& v : nslkdd_columns()[2].categories) service_sum += d.row(2)[idx("service=" + v)];
  CHECK(service_sum == 0.0f);
  CHECK(d.class_names == std::vector<std::string>{"normal", "smurf"});
  CHECK(looks_benign("normal"));
}

TEST_CASE("loader errors name the file and the problem") {
  TempDir dir;
  CHECK_THROWS_WITH(load_dataset({dir.file("absent.csv")}), Catch::Contains("does not exist"));
  const auto a = dir.file("a.csv");
  std::ofstream(a) << "x,y,Label\n1,2,BENIGN\n";
  CHECK_THROWS_WITH(load_dataset({a}), Catch::Contains("unrecognised header"));
  const auto b = dir.file("b.csv");
  {
    std::ofstream out(b);
    std::string h = fixtures::corrected_header();
    h.replace(h.find("FWD Init Win Bytes"), 18, "Init Win Whatever");
    out << h << "\n";
  }
  CHECK_THROWS_WITH(load_dataset({b}, LoadOptions{"corrected", "Label", true}),
                    Catch::Contains("missing: `FWD Init Win Bytes`"));
  const auto c = dir.file("c.csv");
  {
    std::ofstream out(c);
    std::string h = fixtures::corrected_header();
    out << h.substr(0, h.find(",Label")) << "\n";
  }
  CHECK_THROWS_WITH(load_dataset({c}), Catch::Contains("no `Label` column"));
  LoadOptions unlabelled;
  unlabelled.require_labels = false;
  CHECK_NOTHROW(load_dataset({c}, unlabelled));
}

TEST_CASE("time split tests the latest flows of every class, random split is seeded and stratified") {
  TempDir dir;
  const auto path = dir.file("s.csv");
  fixtures::write_synthetic_csv(path, 100);
  const Dataset d = load_dataset({path});
  const auto t = make_split(d, SplitKind::kTime, 1);
  CHECK(t.train.size() == 210);
  CHECK(t.val.size() == 45);
  CHECK(t.test.size() == 45);
  for (std::size_t c = 0; c < 3; ++c) {
    double latest_train = -1, earliest_test = 1e300;
    for (auto r : t.train)
      if (d.y[r] == static_cast<int>(c)) latest_train = std::max(latest_train, d.time[r]);
    for (auto r : t.test)
      if (d.y[r] == static_cast<int>(c)) earliest_test = std::min(earliest_test, d.time[r]);
    CHECK(latest_train < earliest_test);
  }
  const auto r1 = make_split(d, SplitKind::kRandom, 5), r2 = make_split(d, SplitKind::kRandom, 5),
             r3 = make_split(d, SplitKind::kRandom, 6);
  CHECK(r1.test == r2.test);
  CHECK(r1.test != r3.test);
  CHECK(r1.test.size() == 45);
  // Tiny classes still reach validation and test.
  Dataset tiny = d;
  tiny.y.assign(d.rows(), 0);
  for (std::size_t i = 0; i < 8; ++i) tiny.y[i] = 1;
  const auto ts = make_split(tiny, SplitKind::kTime, 1);
  std::size_t tiny_test = 0;
  for (auto r : ts.test) tiny_test += tiny.y[r] == 1;
  CHECK(tiny_test == 1);
}

TEST_CASE("audit finds constant and duplicate columns, duplicate rows and train/test leakage") {
  Dataset d;
  d.profile = "test";
  d.feature_names = {"a", "b", "c", "d"};
  d.class_names = {"BENIGN", "X"};
  // a varies, b constant, c == a, d varies; rows 0 and 1 identical; row 4 duplicates row 0 with label X.
  const float rows[6][4] = {{1, 5, 1, 0}, {1, 5, 1, 0}, {2, 5, 2, NAN},
                            {3, 5, 3, 1}, {1, 5, 1, 0}, {4, 5, 4, INFINITY}};
  const std::int32_t labels[6] = {0, 0, 0, 1, 1, 1};
  for (int i = 0; i < 6; ++i) {
    d.x.insert(d.x.end(), rows[i], rows[i] + 4);
    d.y.push_back(labels[i]);
    d.ids.push_back(std::to_string(i));
    d.time.push_back(i);
    d.file_index.push_back(0);
  }
  Split s;
  s.train = {0, 2, 3};
  s.val = {1};
  s.test = {4, 5};
  const Audit a = audit_dataset(d, &s);
  CHECK(a.constant_columns == std::vector<std::string>{"b"});
  REQUIRE(a.duplicate_columns.size() == 1);
  CHECK(a.duplicate_columns[0] == std::make_pair(std::string("c"), std::string("a")));
  CHECK(a.duplicate_rows == 1);
  CHECK(a.conflicting_duplicate_rows == 1);
  CHECK(a.test_rows_seen_in_train == 1);
  CHECK(a.test_rows_seen_in_train_other_label == 1);
  CHECK(a.val_rows_seen_in_train == 1);
  CHECK(a.nan_by_column == std::vector<std::pair<std::string, std::size_t>>{{"d", 1}});
  CHECK(a.inf_by_column == std::vector<std::pair<std::string, std::size_t>>{{"d", 1}});
  CHECK(a.class_counts[0].second == std::array<std::size_t, 4>{3, 2, 1, 0});
  CHECK(format_audit(a).find("leakage: 1 test rows") != std::string::npos);
}

TEST_CASE("metrics from a hand-computed confusion matrix") {
  // true \ predicted   B   X   Y
  //   B               8   1   1
  //   X               2   6   2
  //   Y               0   0   5
  Evaluation e;
  e.class_names = {"B", "X", "Y"};
  e.benign = 0;
  e.confusion = {{8, 1, 1}, {2, 6, 2}, {0, 0, 5}};
  e.major_classes = {"B", "X"};
  fill_from_confusion(e);
  CHECK(e.rows == 25);
  CHECK(e.accuracy == Approx(19.0 / 25));
  // B: P = 8/10, R = 8/10, F1 = 0.8
  CHECK(e.per_class[0].precision == Approx(0.8));
  CHECK(e.per_class[0].recall == Approx(0.8));
  CHECK(e.per_class[0].f1 == Approx(0.8));
  // X: P = 6/7, R = 6/10, F1 = 2*(6/7)(0.6)/((6/7)+0.6) = 12/17
  CHECK(e.per_class[1].precision == Approx(6.0 / 7));
  CHECK(e.per_class[1].recall == Approx(0.6));
  CHECK(e.per_class[1].f1 == Approx(12.0 / 17));
  // Y: P = 5/8, R = 1, F1 = 10/13
  CHECK(e.per_class[2].f1 == Approx(10.0 / 13));
  CHECK(e.per_class[2].support == 5);
  CHECK(e.per_class[2].predicted == 8);
  CHECK(e.macro_f1 == Approx((0.8 + 12.0 / 17 + 10.0 / 13) / 3));
  CHECK(e.weighted_f1 == Approx((10 * 0.8 + 10 * 12.0 / 17 + 5 * 10.0 / 13) / 25));
  CHECK(e.macro_f1_major == Approx((0.8 + 12.0 / 17) / 2));
  CHECK(e.benign_fpr == Approx(0.2));           // 2 of 10 benign flagged
  CHECK(e.attack_recall == Approx(13.0 / 15));  // 2 of 15 attacks predicted benign
}

TEST_CASE("ROC-AUC, average precision and thresholds on known scores") {
  // Pairs (pos > neg): 0.9>0.8, 0.9>0.6, 0.7>0.6 but 0.7<0.8 -> AUC 3/4.
  const std::vector<double> s{0.9, 0.8, 0.7, 0.6};
  const std::vector<bool> p{true, false, true, false};
  CHECK(roc_auc(s, p) == Approx(0.75));
  CHECK(average_precision(s, p) == Approx(0.5 * 1.0 + 0.5 * 2.0 / 3.0));
  CHECK(roc_auc({0.5, 0.5}, {true, false}) == Approx(0.5));  // ties count half
  CHECK(roc_auc({0.1, 0.9}, {false, true}) == Approx(1.0));
  // 10 negatives at 0.0 .. 0.9; FPR <= 0.2 needs a threshold just above 0.7.
  std::vector<double> scores;
  std::vector<bool> pos;
  for (int i = 0; i < 10; ++i) {
    scores.push_back(i / 10.0);
    pos.push_back(false);
  }
  for (int i = 0; i < 4; ++i) {
    scores.push_back(0.55 + i * 0.1);  // positives 0.55 0.65 0.75 0.85
    pos.push_back(true);
  }
  const double t = threshold_for_fpr(scores, pos, 0.2);
  CHECK(t > 0.7);
  CHECK(t < 0.7001);
  const auto op = operating_point(scores, pos, t);
  CHECK(op.benign_fpr == Approx(0.2));
  CHECK(op.attack_recall == Approx(0.5));
  CHECK(threshold_for_recall(scores, pos, 0.75) == Approx(0.65));
  CHECK(operating_point(scores, pos, 0.65).attack_recall == Approx(0.75));

  const std::vector<std::int32_t> y_true{0, 0, 1, 1, 2}, y_pred{0, 1, 1, 1, 0};
  const auto e = evaluate_predictions({"BENIGN", "A", "B"}, 0, y_true, y_pred, {0.1, 0.6, 0.7, 0.9, 0.2},
                                      {{"BENIGN", 600}, {"A", 700}, {"B", 3}}, 500);
  CHECK(e.major_classes == std::vector<std::string>{"A", "BENIGN"});
  CHECK(e.benign_fpr == Approx(0.5));
  CHECK(e.roc_auc == Approx(5.0 / 6));  // positives 0.7,0.9,0.2 vs negatives 0.1,0.6: only 0.2<0.6 loses
  CHECK(e.roc.front().x == 0.0);
  CHECK(e.roc.back().x == Approx(1.0));
  CHECK(e.roc.back().y == Approx(1.0));
}

TEST_CASE("the HTML report is one self-contained file with tables and SVG plots") {
  Evaluation e;
  e.class_names = {"BENIGN", "DoS <Hulk>"};
  e.confusion = {{9, 1}, {2, 8}};
  fill_from_confusion(e);
  e.roc = {{0, 0, 1}, {0.1, 0.8, 0.5}, {1, 1, 0}};
  e.pr = {{0.5, 1, 0.9}, {1, 0.8, 0.1}};
  e.operating_points["alert"] = {0.5, 0.1, 0.8};
  Audit a;
  a.profile = "corrected";
  a.class_counts = {{"BENIGN", {10, 7, 2, 1}}};
  ReportInput in;
  in.title = "test report";
  in.command = "flowguard-train train --data x";
  in.audit = &a;
  in.evaluations = {{"test", &e}};
  in.history = {{1, 0.9, 0.8, 0.5, 1.0}, {2, 0.5, 0.6, 0.7, 1.0}};
  in.best_epoch = 2;
  const auto html = render_html(in);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("class=\"confusion\"") != std::string::npos);
  CHECK(html.find("ROC, attack vs benign") != std::string::npos);
  CHECK(html.find("Precision-recall") != std::string::npos);
  CHECK(html.find("Loss per epoch") != std::string::npos);
  CHECK(html.find("<table class=\"per-class\">") != std::string::npos);
  CHECK(html.find("<table class=\"summary\">") != std::string::npos);
  CHECK(html.find("<table class=\"audit\">") != std::string::npos);
  CHECK(html.find("DoS &lt;Hulk&gt;") != std::string::npos);  // escaped
  CHECK(html.find("DoS <Hulk>") == std::string::npos);
  std::size_t svgs = 0;
  for (auto p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  CHECK(svgs == 4);
  CHECK(html.find("src=\"http") == std::string::npos);  // no external assets
  CHECK(html.find("<script") == std::string::npos);
  const auto j = report_json(in);
  CHECK(j["evaluations"]["test"]["per_class"][1]["recall"].get<double>() == Approx(0.8));
  CHECK(j["history"].size() == 2);
}
