// flowguard-train with LibTorch: each architecture learns, runs are reproducible, the exported bundle
// equals the trained module, evaluate/predict work on files. Torch before Catch2: both define CHECK.
#include "bundle/bundle.hpp"
#include "train/commands.hpp"
#include "train/model.hpp"
#include "train/profiles.hpp"
#include "train/split.hpp"
#include "train_fixtures.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

using namespace flowguard::train;
using fixtures::TempDir;

namespace {

struct Prepared {
  Dataset all, train, val, test;
};

Prepared prepare(const std::string& csv) {
  Prepared p;
  p.all = load_dataset({csv});
  const auto s = make_split(p.all, SplitKind::kTime, 1);
  p.train = subset(p.all, s.train);
  p.val = subset(p.all, s.val);
  p.test = subset(p.all, s.test);
  return p;
}

double accuracy(torch::jit::Module& m, const Dataset& d) {
  const auto proba = predict_proba(m, d);
  const std::size_t k = d.class_names.size();
  std::size_t right = 0;
  for (std::size_t i = 0; i < d.rows(); ++i) {
    const float* p = proba.data() + i * k;
    right += static_cast<std::int32_t>(std::max_element(p, p + k) - p) == d.y[i];
  }
  return static_cast<double>(right) / static_cast<double>(d.rows());
}

TrainConfig small_config(const std::string& arch, std::uint64_t seed = 3) {
  TrainConfig c;
  c.arch = arch;
  c.epochs = 12;
  c.patience = 12;
  c.batch_size = 32;
  c.learning_rate = 3e-3;
  c.seed = seed;
  c.progress = false;
  return c;
}

std::vector<torch::Tensor> weights(const torch::jit::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

}  // namespace

TEST_CASE("every architecture learns separable synthetic classes") {
  TempDir dir;
  const auto csv = dir.file("train.csv");
  fixtures::write_synthetic_csv(csv, 120);
  const auto p = prepare(csv);
  for (const auto& arch : architectures()) {
    DYNAMIC_SECTION("arch " << arch) {
      auto result = train_model(p.train, p.val, small_config(arch));
      const double acc = accuracy(result.module, p.test);
      INFO(arch << " test accuracy " << acc);
      CHECK(acc > 0.9);  // chance is 1/3
      CHECK(result.history.size() >= 1);
      CHECK(result.best_epoch >= 1);
      // rf is one XGBoost round of parallel trees: nothing to compare across rounds.
      if (arch == "rf")
        CHECK(result.history.size() == 1);
      else
        CHECK(result.history.back().train_loss < result.history.front().train_loss);
    }
  }
}

TEST_CASE("the same seed gives identical weights and outputs, another seed does not") {
  TempDir dir;
  const auto csv = dir.file("train.csv");
  fixtures::write_synthetic_csv(csv, 60);
  const auto p = prepare(csv);
  auto config = small_config("cnn_lstm", 11);
  config.epochs = 3;
  auto a = train_model(p.train, p.val, config);
  auto b = train_model(p.train, p.val, config);
  config.seed = 12;
  auto c = train_model(p.train, p.val, config);
  const auto wa = weights(a.module), wb = weights(b.module), wc = weights(c.module);
  REQUIRE(wa.size() == wb.size());
  bool all_equal = true, any_differs = false;
  for (std::size_t i = 0; i < wa.size(); ++i) {
    all_equal = all_equal && torch::equal(wa[i], wb[i]);
    any_differs = any_differs || !torch::equal(wa[i], wc[i]);
  }
  CHECK(all_equal);
  CHECK(any_differs);
  CHECK(predict_proba(a.module, p.test) == predict_proba(b.module, p.test));
  for (std::size_t i = 0; i < a.history.size(); ++i)
    CHECK(a.history[i].train_loss == b.history[i].train_loss);
}

TEST_CASE("scaling is fitted on training rows and embedded in the module") {
  Dataset d;
  d.feature_names = {"a", "b"};
  d.class_names = {"BENIGN"};
  const float xs[3][2] = {{0, 5}, {std::expm1(2.0f), 5}, {NAN, 5}};  // transformed a: 0, 2, 0
  for (auto& r : xs) {
    d.x.insert(d.x.end(), r, r + 2);
    d.y.push_back(0);
  }
  const auto s = fit_scaler(d);
  CHECK(s.center[0] == Approx(2.0 / 3));
  CHECK(s.scale[0] == Approx(std::sqrt(8.0 / 9)));
  CHECK(s.center[1] == Approx(std::log1p(5.0)));
  CHECK(s.scale[1] == 1.0);  // constant column
  CHECK(sanitize_and_transform(-std::expm1(3.0f)) == Approx(-3.0));
  CHECK(std::isfinite(sanitize_and_transform(INFINITY)));
  auto m = build_module("mlp", 2, 2, s, 1);
  m.eval();
  c10::InferenceMode guard;
  auto prep = m.get_method("prepare")({torch::tensor({{0.0f, 5.0f}, {NAN, INFINITY}})}).toTensor();
  CHECK(prep[0][0].item<float>() == Approx(-(2.0 / 3) / std::sqrt(8.0 / 9)).epsilon(1e-5));
  CHECK(prep[0][1].item<float>() == Approx(0.0).margin(1e-5));
  CHECK(torch::isfinite(prep).all().item<bool>());
  CHECK(prep[1][1].item<float>() == Approx(20.0));  // clamped
  CHECK_THROWS_AS(build_module("transformer", 2, 2, s, 1), std::invalid_argument);
}

TEST_CASE("train command: exported bundle reproduces the trained module, evaluate and predict use it") {
  TempDir dir;
  const auto csv = dir.file("flows.csv");
  fixtures::write_synthetic_csv(csv, 100);
  TrainOptions o;
  o.data = {csv};
  o.config = small_config("cnn_lstm");
  o.out = dir.file("model.pt");
  o.report = dir.file("report.html");
  o.json = dir.file("metrics.json");
  o.name = "synthetic";
  o.version = "7";
  o.command_line = "flowguard-train train --data flows.csv";
  std::ostringstream log;
  auto outcome = run_train(o, log);
  INFO(log.str());
  CHECK(outcome.test.accuracy > 0.9);
  CHECK(outcome.export_max_abs_diff <= 1e-5);

  c10::InferenceMode guard;
  auto bundle = flowguard::models::load_bundle(o.out);
  const auto& m = bundle.manifest;
  CHECK(m.name == "synthetic");
  CHECK(m.version == "7");
  CHECK(m.architecture == "cnn_lstm");
  CHECK(m.feature_profile == "corrected");
  CHECK(m.feature_names == corrected_features());
  CHECK(m.class_names == fixtures::synthetic_classes());
  CHECK(m.benign_class == "BENIGN");
  CHECK(m.scaling.kind == "standard");
  CHECK(m.scaling.transform == "signed_log1p");
  CHECK(m.scaling.center == outcome.trained.scaler.center);
  CHECK(m.thresholds.alert <= m.thresholds.block);
  CHECK(m.thresholds.tuned_for.find("validation") != std::string::npos);
  const auto training = nlohmann::json::parse(m.training_json);
  CHECK(training["split"]["kind"] == "time");
  CHECK(training["command"] == o.command_line);
  REQUIRE_NOTHROW(flowguard::models::validate_bundle(bundle, {1, 16, 64}));

  // Same inputs, including NaN/Inf and negative values, through the trained module and the reloaded file.
  torch::manual_seed(5);
  auto x = torch::rand({64, 81}) * 1e6 - 1e3;
  x.index_put_({0, 3}, std::numeric_limits<float>::quiet_NaN());
  x.index_put_({1, 13}, std::numeric_limits<float>::infinity());
  x.index_put_({2, 0}, -std::numeric_limits<float>::infinity());
  const auto trained = outcome.trained.module.forward({x}).toTensor();
  const auto loaded = bundle.module.forward({x}).toTensor();
  CHECK(torch::allclose(trained, loaded, 1e-5, 1e-5));
  CHECK(torch::isfinite(loaded).all().item<bool>());

  // Report and JSON.
  std::ifstream html_in(o.report);
  const std::string html((std::istreambuf_iterator<char>(html_in)), {});
  CHECK(html.find("<svg class=\"confusion\"") != std::string::npos);
  CHECK(html.find("Loss per epoch") != std::string::npos);
  CHECK(html.find("Data audit") != std::string::npos);
  std::ifstream json_in(o.json);
  const auto metrics = nlohmann::json::parse(json_in);
  CHECK(metrics["evaluations"]["test (time split)"]["accuracy"].get<double>() ==
        Approx(outcome.test.accuracy));
  CHECK(metrics["audit"]["rows_kept"] == 300);

  // evaluate on the test subset recomputes the same split and the same numbers.
  EvaluateOptions e;
  e.model = o.out;
  e.data = {csv};
  e.subset = "test";
  e.json = dir.file("eval.json");
  const auto ev = run_evaluate(e, log);
  CHECK(ev.rows == outcome.test.rows);
  CHECK(ev.macro_f1 == Approx(outcome.test.macro_f1).epsilon(1e-12));
  CHECK(ev.confusion == outcome.test.confusion);

  // Unknown labels are reported, not scored.
  const auto other = dir.file("other.csv");
  {
    std::mt19937_64 rng(9);
    std::ofstream out(other);
    out << fixtures::corrected_header() << "\n";
    out << fixtures::corrected_row(1, "BENIGN", 0, rng, 1) << "\n";
    out << fixtures::corrected_row(2, "Heartbleed", 2, rng, 2) << "\n";
    out << fixtures::corrected_row(3, "Heartbleed", 2, rng, 3) << "\n";
  }
  e.data = {other};
  e.subset = "all";
  const auto ev2 = run_evaluate(e, log);
  CHECK(ev2.rows == 1);
  CHECK(ev2.unknown_labels.at("Heartbleed") == 2);

  // predict: one row per input row, ids from the id column, or row numbers without it.
  PredictOptions pr;
  pr.model = o.out;
  pr.data = {csv};
  pr.out = dir.file("pred.csv");
  CHECK(run_predict(pr, log) == 300);
  std::ifstream pred(pr.out);
  std::string line;
  std::getline(pred, line);
  CHECK(line == "id,predicted,score");
  std::vector<std::string> lines;
  while (std::getline(pred, line)) lines.push_back(line);
  REQUIRE(lines.size() == 300);
  CHECK(lines.front().rfind("1000,", 0) == 0);
  CHECK(lines.back().rfind("1299,", 0) == 0);
  std::size_t right = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto c1 = lines[i].find(','), c2 = lines[i].rfind(',');
    const auto cls = lines[i].substr(c1 + 1, c2 - c1 - 1);
    const double score = std::stod(lines[i].substr(c2 + 1));
    CHECK((score >= 0.0 && score <= 1.0));
    right += cls == fixtures::synthetic_classes()[i % 3];
  }
  CHECK(right > 270);

