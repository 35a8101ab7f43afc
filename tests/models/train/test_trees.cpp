// Tree ensembles (gbdt, rf): XGBoost training, compilation to TorchScript under each strategy, exactness
// against XGBoost's own predictions (thresholds, NaN, Inf), Saabas explanations, the train command and a
// round trip through a real in-process inference server.
#include <torch/torch.h>  // before Catch2 (both define CHECK)

#include "bundle/bundle.hpp"
#include "support/support.hpp"
#include "train/commands.hpp"
#include "train_fixtures.hpp"
#include "trees_fixtures.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <random>
#include <sstream>

using namespace flowguard::train;
namespace v1 = flowguard::v1;

namespace {

constexpr std::size_t kF = 8;

// Four classes over 8 features on integer grids (many rows sit exactly on split thresholds), with
// missing values that carry signal (class C is mostly NaN in f2) and missing values that do not (f4),
// and one heavy-tailed feature.
Dataset synthetic(std::size_t rows, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> small(0, 3), digit(0, 9);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Dataset d;
  d.profile = "corrected";
  for (std::size_t f = 0; f < kF; ++f) d.feature_names.push_back("f" + std::to_string(f));
  d.class_names = {"BENIGN", "A", "B", "C"};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(i % 4);
    std::vector<float> r(kF);
    r[0] = static_cast<float>(2 * c + small(rng));
    r[1] = static_cast<float>(digit(rng));
    r[2] = (c == 3 && u(rng) < 0.7) ? nan : static_cast<float>(digit(rng) + (c == 1 ? 3 : 0));
    r[3] = static_cast<float>(std::floor(1e6 * c * u(rng)) / 8.0);
    r[4] = u(rng) < 0.2 ? nan : static_cast<float>(small(rng) - c);
    r[5] = static_cast<float>(-3 * c + digit(rng));
    r[6] = static_cast<float>(u(rng));
    r[7] = c == 2 ? static_cast<float>(100 * digit(rng)) : static_cast<float>(digit(rng));
    // Label noise so trees keep growing and leaves differ.
    const int label = u(rng) < 0.05 ? static_cast<int>(rng() % 4) : c;
    d.x.insert(d.x.end(), r.begin(), r.end());
    d.y.push_back(label);
    d.ids.push_back(std::to_string(i));
    d.time.push_back(static_cast<double>(i));
    d.file_index.push_back(0);
  }
  d.has_labels = true;
  return d;
}

TrainConfig tree_config(const std::string& arch, int trees, int depth) {
  TrainConfig c;
  c.arch = arch;
  c.trees = trees;
  c.max_depth = depth;
  c.progress = false;
  c.seed = 3;
  return c;
}

}  // namespace

TEST_CASE("gbdt and rf compile to TorchScript that matches XGBoost under every strategy") {
  use_single_thread();
  const Dataset train = synthetic(1200, 1), val = synthetic(300, 2), test = synthetic(400, 3);
  struct Case {
    std::string arch;
    int trees, depth;
  };
  for (const auto& cs : {Case{"gbdt", 12, 3}, Case{"gbdt", 15, 5}, Case{"rf", 8, 7}}) {
    const auto trained = train_model(train, val, tree_config(cs.arch, cs.trees, cs.depth));
    const TreeEnsemble e = parse_xgboost_json(trained.xgboost_json);
    REQUIRE(e.n_classes == 4);
    REQUIRE(e.n_features == kF);
    CHECK(e.max_depth() <= cs.depth);
    CHECK(trained.compile_max_abs_diff < 1e-5);
    const auto rows = trees_fixtures::edge_rows(e, test.x, kF);
    std::vector<float> all = test.x;
    all.insert(all.end(), rows.begin(), rows.end());
    // The C++ reference walk agrees with XGBoost too (guards the parser itself).
    const auto ref =
        xgboost_predict(trained.xgboost_json, all.data(), all.size() / kF, kF, XgbOutput::kMargin);
    double walk = 0;
    for (std::size_t r = 0; r < all.size() / kF; ++r) {
      const auto m = e.margins(all.data() + r * kF);
      for (std::size_t c = 0; c < 4; ++c)
        walk = std::max(walk, static_cast<double>(std::fabs(m[c] - ref[r * 4 + c])));
    }
    CHECK(walk < 1e-5);
    for (auto s : {TreeStrategy::kGemm, TreeStrategy::kTreeTraversal, TreeStrategy::kPerfectTreeTraversal}) {
      DYNAMIC_SECTION(cs.arch << " depth " << cs.depth << " strategy " << to_string(s)) {
        CompiledInfo info;
        auto m = compile_ensemble(e, s, &info);
        CHECK(info.trees_compiled + info.trees_folded == e.trees.size());
        const auto d = trees_fixtures::compare_with_xgboost(m, trained.xgboost_json, all, kF, 4);
        INFO("rows " << d.rows << " margin " << d.margin << " proba " << d.probability << " explain "
                     << d.explain_vs_xgboost << " sum " << d.explain_sum);
        CHECK(d.rows > 1000);
        CHECK(d.margin < 1e-5);
        CHECK(d.probability < 1e-5);
        CHECK(d.class_mismatches == 0);
        CHECK(d.explain_vs_xgboost < 1e-5);
        CHECK(d.explain_sum < 1e-5);
      }
    }
  }
}

