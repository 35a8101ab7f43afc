#include "trees.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace flowguard::train {

using nlohmann::json;

namespace {

constexpr float kFltMax = std::numeric_limits<float>::max();
constexpr float kInf = std::numeric_limits<float>::infinity();

// XGBoost writes numbers in its JSON as numbers, but scalar parameters as strings ("5E-1").
double number_of(const json& j) {
  if (j.is_string()) return std::stod(j.get<std::string>());
  return j.get<double>();
}

// Cover-weighted mean of the leaves below `node`, in float like XGBoost's FillNodeMeanValues, so
// Saabas attributions match XGBoost's approx_contribs.
float fill_means(Tree& t, std::size_t node) {
  if (t.is_leaf(node)) return t.value[node];
  const auto l = static_cast<std::size_t>(t.left[node]), r = static_cast<std::size_t>(t.right[node]);
  float result = fill_means(t, l) * t.cover[l] + fill_means(t, r) * t.cover[r];
  result /= t.cover[node];
  t.value[node] = result;
  return result;
}

int depth_below(const Tree& t, std::size_t node) {
  if (t.is_leaf(node)) return 0;
  return 1 + std::max(depth_below(t, static_cast<std::size_t>(t.left[node])),
                      depth_below(t, static_cast<std::size_t>(t.right[node])));
}

// The module sees x clamped to +/-FLT_MAX and NaN as missing. It looks up features in
// xx = [x with NaN -> -inf | x with NaN -> +inf] ([batch, 2F]): a node whose missing values go left reads
// column f (-inf < any threshold: left), one whose missing values go right reads column F + f
// (+inf < threshold is false: right). One comparison then gives XGBoost's decision, NaN included.
std::int64_t column_for(const Tree& t, std::size_t node, std::size_t n_features) {
  const auto f = static_cast<std::int64_t>(t.feature[node]);
  return t.default_left[node] ? f : f + static_cast<std::int64_t>(n_features);
}

torch::Tensor i64(const std::vector<std::int64_t>& v) { return torch::tensor(v, torch::kInt64); }
torch::Tensor f32(const std::vector<float>& v) { return torch::tensor(v, torch::kFloat32); }

constexpr const char* kPrepare = R"(
    def prepare(self, x):
        # +/-Inf -> +/-FLT_MAX (what the trainer gave XGBoost); NaN stays missing (see trees.hpp).
        x = torch.clamp(x.float(), -3.4028234663852886e38, 3.4028234663852886e38)
        nan = torch.isnan(x)
        return torch.cat([x.masked_fill(nan, self.neg_inf), x.masked_fill(nan, self.pos_inf)], 1)
)";

// Level-major layout of all compiled trees shared by tree traversal and explain(): the roots are slots
// 0..T-1, then every node's children are appended as a pair, so right = left + 1 and the next slot is
// first[slot] + (x >= threshold). Leaves point to themselves with an always-false test (column f of
// the NaN -> -inf half is never >= +inf), so extra levels leave them in place.
struct LevelLayout {
  std::vector<std::int64_t> col, first, feat;
  std::vector<float> thr, mean;
};

LevelLayout level_layout(const std::vector<const Tree*>& trees, std::size_t n_features) {
  LevelLayout L;
  struct Slot {
    const Tree* tree;
    std::size_t node;
  };
  std::vector<Slot> slots;
  for (const auto* t : trees) slots.push_back({t, 0});
  for (std::size_t s = 0; s < slots.size(); ++s) {
    const auto [t, node] = slots[s];
    L.mean.push_back(t->value[node]);
    if (t->is_leaf(node)) {
      L.col.push_back(0);
      L.thr.push_back(kInf);
      L.first.push_back(static_cast<std::int64_t>(s));
      L.feat.push_back(0);
    } else {
      L.col.push_back(column_for(*t, node, n_features));
      L.thr.push_back(t->threshold[node]);
      L.feat.push_back(t->feature[node]);
      L.first.push_back(static_cast<std::int64_t>(slots.size()));
      slots.push_back({t, static_cast<std::size_t>(t->left[node])});
      slots.push_back({t, static_cast<std::size_t>(t->right[node])});
    }
  }
  return L;
}

