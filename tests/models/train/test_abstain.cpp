// Abstention and the training-data helpers of issue 13: the label map, calibration (temperature scaling
// lowers the validation NLL), the manifest's temperature and ood threshold, and an out-of-distribution
// flow through the real inference server (unknown, never a block).
#include <torch/torch.h>  // before Catch2 (both define CHECK)

#include "bundle/bundle.hpp"
#include "server/batcher.hpp"
#include "support/support.hpp"
#include "train/abstain.hpp"
#include "train/commands.hpp"
#include "train/split.hpp"
#include "train_fixtures.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

using namespace flowguard::train;
namespace v1 = flowguard::v1;

namespace {

// The synthetic corrected CSV with the scan class labelled as CIC's inside-host scan.
void write_csv_with_labels(const std::string& path, const std::vector<std::string>& labels, std::size_t per_class,
                           std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path);
  out << fixtures::corrected_header() << "\n";
  std::size_t id = 1;
  for (std::size_t i = 0; i < per_class; ++i)
    for (int c = 0; c < static_cast<int>(labels.size()); ++c)
      out << fixtures::corrected_row(id++, labels[static_cast<std::size_t>(c)], c, rng, static_cast<int>(i % 3600))
          << "\n";
}

TrainOptions small_train(const std::vector<std::string>& data, const std::string& arch, const std::string& out) {
  TrainOptions o;
  o.data = data;
  o.config.arch = arch;
  o.config.epochs = 8;
  o.config.progress = false;
  o.config.trees = 20;
  o.config.max_depth = 4;
  o.out = out;
  o.ood.reference_rows = 256;
  return o;
}

}  // namespace

TEST_CASE("the merged label map turns Infiltration - Portscan into Portscan, for training and evaluation") {
  fixtures::TempDir dir;
  const auto merged_file = dir.file("a.csv"), original = dir.file("b.csv");
  write_csv_with_labels(merged_file, {"BENIGN", "DoS Hulk", "Portscan"}, 60, 1);
  write_csv_with_labels(original, {"BENIGN", "DoS Hulk", "Infiltration - Portscan"}, 60, 2);
  LoadOptions lo;
  lo.label_map = merged_label_map();
  const auto data = load_dataset({merged_file, original}, lo);
  CHECK(data.class_names == std::vector<std::string>{"BENIGN", "DoS Hulk", "Portscan"});
  CHECK(data.stats.rows_relabelled == 60);
  const auto raw = load_dataset({merged_file, original}, LoadOptions{});
  CHECK(raw.class_names.size() == 4);
  CHECK(raw.stats.rows_relabelled == 0);
  CHECK(map_label(merged_label_map(), "Infiltration - Portscan") == "Portscan");
  CHECK(map_label(merged_label_map(), "DoS Slowloris") == "DoS Slowloris");

  // One split per class and file: both files contribute to train, validation and test of Portscan.
  const Split split = make_split(data, SplitKind::kTime, 1);
  std::size_t test_from_b = 0;
  for (auto r : split.test) test_from_b += data.file_index[r] == 1 && data.class_names[static_cast<std::size_t>(data.y[r])] == "Portscan";
  CHECK(test_from_b == 9);  // 15 % of 60

  // A model trained with the map scores rows of the original labels (no unknown labels).
  auto o = small_train({merged_file, original}, "gbdt", dir.file("m.pt"));
  std::ostringstream log;
  run_train(o, log);
  EvaluateOptions e;
  e.model = o.out;
  e.data = {original};
  std::ostringstream elog;
  const auto ev = run_evaluate(e, elog);
  INFO(elog.str());
  CHECK(ev.unknown_labels.empty());
  CHECK(ev.rows == 180);
  CHECK(ev.macro_f1 > 0.9);
}