TEST_CASE("the compiled trees learn the synthetic classes and use missing values as XGBoost does") {
  use_single_thread();
  const Dataset train = synthetic(1200, 1), val = synthetic(300, 2), test = synthetic(400, 3);
  auto trained = train_model(train, val, tree_config("gbdt", 30, 4));
  CHECK(trained.best_epoch >= 1);
  CHECK(trained.history.size() >= static_cast<std::size_t>(trained.best_epoch));
  const auto p = predict_proba(trained.module, test);
  std::size_t correct = 0;
  for (std::size_t r = 0; r < test.rows(); ++r) {
    const float* row = p.data() + r * 4;
    correct += static_cast<std::int32_t>(std::max_element(row, row + 4) - row) == test.y[r];
  }
  CHECK(static_cast<double>(correct) / static_cast<double>(test.rows()) > 0.85);
  // A row that is NaN in f2 and otherwise looks like nothing in particular follows the learnt default
  // direction; the module must agree with XGBoost on it (and not treat NaN as 0, as the networks do).
  std::vector<float> x(kF, 0.0f);
  x[2] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> zero(kF, 0.0f);
  const auto ref_nan = xgboost_predict(trained.xgboost_json, x.data(), 1, kF, XgbOutput::kMargin);
  const auto ref_zero = xgboost_predict(trained.xgboost_json, zero.data(), 1, kF, XgbOutput::kMargin);
  c10::InferenceMode guard;
  auto got =
      trained.module.forward({torch::from_blob(x.data(), {1, static_cast<std::int64_t>(kF)})}).toTensor();
  for (std::size_t c = 0; c < 4; ++c)
    CHECK(got[0][static_cast<std::int64_t>(c)].item<float>() == Approx(ref_nan[c]).margin(1e-5));
  bool differs = false;
  for (std::size_t c = 0; c < 4; ++c) differs |= std::fabs(ref_nan[c] - ref_zero[c]) > 1e-3;
  CHECK(differs);  // the test is meaningful: NaN is not routed like 0 here
}