void add_buffer(torch::jit::Module& m, const std::string& name, const torch::Tensor& t) {
  m.register_buffer(name, t.contiguous());
}

// Perfect tree traversal: every tree padded to a complete tree of depth D, stored level by level
// (slot of node j of tree t at level l: t * 2^l + j), so the next slot is 2 * slot + (x >= threshold):
// no child table to read. A leaf above depth D is copied down its leftmost path; the pad nodes test
// column 0 against +inf, which is never true, so rows stay on that path.
void build_ptt(torch::jit::Module& m, const std::vector<const Tree*>& trees, int depth, std::size_t nf,
               std::ostringstream& src, CompiledInfo& info) {
  const std::size_t T = trees.size();
  // frontier[t][j] = node of tree t at this level's position j, or -1 (pad below a leaf), or the leaf
  // itself (carried down its leftmost path).
  std::vector<std::vector<std::int64_t>> frontier(T, std::vector<std::int64_t>{0});
  for (int level = 0; level < depth; ++level) {
    const std::size_t width = std::size_t{1} << level;
    std::vector<std::int64_t> col(T * width, 0);
    std::vector<float> thr(T * width, kInf);
    std::vector<std::vector<std::int64_t>> next(T, std::vector<std::int64_t>(2 * width, -1));
    for (std::size_t t = 0; t < T; ++t) {
      const Tree& tree = *trees[t];
      for (std::size_t j = 0; j < width; ++j) {
        const auto node = frontier[t][j];
        if (node < 0) continue;
        const auto n = static_cast<std::size_t>(node);
        if (tree.is_leaf(n)) {
          next[t][2 * j] = node;  // carried down; test stays "never >= +inf"
        } else {
          col[t * width + j] = column_for(tree, n, nf);
          thr[t * width + j] = tree.threshold[n];
          next[t][2 * j] = tree.left[n];
          next[t][2 * j + 1] = tree.right[n];
        }
      }
    }
    frontier = std::move(next);
    add_buffer(m, "ptt_col" + std::to_string(level), i64(col));
    add_buffer(m, "ptt_thr" + std::to_string(level), f32(thr));
    info.nodes += T * width;
  }
  const std::size_t width = std::size_t{1} << depth;
  std::vector<float> leaf(T * width, 0.0f);
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t j = 0; j < width; ++j)
      if (frontier[t][j] >= 0)
        leaf[t * width + j] = trees[t]->value[static_cast<std::size_t>(frontier[t][j])];
  add_buffer(m, "ptt_leaf", f32(leaf));
  add_buffer(m, "ptt_start", i64([&] {
               std::vector<std::int64_t> v(T);
               for (std::size_t t = 0; t < T; ++t) v[t] = static_cast<std::int64_t>(2 * t);
               return v;
             }()));
  src << R"(
    def forward(self, x):
        xx = self.prepare(x)
        # Level 0: the roots, the same for every row.
        idx = (xx.index_select(1, self.ptt_col0) >= self.ptt_thr0).long().add_(self.ptt_start)
)";
  // In-place updates of idx: at batch 256 x hundreds of trees every temporary is a multi-MB tensor.
  for (int level = 1; level < depth; ++level) {
    const auto l = std::to_string(level);
    src << "        right = xx.gather(1, torch.take(self.ptt_col" << l << ", idx)) >= torch.take(self.ptt_thr"
        << l << ", idx)\n"
        << "        idx = idx.mul_(2).add_(right)\n";
  }
  src << "        return torch.addmm(self.base, torch.take(self.ptt_leaf, idx), self.tree_onehot)\n";
}

// Tree traversal on the level-major layout (no padding: memory is the real node count).
void build_tt_forward(int depth, std::ostringstream& src) {
  src << R"(
    def forward(self, x):
        xx = self.prepare(x)
        idx = (xx.index_select(1, self.tt_root_col) >= self.tt_root_thr).long().add_(self.tt_root_first)
)";
  for (int level = 1; level < depth; ++level)
    src << "        right = xx.gather(1, torch.take(self.tt_col, idx)) >= torch.take(self.tt_thr, idx)\n"
        << "        idx = torch.take(self.tt_first, idx).add_(right)\n";
  src << "        return torch.addmm(self.base, torch.take(self.tt_mean, idx), self.tree_onehot)\n";
}

