#pragma once
// Train/validation/test splits, stratified by class.
//  - time (default): within each class, flows ordered by start time (Timestamp; file order where there
//    is none); the earliest 70% train, the next 15% validate, the latest 15% test. A model is then
//    judged on flows that happened after everything it learnt from, as in deployment.
//  - random: within each class, a seeded shuffle, then the same proportions (the optimistic protocol
//    most papers report; kept for comparison).
// Both are deterministic: the time split depends only on the data, the random split on data and seed.

#include "dataset.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::train {

enum class SplitKind { kTime, kRandom };

struct Split {
  std::vector<std::size_t> train, val, test;  // row indices, ascending
  std::string description;
};

SplitKind parse_split_kind(const std::string& name);  // throws std::invalid_argument
const char* split_name(SplitKind kind);

Split make_split(const Dataset& data, SplitKind kind, std::uint64_t seed, double val_fraction = 0.15,
                 double test_fraction = 0.15);

}  // namespace flowguard::train
