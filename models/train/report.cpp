#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flowguard::train {

using nlohmann::json;

namespace {

std::string fmt(double v, int digits = 4) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string pct(double v, int digits = 2) { return fmt(100.0 * v, digits) + "%"; }

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write '" + path + "'");
  out << text;
  if (!out) throw std::runtime_error("error writing '" + path + "'");
}

json evaluation_json(const Evaluation& e) {
  json j;
  j["rows"] = e.rows;
  j["accuracy"] = e.accuracy;
  j["macro_f1"] = e.macro_f1;
  j["weighted_f1"] = e.weighted_f1;
  j["macro_f1_major"] = e.macro_f1_major;
  j["major_min_flows"] = e.major_min;
  j["major_classes"] = e.major_classes;
  j["benign_fpr"] = e.benign_fpr;
  j["attack_recall"] = e.attack_recall;
  j["roc_auc"] = e.roc_auc;
  j["pr_auc"] = e.pr_auc;
  j["class_names"] = e.class_names;
  j["benign_class"] = e.class_names.empty() ? "" : e.class_names[e.benign];
  j["confusion"] = e.confusion;
  json per = json::array();
  for (const auto& m : e.per_class)
    per.push_back({{"class", m.name},
                   {"support", m.support},
                   {"predicted", m.predicted},
                   {"precision", m.precision},
                   {"recall", m.recall},
                   {"f1", m.f1}});
  j["per_class"] = per;
  json ops = json::object();
  for (const auto& [name, op] : e.operating_points)
    ops[name] = {
        {"threshold", op.threshold}, {"benign_fpr", op.benign_fpr}, {"attack_recall", op.attack_recall}};
  j["operating_points"] = ops;
  j["unknown_labels"] = e.unknown_labels;
  return j;
}

json audit_json(const Audit& a) {
  json j;
  j["profile"] = a.profile;
  j["files"] = a.files.size();
  j["rows_read"] = a.stats.rows_read;
  j["rows_kept"] = a.rows;
  j["rows_dropped_malformed"] = a.stats.rows_dropped_malformed;
  j["rows_with_nan"] = a.stats.rows_with_nan;
  j["rows_with_inf"] = a.stats.rows_with_inf;
  j["cells_nan"] = a.stats.cells_nan;
  j["cells_inf"] = a.stats.cells_inf;
  j["rows_negative_duration"] = a.stats.rows_negative_duration;
  j["rows_bad_timestamp"] = a.stats.rows_bad_timestamp;
  j["rows_unknown_category"] = a.stats.rows_unknown_category;
  j["split"] = a.split_description;
  json counts = json::array();
  for (const auto& [name, c] : a.class_counts)
    counts.push_back({{"class", name}, {"total", c[0]}, {"train", c[1]}, {"val", c[2]}, {"test", c[3]}});
  j["class_counts"] = counts;
  j["constant_columns"] = a.constant_columns;
  json dup = json::array();
  for (const auto& [c, of] : a.duplicate_columns) dup.push_back({{"column", c}, {"same_as", of}});
  j["duplicate_columns"] = dup;
  auto pairs = [](const std::vector<std::pair<std::string, std::size_t>>& v) {
    json o = json::object();
    for (const auto& [k, n] : v) o[k] = n;
    return o;
  };
  j["nan_by_column"] = pairs(a.nan_by_column);
  j["inf_by_column"] = pairs(a.inf_by_column);
  j["negative_by_column"] = pairs(a.negative_by_column);
  j["duplicate_rows_same_label"] = a.duplicate_rows;
  j["duplicate_rows_other_label"] = a.conflicting_duplicate_rows;
  j["test_rows_seen_in_train"] = a.test_rows_seen_in_train;
  j["test_rows_seen_in_train_other_label"] = a.test_rows_seen_in_train_other_label;
  j["val_rows_seen_in_train"] = a.val_rows_seen_in_train;
  return j;
}

