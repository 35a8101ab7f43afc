#include "trees_xgboost.hpp"

#include <xgboost/c_api.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>

namespace flowguard::train {

namespace {

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("XGBoost ") + what + ": " + XGBGetLastError());
}

// Owns one XGBoost handle (DMatrixHandle and BoosterHandle are both void*; the free function tells
// them apart).
template <int (*Free)(void*)>
struct Handle {
  void* h = nullptr;
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (h) Free(h);
  }
};
using DMatrix = Handle<XGDMatrixFree>;
using Booster = Handle<XGBoosterFree>;

// XGBoost refuses +/-Inf in a DMatrix ("Input data contains `inf`"); the compiled module maps them to
// +/-FLT_MAX before its comparisons, so give XGBoost exactly that. NaN stays NaN: missing.
std::vector<float> xgboost_input(const float* x, std::size_t n) {
  std::vector<float> out(x, x + n);
  for (auto& v : out)
    if (std::isinf(v)) v = v > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
  return out;
}

void make_dmatrix(DMatrix& d, const float* x, std::size_t rows, std::size_t nf) {
  const auto clean = xgboost_input(x, rows * nf);
  check(XGDMatrixCreateFromMat(clean.data(), static_cast<bst_ulong>(rows), static_cast<bst_ulong>(nf),
                               std::numeric_limits<float>::quiet_NaN(), &d.h),
        "DMatrix");
}

void make_labelled(DMatrix& d, const Dataset& data, const std::vector<double>& class_weight) {
  make_dmatrix(d, data.x.data(), data.rows(), data.n_features());
  std::vector<float> label(data.rows()), weight(data.rows());
  for (std::size_t i = 0; i < data.rows(); ++i) {
    label[i] = static_cast<float>(data.y[i]);
    weight[i] = static_cast<float>(class_weight.at(static_cast<std::size_t>(data.y[i])));
  }
  check(XGDMatrixSetFloatInfo(d.h, "label", label.data(), static_cast<bst_ulong>(label.size())), "labels");
  check(XGDMatrixSetFloatInfo(d.h, "weight", weight.data(), static_cast<bst_ulong>(weight.size())),
        "weights");
}

void set(Booster& b, const char* name, const std::string& value) {
  check(XGBoosterSetParam(b.h, name, value.c_str()), name);
}

// "[3]\ttrain-mlogloss:0.1\ttrain-merror:0.02\tval-mlogloss:0.2\tval-merror:0.03"
double metric(const std::string& line, const std::string& key) {
  const auto p = line.find(key + ":");
  if (p == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(line.c_str() + p + key.size() + 1, nullptr);
}

std::string save_json(BoosterHandle h) {
  bst_ulong len = 0;
  const char* buf = nullptr;
  check(XGBoosterSaveModelToBuffer(h, R"({"format": "json"})", &len, &buf), "save model");
  return std::string(buf, len);
}

}  // namespace

