#include "split.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>

namespace flowguard::train {

SplitKind parse_split_kind(const std::string& name) {
  if (name == "time") return SplitKind::kTime;
  if (name == "random") return SplitKind::kRandom;
  throw std::invalid_argument("unknown split '" + name + "' (use time or random)");
}

const char* split_name(SplitKind kind) { return kind == SplitKind::kTime ? "time" : "random"; }

Split make_split(const Dataset& data, SplitKind kind, std::uint64_t seed, double val_fraction,
                 double test_fraction) {
  Split split;
  const std::size_t k = data.class_names.size();
  // Groups: one per class and input file, each split on its own. Inputs from different sources (the CIC
  // sample, each lab capture) then all contribute to train, validation and test; with one time split per
  // class, a later source (lab rows recorded in 2026) would otherwise fill only the validation and test
  // parts. The CIC sample has one file per class, so its split is what it was with one group per class.
  std::map<std::pair<std::size_t, std::uint32_t>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < data.rows(); ++i)
    if (data.y[i] >= 0) {
      const std::uint32_t file = i < data.file_index.size() ? data.file_index[i] : 0;
      groups[{static_cast<std::size_t>(data.y[i]), file}].push_back(i);
    }
  std::vector<std::size_t> rank_in_class(k, 0);
  for (auto& [key, rows] : groups) {
    const std::size_t c = key.first;
    const std::size_t rank = rank_in_class[c]++;  // 0 for the class's first file: the old seed
    if (kind == SplitKind::kTime) {
      // Unknown times sort after known ones; ties keep file order.
      std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
        const double ta = data.time[a], tb = data.time[b];
        if (std::isnan(ta) || std::isnan(tb)) return !std::isnan(ta) && std::isnan(tb);
        return ta < tb;
      });
    } else {
      std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + c + (static_cast<std::uint64_t>(rank) << 32));
      std::shuffle(rows.begin(), rows.end(), rng);
    }
    const std::size_t n = rows.size();
    auto n_test = static_cast<std::size_t>(std::llround(static_cast<double>(n) * test_fraction));
    auto n_val = static_cast<std::size_t>(std::llround(static_cast<double>(n) * val_fraction));
    // Tiny classes still get one validation and one test row when they have three or more.
    if (n >= 3) {
      n_test = std::max<std::size_t>(n_test, 1);
      n_val = std::max<std::size_t>(n_val, 1);
    } else {
      n_test = n_val = 0;
    }
    const std::size_t n_train = n - n_val - n_test;
    split.train.insert(split.train.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n_train));
    split.val.insert(split.val.end(), rows.begin() + static_cast<std::ptrdiff_t>(n_train),
                     rows.begin() + static_cast<std::ptrdiff_t>(n_train + n_val));
    split.test.insert(split.test.end(), rows.begin() + static_cast<std::ptrdiff_t>(n_train + n_val),
                      rows.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.val.begin(), split.val.end());
  std::sort(split.test.begin(), split.test.end());
  const int pct_test = static_cast<int>(std::lround(test_fraction * 100));
  const int pct_val = static_cast<int>(std::lround(val_fraction * 100));
  const std::string proportions = std::to_string(100 - pct_val - pct_test) + "/" + std::to_string(pct_val) +
                                  "/" + std::to_string(pct_test);
  if (kind == SplitKind::kTime) {
    split.description =
        "time split " + proportions + " train/val/test by flow start time within each class and file" +
        std::string(data.has_timestamps ? ""
                                        : " (no or unparsable Timestamp column for some rows: "
                                          "file order used for those)");
  } else {
    split.description =
        "random split " + proportions + " train/val/test within each class and file, seed " + std::to_string(seed);
  }
  return split;
}

}  // namespace flowguard::train
