#pragma once
// Training tree ensembles with XGBoost (C API, Debian libxgboost-dev) and asking XGBoost for its own
// predictions. Only flowguard-train and its tests link XGBoost; the server serves the compiled
// TorchScript module (trees.hpp) and never does.

#include "dataset.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::train {

struct TreeParams {
  std::string arch = "gbdt";  // gbdt: boosted rounds; rf: one round of `trees` parallel trees
  int trees = 0;              // gbdt: maximum boosting rounds (0: 300); rf: forest size (0: 100)
  int max_depth = 0;          // 0: 6 for gbdt, 10 for rf
  double eta = 0.3;           // gbdt learning rate (rf uses 1, averaging its trees)
  int early_stopping = 20;    // gbdt: rounds without validation-loss improvement before stopping
  double subsample = 0.8;     // rf: rows per tree; gbdt: 1 (all rows)
  double colsample = 0.8;     // rf: features per split (colsample_bynode)
  int threads = 1;
  std::uint64_t seed = 1;
  bool progress = false;
};

struct TreeRound {
  int round = 0;  // 1-based
  double train_loss = 0, val_loss = 0, val_accuracy = 0, seconds = 0;
};

struct TreeTrainResult {
  std::string model_json;  // XGBoost's JSON model, already cut to the best round
  std::vector<TreeRound> history;
  int best_round = 0;  // rounds kept (gbdt) / 1 (rf)
  double seconds = 0;
};

// Multi-class (multi:softprob, hist). Rows are weighted by `sample_weight_per_class[y]` on both
// splits, so validation loss is the training objective. +/-Inf features reach XGBoost as +/-FLT_MAX
// (XGBoost refuses Inf), NaN as missing. Throws std::runtime_error with XGBoost's message on failure.
TreeTrainResult train_xgboost(const Dataset& train, const Dataset& val, const TreeParams& params,
                              const std::vector<double>& sample_weight_per_class);

enum class XgbOutput { kProbability, kMargin, kApproxContributions, kContributions };
// XGBoost's own prediction for `rows` raw rows (Inf mapped as above). Shapes: probability and margin
// [rows x classes]; contributions [rows x classes x (features + 1)], bias last.
std::vector<float> xgboost_predict(const std::string& model_json, const float* x, std::size_t rows,
                                   std::size_t n_features, XgbOutput what, int threads = 1);

}  // namespace flowguard::train