TEST_CASE("temperature scaling lowers the negative log-likelihood of an over-confident model") {
  // 2,000 rows, 3 classes, 80 % right, logits 8x too sharp: the fitted temperature undoes the 8x.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> logits;
  std::vector<std::int32_t> y;
  for (int i = 0; i < 2000; ++i) {
    const int truth = i % 3;
    const int pred = u(rng) < 0.8 ? truth : (truth + 1) % 3;
    // log(8) for the predicted class gives it probability 8 / (8 + 1 + 1) = 0.8: calibrated; 8x too sharp here.
    for (int c = 0; c < 3; ++c) logits.push_back(c == pred ? 8.0f * std::log(8.0f) : 0.0f);
    y.push_back(truth);
  }
  const auto fit = fit_temperature(logits, y, 3);
  CHECK(fit.temperature > 4.0);
  CHECK(fit.nll_after < fit.nll_before - 0.5);
  CHECK(fit.ece_after < fit.ece_before);
  CHECK(fit.ece_after < 0.05);
  CHECK(mean_nll(logits, y, 3, fit.temperature) == Approx(fit.nll_after));
  // Already calibrated logits keep (about) T = 1 and never get worse.
  std::vector<float> calibrated;
  for (std::size_t i = 0; i < y.size(); ++i)
    for (int c = 0; c < 3; ++c) calibrated.push_back(logits[i * 3 + static_cast<std::size_t>(c)] / 8.0f);
  const auto fit2 = fit_temperature(calibrated, y, 3);
  CHECK(fit2.temperature == Approx(1.0).margin(0.1));
  CHECK(fit2.nll_after <= fit2.nll_before);
}

TEST_CASE("trained bundles carry the temperature, the ood threshold and an ood() method") {
  fixtures::TempDir dir;
  const auto csv = dir.file("flows.csv");
  fixtures::write_synthetic_csv(csv, 150);
  for (const std::string arch : {"mlp", "gbdt"}) {
    DYNAMIC_SECTION("arch " << arch) {
      auto o = small_train({csv}, arch, dir.file(arch + ".pt"));
      std::ostringstream log;
      const auto out = run_train(o, log);
      INFO(log.str());
      CHECK(log.str().find("calibration: temperature") != std::string::npos);
      CHECK(out.calibration.nll_after <= out.calibration.nll_before);
      auto b = flowguard::models::load_bundle(o.out);
      REQUIRE(b.manifest.thresholds.ood.has_value());
      CHECK(*b.manifest.thresholds.ood == Approx(out.ood_threshold));
      CHECK(*b.manifest.thresholds.ood > 0.0);
      CHECK(b.manifest.calibration.temperature == Approx(out.calibration.temperature));
      CHECK(b.manifest.calibration.ood_method.rfind("knn:", 0) == 0);
      const auto details = nlohmann::json::parse(b.manifest.calibration.details_json);
      CHECK(details["validation_nll_after"].get<double>() <= details["validation_nll_before"].get<double>());
      // The manifest round-trips through JSON.
      const auto again = flowguard::models::Manifest::from_json(b.manifest.to_json());
      CHECK(again.thresholds.ood == b.manifest.thresholds.ood);
      CHECK(again.calibration.temperature == b.manifest.calibration.temperature);
      {
        c10::InferenceMode guard;
        CHECK_NOTHROW(flowguard::models::validate_bundle(b, {1, 16}));
      }
      // forward() is the inner model's logits over the temperature.
      REQUIRE(b.module.find_method("ood"));
      const auto data = load_dataset({csv}, LoadOptions{});
      const auto nf = static_cast<std::int64_t>(data.n_features());
      auto x = torch::from_blob(const_cast<float*>(data.row(0)), {1, nf}).clone();
      c10::InferenceMode guard;
      auto inner = b.module.attr("inner").toModule();
      auto z = b.module.forward({x}).toTensor(), zi = inner.forward({x}).toTensor();
      CHECK(torch::allclose(z, zi / static_cast<float>(out.calibration.temperature), 1e-5, 1e-5));
      // Training-like rows are familiar, a far-out row is not.
      const auto in_dist = predict_ood(b.module, data);
      std::size_t above = 0;
      for (float s : in_dist) above += s > *b.manifest.thresholds.ood;
      CHECK(static_cast<double>(above) / static_cast<double>(in_dist.size()) < 0.05);
      auto far = torch::full({1, nf}, 1e12f);
      const float far_score = b.module.get_method("ood")({far}).toTensor()[0].item<float>();
      CHECK(far_score > 3 * *b.manifest.thresholds.ood);
    }
  }
}

