#include "commands.hpp"

#include "audit.hpp"
#include "bundle/bundle.hpp"
#include "feedback.hpp"
#include "profiles.hpp"
#include "report.hpp"
#include "split.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <ostream>
#include <stdexcept>

namespace flowguard::train {

using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Scored {
  std::vector<std::int32_t> predicted;  // argmax class
  std::vector<double> score;            // 1 - p(benign): ranks attack vs benign (ROC/PR)
  std::vector<double> confidence;       // p(predicted class): the inference server's verdict score
  std::vector<double> decision;         // confidence when an attack class is predicted, else 0: the server
                                        // alerts/blocks when this reaches the alert/block threshold
};

Scored score_rows(const std::vector<float>& proba, std::size_t n_classes, std::size_t benign) {
  Scored s;
  const std::size_t rows = n_classes ? proba.size() / n_classes : 0;
  s.predicted.resize(rows);
  s.score.resize(rows);
  s.confidence.resize(rows);
  s.decision.resize(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const float* p = proba.data() + i * n_classes;
    const auto pred = static_cast<std::size_t>(std::max_element(p, p + n_classes) - p);
    s.predicted[i] = static_cast<std::int32_t>(pred);
    s.score[i] = std::clamp(1.0 - static_cast<double>(p[benign]), 0.0, 1.0);
    s.confidence[i] = static_cast<double>(p[pred]);
    s.decision[i] = pred == benign ? 0.0 : s.confidence[i];
  }
  return s;
}

std::map<std::string, std::size_t> class_counts(const Dataset& data) {
  std::map<std::string, std::size_t> counts;
  for (auto y : data.y)
    if (y >= 0) ++counts[data.class_names[static_cast<std::size_t>(y)]];
  return counts;
}

std::vector<bool> attack_mask(const std::vector<std::int32_t>& y, std::size_t benign) {
  std::vector<bool> m;
  for (auto v : y) m.push_back(v >= 0 && static_cast<std::size_t>(v) != benign);
  return m;
}

std::size_t pick_benign(const std::vector<std::string>& classes, const std::string& requested) {
  for (std::size_t i = 0; i < classes.size(); ++i)
    if (requested.empty() ? looks_benign(classes[i]) : classes[i] == requested) return i;
  throw std::runtime_error(requested.empty()
                               ? "no benign class (BENIGN or normal) among the labels; name one with --benign"
                               : "benign class '" + requested + "' is not among the labels");
}

void add_operating_points(Evaluation& e, const std::vector<double>& score, const std::vector<std::int32_t>& y,
                          double alert, double block) {
  std::vector<double> s;
  std::vector<bool> pos;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0) continue;
    s.push_back(score[i]);
    pos.push_back(static_cast<std::size_t>(y[i]) != e.benign);
  }
  e.operating_points["alert"] = operating_point(s, pos, alert);
  e.operating_points["block"] = operating_point(s, pos, block);
}

void print_summary(std::ostream& log, const std::string& name, const Evaluation& e) {
  char line[400];
  std::snprintf(line, sizeof line,
                "%s: rows %zu  accuracy %.4f  macro-F1 %.4f  macro-F1(>=%zu flows) %.4f  weighted-F1 %.4f  "
                "benign FPR %.3f%%  attack recall %.3f%%  ROC-AUC %.4f  PR-AUC %.4f\n",
                name.c_str(), e.rows, e.accuracy, e.macro_f1, e.major_min, e.macro_f1_major, e.weighted_f1,
                100 * e.benign_fpr, 100 * e.attack_recall, e.roc_auc, e.pr_auc);
  log << line;
  for (const auto& m : e.per_class) {
    std::snprintf(line, sizeof line, "    %-32s support %6zu  precision %.4f  recall %.4f  F1 %.4f\n",
                  m.name.c_str(), m.support, m.precision, m.recall, m.f1);
    log << line;
  }
  for (const auto& [n, op] : e.operating_points) {
    std::snprintf(line, sizeof line,
                  "    threshold %-6s score >= %.6f: benign FPR %.3f%%, attack recall %.3f%%\n", n.c_str(),
                  op.threshold, 100 * op.benign_fpr, 100 * op.attack_recall);
    log << line;
  }
}