TEST_CASE("strategy choice follows depth, and a forest of lone leaves compiles to constants") {
  TreeEnsemble e;
  e.n_features = 2;
  e.n_classes = 2;
  e.base_margin = {0.5f, 0.5f};
  auto leaf = [](int cls, float v) {
    Tree t;
    t.class_index = cls;
    t.left = {-1};
    t.right = {-1};
    t.feature = {0};
    t.threshold = {v};
    t.value = {v};
    t.cover = {1};
    t.default_left = {0};
    return t;
  };
  e.trees = {leaf(0, 0.25f), leaf(1, -0.5f)};
  CHECK(choose_strategy(e) == TreeStrategy::kGemm);
  CompiledInfo info;
  auto m = compile_ensemble(e, TreeStrategy::kPerfectTreeTraversal, &info);
  CHECK(info.trees_folded == 2);
  c10::InferenceMode guard;
  auto y = m.forward({torch::full({3, 2}, std::numeric_limits<float>::quiet_NaN())}).toTensor();
  REQUIRE(y.sizes() == std::vector<std::int64_t>{3, 2});
  CHECK(y[2][0].item<float>() == 0.75f);
  CHECK(y[2][1].item<float>() == 0.0f);
  // A chain: every internal node's right child is a leaf, its left child the next split.
  auto chain = [](int depth) {
    Tree t;
    for (int i = 0; i < depth; ++i) {
      const int n = static_cast<int>(t.left.size());
      const bool last = i + 1 == depth;
      t.left.push_back(n + 2);   // next split (or, at the end, a leaf)
      t.right.push_back(n + 1);  // leaf
      t.feature.push_back(i % 2);
      t.threshold.push_back(static_cast<float>(i));
      t.value.push_back(0);
      t.cover.push_back(2);
      t.default_left.push_back(1);
      // the right leaf
      t.left.push_back(-1);
      t.right.push_back(-1);
      t.feature.push_back(0);
      t.threshold.push_back(static_cast<float>(i));
      t.value.push_back(static_cast<float>(i));
      t.cover.push_back(1);
      t.default_left.push_back(0);
      if (last) {
        t.left.push_back(-1);
        t.right.push_back(-1);
        t.feature.push_back(0);
        t.threshold.push_back(-1.0f);
        t.value.push_back(-1.0f);
        t.cover.push_back(1);
        t.default_left.push_back(0);
      }
    }
    return t;
  };
  // A complete tree of the given depth (every level full).
  auto full = [](int depth) {
    Tree t;
    const int n = (2 << depth) - 1;
    for (int i = 0; i < n; ++i) {
      const bool is_leaf = 2 * i + 1 >= n;
      t.left.push_back(is_leaf ? -1 : 2 * i + 1);
      t.right.push_back(is_leaf ? -1 : 2 * i + 2);
      t.feature.push_back(i % 2);
      t.threshold.push_back(static_cast<float>(i % 7));
      t.value.push_back(static_cast<float>(i));
      t.cover.push_back(1);
      t.default_left.push_back(static_cast<std::uint8_t>(i % 3 == 0));
    }
    return t;
  };
  // Hummingbird's depth rule, plus: thin (chain-like) trees are not padded to complete ones.
  for (int depth : {3, 4, 10, 11}) {
    TreeEnsemble f = e;
    f.trees = {full(depth)};
    CHECK(f.max_depth() == depth);
    CHECK(choose_strategy(f) == (depth <= 3    ? TreeStrategy::kGemm
                                 : depth <= 10 ? TreeStrategy::kPerfectTreeTraversal
                                               : TreeStrategy::kTreeTraversal));
  }
  for (int depth : {3, 4, 10, 11}) {
    TreeEnsemble c = e;
    c.trees = {chain(depth)};
    CHECK(c.max_depth() == depth);
    CHECK(choose_strategy(c) == (depth <= 3   ? TreeStrategy::kGemm
                                 : depth == 4 ? TreeStrategy::kPerfectTreeTraversal  // 31 slots for 9 nodes
                                              : TreeStrategy::kTreeTraversal));
    // Every strategy walks the chain like the reference walk.
    std::vector<float> x;
    for (float a : {-5.0f, 0.0f, 1.0f, 2.5f, 7.0f, 20.0f, std::numeric_limits<float>::quiet_NaN()})
      for (float b : {-5.0f, 0.0f, 3.0f, 6.0f, 9.0f, 20.0f}) x.insert(x.end(), {a, b});
    for (auto s : {TreeStrategy::kGemm, TreeStrategy::kTreeTraversal, TreeStrategy::kPerfectTreeTraversal}) {
      auto cm = compile_ensemble(c, s);
      auto out =
          cm.forward({torch::from_blob(x.data(), {static_cast<std::int64_t>(x.size() / 2), 2})}).toTensor();
      for (std::size_t r = 0; r < x.size() / 2; ++r) {
        const auto ref = c.margins(x.data() + 2 * r);
        CHECK(out[static_cast<std::int64_t>(r)][0].item<float>() == ref[0]);
      }
    }
  }
  CHECK_THROWS_AS(parse_tree_strategy("bogus"), std::invalid_argument);
  CHECK(parse_tree_strategy("tree_traversal") == TreeStrategy::kTreeTraversal);
}