json report_json(const ReportInput& in) {
  json j;
  j["title"] = in.title;
  j["command"] = in.command;
  j["model"] = in.model;
  if (in.audit) j["audit"] = audit_json(*in.audit);
  json evals = json::object();
  for (const auto& [name, e] : in.evaluations) evals[name] = evaluation_json(*e);
  j["evaluations"] = evals;
  json hist = json::array();
  for (const auto& h : in.history)
    hist.push_back({{"epoch", h.epoch},
                    {"train_loss", h.train_loss},
                    {"val_loss", h.val_loss},
                    {"val_accuracy", h.val_accuracy},
                    {"seconds", h.seconds}});
  j["history"] = hist;
  j["best_epoch"] = in.best_epoch;
  j["extra"] = in.extra;
  return j;
}

std::string svg_confusion(const Evaluation& e) {
  const std::size_t k = e.class_names.size();
  const int cell = 34, left = 200, top = 150;
  const int size = static_cast<int>(k) * cell;
  std::ostringstream s;
  s << "<svg class=\"confusion\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << left + size + 20
    << "\" height=\"" << top + size + 40 << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s << "<title>Confusion matrix (rows: true class, columns: predicted; colour: share of the true "
       "class)</title>\n";
  for (std::size_t t = 0; t < k; ++t) {
    double row_total = 0;
    for (std::size_t p = 0; p < k; ++p) row_total += static_cast<double>(e.confusion[t][p]);
    for (std::size_t p = 0; p < k; ++p) {
      const double share = row_total > 0 ? static_cast<double>(e.confusion[t][p]) / row_total : 0.0;
      const int x = left + static_cast<int>(p) * cell, y = top + static_cast<int>(t) * cell;
      // White to dark blue by row share; the diagonal is what we want to be dark.
      const int shade = static_cast<int>(255 - 200 * std::sqrt(share));
      s << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell << "\" height=\"" << cell
        << "\" fill=\"rgb(" << shade << "," << shade << ",255)\" stroke=\"#ccc\"/>";
      if (e.confusion[t][p] > 0)
        s << "<text x=\"" << x + cell / 2 << "\" y=\"" << y + cell / 2 + 4
          << "\" text-anchor=\"middle\" fill=\"" << (share > 0.5 ? "#fff" : "#000") << "\">"
          << e.confusion[t][p] << "</text>";
      s << "\n";
    }
    s << "<text x=\"" << left - 6 << "\" y=\"" << top + static_cast<int>(t) * cell + cell / 2 + 4
      << "\" text-anchor=\"end\">" << html_escape(e.class_names[t]) << "</text>\n";
    s << "<text transform=\"translate(" << left + static_cast<int>(t) * cell + cell / 2 + 4 << "," << top - 6
      << ") rotate(-60)\">" << html_escape(e.class_names[t]) << "</text>\n";
  }
  s << "<text x=\"" << left + size / 2 << "\" y=\"" << top + size + 25
    << "\" text-anchor=\"middle\">predicted</text>\n";
  s << "</svg>\n";
  return s.str();
}