json summary_json(const Evaluation& e) {
  return {{"rows", e.rows},
          {"accuracy", e.accuracy},
          {"macro_f1", e.macro_f1},
          {"macro_f1_major", e.macro_f1_major},
          {"weighted_f1", e.weighted_f1},
          {"benign_fpr", e.benign_fpr},
          {"attack_recall", e.attack_recall},
          {"roc_auc", e.roc_auc},
          {"pr_auc", e.pr_auc}};
}

std::vector<ReportEpoch> report_history(const std::vector<EpochLog>& h) {
  std::vector<ReportEpoch> out;
  for (const auto& e : h) out.push_back({e.epoch, e.train_loss, e.val_loss, e.val_accuracy, e.seconds});
  return out;
}

void write_outputs(const ReportInput& in, const std::string& html_path, const std::string& json_path,
                   std::ostream& log) {
  if (!html_path.empty()) {
    write_text_file(html_path, render_html(in));
    log << "report written to " << html_path << "\n";
  }
  if (!json_path.empty()) {
    write_text_file(json_path, report_json(in).dump(2) + "\n");
    log << "metrics written to " << json_path << "\n";
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// Loads data for an existing model: the profile comes from the manifest and the features must match.
Dataset load_for_model(const models::Manifest& manifest, const std::vector<std::string>& paths,
                       bool require_labels) {
  LoadOptions lo;
  lo.require_labels = require_labels;
  if (profile_features(manifest.feature_profile) != nullptr) lo.profile = manifest.feature_profile;
  Dataset data = load_dataset(paths, lo);
  if (data.feature_names != manifest.feature_names)
    throw std::runtime_error("the model's " + std::to_string(manifest.feature_names.size()) +
                             " feature names (profile '" + manifest.feature_profile +
                             "') differ from the data's " + std::to_string(data.feature_names.size()) +
                             " (profile '" + data.profile + "')");
  return data;
}

}  // namespace

TrainOutcome run_train(const TrainOptions& o, std::ostream& log) {
  const auto t0 = std::chrono::steady_clock::now();
  use_single_thread();
  TrainOutcome out;
  LoadOptions lo;
  lo.profile = o.profile;
  Dataset data = load_dataset(o.data, lo);
  out.load_seconds = seconds_since(t0);
  log << "loaded " << data.rows() << " rows from " << data.files.size() << " file(s) in " << out.load_seconds
      << " s (profile " << data.profile << ", " << data.n_features() << " features, "
      << data.class_names.size() << " classes)\n";
  if (data.class_names.size() < 2)
    throw std::runtime_error("training needs at least two classes; the data has " +
                             std::to_string(data.class_names.size()));
  const std::size_t benign = pick_benign(data.class_names, o.benign);
  const auto kind = parse_split_kind(o.split);
  const Split split = make_split(data, kind, o.config.seed);
  const Audit audit = audit_dataset(data, &split);
  log << format_audit(audit) << std::flush;
  Dataset train = subset(data, split.train);
  const Dataset val = subset(data, split.val), test = subset(data, split.test);
  std::size_t extra_rows = 0;
  if (!o.extra_benign.empty()) {
    // Operator feedback: flows marked false positive, training split only (docs/training.md).
    LoadOptions elo;
    elo.profile = data.profile;
    const Dataset extra = load_dataset(o.extra_benign, elo);
    extra_rows = add_extra_rows(train, extra, data.class_names[benign], o.extra_benign_repeat);
    log << "added " << extra_rows << " operator-feedback row(s) labelled " << data.class_names[benign]
        << " x " << o.extra_benign_repeat << " to the training split (--extra-benign)\n";
  }

  log << "training " << o.config.arch << " on " << train.rows() << " rows, validating on " << val.rows()
      << ", testing on " << test.rows() << " (seed " << o.config.seed << ")" << std::endl;
  out.trained = train_model(train, val, o.config);
  log << "trained in " << out.trained.seconds << " s, best "
      << (is_tree_arch(o.config.arch) ? "round " : "epoch ") << out.trained.best_epoch << " of "
      << out.trained.history.size() << "\n";
  if (is_tree_arch(o.config.arch)) {
    const auto& c = out.trained.compiled;
    log << "compiled " << c.trees_compiled << " of " << c.trees_total << " trees (" << c.trees_folded
        << " lone leaves folded into the bias), depth " << c.depth << ", strategy " << to_string(c.strategy)
        << "; margins match XGBoost within " << out.trained.compile_max_abs_diff << "\n";
  }

  const auto counts = class_counts(data);
  const std::size_t k = data.class_names.size();
  const auto val_scored = score_rows(predict_proba(out.trained.module, val), k, benign);
  const auto test_proba = predict_proba(out.trained.module, test);
  const auto test_scored = score_rows(test_proba, k, benign);
  out.validation = evaluate_predictions(data.class_names, benign, val.y, val_scored.predicted,
                                        val_scored.score, counts, o.major_min);
  out.test = evaluate_predictions(data.class_names, benign, test.y, test_scored.predicted, test_scored.score,
                                  counts, o.major_min);

  // Thresholds from the validation split only: block where benign FPR <= target, alert where attack
  // recall >= target (never above block).
  const auto val_pos = attack_mask(val.y, benign);
  // Tuned on the server's decision score (docs/inference.md): an attack class predicted with
  // probability >= threshold. A threshold never goes below kMinThreshold, so a benign prediction
  // (decision 0) is never flagged.
  constexpr double kMinThreshold = 1e-3;
  const double block = std::max(kMinThreshold, threshold_for_fpr(val_scored.decision, val_pos, o.target_fpr));
  const double alert =
      std::clamp(threshold_for_recall(val_scored.decision, val_pos, o.target_recall), kMinThreshold, block);
  add_operating_points(out.validation, val_scored.decision, val.y, alert, block);
  add_operating_points(out.test, test_scored.decision, test.y, alert, block);
  print_summary(log, "validation", out.validation);
  print_summary(log, "test", out.test);

  models::Manifest m;
  m.name = o.name;
  m.version = o.version;
  m.architecture = o.config.arch;
  m.feature_profile = data.profile;
  m.feature_names = data.feature_names;
  const bool trees = is_tree_arch(o.config.arch);
  if (trees) {
    // Trees compare raw values: no scaling (docs/training.md, "Tree ensembles").
    m.scaling.kind = "none";
    m.scaling.applied = "module";
  } else {
    m.scaling.kind = "standard";
    m.scaling.applied = "module";
    m.scaling.transform = kTransform;
    m.scaling.center = out.trained.scaler.center;
    m.scaling.scale = out.trained.scaler.scale;
  }
  m.class_names = data.class_names;
  m.benign_class = data.class_names[benign];
  m.thresholds.alert = alert;
  m.thresholds.block = block;
  char tuned[160];
  std::snprintf(tuned, sizeof tuned,
                "block: benign FPR <= %g, alert: attack recall >= %g, on the validation split", o.target_fpr,
                o.target_recall);
  m.thresholds.tuned_for = tuned;
  m.created_at = utc_now_iso();
  json training;
  training["command"] = o.command_line;
  training["data"] = o.data;
  training["files"] = data.files.size();
  training["rows"] = {{"train", train.rows()}, {"val", val.rows()}, {"test", test.rows()}};
  training["split"] = {{"kind", o.split}, {"seed", o.config.seed}, {"description", split.description}};
  if (!o.extra_benign.empty())
    training["extra_benign"] = {
        {"files", o.extra_benign}, {"rows", extra_rows}, {"repeat", o.extra_benign_repeat}};
  if (trees) {
    const auto& c = out.trained.compiled;
    training["input_pipeline"] =
        "float32; +/-Inf -> +/-FLT_MAX; NaN = missing (XGBoost default direction); x < threshold goes left";
    training["config"] = {{"trees", o.config.trees},
                          {"max_depth", o.config.max_depth},
                          {"eta", o.config.eta},
                          {"early_stopping", o.config.early_stopping},
                          {"threads", o.config.threads},
                          {"class_weighting", o.config.class_weighting},
                          {"benign_weight", o.config.benign_weight},
                          {"tree_strategy", o.config.tree_strategy}};
    training["compiled"] = {{"strategy", to_string(c.strategy)},
                            {"trees", c.trees_total},
                            {"trees_compiled", c.trees_compiled},
                            {"trees_folded_into_bias", c.trees_folded},
                            {"depth", c.depth},
                            {"node_slots", c.nodes},
                            {"max_abs_margin_diff_vs_xgboost", out.trained.compile_max_abs_diff},
                            {"explain", "saabas"}};
  } else {
    training["input_pipeline"] =
        "nan_to_num(NaN->0, +/-Inf->+/-FLT_MAX) -> sign(x)*log1p(|x|) -> (x-center)/scale -> clamp(-20,20)";
    training["config"] = {{"epochs", o.config.epochs},
                          {"patience", o.config.patience},
                          {"batch_size", o.config.batch_size},
                          {"learning_rate", o.config.learning_rate},
                          {"dropout", o.config.dropout},
                          {"class_weighting", o.config.class_weighting},
                          {"benign_weight", o.config.benign_weight}};
  }
  training["class_weights"] = out.trained.class_weights;
  training["best_epoch"] = out.trained.best_epoch;
  training["epochs_run"] = out.trained.history.size();
  training["train_seconds"] = out.trained.seconds;
  training["test"] = summary_json(out.test);
  training["validation"] = summary_json(out.validation);
  m.training_json = training.dump();
  models::save_bundle(out.trained.module, m, o.out);

  // The file is what ships: reload it and check it reproduces the trained module.
  auto bundle = models::load_bundle(o.out);
  {
    c10::InferenceMode guard;
    models::validate_bundle(bundle, {1, 16});
  }
  const auto reloaded = predict_proba(bundle.module, test);
  for (std::size_t i = 0; i < reloaded.size(); ++i)
    out.export_max_abs_diff =
        std::max(out.export_max_abs_diff, static_cast<double>(std::fabs(reloaded[i] - test_proba[i])));
  log << "saved " << o.out << " (" << bundle.file_bytes << " bytes, sha256 " << bundle.sha256.substr(0, 16)
      << "...); reloaded bundle matches the trained module within " << out.export_max_abs_diff << "\n";
  out.total_seconds = seconds_since(t0);

  ReportInput in;
  in.title =
      "flowguard-train: " + o.name + " " + o.version + " (" + o.config.arch + ", " + o.split + " split)";
  in.command = o.command_line;
  in.model = {{"name", m.name},
              {"version", m.version},
              {"architecture", m.architecture},
              {"feature_profile", m.feature_profile},
              {"features", m.feature_names.size()},
              {"classes", m.class_names.size()},
              {"benign_class", m.benign_class},
              {"alert_threshold", alert},
              {"block_threshold", block},
              {"thresholds_tuned_for", m.thresholds.tuned_for},
              {"file", o.out},
              {"bytes", bundle.file_bytes},
              {"sha256", bundle.sha256}};
  in.audit = &audit;
  in.evaluations = {{"test (" + o.split + " split)", &out.test}, {"validation", &out.validation}};
  in.history = report_history(out.trained.history);
  in.best_epoch = out.trained.best_epoch;
  in.extra = {{"load_seconds", out.load_seconds},        {"train_seconds", out.trained.seconds},
              {"total_seconds", out.total_seconds},      {"export_max_abs_diff", out.export_max_abs_diff},
              {"threads", trees ? o.config.threads : 1}, {"class_weights", out.trained.class_weights}};
  if (trees) {
    in.extra["tree_strategy"] = to_string(out.trained.compiled.strategy);
    in.extra["trees_compiled"] = out.trained.compiled.trees_compiled;
    in.extra["tree_depth"] = out.trained.compiled.depth;
    in.extra["max_abs_margin_diff_vs_xgboost"] = out.trained.compile_max_abs_diff;
  }
  write_outputs(in, o.report, o.json, log);
  return out;
}

Evaluation run_evaluate(const EvaluateOptions& o, std::ostream& log) {
  use_single_thread();
  auto bundle = models::load_bundle(o.model);
  const auto& man = bundle.manifest;
  Dataset data = load_for_model(man, o.data, /*require_labels=*/true);
  const auto counts = class_counts(data);
  std::vector<std::size_t> rows;
  std::string subset_note = "all rows";
  if (o.subset == "all") {
    rows.resize(data.rows());
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  } else {
    const Split split = make_split(data, parse_split_kind(o.split), o.seed);
    if (o.subset == "train")
      rows = split.train;
    else if (o.subset == "val")
      rows = split.val;
    else if (o.subset == "test")
      rows = split.test;
    else
      throw std::invalid_argument("unknown subset '" + o.subset + "' (use all, train, val or test)");
    subset_note = o.subset + " rows of the " + split.description;
  }
  const Dataset part = subset(data, rows);
  // Match classes by name; rows whose label the model does not know are counted, not scored.
  const std::size_t benign = *man.benign_index();
  std::vector<std::int32_t> y(part.rows(), -1);
  std::map<std::string, std::size_t> unknown;
  for (std::size_t i = 0; i < part.rows(); ++i) {
    const auto& label = part.class_names[static_cast<std::size_t>(part.y[i])];
    const auto it = std::find(man.class_names.begin(), man.class_names.end(), label);
    if (it == man.class_names.end()) {
      ++unknown[label];
    } else {
      y[i] = static_cast<std::int32_t>(it - man.class_names.begin());
    }
  }
  const auto scored = score_rows(predict_proba(bundle.module, part), man.class_names.size(), benign);
  Evaluation e =
      evaluate_predictions(man.class_names, benign, y, scored.predicted, scored.score, counts, o.major_min);
  e.unknown_labels = unknown;
  add_operating_points(e, scored.decision, y, man.thresholds.alert, man.thresholds.block);
  log << "evaluated " << o.model << " (" << man.name << " " << man.version << ") on " << subset_note << "\n";
  print_summary(log, o.subset, e);
  for (const auto& [label, n] : unknown)
    log << "    unknown label '" << label << "': " << n << " rows not scored\n";

  ReportInput in;
  in.title = "flowguard-train evaluate: " + man.name + " " + man.version;
  in.command = o.command_line;
  in.model = {{"name", man.name},
              {"version", man.version},
              {"architecture", man.architecture},
              {"feature_profile", man.feature_profile},
              {"classes", man.class_names.size()},
              {"alert_threshold", man.thresholds.alert},
              {"block_threshold", man.thresholds.block},
              {"file", o.model},
              {"sha256", bundle.sha256},
              {"evaluated_on", subset_note},
              {"data", join(o.data)}};
  Audit audit = audit_dataset(part, nullptr);
  audit.stats = data.stats;  // what was read and dropped refers to the whole input
  audit.split_description = subset_note;
  in.audit = &audit;
  in.evaluations = {{o.subset, &e}};
  write_outputs(in, o.report, o.json, log);
  return e;
}

std::size_t run_predict(const PredictOptions& o, std::ostream& log) {
  use_single_thread();
  auto bundle = models::load_bundle(o.model);
  const auto& man = bundle.manifest;
  Dataset data = load_for_model(man, o.data, /*require_labels=*/false);
  const std::size_t benign = *man.benign_index();
  const auto scored = score_rows(predict_proba(bundle.module, data), man.class_names.size(), benign);
  std::ofstream out(o.out, std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write '" + o.out + "'");
  // score = probability of the predicted class, exactly the inference server's verdict score.
  out << "id,predicted,score\n";
  char score[32];
  for (std::size_t i = 0; i < data.rows(); ++i) {
    std::snprintf(score, sizeof score, "%.6f", scored.confidence[i]);
    const auto& cls = man.class_names[static_cast<std::size_t>(scored.predicted[i])];
    const bool quote = cls.find(',') != std::string::npos || data.ids[i].find(',') != std::string::npos;
    if (quote)
      out << '"' << data.ids[i] << "\",\"" << cls << "\"," << score << "\n";
    else
      out << data.ids[i] << ',' << cls << ',' << score << "\n";
  }
  if (!out) throw std::runtime_error("error writing '" + o.out + "'");
  log << "wrote " << data.rows() << " predictions to " << o.out << " (" << data.stats.rows_dropped_malformed
      << " malformed input rows skipped)\n";
  return data.rows();
}

}  // namespace flowguard::train