TEST_CASE("train command with --arch gbdt and rf: bundle, manifest, reload, evaluate") {
  fixtures::TempDir dir;
  const auto csv = dir.file("flows.csv");
  fixtures::write_synthetic_csv(csv, 150);
  for (const std::string arch : {"gbdt", "rf"}) {
    DYNAMIC_SECTION("arch " << arch) {
      TrainOptions o;
      o.data = {csv};
      o.config = tree_config(arch, arch == "rf" ? 10 : 20, 4);
      o.out = dir.file(arch + ".pt");
      o.report = dir.file(arch + ".html");
      o.json = dir.file(arch + ".json");
      o.name = "trees-" + arch;
      std::ostringstream log;
      const auto out = run_train(o, log);
      INFO(log.str());
      CHECK(out.test.macro_f1 > 0.9);
      CHECK(out.export_max_abs_diff < 1e-6);
      CHECK(out.trained.compile_max_abs_diff < 1e-5);
      CHECK(log.str().find("margins match XGBoost within") != std::string::npos);
      auto b = flowguard::models::load_bundle(o.out);
      CHECK(b.manifest.architecture == arch);
      CHECK(b.manifest.scaling.kind == "none");
      CHECK(b.module.find_method("explain").has_value());
      {
        c10::InferenceMode guard;
        CHECK_NOTHROW(flowguard::models::validate_bundle(b, {1, 16, 256}));
      }
      const auto training = nlohmann::json::parse(b.manifest.training_json);
      CHECK(training["compiled"]["explain"] == "saabas");
      CHECK(training["compiled"]["max_abs_margin_diff_vs_xgboost"].get<double>() < 1e-5);
      CHECK(std::filesystem::file_size(o.report) > 1000);
      EvaluateOptions e;
      e.model = o.out;
      e.data = {csv};
      e.subset = "test";
      std::ostringstream elog;
      const auto ev = run_evaluate(e, elog);
      CHECK(ev.macro_f1 == Approx(out.test.macro_f1).margin(1e-9));
    }
  }
}

TEST_CASE("a tree bundle served by the real inference server gives the module's classes and explanations") {
  fixtures::TempDir dir;
  const auto csv = dir.file("flows.csv");
  fixtures::write_synthetic_csv(csv, 150);
  TrainOptions o;
  o.data = {csv};
  o.config = tree_config("gbdt", 20, 4);
  o.out = dir.file("gbdt.pt");
  std::ostringstream log;
  run_train(o, log);
  auto bundle = flowguard::models::load_bundle(o.out);
  LoadOptions lo;
  const Dataset data = load_dataset({csv}, lo);
  const std::size_t nf = data.n_features();

  fgtest::InProcessServer srv(o.out,
                              [](flowguard::inference::ServerOptions& so) { so.batch.explain_top = 3; });
  fgtest::AgentClient client(srv.socket());
  REQUIRE(client.hello(data.feature_names, data.profile)->accepted());
  std::size_t attacks_explained = 0, checked = 0;
  for (std::size_t r = 0; r < data.rows(); r += 37) {
    std::vector<float> row(data.row(r), data.row(r) + nf);
    if (r % 2) row[r % nf] = std::numeric_limits<float>::quiet_NaN();  // odd values travel too
    REQUIRE(client.send_flows(r + 1, r + 1, 1, row));
    auto vb = client.read_verdicts();
    REQUIRE(vb);
    REQUIRE(vb->verdicts_size() == 1);
    const auto& v = vb->verdicts(0);
    c10::InferenceMode guard;
    auto logits =
        bundle.module.forward({torch::from_blob(row.data(), {1, static_cast<std::int64_t>(nf)})}).toTensor();
    auto p = torch::softmax(logits, 1);
    const auto cls = p.argmax(1).item<std::int64_t>();
    CHECK(v.class_index() == static_cast<std::uint32_t>(cls));
    CHECK(v.score() == Approx(p[0][cls].item<float>()).margin(1e-6));
    ++checked;
    if (v.action() != v1::ACTION_ALLOW) {
      REQUIRE(v.top_features_size() > 0);
      auto ex = bundle.module
                    .get_method("explain")({torch::from_blob(row.data(), {1, static_cast<std::int64_t>(nf)}),
                                            torch::tensor({cls}, torch::kInt64)})
                    .toTensor();
      // The strongest feature the server names is the strongest Saabas contribution.
      const auto top = ex.narrow(1, 0, static_cast<std::int64_t>(nf)).abs().argmax(1).item<std::int64_t>();
      CHECK(v.top_features(0).name() == data.feature_names[static_cast<std::size_t>(top)]);
      CHECK(v.top_features(0).contribution() == Approx(ex[0][top].item<float>()).margin(1e-6));
      ++attacks_explained;
    }
  }
  CHECK(checked > 10);
  CHECK(attacks_explained > 3);
}
