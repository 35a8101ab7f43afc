#pragma once
// Abstention for any trained bundle (docs/training.md, "Calibration and abstention"):
//  - temperature scaling of the logits, fitted on the validation split (one scalar T minimising the
//    negative log-likelihood), so the server's softmax scores are calibrated probabilities;
//  - an out-of-distribution score: the mean Euclidean distance from a flow to its k nearest neighbours in
//    a fixed subsample of the training rows, in the networks' input space (signed log1p, standardised on
//    the training split, clamped), over the profile's features. The same for every family, so the
//    families compare on equal terms, and independent of the classifier, so a confident classifier
//    cannot hide an unfamiliar flow.
// Both live in the exported TorchScript module: wrap() returns a module whose forward(x) is
// inner.forward(x) / T and whose ood(x) returns the score, plus explain(x, classes) / T when the inner
// module has explain. The manifest records T and the threshold (thresholds.ood).

#include "dataset.hpp"
#include "model.hpp"

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::train {

struct CalibrationFit {
  double temperature = 1.0;
  double nll_before = 0, nll_after = 0;  // mean negative log-likelihood on the rows fitted
  double ece_before = 0, ece_after = 0;  // expected calibration error, 15 equal-width confidence bins
};

// Logits [rows x classes] row-major (before any temperature) and labels (-1 rows are ignored).
CalibrationFit fit_temperature(const std::vector<float>& logits, const std::vector<std::int32_t>& y,
                               std::size_t n_classes);
double mean_nll(const std::vector<float>& logits, const std::vector<std::int32_t>& y, std::size_t n_classes,
                double temperature);
double expected_calibration_error(const std::vector<float>& logits, const std::vector<std::int32_t>& y,
                                  std::size_t n_classes, double temperature, int bins = 15);

struct OodConfig {
  std::size_t reference_rows = 1024;
  std::int64_t k = 5;
  double percentile = 99.5;  // threshold: this percentile of the validation rows' scores
  std::uint64_t seed = 1;
};

// The reference rows: a seeded subsample of `train` stratified over (class, file) groups (each group gets a
// share proportional to the square root of its size, so small sources such as a lab capture's benign
// rows are represented), transformed like the networks' input over the first `n_features` features.
struct OodReference {
  Scaler scaler;                // over the first n_features features of the training split
  std::vector<float> rows;      // [n_rows x n_features], transformed and standardised
  std::size_t n_rows = 0, n_features = 0;
  std::int64_t k = 5;
};
OodReference build_ood_reference(const Dataset& train, std::size_t n_features, const OodConfig& config);

// The exported module: forward = inner.forward / temperature, ood(x) -> [batch], explain passed through.
torch::jit::Module wrap_with_abstention(const torch::jit::Module& inner, double temperature,
                                        const OodReference& ref);

// forward() outputs (logits) [rows x classes] and ood() scores of a module, in batches.
std::vector<float> predict_logits(torch::jit::Module& module, const Dataset& data, std::size_t batch = 4096);
std::vector<float> predict_ood(torch::jit::Module& module, const Dataset& data, std::size_t batch = 1024);

// The p-th percentile (0..100, nearest rank) of the finite values.
double percentile(std::vector<float> values, double p);

}  // namespace flowguard::train