// GEMM (Hummingbird): per tree, all internal-node tests at once ([B, I] of 0/1 "went left"), times the
// path matrix P [I, L] (+1: leaf in the node's left subtree, -1: in its right subtree) equals the number
// of left turns on the path to a leaf exactly for the leaf reached; that one-hot times the leaf values.
// Trees are padded to the largest I and L and run as one batched matmul. Cost grows with I * L per tree
// (4^depth), so it only pays for shallow trees.
void build_gemm(torch::jit::Module& m, const std::vector<const Tree*>& trees, std::size_t nf,
                std::ostringstream& src, CompiledInfo& info) {
  const std::size_t T = trees.size();
  std::size_t I = 1, L = 1;
  for (const auto* t : trees) {
    std::size_t leaves = 0;
    for (std::size_t n = 0; n < t->left.size(); ++n) leaves += t->is_leaf(n);
    I = std::max(I, t->left.size() - leaves);
    L = std::max(L, leaves);
  }
  std::vector<std::int64_t> col(T * I, 0);
  std::vector<float> thr(T * I, 0.0f), path(T * I * L, 0.0f), lefts(T * L, -1.0f), leafv(T * L, 0.0f);
  for (std::size_t t = 0; t < T; ++t) {
    const Tree& tree = *trees[t];
    std::vector<std::int64_t> internal_slot(tree.left.size(), -1), leaf_slot(tree.left.size(), -1);
    std::size_t ni = 0, nl = 0;
    for (std::size_t n = 0; n < tree.left.size(); ++n) {
      if (tree.is_leaf(n)) {
        leaf_slot[n] = static_cast<std::int64_t>(nl++);
      } else {
        internal_slot[n] = static_cast<std::int64_t>(ni);
        col[t * I + ni] = column_for(tree, n, nf);
        thr[t * I + ni] = tree.threshold[n];
        ++ni;
      }
    }
    // Walk every root-to-leaf path, marking the turns.
    struct Item {
      std::size_t node;
      std::vector<std::pair<std::size_t, bool>> turns;  // (internal slot, went left)
    };
    std::vector<Item> stack{{0, {}}};
    while (!stack.empty()) {
      Item it = std::move(stack.back());
      stack.pop_back();
      if (tree.is_leaf(it.node)) {
        const auto l = static_cast<std::size_t>(leaf_slot[it.node]);
        float n_left = 0;
        for (const auto& [slot, left] : it.turns) {
          path[(t * I + slot) * L + l] = left ? 1.0f : -1.0f;
          n_left += left ? 1.0f : 0.0f;
        }
        lefts[t * L + l] = n_left;
        leafv[t * L + l] = tree.value[it.node];
        continue;
      }
      const auto slot = static_cast<std::size_t>(internal_slot[it.node]);
      Item l{static_cast<std::size_t>(tree.left[it.node]), it.turns},
          r{static_cast<std::size_t>(tree.right[it.node]), it.turns};
      l.turns.emplace_back(slot, true);
      r.turns.emplace_back(slot, false);
      stack.push_back(std::move(l));
      stack.push_back(std::move(r));
    }
  }
  const auto Ti = static_cast<std::int64_t>(T), Ii = static_cast<std::int64_t>(I),
             Li = static_cast<std::int64_t>(L);
  add_buffer(m, "gemm_col", i64(col));
  add_buffer(m, "gemm_thr", f32(thr));
  add_buffer(m, "gemm_path", f32(path).view({Ti, Ii, Li}));
  add_buffer(m, "gemm_lefts", f32(lefts).view({Ti, 1, Li}));
  add_buffer(m, "gemm_leaf", f32(leafv).view({Ti, Li, 1}));
  info.nodes = T * I;
  src << R"(
    def forward(self, x):
        xx = self.prepare(x)
        b = xx.size(0)
        went_left = (xx.index_select(1, self.gemm_col) < self.gemm_thr).float()
        went_left = went_left.view(b, )"
      << T << ", " << I << R"().transpose(0, 1)
        reached = (torch.bmm(went_left, self.gemm_path) == self.gemm_lefts).float()
        values = torch.bmm(reached, self.gemm_leaf).view()"
      << T << R"(, b)
        return torch.addmm(self.base, values.t(), self.tree_onehot)
)";
}

}  // namespace

