#pragma once
// Shared checks for the tree-ensemble tests: the compiled TorchScript module against XGBoost's own
// predictions (margins, probabilities, approximate contributions) on given rows, and the rows that
// probe the edges: values exactly on every split threshold and one float step either side, NaN, +/-Inf,
// +/-FLT_MAX, -0.0 and denormals.

#include "train/trees.hpp"
#include "train/trees_xgboost.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace trees_fixtures {

struct Disagreement {
  double margin = 0, probability = 0, explain_vs_xgboost = 0, explain_sum = 0;  // worst (scaled) differences
  std::size_t class_mismatches = 0, rows = 0;
};

// Rows built from `base` (row-major, nf columns): for every internal node of every tree (up to
// `max_nodes`), a copy of a base row with the node's feature set to the threshold, and to the next float
// below and above; then rows of NaN, +/-Inf, +/-FLT_MAX, -0.0, denormals, and mixtures.
inline std::vector<float> edge_rows(const flowguard::train::TreeEnsemble& e, const std::vector<float>& base,
                                    std::size_t nf, std::size_t max_nodes = 3000) {
  std::vector<float> out;
  const std::size_t base_rows = base.size() / nf;
  std::size_t made = 0;
  for (const auto& t : e.trees) {
    for (std::size_t n = 0; n < t.left.size() && made < max_nodes; ++n) {
      if (t.is_leaf(n)) continue;
      const float thr = t.threshold[n];
      for (float v : {thr, std::nextafter(thr, -std::numeric_limits<float>::infinity()),
                      std::nextafter(thr, std::numeric_limits<float>::infinity())}) {
        const float* src = base.data() + (made % base_rows) * nf;
        std::vector<float> row(src, src + nf);
        row[static_cast<std::size_t>(t.feature[n])] = v;
        out.insert(out.end(), row.begin(), row.end());
      }
      ++made;
    }
  }
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float big = std::numeric_limits<float>::max(), tiny = std::numeric_limits<float>::denorm_min();
  for (float v : {nan, inf, -inf, big, -big, -0.0f, 0.0f, tiny, -tiny}) out.insert(out.end(), nf, v);
  for (std::size_t r = 0; r < 40; ++r) {
    const float* src = base.data() + (r % base_rows) * nf;
    std::vector<float> row(src, src + nf);
    for (std::size_t f = 0; f < nf; ++f) {
      const std::size_t k = (f + r) % 5;
      if (k == 0) row[f] = nan;
      if (k == 1 && r % 2) row[f] = r % 4 == 1 ? inf : -inf;
    }
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// Compares `module` with XGBoost (`model_json`) on `x`: margins within 1e-5 (relative beyond 1), the
// softmax probabilities within 1e-5 of XGBoost's, the same arg-max class, and explain() against XGBoost's
// approx_contribs (Saabas) for the predicted class; explain rows must sum to the margin.
inline Disagreement compare_with_xgboost(torch::jit::Module& module, const std::string& model_json,
                                         const std::vector<float>& x, std::size_t nf, std::size_t k) {
  Disagreement d;
  const std::size_t rows = x.size() / nf;
  d.rows = rows;
  using flowguard::train::XgbOutput;
  const auto margin = flowguard::train::xgboost_predict(model_json, x.data(), rows, nf, XgbOutput::kMargin);
  const auto proba =
      flowguard::train::xgboost_predict(model_json, x.data(), rows, nf, XgbOutput::kProbability);
  const auto contrib =
      flowguard::train::xgboost_predict(model_json, x.data(), rows, nf, XgbOutput::kApproxContributions);
  c10::InferenceMode guard;
  auto input =
      torch::from_blob(const_cast<float*>(x.data()),
                       {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(nf)}, torch::kFloat32);
  auto logits = module.forward({input}).toTensor().contiguous();
  auto p = torch::softmax(logits, 1).contiguous();
  auto cls = logits.argmax(1).contiguous();
  auto expl = module.get_method("explain")({input, cls}).toTensor().contiguous();
  const float* lg = logits.data_ptr<float>();
  const float* pp = p.data_ptr<float>();
  const float* ex = expl.data_ptr<float>();
  const std::int64_t* cc = cls.data_ptr<std::int64_t>();
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t ref_best = 0;
    for (std::size_t c = 0; c < k; ++c) {
      const double ref = margin[r * k + c];
      d.margin = std::max(d.margin, std::fabs(lg[r * k + c] - ref) / std::max(1.0, std::fabs(ref)));
      d.probability =
          std::max(d.probability, static_cast<double>(std::fabs(pp[r * k + c] - proba[r * k + c])));
      if (proba[r * k + c] > proba[r * k + ref_best]) ref_best = c;
    }
    const auto c = static_cast<std::size_t>(cc[r]);
    // Ties within float noise may pick either class; anything else is a real disagreement.
    if (c != ref_best && std::fabs(proba[r * k + c] - proba[r * k + ref_best]) > 1e-6) ++d.class_mismatches;
    double sum = 0;
    for (std::size_t f = 0; f <= nf; ++f) {
      const double got = ex[r * (nf + 1) + f], ref = contrib[(r * k + c) * (nf + 1) + f];
      sum += got;
      d.explain_vs_xgboost =
          std::max(d.explain_vs_xgboost, std::fabs(got - ref) / std::max(1.0, std::fabs(ref)));
    }
    const double m = lg[r * k + c];
    d.explain_sum = std::max(d.explain_sum, std::fabs(sum - m) / std::max(1.0, std::fabs(m)));
  }
  return d;
}

}  // namespace trees_fixtures