  const auto unlabelled = dir.file("unlabelled.csv");
  {
    std::ifstream in(csv);
    std::ofstream out(unlabelled);
    std::string l;
    std::getline(in, l);
    // Drop id, Label and Attempted Category: flowguard's own export before a user labels it.
    auto strip = [](const std::string& s) {
      auto t = s.substr(s.find(',') + 1);
      t = t.substr(0, t.rfind(','));
      return t.substr(0, t.rfind(','));
    };
    out << strip(l) << "\n";
    for (int i = 0; i < 5 && std::getline(in, l); ++i) out << strip(l) << "\n";
  }
  pr.data = {unlabelled};
  CHECK(run_predict(pr, log) == 5);
  std::ifstream pred2(pr.out);
  std::getline(pred2, line);
  std::getline(pred2, line);
  CHECK(line.rfind("1,", 0) == 0);
}

TEST_CASE("a model refuses data of another feature profile") {
  TempDir dir;
  const auto csv = dir.file("flows.csv");
  fixtures::write_synthetic_csv(csv, 30);
  TrainOptions o;
  o.data = {csv};
  o.config = small_config("mlp");
  o.config.epochs = 1;
  o.out = dir.file("model.pt");
  std::ostringstream log;
  run_train(o, log);
  const auto kdd = dir.file("kdd.txt");
  std::ofstream(kdd)
      << "0,tcp,http,SF,215,45076,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,"
         "0.00,0,0,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,normal,21\n";
  PredictOptions pr;
  pr.model = o.out;
  pr.data = {kdd};
  pr.out = dir.file("p.csv");
  CHECK_THROWS(run_predict(pr, log));
}
