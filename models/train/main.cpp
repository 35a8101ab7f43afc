// flowguard-train: train, evaluate and export flowguard model bundles (see models/README.md).
#include "commands.hpp"
#include "feedback.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

using namespace flowguard::train;

int main(int argc, char** argv) {
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  CLI::App app{"flowguard-train: train, evaluate and export flowguard model bundles"};
  app.require_subcommand(1);

  TrainOptions t;
  auto* train = app.add_subcommand("train", "train a model on labelled CSVs and export a bundle");
  train->add_option("--data", t.data, "CSV file(s) or directories of CSVs")->required();
  train->add_option("--arch", t.config.arch, "cnn_lstm | cnn | mlp | gbdt | rf")->capture_default_str();
  train->add_option("--epochs", t.config.epochs, "maximum epochs (early stopping on validation loss)")
      ->capture_default_str();
  train->add_option("--patience", t.config.patience, "epochs without improvement before stopping")
      ->capture_default_str();
  train->add_option("--batch-size", t.config.batch_size)->capture_default_str();
  train->add_option("--lr", t.config.learning_rate, "Adam learning rate")->capture_default_str();
  train->add_option("--dropout", t.config.dropout)->capture_default_str();
  train->add_option("--class-weighting", t.config.class_weighting, "none | sqrt | inverse")
      ->capture_default_str();
  train->add_option("--benign-weight", t.config.benign_weight, "extra loss weight of the benign class")
      ->capture_default_str();
  train->add_option("--split", t.split, "time | random")->capture_default_str();
  train->add_option("--seed", t.config.seed)->capture_default_str();
  train->add_option("--out", t.out, "bundle to write")->capture_default_str();
  train->add_option("--report", t.report, "self-contained HTML report to write");
  train->add_option("--json", t.json, "metrics JSON to write");
  train->add_option("--name", t.name)->capture_default_str();
  train->add_option("--version", t.version)->capture_default_str();
  train->add_option("--profile", t.profile, "corrected | cicids2017 | nsl-kdd (default: from the header)");
  train->add_option("--benign", t.benign, "benign class name (default: BENIGN or normal)");
  train->add_option("--target-fpr", t.target_fpr, "block threshold: benign FPR on validation at most this")
      ->capture_default_str();
  train
      ->add_option("--target-recall", t.target_recall,
                   "alert threshold: attack recall on validation at least this")
      ->capture_default_str();
  train
      ->add_option("--major-min", t.major_min,
                   "classes with at least this many flows form the major macro-F1")
      ->capture_default_str();
  train
      ->add_option("--trees", t.config.trees,
                   "gbdt: maximum boosting rounds (0: 300); rf: forest size (0: 100)")
      ->capture_default_str();
  train->add_option("--max-depth", t.config.max_depth, "gbdt/rf tree depth (0: 6 for gbdt, 10 for rf)")
      ->capture_default_str();
  train->add_option("--eta", t.config.eta, "gbdt learning rate")->capture_default_str();
  train
      ->add_option("--early-stopping", t.config.early_stopping, "gbdt: rounds without validation improvement")
      ->capture_default_str();
  train->add_option("--threads", t.config.threads, "XGBoost threads (gbdt/rf)")->capture_default_str();
  train
      ->add_option("--tree-strategy", t.config.tree_strategy,
                   "auto | gemm | tree_traversal | perfect_tree_traversal (how trees become tensors)")
      ->capture_default_str();
  bool quiet = false;
  train->add_flag("--quiet", quiet, "no per-epoch progress");
  train
      ->add_option("--extra-benign", t.extra_benign,
                   "CSV(s) of benign rows added to the training split only, e.g. operator feedback from "
                   "`export-feedback` (same profile as --data; every row labelled as the benign class)")
      ->check(CLI::ExistingPath);
  train
      ->add_option("--extra-benign-repeat", t.extra_benign_repeat,
                   "each --extra-benign row is added this many times (oversampling: a few corrected flows "
                   "against thousands of training rows)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));

  ExportFeedbackOptions x;
  auto* export_fb = app.add_subcommand(
      "export-feedback",
      "write the flows operators marked as false positives (flowguardctl mark-fp) in a capture agent's "
      "event store as BENIGN rows of the profile's CSV layout, for train --extra-benign");
  export_fb->add_option("--events", x.events, "the agent's SQLite event store (--events)")
      ->required()
      ->check(CLI::ExistingFile);
  export_fb->add_option("--out", x.out, "CSV to write")->required();
  export_fb->add_option("--profile", x.profile,
                        "export only alerts of this feature profile (needed when the store holds several)");

  EvaluateOptions e;
  auto* evaluate = app.add_subcommand("evaluate", "compute every metric for a bundle on labelled CSVs");
  evaluate->add_option("--model", e.model)->required();
  evaluate->add_option("--data", e.data)->required();
  evaluate
      ->add_option("--subset", e.subset, "all | train | val | test (of --split, recomputed from the data)")
      ->capture_default_str();
  evaluate->add_option("--split", e.split, "time | random")->capture_default_str();
  evaluate->add_option("--seed", e.seed, "seed of a random split")->capture_default_str();
  evaluate->add_option("--report", e.report);
  evaluate->add_option("--json", e.json);
  evaluate->add_option("--major-min", e.major_min)->capture_default_str();

  PredictOptions p;
  auto* predict = app.add_subcommand("predict", "write id,predicted,score for every input row");
  predict->add_option("--model", p.model)->required();
  predict->add_option("--data", p.data)->required();
  predict->add_option("--out", p.out)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (train->parsed()) {
      t.config.progress = !quiet;
      t.command_line = command_line;
      run_train(t, std::cout);
    } else if (evaluate->parsed()) {
      e.command_line = command_line;
      run_evaluate(e, std::cout);
    } else if (predict->parsed()) {
      run_predict(p, std::cout);
    } else if (export_fb->parsed()) {
      export_feedback(x, std::cout);
    }
  } catch (const std::exception& ex) {
    std::cerr << "flowguard-train: " << ex.what() << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
