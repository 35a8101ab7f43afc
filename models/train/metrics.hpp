#pragma once
// Classification metrics for flow classifiers: per-class precision/recall/F1, macro and weighted F1,
// accuracy, benign false-positive rate, and attack-vs-benign ROC/PR curves on score = 1 - p(benign).
// Pure C++ (no LibTorch) so the arithmetic is testable on hand-computed confusion matrices.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace flowguard::train {

struct ClassMetrics {
  std::string name;
  std::size_t support = 0;                   // true rows of this class
  std::size_t predicted = 0;                 // rows predicted as this class
  double precision = 0, recall = 0, f1 = 0;  // 0 when undefined (no predictions / no support)
};

struct CurvePoint {
  double x = 0, y = 0, threshold = 0;
};

struct OperatingPoint {
  double threshold = 0;
  double benign_fpr = 0;     // benign rows with score >= threshold / benign rows
  double attack_recall = 0;  // attack rows with score >= threshold / attack rows
};

struct Evaluation {
  std::vector<std::string> class_names;             // the model's classes (confusion matrix order)
  std::size_t benign = 0;                           // index of the benign class
  std::vector<std::vector<std::size_t>> confusion;  // [true][predicted]
  std::vector<ClassMetrics> per_class;
  std::size_t rows = 0;
  double accuracy = 0;
  double macro_f1 = 0;        // over classes with support > 0
  double weighted_f1 = 0;     // support-weighted
  double macro_f1_major = 0;  // over classes with >= major_min flows (counted in the whole data set)
  std::size_t major_min = 0;
  std::vector<std::string> major_classes;
  double benign_fpr = 0;        // argmax decision: benign rows predicted as any attack class
  double attack_recall = 0;     // argmax decision: attack rows predicted as any attack class
  double roc_auc = 0;           // attack vs benign on score = 1 - p(benign)
  double pr_auc = 0;            // average precision, attack is the positive class
  std::vector<CurvePoint> roc;  // x = FPR, y = TPR (thinned for plotting)
  std::vector<CurvePoint> pr;   // x = recall, y = precision (thinned for plotting)
  std::map<std::string, OperatingPoint> operating_points;  // "alert", "block" thresholds
  std::map<std::string, std::size_t> unknown_labels;       // labels the model has no class for (not scored)
};

// y_true: index into class_names; y_pred: argmax index; score: 1 - p(benign) per row.
// class_flow_counts: flows per class in the whole data set, used to pick the major classes.
Evaluation evaluate_predictions(const std::vector<std::string>& class_names, std::size_t benign,
                                const std::vector<std::int32_t>& y_true,
                                const std::vector<std::int32_t>& y_pred, const std::vector<double>& score,
                                const std::map<std::string, std::size_t>& class_flow_counts = {},
                                std::size_t major_min = 500);

// Metrics straight from a confusion matrix (rows = true class).
void fill_from_confusion(Evaluation& e);

// Area under the ROC curve with ties handled (equals the Mann-Whitney probability).
double roc_auc(const std::vector<double>& score, const std::vector<bool>& positive);
// Average precision: sum over positives in descending score of precision at that rank (ties grouped).
double average_precision(const std::vector<double>& score, const std::vector<bool>& positive);

OperatingPoint operating_point(const std::vector<double>& score, const std::vector<bool>& positive,
                               double threshold);

// Smallest threshold whose false-positive rate on the negatives is <= target_fpr.
double threshold_for_fpr(const std::vector<double>& score, const std::vector<bool>& positive,
                         double target_fpr);
// Largest threshold whose recall on the positives is >= target_recall.
double threshold_for_recall(const std::vector<double>& score, const std::vector<bool>& positive,
                            double target_recall);

}  // namespace flowguard::train
