#pragma once
// Data audit: what a reviewer must know before trusting any metric. Printed on the terminal and stored
// in the report: class counts per split, constant and duplicate feature columns, NaN/Inf per column,
// exact-duplicate rows, and test rows whose feature vector also occurs in training (leakage).

#include "dataset.hpp"
#include "split.hpp"

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace flowguard::train {

struct Audit {
  std::string profile;
  std::vector<std::string> files;
  LoadStats stats;
  std::size_t rows = 0;
  std::vector<std::pair<std::string, std::array<std::size_t, 4>>> class_counts;  // total, train, val, test
  std::vector<std::string> constant_columns;
  std::vector<std::pair<std::string, std::string>>
      duplicate_columns;  // (column, identical to earlier column)
  std::vector<std::pair<std::string, std::size_t>> nan_by_column, inf_by_column, negative_by_column;
  std::size_t duplicate_rows = 0;              // same features and label as an earlier row
  std::size_t conflicting_duplicate_rows = 0;  // same features as an earlier row, different label
  std::size_t test_rows_seen_in_train = 0;     // test feature vector also in training
  std::size_t test_rows_seen_in_train_other_label = 0;
  std::size_t val_rows_seen_in_train = 0;
  std::string split_description;
};

Audit audit_dataset(const Dataset& data, const Split* split);
std::string format_audit(const Audit& audit);  // human-readable, for the terminal

}  // namespace flowguard::train
