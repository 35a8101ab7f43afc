#pragma once
// The three flowguard-train subcommands as functions (main.cpp only parses the command line), so
// tests drive exactly what users run.

#include "metrics.hpp"
#include "model.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace flowguard::train {

struct TrainOptions {
  std::vector<std::string> data;
  std::string profile;  // empty: detect
  std::string benign;   // empty: the class named BENIGN/normal
  TrainConfig config;
  std::string split = "time";
  std::string out = "model.pt";
  std::string report;  // HTML path, optional
  std::string json;    // metrics JSON path, optional
  std::string name = "flowguard-cnn-lstm";
  std::string version = "1";
  double target_fpr = 0.005;    // block threshold: benign FPR on validation <= this
  double target_recall = 0.99;  // alert threshold: attack recall on validation >= this
  std::size_t major_min = 500;  // classes with at least this many flows form the "major" macro-F1
  std::string command_line;
  // Operator feedback (export-feedback CSVs): benign rows added to the training split only, each
  // repeated extra_benign_repeat times; validation and test stay as drawn from `data`.
  std::vector<std::string> extra_benign;
  std::size_t extra_benign_repeat = 20;
};

struct TrainOutcome {
  TrainResult trained;
  Evaluation test, validation;
  double load_seconds = 0, total_seconds = 0;
  double export_max_abs_diff = 0;  // trained module vs saved-and-reloaded bundle, on the test rows
};

TrainOutcome run_train(const TrainOptions& options, std::ostream& log);

struct EvaluateOptions {
  std::string model;
  std::vector<std::string> data;
  std::string subset = "all";  // all | train | val | test (of --split, recomputed from the data)
  std::string split = "time";
  std::uint64_t seed = 1;
  std::string report, json;
  std::size_t major_min = 500;
  std::string command_line;
};

Evaluation run_evaluate(const EvaluateOptions& options, std::ostream& log);

struct PredictOptions {
  std::string model;
  std::vector<std::string> data;
  std::string out = "predictions.csv";
};

// Returns the number of rows written.
std::size_t run_predict(const PredictOptions& options, std::ostream& log);

}  // namespace flowguard::train
