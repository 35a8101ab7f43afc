#pragma once
// The networks flowguard-train builds, trains and exports. Each architecture is written ONCE, in
// TorchScript source, and defined on a torch::jit::Module with its parameters and the scaling buffers:
// the module that is trained is the module that is exported, so training and serving cannot drift.
//
// forward(x) takes RAW features [batch, n_features] in profile order and returns logits:
//   nan_to_num (NaN -> 0, +/-Inf -> +/-FLT_MAX) -> signed log1p -> (x - center) / scale -> clamp(+/-20) ->
//   net
// center/scale are fitted on the training split only.

#include "dataset.hpp"
#include "trees.hpp"

#include <torch/script.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace flowguard::train {

inline constexpr const char* kTransform = "signed_log1p";
const std::vector<std::string>& architectures();  // cnn_lstm, cnn, mlp, gbdt, rf
bool is_tree_arch(const std::string& arch);       // gbdt, rf: trained by XGBoost, compiled to TorchScript

struct Scaler {
  std::vector<double> center, scale;  // per feature, in transformed space
};
// The transform applied before scaling, in double precision (mirrors the module's first steps).
double sanitize_and_transform(float raw);
Scaler fit_scaler(const Dataset& train);

// Builds an untrained module (weights drawn from `seed`). Throws std::invalid_argument for an unknown arch.
torch::jit::Module build_module(const std::string& arch, std::size_t n_features, std::size_t n_classes,
                                const Scaler& scaler, std::uint64_t seed, double dropout = 0.2);

struct TrainConfig {
  std::string arch = "cnn_lstm";
  int epochs = 40;
  int patience = 6;  // epochs without validation-loss improvement before stopping
  int batch_size = 256;
  double learning_rate = 2e-3;
  double dropout = 0.2;
  std::uint64_t seed = 1;
  std::string class_weighting = "sqrt";  // none | sqrt (sqrt of inverse frequency) | inverse
  double benign_weight = 1.0;  // extra factor on the benign class: a false alarm costs more than a mix-up
                               // between two attack classes
  bool progress = true;        // print progress on stderr
  // gbdt / rf only (see trees_xgboost.hpp; 0 = the arch's default):
  int trees = 0;                       // gbdt: maximum boosting rounds (300); rf: forest size (100)
  int max_depth = 0;                   // 6 for gbdt, 10 for rf
  double eta = 0.3;                    // gbdt learning rate
  int early_stopping = 20;             // gbdt: rounds without validation-loss improvement
  int threads = 1;                     // XGBoost threads
  std::string tree_strategy = "auto";  // auto | gemm | tree_traversal | perfect_tree_traversal
};

struct EpochLog {
  int epoch = 0;
  double train_loss = 0, val_loss = 0, val_accuracy = 0, seconds = 0, learning_rate = 0;
};

struct TrainResult {
  torch::jit::Module module;  // in eval mode, best-validation weights restored
  Scaler scaler;
  std::vector<double> class_weights;
  std::vector<EpochLog> history;
  int best_epoch = 0;
  double seconds = 0;
  // gbdt / rf: XGBoost's JSON model (the source of the compiled module) and how it was compiled.
  std::string xgboost_json;
  CompiledInfo compiled;
  double compile_max_abs_diff = 0;  // module margins vs XGBoost's, on the validation rows
};

// Class weights sqrt(N / (K n_c)) (or inverse / none), normalised to mean 1 over the classes present,
// times benign_weight for the benign class.
std::vector<double> class_weights(const Dataset& train, const TrainConfig& config);

// Single-threaded and seeded: the same data, config and seed give identical weights.
// class_names of train and val must be identical (use subsets of one Dataset).
TrainResult train_model(const Dataset& train, const Dataset& val, const TrainConfig& config);

// Softmax probabilities [rows x classes], row-major. Call on a module in eval mode.
std::vector<float> predict_proba(torch::jit::Module& module, const Dataset& data, std::size_t batch = 4096);
std::vector<float> predict_proba(torch::jit::Module& module, const float* x, std::size_t rows,
                                 std::size_t n_features, std::size_t batch = 4096);

// Limits LibTorch to one thread (call once, before any torch work) for reproducible, polite runs.
void use_single_thread();

}  // namespace flowguard::train
