// Dataset test (CTest label `dataset`): `flowguard-train evaluate` on the shipped default model must
// reproduce the CIC time-split test numbers recorded in models/default/metrics-cic-time.json (and the
// README). The model is trained on the CIC sample plus lab captures (models/README.md); this file is its
// evaluation on the CIC test rows alone, which need only the shared data.
// Exits 77 (skipped) with a message when the shared data is absent.
#include "train/commands.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: test_train_dataset <cicids2017-improved dir> <models/default dir>\n";
    return 2;
  }
  const std::filesystem::path data = argv[1], model_dir = argv[2];
  if (!std::filesystem::is_directory(data)) {
    std::cout << "FLOWGUARD-SKIPPED: shared data not found at " << data << " (set FLOWGUARD_SHARED_DIR)\n";
    return 77;
  }
  const auto model = model_dir / "model.pt", metrics = model_dir / "metrics-cic-time.json";
  if (!std::filesystem::exists(model) || !std::filesystem::exists(metrics)) {
    std::cerr << "FAILED: shipped model or metrics missing in " << model_dir << "\n";
    return 1;
  }
  std::ifstream in(metrics);
  const auto recorded = nlohmann::json::parse(in)["evaluations"]["test"];
  flowguard::train::EvaluateOptions o;
  o.model = model.string();
  o.data = {data.string()};
  o.subset = "test";
  o.split = "time";
  std::ostringstream log;
  const auto e = flowguard::train::run_evaluate(o, log);
  std::cout << log.str();
  int failures = 0;
  // Count-based metrics must match exactly (1e-9). The areas under the curves integrate over the sorted
  // scores, where a last-bit difference in a float score from another CPU's BLAS kernels can reorder
  // near-ties: they get 1e-6, still far below any real change of the model or the evaluation.
  auto expect = [&](const char* key, double got, double tolerance = 1e-9) {
    const double want = recorded[key].get<double>();
    const bool ok = std::fabs(got - want) <= tolerance;
    std::cout << (ok ? "ok   " : "FAIL ") << key << ": evaluate " << got << ", recorded " << want
              << " (difference " << std::fabs(got - want) << ", tolerance " << tolerance << ")\n";
    failures += !ok;
  };
  expect("accuracy", e.accuracy);
  expect("macro_f1", e.macro_f1);
  expect("macro_f1_major", e.macro_f1_major);
  expect("weighted_f1", e.weighted_f1);
  expect("benign_fpr", e.benign_fpr);
  expect("roc_auc", e.roc_auc, 1e-6);
  expect("pr_auc", e.pr_auc, 1e-6);
  if (e.confusion != recorded["confusion"].get<std::vector<std::vector<std::size_t>>>()) {
    std::cout << "FAIL confusion matrix differs\n";
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}
