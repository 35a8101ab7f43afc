#pragma once
// The evaluation report: ONE self-contained HTML file (tables + inline SVG plots, no external assets)
// and the same numbers as JSON. Aggregate numbers only: no rows of the data ever appear in it.

#include "audit.hpp"
#include "metrics.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace flowguard::train {

struct ReportEpoch {
  int epoch = 0;
  double train_loss = 0, val_loss = 0, val_accuracy = 0, seconds = 0;
};

struct ReportInput {
  std::string title;
  std::string command;   // the command line that produced it
  nlohmann::json model;  // name, version, architecture, thresholds, sha256 ...
  const Audit* audit = nullptr;
  std::vector<std::pair<std::string, const Evaluation*>> evaluations;  // e.g. "test", "validation"
  std::vector<ReportEpoch> history;
  int best_epoch = 0;
  nlohmann::json extra = nlohmann::json::object();  // timings, notes
};

nlohmann::json evaluation_json(const Evaluation& e);
nlohmann::json audit_json(const Audit& a);
nlohmann::json report_json(const ReportInput& in);
std::string render_html(const ReportInput& in);

// SVG building blocks (exposed for tests).
std::string svg_confusion(const Evaluation& e);
std::string svg_curve(
    const std::string& title, const std::string& x_label, const std::string& y_label,
    const std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>& series, double x_max,
    double y_max);

std::string html_escape(const std::string& s);
void write_text_file(const std::string& path, const std::string& text);  // throws std::runtime_error

}  // namespace flowguard::train
