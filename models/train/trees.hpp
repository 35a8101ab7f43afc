#pragma once
// Tree ensembles (gradient-boosted trees and random forests) compiled to TorchScript.
//
// A TreeEnsemble is the trained model as plain arrays, parsed from XGBoost's JSON model
// (XGBoosterSaveModelToBuffer, format json: float32 values printed so they round-trip exactly). It does
// not depend on XGBoost: the trainer (trees_xgboost.cpp) links XGBoost, this part and the server do not.
//
// compile_ensemble() turns it into a torch::jit::Module whose forward(x) takes RAW features
// [batch, n_features] and returns the per-class margins XGBoost computes (base_score + sum of the leaf
// values of the class's trees): softmax of them is XGBoost's multi:softprob probability, so the server's
// softmax needs no change. Semantics, exactly XGBoost's:
//   - features are compared in float32: go left when x < threshold (thresholds are float32 in XGBoost);
//   - NaN is "missing": it follows the node's default direction;
//   - +/-Inf become +/-FLT_MAX first (XGBoost refuses Inf in a DMatrix; the trainer feeds it the same
//     mapping, so training and serving agree).
// explain(x, classes) returns Saabas path attributions [batch, n_features + 1] of the given class's
// margin: column f is the sum over the row's decision paths of (mean value of the child taken - mean
// value of the node) at nodes splitting on f; the last column is the bias (base_score + the root means).
// A row sums to the class margin. Node means are cover-weighted, as XGBoost's approx_contribs.

#include <torch/script.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::train {

struct Tree {
  int class_index = 0;  // which class's margin the tree adds to
  // Per node (index 0 = root). Leaves have left == -1; their value is in `value`.
  std::vector<std::int32_t> left, right, feature;
  std::vector<float> threshold;  // split condition (internal nodes)
  std::vector<float> value;      // leaf value (leaves); cover-weighted mean (internal nodes)
  std::vector<float> cover;      // sum of hessians
  std::vector<std::uint8_t> default_left;
  bool is_leaf(std::size_t node) const { return left[node] < 0; }
  int depth() const;  // edges on the longest root-to-leaf path (0 for a lone leaf)
};

struct TreeEnsemble {
  std::size_t n_features = 0, n_classes = 0;
  std::vector<float> base_margin;  // per class: base_score (+ lone-leaf trees folded in, see compile)
  std::vector<Tree> trees;
  int max_depth() const;
  // Reference evaluation on the tree arrays, in XGBoost's order (float32 accumulation, tree order).
  // `row` is raw float features; NaN is missing, Inf is clamped like the module does.
  std::vector<float> margins(const float* row) const;
};

// Parses XGBoost's JSON model (multi:softprob, gbtree). Throws std::runtime_error on anything else
// (other boosters, categorical splits, vector leaves).
TreeEnsemble parse_xgboost_json(const std::string& model_json);

enum class TreeStrategy { kGemm, kTreeTraversal, kPerfectTreeTraversal };
std::string to_string(TreeStrategy s);
TreeStrategy parse_tree_strategy(const std::string& s);  // gemm | tree_traversal | perfect_tree_traversal
// GEMM for shallow trees (depth <= 3), perfect tree traversal up to depth 10 unless padding the trees
// to complete ones would more than quadruple the nodes, tree traversal otherwise (docs/training.md).
TreeStrategy choose_strategy(const TreeEnsemble& e);

struct CompiledInfo {
  TreeStrategy strategy = TreeStrategy::kPerfectTreeTraversal;
  std::size_t trees_total = 0, trees_compiled = 0, trees_folded = 0;  // lone-leaf trees fold into the bias
  int depth = 0;
  std::size_t nodes = 0;  // tensor slots the strategy evaluates per row and tree level (memory footprint)
};

torch::jit::Module compile_ensemble(const TreeEnsemble& e, TreeStrategy strategy,
                                    CompiledInfo* info = nullptr);

}  // namespace flowguard::train