int Tree::depth() const { return left.empty() ? 0 : depth_below(*this, 0); }

int TreeEnsemble::max_depth() const {
  int d = 0;
  for (const auto& t : trees) d = std::max(d, t.depth());
  return d;
}

std::vector<float> TreeEnsemble::margins(const float* row) const {
  std::vector<float> out(base_margin);
  for (const auto& t : trees) {
    std::size_t node = 0;
    while (!t.is_leaf(node)) {
      float v = row[t.feature[node]];
      if (std::isinf(v)) v = v > 0 ? kFltMax : -kFltMax;
      const bool left = std::isnan(v) ? t.default_left[node] != 0 : v < t.threshold[node];
      node = static_cast<std::size_t>(left ? t.left[node] : t.right[node]);
    }
    out[static_cast<std::size_t>(t.class_index)] += t.value[node];
  }
  return out;
}

// XGBoost prints a non-finite float as `inf`, `-inf`, `Infinity` or `nan` (a split between the largest
// finite value and +/-FLT_MAX, which is what the trainer gives +/-Inf, lands on +inf in float32): not JSON.
// Outside strings they become numbers beyond float range, which round back to +/-inf on the float cast,
// so the compiled comparison is exactly XGBoost's.
std::string json_with_finite_literals(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    auto word = [&](const char* w) { return text.compare(i, std::strlen(w), w) == 0; };
    if (word("Infinity") || word("inf")) {
      out += "1e39";
      i += word("Infinity") ? 7 : 2;
    } else if (word("nan") || word("NaN")) {
      out += "0";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

TreeEnsemble parse_xgboost_json(const std::string& model_json) {
  TreeEnsemble e;
  try {
    const auto j = json::parse(json_with_finite_literals(model_json));
    const auto& learner = j.at("learner");
    const auto& lmp = learner.at("learner_model_param");
    const std::string objective = learner.at("objective").at("name").get<std::string>();
    if (objective != "multi:softprob" && objective != "multi:softmax")
      throw std::runtime_error("objective '" + objective + "' is not supported (multi:softprob only)");
    const auto& gb = learner.at("gradient_booster");
    if (gb.at("name").get<std::string>() != "gbtree")
      throw std::runtime_error("booster '" + gb.at("name").get<std::string>() +
                               "' is not supported (gbtree only)");
    e.n_classes = static_cast<std::size_t>(number_of(lmp.at("num_class")));
    e.n_features = static_cast<std::size_t>(number_of(lmp.at("num_feature")));
    if (e.n_classes < 2) throw std::runtime_error("num_class must be at least 2");
    e.base_margin.assign(e.n_classes, static_cast<float>(number_of(lmp.at("base_score"))));
    const auto& model = gb.at("model");
    const auto& info = model.at("tree_info");
    const auto& trees = model.at("trees");
    if (info.size() != trees.size()) throw std::runtime_error("tree_info and trees differ in length");
    for (std::size_t i = 0; i < trees.size(); ++i) {
      const auto& tj = trees[i];
      Tree t;
      t.class_index = info[i].get<int>();
      if (t.class_index < 0 || static_cast<std::size_t>(t.class_index) >= e.n_classes)
        throw std::runtime_error("tree " + std::to_string(i) + " has class " + std::to_string(t.class_index));
      t.left = tj.at("left_children").get<std::vector<std::int32_t>>();
      t.right = tj.at("right_children").get<std::vector<std::int32_t>>();
      t.feature = tj.at("split_indices").get<std::vector<std::int32_t>>();
      const auto cond = tj.at("split_conditions").get<std::vector<double>>();
      const auto hess = tj.at("sum_hessian").get<std::vector<double>>();
      const auto dl = tj.at("default_left").get<std::vector<int>>();
      const std::size_t n = t.left.size();
      if (t.right.size() != n || t.feature.size() != n || cond.size() != n || hess.size() != n ||
          dl.size() != n || n == 0)
        throw std::runtime_error("tree " + std::to_string(i) + " has inconsistent array sizes");
      if (tj.contains("split_type"))
        for (const auto& s : tj.at("split_type"))
          if (s.get<int>() != 0) throw std::runtime_error("categorical splits are not supported");
      t.threshold.resize(n);
      t.value.resize(n);
      t.cover.resize(n);
      t.default_left.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        // The JSON holds float32 values printed to round-trip: double -> float is exact.
        t.threshold[k] = static_cast<float>(cond[k]);
        t.value[k] = static_cast<float>(cond[k]);
        t.cover[k] = static_cast<float>(hess[k]);
        t.default_left[k] = dl[k] != 0;
        const bool leaf = t.left[k] < 0;
        if (leaf != (t.right[k] < 0)) throw std::runtime_error("tree " + std::to_string(i) + ": half a leaf");
        if (!leaf &&
            (t.left[k] >= static_cast<std::int32_t>(n) || t.right[k] >= static_cast<std::int32_t>(n) ||
             t.feature[k] < 0 || static_cast<std::size_t>(t.feature[k]) >= e.n_features))
          throw std::runtime_error("tree " + std::to_string(i) + ": node " + std::to_string(k) +
                                   " out of range");
        if (!leaf && t.threshold[k] == -kInf)
          throw std::runtime_error("tree " + std::to_string(i) + ": a -inf threshold cannot be compiled");
      }
      fill_means(t, 0);
      e.trees.push_back(std::move(t));
    }
  } catch (const json::exception& ex) {
    throw std::runtime_error(std::string("not an XGBoost JSON model: ") + ex.what());
  }
  return e;
}

std::string to_string(TreeStrategy s) {
  switch (s) {
    case TreeStrategy::kGemm:
      return "gemm";
    case TreeStrategy::kTreeTraversal:
      return "tree_traversal";
    case TreeStrategy::kPerfectTreeTraversal:
      return "perfect_tree_traversal";
  }
  return "?";
}

TreeStrategy parse_tree_strategy(const std::string& s) {
  if (s == "gemm") return TreeStrategy::kGemm;
  if (s == "tree_traversal") return TreeStrategy::kTreeTraversal;
  if (s == "perfect_tree_traversal") return TreeStrategy::kPerfectTreeTraversal;
  throw std::invalid_argument("unknown tree strategy '" + s +
                              "' (use auto, gemm, tree_traversal or perfect_tree_traversal)");
}

TreeStrategy choose_strategy(const TreeEnsemble& e) {
  const int d = e.max_depth();
  if (d <= 3) return TreeStrategy::kGemm;
  // Perfect traversal pads every tree to 2^(d+1) - 1 slots. Boosted trees of depth 6 fill much of
  // that; one-vs-rest forest trees for rare classes are thin chains (a depth-10 forest here averages ~20
  // nodes per tree against 2,047 padded: a 27 MB bundle instead of 1 MB, and slower from cache misses).
  std::size_t real = 0, trees = 0;
  for (const auto& t : e.trees)
    if (!t.is_leaf(0)) {
      real += t.left.size();
      ++trees;
    }
  const std::size_t padded = trees * ((std::size_t{2} << d) - 1);
  if (d <= 10 && padded <= 4 * real) return TreeStrategy::kPerfectTreeTraversal;
  return TreeStrategy::kTreeTraversal;
}

torch::jit::Module compile_ensemble(const TreeEnsemble& e, TreeStrategy strategy, CompiledInfo* info_out) {
  if (e.n_classes == 0 || e.n_features == 0) throw std::invalid_argument("empty tree ensemble");
  CompiledInfo info;
  info.strategy = strategy;
  info.trees_total = e.trees.size();
  // A lone leaf adds a constant: fold it into the class bias (in tree order, as XGBoost sums).
  std::vector<float> base = e.base_margin;
  std::vector<const Tree*> trees;
  for (const auto& t : e.trees) {
    if (t.is_leaf(0)) {
      base[static_cast<std::size_t>(t.class_index)] += t.value[0];
      ++info.trees_folded;
    } else {
      trees.push_back(&t);
    }
  }
  info.trees_compiled = trees.size();
  const std::size_t T = trees.size(), K = e.n_classes, F = e.n_features;
  int depth = 0;
  for (const auto* t : trees) depth = std::max(depth, t->depth());
  info.depth = depth;

  torch::jit::Module m("FlowguardTrees");
  torch::NoGradGuard no_grad;
  add_buffer(m, "base", f32(base));
  add_buffer(m, "neg_inf", torch::tensor(-kInf));
  add_buffer(m, "pos_inf", torch::tensor(kInf));
  std::vector<float> onehot(T * K, 0.0f);
  std::vector<std::int64_t> tree_class(T);
  for (std::size_t t = 0; t < T; ++t) {
    onehot[t * K + static_cast<std::size_t>(trees[t]->class_index)] = 1.0f;
    tree_class[t] = trees[t]->class_index;
  }
  add_buffer(m, "tree_onehot",
             f32(onehot).view({static_cast<std::int64_t>(T), static_cast<std::int64_t>(K)}));
  add_buffer(m, "tree_class", i64(tree_class));

  // The level layout serves explain() always, and forward() under tree traversal.
  const LevelLayout L = level_layout(trees, F);
  add_buffer(m, "tt_col", i64(L.col));
  add_buffer(m, "tt_thr", f32(L.thr));
  add_buffer(m, "tt_first", i64(L.first));
  add_buffer(m, "tt_feat", i64(L.feat));
  add_buffer(m, "tt_mean", f32(L.mean));
  auto head = [&](auto const& v) {
    return std::vector<typename std::decay_t<decltype(v)>::value_type>(
        v.begin(), v.begin() + static_cast<std::ptrdiff_t>(T));
  };
  add_buffer(m, "tt_root_col", i64(head(L.col)));
  add_buffer(m, "tt_root_thr", f32(head(L.thr)));
  add_buffer(m, "tt_root_first", i64(head(L.first)));

  std::ostringstream src;
  src.precision(17);
  src << kPrepare;
  if (T == 0) {
    // Every tree was a lone leaf: the margins are constants.
    src << R"(
    def forward(self, x):
        return self.base.unsqueeze(0).expand(x.size(0), )"
        << K << R"().clone()
)";
  } else if (strategy == TreeStrategy::kGemm) {
    build_gemm(m, trees, F, src, info);
  } else if (strategy == TreeStrategy::kPerfectTreeTraversal) {
    build_ptt(m, trees, depth, F, src, info);
  } else {
    build_tt_forward(depth, src);
    info.nodes = L.col.size();
  }
  // Saabas: walk the same paths, crediting each node's feature with the change of the mean value.
  src << R"(
    def explain(self, x, classes):
        xx = self.prepare(x)
        b = xx.size(0)
        keep = (self.tree_class.unsqueeze(0) == classes.long().unsqueeze(1)).float()
        out = torch.zeros([b, )"
      << F + 1 << R"(])
        bias = self.base.index_select(0, classes.long())
        idx = torch.arange()"
      << T << R"().unsqueeze(0).expand(b, )" << T << R"()
        bias = bias + (torch.take(self.tt_mean, idx) * keep).sum(1)
        for _ in range()"
      << depth << R"():
            v = xx.gather(1, torch.take(self.tt_col, idx))
            nxt = torch.take(self.tt_first, idx) + (v >= torch.take(self.tt_thr, idx)).long()
            delta = (torch.take(self.tt_mean, nxt) - torch.take(self.tt_mean, idx)) * keep
            out.scatter_add_(1, torch.take(self.tt_feat, idx), delta)
            idx = nxt
        out.select(1, )"
      << F << R"().copy_(bias)
        return out
)";
  m.define(src.str());
  m.eval();
  if (info_out) *info_out = info;
  return m;
}

}  // namespace flowguard::train