TreeTrainResult train_xgboost(const Dataset& train, const Dataset& val, const TreeParams& p,
                              const std::vector<double>& class_weight) {
  if (p.arch != "gbdt" && p.arch != "rf") throw std::invalid_argument("tree arch must be gbdt or rf");
  const auto t0 = std::chrono::steady_clock::now();
  const bool rf = p.arch == "rf";
  const int rounds = rf ? 1 : (p.trees > 0 ? p.trees : 300);
  const int forest = rf ? (p.trees > 0 ? p.trees : 100) : 1;
  const int depth = p.max_depth > 0 ? p.max_depth : (rf ? 10 : 6);

  DMatrix dtrain, dval;
  make_labelled(dtrain, train, class_weight);
  const bool have_val = val.rows() > 0;
  if (have_val) make_labelled(dval, val, class_weight);
  DMatrixHandle cache[2] = {dtrain.h, dval.h};
  Booster b;
  check(XGBoosterCreate(cache, have_val ? 2 : 1, &b.h), "create booster");
  set(b, "objective", "multi:softprob");
  set(b, "num_class", std::to_string(train.class_names.size()));
  set(b, "tree_method", "hist");
  set(b, "max_depth", std::to_string(depth));
  set(b, "nthread", std::to_string(std::max(1, p.threads)));
  set(b, "seed", std::to_string(p.seed));
  set(b, "eval_metric", "mlogloss");
  set(b, "eval_metric", "merror");
  set(b, "verbosity", "1");
  if (rf) {
    // XGBoost's random-forest mode: one round of `forest` trees on bootstrap-like row and per-split
    // feature samples, learning rate 1 (XGBoost averages the parallel trees' leaf values).
    set(b, "num_parallel_tree", std::to_string(forest));
    set(b, "learning_rate", "1");
    set(b, "subsample", std::to_string(p.subsample));
    set(b, "colsample_bynode", std::to_string(p.colsample));
  } else {
    set(b, "learning_rate", std::to_string(p.eta));
  }

  TreeTrainResult r;
  double best = std::numeric_limits<double>::infinity();
  int since_best = 0;
  DMatrixHandle evals[2] = {dtrain.h, dval.h};
  const char* names[2] = {"train", "val"};
  for (int it = 0; it < rounds; ++it) {
    const auto tr = std::chrono::steady_clock::now();
    check(XGBoosterUpdateOneIter(b.h, it, dtrain.h), "training round");
    const char* line = nullptr;
    check(XGBoosterEvalOneIter(b.h, it, evals, names, have_val ? 2 : 1, &line), "evaluation");
    const std::string s = line ? line : "";
    TreeRound round;
    round.round = it + 1;
    round.train_loss = metric(s, "train-mlogloss");
    round.val_loss = have_val ? metric(s, "val-mlogloss") : 0.0;
    round.val_accuracy = have_val ? 1.0 - metric(s, "val-merror") : 0.0;
    round.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tr).count();
    r.history.push_back(round);
    const bool improved = !have_val || round.val_loss < best - 1e-6;
    if (improved) {
      best = round.val_loss;
      r.best_round = it + 1;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (p.progress)
      std::fprintf(stderr, "  round %4d/%d train loss %.4f  val loss %.4f  val acc %.4f  %.2fs%s\n", it + 1,
                   rounds, round.train_loss, round.val_loss, round.val_accuracy, round.seconds,
                   improved ? "  *" : "");
    if (!rf && since_best >= p.early_stopping) break;
  }
  if (r.best_round < static_cast<int>(r.history.size())) {
    // Keep the best-validation rounds only (like restoring the best epoch of a network).
    Booster cut;
    check(XGBoosterSlice(b.h, 0, r.best_round, 1, &cut.h), "slice");
    r.model_json = save_json(cut.h);
  } else {
    r.model_json = save_json(b.h);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::vector<float> xgboost_predict(const std::string& model_json, const float* x, std::size_t rows,
                                   std::size_t n_features, XgbOutput what, int threads) {
  Booster b;
  check(XGBoosterCreate(nullptr, 0, &b.h), "create booster");
  check(XGBoosterLoadModelFromBuffer(b.h, model_json.data(), static_cast<bst_ulong>(model_json.size())),
        "load model");
  set(b, "nthread", std::to_string(std::max(1, threads)));
  DMatrix d;
  make_dmatrix(d, x, rows, n_features);
  int type = 0;
  switch (what) {
    case XgbOutput::kProbability:
      type = 0;
      break;
    case XgbOutput::kMargin:
      type = 1;
      break;
    case XgbOutput::kContributions:
      type = 2;
      break;
    case XgbOutput::kApproxContributions:
      type = 3;
      break;
  }
  const std::string config =
      R"({"type": )" + std::to_string(type) +
      R"(, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": true})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  check(XGBoosterPredictFromDMatrix(b.h, d.h, config.c_str(), &shape, &dim, &out), "predict");
  std::size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= static_cast<std::size_t>(shape[i]);
  return std::vector<float>(out, out + n);
}

}  // namespace flowguard::train
