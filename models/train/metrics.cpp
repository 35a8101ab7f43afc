#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace flowguard::train {

namespace {

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Rows sorted by descending score; returns the index order.
std::vector<std::size_t> by_score_desc(const std::vector<double>& score) {
  std::vector<std::size_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  return order;
}

// Cumulative (fp, tp) after each group of tied scores, highest score first.
struct Step {
  double threshold;
  double tp, fp;
};
std::vector<Step> steps(const std::vector<double>& score, const std::vector<bool>& positive) {
  const auto order = by_score_desc(score);
  std::vector<Step> out;
  double tp = 0, fp = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    (positive[order[i]] ? tp : fp) += 1;
    if (i + 1 == order.size() || score[order[i + 1]] != score[order[i]])
      out.push_back({score[order[i]], tp, fp});
  }
  return out;
}

std::vector<CurvePoint> thin(std::vector<CurvePoint> pts, std::size_t max_points) {
  if (pts.size() <= max_points) return pts;
  std::vector<CurvePoint> out;
  const double stride = static_cast<double>(pts.size() - 1) / static_cast<double>(max_points - 1);
  for (std::size_t i = 0; i < max_points; ++i)
    out.push_back(pts[static_cast<std::size_t>(std::round(static_cast<double>(i) * stride))]);
  return out;
}

}  // namespace

double roc_auc(const std::vector<double>& score, const std::vector<bool>& positive) {
  const double n_pos = static_cast<double>(std::count(positive.begin(), positive.end(), true));
  const double n_neg = static_cast<double>(positive.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) return 0.0;
  double auc = 0, prev_tp = 0, prev_fp = 0;
  for (const auto& s : steps(score, positive)) {
    auc += (s.fp - prev_fp) * (s.tp + prev_tp) / 2.0;  // trapezoid: ties count half
    prev_tp = s.tp;
    prev_fp = s.fp;
  }
  return auc / (n_pos * n_neg);
}

double average_precision(const std::vector<double>& score, const std::vector<bool>& positive) {
  const double n_pos = static_cast<double>(std::count(positive.begin(), positive.end(), true));
  if (n_pos == 0) return 0.0;
  double ap = 0, prev_recall = 0;
  for (const auto& s : steps(score, positive)) {
    const double recall = s.tp / n_pos;
    ap += (recall - prev_recall) * (s.tp / (s.tp + s.fp));
    prev_recall = recall;
  }
  return ap;
}

OperatingPoint operating_point(const std::vector<double>& score, const std::vector<bool>& positive,
                               double threshold) {
  double tp = 0, fp = 0, n_pos = 0, n_neg = 0;
  for (std::size_t i = 0; i < score.size(); ++i) {
    const bool hit = score[i] >= threshold;
    if (positive[i]) {
      ++n_pos;
      tp += hit;
    } else {
      ++n_neg;
      fp += hit;
    }
  }
  return {threshold, ratio(fp, n_neg), ratio(tp, n_pos)};
}

double threshold_for_fpr(const std::vector<double>& score, const std::vector<bool>& positive,
                         double target_fpr) {
  std::vector<double> neg;
  for (std::size_t i = 0; i < score.size(); ++i)
    if (!positive[i]) neg.push_back(score[i]);
  if (neg.empty()) return 0.5;
  std::sort(neg.begin(), neg.end(), std::greater<>());
  const auto allowed =
      static_cast<std::size_t>(std::floor(target_fpr * static_cast<double>(neg.size()) + 1e-9));
  if (allowed >= neg.size()) return 0.0;
  // Just above the (allowed+1)-th highest benign score: at most `allowed` benign rows reach it.
  return std::min(1.0, std::nextafter(neg[allowed], 2.0));
}

double threshold_for_recall(const std::vector<double>& score, const std::vector<bool>& positive,
                            double target_recall) {
  std::vector<double> pos;
  for (std::size_t i = 0; i < score.size(); ++i)
    if (positive[i]) pos.push_back(score[i]);
  if (pos.empty()) return 0.5;
  std::sort(pos.begin(), pos.end(), std::greater<>());
  auto needed = static_cast<std::size_t>(std::ceil(target_recall * static_cast<double>(pos.size()) - 1e-9));
  needed = std::clamp<std::size_t>(needed, 1, pos.size());
  return std::clamp(pos[needed - 1], 0.0, 1.0);
}

