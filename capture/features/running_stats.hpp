#pragma once
// The running summary both reference extractors keep per statistic (commons-math3 SummaryStatistics),
// updated in exactly the same order so means and deviations agree to the last bit (spec §3.1).

#include <cmath>
#include <cstdint>
#include <limits>

namespace flowguard::capture::features {

class RunningStats {
 public:
  void add(double v) {
    if (n_ == 0) {
      m1_ = 0.0;
      m2_ = 0.0;
      min_ = v;
      max_ = v;
    } else {
      // Plain comparisons as in commons-math Min/Max (NaN never occurs: inputs are integers).
      if (v < min_) min_ = v;
      if (v > max_) max_ = v;
    }
    ++n_;
    const double dev = v - m1_;
    const double n_dev = dev / static_cast<double>(n_);
    m1_ += n_dev;
    m2_ += static_cast<double>(n_ - 1) * dev * n_dev;
    sum_ += v;
  }

  std::int64_t count() const { return n_; }
  bool empty() const { return n_ == 0; }
  double sum() const { return sum_; }
  double mean() const { return n_ == 0 ? nan() : m1_; }
  double min() const { return n_ == 0 ? nan() : min_; }
  double max() const { return n_ == 0 ? nan() : max_; }
  double variance() const {
    if (n_ == 0) return nan();
    if (n_ == 1) return 0.0;
    return m2_ / static_cast<double>(n_ - 1);
  }
  double stddev() const { return n_ == 0 ? nan() : std::sqrt(variance()); }

 private:
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }
  std::int64_t n_ = 0;
  double sum_ = 0.0, min_ = 0.0, max_ = 0.0, m1_ = 0.0, m2_ = 0.0;
};

}  // namespace flowguard::capture::features