TEST_CASE("an unknown verdict is at most an alert and says why") {
  flowguard::inference::Decision block{v1::ACTION_BLOCK, 0.9f, "class DoS Hulk"};
  flowguard::inference::apply_unknown(block, 7.5f, 2.0);
  CHECK(block.action == v1::ACTION_ALERT);
  CHECK(block.reason.rfind("unknown: ood score 7.500 > 2.000", 0) == 0);
  flowguard::inference::Decision allow{v1::ACTION_ALLOW, 0.5f, "benign"};
  flowguard::inference::apply_unknown(allow, 7.5f, 2.0);
  CHECK(allow.action == v1::ACTION_ALLOW);
  CHECK(allow.reason == "benign");
}

TEST_CASE("an out-of-distribution flow through the real server is unknown and never blocked") {
  fixtures::TempDir dir;
  const auto csv = dir.file("flows.csv");
  fixtures::write_synthetic_csv(csv, 150);
  auto o = small_train({csv}, "gbdt", dir.file("gbdt.pt"));
  std::ostringstream log;
  run_train(o, log);
  const auto b = flowguard::models::load_bundle(o.out);
  const double limit = *b.manifest.thresholds.ood;
  const auto data = load_dataset({csv}, LoadOptions{});
  const std::size_t nf = data.n_features();

  // Per-flow decisions (evidence-based blocking would need several flows per source to block).
  fgtest::InProcessServer srv(o.out, {}, flowguard::inference::Policy::from_yaml("evidence: {enabled: false}\n"));
  fgtest::AgentClient client(srv.socket());
  REQUIRE(client.hello(data.feature_names, data.profile)->accepted());
  std::uint64_t seq = 1;
  auto judge = [&](const std::vector<float>& row) {
    REQUIRE(client.send_flows(seq, seq, 1, row));
    ++seq;
    auto vb = client.read_verdicts();
    REQUIRE(vb);
    REQUIRE(vb->verdicts_size() == 1);
    return vb->verdicts(0);
  };
  // In distribution: attack rows of the training data block (the server can block this model's flows).
  std::size_t blocked = 0, familiar = 0;
  for (std::size_t r = 1; r < data.rows(); r += 3 * 17) {  // class 1 (DoS Hulk) rows
    const auto v = judge(std::vector<float>(data.row(r), data.row(r) + nf));
    familiar += !v.unknown();
    blocked += v.action() == v1::ACTION_BLOCK;
  }
  CHECK(familiar > 0);
  CHECK(blocked > 0);
  // Far out: the same attack rows scaled a million times, and a row of huge values. Never a block; the
  // ones the model still calls an attack alert with the reason.
  std::size_t unknown_alerts = 0, far_rows = 0;
  for (std::size_t r = 1; r < data.rows(); r += 3 * 17) {
    std::vector<float> row(data.row(r), data.row(r) + nf);
    for (auto& x : row) x *= 1e6f;
    const auto v = judge(row);
    ++far_rows;
    CHECK(v.unknown());
    CHECK(v.ood_score() > limit);
    CHECK(v.action() != v1::ACTION_BLOCK);
    if (v.action() == v1::ACTION_ALERT) {
      CHECK(v.reason().rfind("unknown: ", 0) == 0);
      ++unknown_alerts;
    }
  }
  const auto v = judge(std::vector<float>(nf, 1e15f));
  CHECK(v.unknown());
  CHECK(v.action() != v1::ACTION_BLOCK);
  CHECK(far_rows > 3);
  CHECK(unknown_alerts > 0);
}
