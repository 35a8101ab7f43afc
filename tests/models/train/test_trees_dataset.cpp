// Dataset test (CTest label `dataset`): gbdt and rf trained by `flowguard-train train` on the shared
// corrected CIC-IDS2017 sample (time split, seed 1, the shipped label map). Checks quality floors and
// that the exported TorchScript agrees with XGBoost on every test row plus the threshold/NaN/Inf edge
// rows (margins, probabilities, classes, Saabas contributions). Exits 77 (skipped) without the data.
#include "train/commands.hpp"
#include "trees_fixtures.hpp"

#include "bundle/bundle.hpp"
#include "train/split.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: test_trees_dataset <cicids2017-improved dir>\n";
    return 2;
  }
  const std::filesystem::path data = argv[1];
  if (!std::filesystem::is_directory(data)) {
    std::cout << "SKIPPED: shared data not found at " << data << " (set FLOWGUARD_SHARED_DIR)\n";
    return 77;
  }
  using namespace flowguard::train;
  const auto tmp = std::filesystem::temp_directory_path() / ("fg-trees-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  int failures = 0;
  auto sci = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return std::string(b);
  };
  auto expect = [&](bool ok, const std::string& what) {
    std::cout << (ok ? "ok: " : "FAILED: ") << what << "\n";
    failures += ok ? 0 : 1;
  };
  struct Case {
    std::string arch;
    int trees, depth;
    double min_macro_f1_major;
    double max_benign_fpr;  // arg-max, time-split test rows
  };
  // Modest sizes so the test runs in a few CPU minutes; the README's models are larger.
  for (const auto& c : // rf's bound is 3 %: the per-class-and-file time split (issue 13) gives this small forest 2.3 %.
       {Case{"gbdt", 60, 6, 0.85, 0.02}, Case{"rf", 30, 10, 0.85, 0.03}}) {
    TrainOptions o;
    o.data = {data.string()};
    o.config.arch = c.arch;
    o.config.trees = c.trees;
    o.config.max_depth = c.depth;
    o.config.seed = 1;
    o.config.progress = false;
    o.split = "time";
    // Exactness against XGBoost needs the raw margins: no temperature scaling in forward().
    o.abstain = false;
    o.out = (tmp / (c.arch + ".pt")).string();
    std::ostringstream log;
    const auto out = run_train(o, log);
    std::cout << log.str();
    const auto& t = out.test;
    expect(t.macro_f1_major >= c.min_macro_f1_major, c.arch + " macro-F1 (major classes) " +
                                                         std::to_string(t.macro_f1_major) +
                                                         " >= " + std::to_string(c.min_macro_f1_major));
    expect(t.benign_fpr <= c.max_benign_fpr, c.arch + " arg-max benign FPR " + std::to_string(t.benign_fpr) +
                                                 " <= " + std::to_string(c.max_benign_fpr));
    expect(out.trained.compile_max_abs_diff <= 1e-5,
           c.arch + " validation margins vs XGBoost " + sci(out.trained.compile_max_abs_diff));

    // Exactness on the time-split test rows (recomputed as evaluate does) plus edge rows.
    auto bundle = flowguard::models::load_bundle(o.out);
    LoadOptions lo;
    const Dataset all = load_dataset(o.data, lo);
    const auto split = make_split(all, SplitKind::kTime, 1);
    const Dataset test = subset(all, split.test);
    const auto e = parse_xgboost_json(out.trained.xgboost_json);
    auto x = test.x;
    const auto edges = trees_fixtures::edge_rows(e, test.x, test.n_features());
    x.insert(x.end(), edges.begin(), edges.end());
    const auto d = trees_fixtures::compare_with_xgboost(bundle.module, out.trained.xgboost_json, x,
                                                        test.n_features(), bundle.manifest.class_names.size());
    const std::string where = c.arch + " on " + std::to_string(d.rows) + " rows: ";
    expect(d.margin < 1e-5, where + "margins vs XGBoost " + sci(d.margin));
    expect(d.probability < 1e-5, where + "probabilities vs XGBoost " + sci(d.probability));
    expect(d.class_mismatches == 0, where + std::to_string(d.class_mismatches) + " class mismatches");
    expect(d.explain_vs_xgboost < 1e-5,
           where + "Saabas vs XGBoost approx_contribs " + sci(d.explain_vs_xgboost));
    expect(d.explain_sum < 1e-5, where + "contributions + bias - margin " + sci(d.explain_sum));
  }
  std::filesystem::remove_all(tmp);
  return failures == 0 ? 0 : 1;
}