void fill_from_confusion(Evaluation& e) {
  const std::size_t k = e.class_names.size();
  e.per_class.assign(k, {});
  double total = 0, correct = 0;
  for (std::size_t t = 0; t < k; ++t)
    for (std::size_t p = 0; p < k; ++p) {
      total += static_cast<double>(e.confusion[t][p]);
      if (t == p) correct += static_cast<double>(e.confusion[t][p]);
    }
  e.rows = static_cast<std::size_t>(total);
  e.accuracy = ratio(correct, total);
  double macro = 0, weighted = 0, n_present = 0, major = 0, n_major = 0;
  for (std::size_t c = 0; c < k; ++c) {
    auto& m = e.per_class[c];
    m.name = e.class_names[c];
    for (std::size_t j = 0; j < k; ++j) {
      m.support += e.confusion[c][j];
      m.predicted += e.confusion[j][c];
    }
    const double tp = static_cast<double>(e.confusion[c][c]);
    m.precision = ratio(tp, static_cast<double>(m.predicted));
    m.recall = ratio(tp, static_cast<double>(m.support));
    m.f1 = ratio(2 * m.precision * m.recall, m.precision + m.recall);
    if (m.support > 0) {
      macro += m.f1;
      weighted += m.f1 * static_cast<double>(m.support);
      ++n_present;
      if (std::find(e.major_classes.begin(), e.major_classes.end(), m.name) != e.major_classes.end()) {
        major += m.f1;
        ++n_major;
      }
    }
  }
  e.macro_f1 = ratio(macro, n_present);
  e.weighted_f1 = ratio(weighted, total);
  e.macro_f1_major = ratio(major, n_major);
  const std::size_t b = e.benign;
  double benign_rows = 0, benign_flagged = 0, attack_rows = 0, attack_flagged = 0;
  for (std::size_t t = 0; t < k; ++t)
    for (std::size_t p = 0; p < k; ++p) {
      const double n = static_cast<double>(e.confusion[t][p]);
      if (t == b) {
        benign_rows += n;
        if (p != b) benign_flagged += n;
      } else {
        attack_rows += n;
        if (p != b) attack_flagged += n;
      }
    }
  e.benign_fpr = ratio(benign_flagged, benign_rows);
  e.attack_recall = ratio(attack_flagged, attack_rows);
}

Evaluation evaluate_predictions(const std::vector<std::string>& class_names, std::size_t benign,
                                const std::vector<std::int32_t>& y_true,
                                const std::vector<std::int32_t>& y_pred, const std::vector<double>& score,
                                const std::map<std::string, std::size_t>& class_flow_counts,
                                std::size_t major_min) {
  Evaluation e;
  e.class_names = class_names;
  e.benign = benign;
  e.major_min = major_min;
  for (const auto& [name, n] : class_flow_counts)
    if (n >= major_min && std::find(class_names.begin(), class_names.end(), name) != class_names.end())
      e.major_classes.push_back(name);
  const std::size_t k = class_names.size();
  e.confusion.assign(k, std::vector<std::size_t>(k, 0));
  std::vector<double> s;
  std::vector<bool> positive;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    if (y_true[i] < 0 || static_cast<std::size_t>(y_true[i]) >= k)
      continue;  // unknown labels: counted by the caller
    ++e.confusion[static_cast<std::size_t>(y_true[i])][static_cast<std::size_t>(y_pred[i])];
    s.push_back(score[i]);
    positive.push_back(static_cast<std::size_t>(y_true[i]) != benign);
  }
  fill_from_confusion(e);
  e.roc_auc = roc_auc(s, positive);
  e.pr_auc = average_precision(s, positive);
  const double n_pos = static_cast<double>(std::count(positive.begin(), positive.end(), true));
  const double n_neg = static_cast<double>(positive.size()) - n_pos;
  std::vector<CurvePoint> roc{{0, 0, 1}}, pr;
  for (const auto& st : steps(s, positive)) {
    roc.push_back({ratio(st.fp, n_neg), ratio(st.tp, n_pos), st.threshold});
    pr.push_back({ratio(st.tp, n_pos), ratio(st.tp, st.tp + st.fp), st.threshold});
  }
  e.roc = thin(std::move(roc), 400);
  e.pr = thin(std::move(pr), 400);
  return e;
}

}  // namespace flowguard::train