std::string svg_curve(
    const std::string& title, const std::string& x_label, const std::string& y_label,
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series, double x_max,
    double y_max) {
  const int w = 420, h = 320, left = 55, right = 15, top = 30, bottom = 45;
  const int pw = w - left - right, ph = h - top - bottom;
  if (!(x_max > 0)) x_max = 1;
  if (!(y_max > 0)) y_max = 1;
  auto px = [&](double x) { return left + pw * std::clamp(x / x_max, 0.0, 1.0); };
  auto py = [&](double y) { return top + ph * (1.0 - std::clamp(y / y_max, 0.0, 1.0)); };
  std::ostringstream s;
  s << "<svg class=\"curve\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" << html_escape(title) << "</title>\n";
  s << "<text x=\"" << w / 2 << "\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">"
    << html_escape(title) << "</text>\n";
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double fx = x_max * i / 4.0, fy = y_max * i / 4.0;
    s << "<line x1=\"" << px(fx) << "\" y1=\"" << top << "\" x2=\"" << px(fx) << "\" y2=\"" << top + ph
      << "\" stroke=\"#eee\"/><text x=\"" << px(fx) << "\" y=\"" << top + ph + 14
      << "\" text-anchor=\"middle\">" << fmt(fx, x_max >= 10 ? 0 : 2) << "</text>\n";
    s << "<line x1=\"" << left << "\" y1=\"" << py(fy) << "\" x2=\"" << left + pw << "\" y2=\"" << py(fy)
      << "\" stroke=\"#eee\"/><text x=\"" << left - 4 << "\" y=\"" << py(fy) + 4 << "\" text-anchor=\"end\">"
      << fmt(fy, 2) << "</text>\n";
  }
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << h - 8 << "\" text-anchor=\"middle\">"
    << html_escape(x_label) << "</text>\n<text transform=\"translate(14," << top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << html_escape(y_label) << "</text>\n";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* colour = kPalette[i % std::size(kPalette)];
    s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.8\" points=\"";
    for (const auto& [x, y] : series[i].second) s << fmt(px(x), 1) << "," << fmt(py(y), 1) << " ";
    s << "\"/>\n<text x=\"" << left + pw - 6 << "\" y=\"" << top + 14 + 14 * static_cast<int>(i)
      << "\" text-anchor=\"end\" fill=\"" << colour << "\">" << html_escape(series[i].first) << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string render_html(const ReportInput& in) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << html_escape(in.title)
    << "</title>\n<style>body{font-family:sans-serif;margin:24px;max-width:1200px;color:#222}"
       "table{border-collapse:collapse;margin:8px 0 18px}td,th{border:1px solid #ccc;padding:3px 8px;"
       "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
       ".plots{display:flex;flex-wrap:wrap;gap:16px}code{background:#f5f5f5;padding:1px 4px}"
       ".note{color:#555;font-size:90%}</style></head><body>\n";
  h << "<h1>" << html_escape(in.title) << "</h1>\n";
  if (!in.command.empty()) h << "<p>Command: <code>" << html_escape(in.command) << "</code></p>\n";
  if (!in.model.is_null() && !in.model.empty()) {
    h << "<h2>Model</h2>\n<table class=\"model\">";
    for (const auto& [k, v] : in.model.items())
      h << "<tr><th>" << html_escape(k) << "</th><td>"
        << html_escape(v.is_string() ? v.get<std::string>() : v.dump()) << "</td></tr>";
    h << "</table>\n";
  }
  // Summary table over all evaluations.
  h << "<h2>Summary</h2>\n<table "
       "class=\"summary\"><tr><th>set</th><th>rows</th><th>accuracy</th><th>macro-F1</th>"
       "<th>macro-F1 (major classes)</th><th>weighted-F1</th><th>benign FPR</th><th>attack recall</th>"
       "<th>ROC-AUC</th><th>PR-AUC</th></tr>\n";
  for (const auto& [name, e] : in.evaluations)
    h << "<tr><td>" << html_escape(name) << "</td><td>" << e->rows << "</td><td>" << fmt(e->accuracy)
      << "</td><td>" << fmt(e->macro_f1) << "</td><td>" << fmt(e->macro_f1_major) << "</td><td>"
      << fmt(e->weighted_f1) << "</td><td>" << pct(e->benign_fpr) << "</td><td>" << pct(e->attack_recall)
      << "</td><td>" << fmt(e->roc_auc) << "</td><td>" << fmt(e->pr_auc) << "</td></tr>\n";
  h << "</table>\n<p class=\"note\">Predictions are the argmax class. Benign FPR: benign flows predicted as "
       "any "
       "attack class. Major classes: classes with at least "
    << (in.evaluations.empty() ? 500 : in.evaluations.front().second->major_min)
    << " flows in the loaded data. ROC/PR: attack vs benign on score = 1 - p(benign); PR-AUC is average "
       "precision. Thresholds (alert/block) apply the inference server's rule: an attack class predicted "
       "with "
       "probability &ge; threshold; they were tuned on the validation split only. Class sizes are sampled, "
       "not "
       "real base rates.</p>\n";

  for (const auto& [name, e] : in.evaluations) {
    h << "<h2>" << html_escape(name) << "</h2>\n";
    if (!e->operating_points.empty()) {
      h << "<table class=\"thresholds\"><tr><th>threshold</th><th>score &ge;</th><th>benign FPR</th>"
           "<th>attack recall</th></tr>";
      for (const auto& [tn, op] : e->operating_points)
        h << "<tr><td>" << html_escape(tn) << "</td><td>" << fmt(op.threshold, 6) << "</td><td>"
          << pct(op.benign_fpr) << "</td><td>" << pct(op.attack_recall) << "</td></tr>";
      h << "</table>\n";
    }
    h << "<table class=\"per-class\"><tr><th>class</th><th>support</th><th>predicted</th><th>precision</th>"
         "<th>recall</th><th>F1</th><th>major</th></tr>\n";
    for (const auto& m : e->per_class) {
      const bool major =
          std::find(e->major_classes.begin(), e->major_classes.end(), m.name) != e->major_classes.end();
      h << "<tr><td>" << html_escape(m.name) << "</td><td>" << m.support << "</td><td>" << m.predicted
        << "</td><td>" << fmt(m.precision) << "</td><td>" << fmt(m.recall) << "</td><td>" << fmt(m.f1)
        << "</td><td>" << (major ? "yes" : "no") << "</td></tr>\n";
    }
    h << "</table>\n";
    if (!e->unknown_labels.empty()) {
      h << "<p>Labels the model has no class for (not scored):";
      for (const auto& [l, n] : e->unknown_labels) h << " " << html_escape(l) << " (" << n << ")";
      h << "</p>\n";
    }
    std::vector<std::pair<double, double>> roc, pr;
    for (const auto& p : e->roc) roc.emplace_back(p.x, p.y);
    for (const auto& p : e->pr) pr.emplace_back(p.x, p.y);
    h << "<div class=\"plots\">\n"
      << svg_confusion(*e)
      << svg_curve("ROC, attack vs benign (AUC " + fmt(e->roc_auc) + ")", "benign false-positive rate",
                   "attack true-positive rate", {{"ROC", roc}}, 1.0, 1.0)
      << svg_curve("Precision-recall, attack vs benign (AP " + fmt(e->pr_auc) + ")", "recall", "precision",
                   {{"PR", pr}}, 1.0, 1.0)
      << "</div>\n";
  }
  if (!in.history.empty()) {
    std::vector<std::pair<double, double>> tr, va;
    double y_max = 0;
    for (const auto& e : in.history) {
      tr.emplace_back(e.epoch, e.train_loss);
      va.emplace_back(e.epoch, e.val_loss);
      y_max = std::max({y_max, e.train_loss, e.val_loss});
    }
    h << "<h2>Training</h2>\n<div class=\"plots\">"
      << svg_curve("Loss per epoch (best epoch " + std::to_string(in.best_epoch) + ")", "epoch",
                   "class-weighted cross-entropy", {{"training", tr}, {"validation", va}},
                   static_cast<double>(in.history.back().epoch), y_max * 1.05)
      << "</div>\n<table class=\"history\"><tr><th>epoch</th><th>train loss</th><th>val loss</th><th>val "
         "accuracy</th>"
         "<th>seconds</th></tr>\n";
    for (const auto& e : in.history)
      h << "<tr><td>" << e.epoch << (e.epoch == in.best_epoch ? " (best)" : "") << "</td><td>"
        << fmt(e.train_loss) << "</td><td>" << fmt(e.val_loss) << "</td><td>" << fmt(e.val_accuracy)
        << "</td><td>" << fmt(e.seconds, 1) << "</td></tr>\n";
    h << "</table>\n";
  }
  if (in.audit) {
    const auto& a = *in.audit;
    h << "<h2>Data audit</h2>\n<table class=\"audit\">"
      << "<tr><th>profile</th><td>" << html_escape(a.profile) << "</td></tr>"
      << "<tr><th>files</th><td>" << a.files.size() << "</td></tr>"
      << "<tr><th>rows read / kept</th><td>" << a.stats.rows_read << " / " << a.rows << "</td></tr>"
      << "<tr><th>rows dropped (malformed)</th><td>" << a.stats.rows_dropped_malformed << "</td></tr>"
      << "<tr><th>rows with NaN (kept, NaN&rarr;0 in the model)</th><td>" << a.stats.rows_with_nan << " ("
      << a.stats.cells_nan << " cells)</td></tr>"
      << "<tr><th>rows with &plusmn;Inf (kept, mapped to &plusmn;FLT_MAX)</th><td>" << a.stats.rows_with_inf
      << " (" << a.stats.cells_inf << " cells)</td></tr>"
      << "<tr><th>rows with negative duration (kept)</th><td>" << a.stats.rows_negative_duration
      << "</td></tr>"
      << "<tr><th>rows with unparsable Timestamp</th><td>" << a.stats.rows_bad_timestamp << "</td></tr>"
      << "<tr><th>exact duplicate rows (same / other label)</th><td>" << a.duplicate_rows << " / "
      << a.conflicting_duplicate_rows << "</td></tr>"
      << "<tr><th>test rows identical to a training row (other label)</th><td>" << a.test_rows_seen_in_train
      << " (" << a.test_rows_seen_in_train_other_label << ")</td></tr>"
      << "<tr><th>validation rows identical to a training row</th><td>" << a.val_rows_seen_in_train
      << "</td></tr>"
      << "<tr><th>split</th><td>" << html_escape(a.split_description) << "</td></tr></table>\n";
    h << "<table "
         "class=\"class-counts\"><tr><th>class</th><th>total</th><th>train</th><th>val</th><th>test</th></"
         "tr>\n";
    for (const auto& [name, c] : a.class_counts)
      h << "<tr><td>" << html_escape(name) << "</td><td>" << c[0] << "</td><td>" << c[1] << "</td><td>"
        << c[2] << "</td><td>" << c[3] << "</td></tr>\n";
    h << "</table>\n<p>Constant columns (" << a.constant_columns.size() << "): ";
    for (const auto& c : a.constant_columns) h << "<code>" << html_escape(c) << "</code> ";
    h << "</p>\n<p>Duplicate columns (" << a.duplicate_columns.size() << "): ";
    for (const auto& [c, of] : a.duplicate_columns)
      h << "<code>" << html_escape(c) << "</code> = <code>" << html_escape(of) << "</code>; ";
    h << "</p>\n<table "
         "class=\"odd-values\"><tr><th>column</th><th>NaN</th><th>Inf</th><th>negative</th></tr>\n";
    std::vector<std::string> cols;
    for (const auto* v : {&a.nan_by_column, &a.inf_by_column, &a.negative_by_column})
      for (const auto& [c, n] : *v)
        if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    auto count = [](const std::vector<std::pair<std::string, std::size_t>>& v, const std::string& c) {
      for (const auto& [k, n] : v)
        if (k == c) return n;
      return std::size_t{0};
    };
    for (const auto& c : cols)
      h << "<tr><td>" << html_escape(c) << "</td><td>" << count(a.nan_by_column, c) << "</td><td>"
        << count(a.inf_by_column, c) << "</td><td>" << count(a.negative_by_column, c) << "</td></tr>\n";
    h << "</table>\n";
  }
  if (!in.extra.empty()) h << "<h2>Run</h2>\n<pre>" << html_escape(in.extra.dump(2)) << "</pre>\n";
  h << "</body></html>\n";
  return h.str();
}

}  // namespace flowguard::train
