#pragma once
// One flow's model features in the profile's feature_names() order, with how the reference prints each
// value: Java long/int literals (including the int literal 0 the references print in "empty" branches)
// or Java doubles. Model consumers read values(); the CSV writer also needs integral().

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace flowguard::capture::features {

inline constexpr std::size_t max_feature_count = 81;

class FeatureRow {
 public:
  void clear() { size_ = 0; }
  void put_long(std::int64_t v) { push(static_cast<double>(v), 1); }
  void put_double(double v) { push(v, 0); }
  // The references print the int literal 0 (not 0.0) for statistics of an empty set.
  void put_zero_literal() { push(0.0, 1); }
  void put_zero_literals(int n) {
    for (int i = 0; i < n; ++i) put_zero_literal();
  }

  std::size_t size() const { return size_; }
  std::span<const double> values() const { return {values_.data(), size_}; }
  std::span<const std::uint8_t> integral() const { return {integral_.data(), size_}; }

 private:
  void push(double v, std::uint8_t integral) {
    if (size_ < max_feature_count) {
      values_[size_] = v;
      integral_[size_] = integral;
      ++size_;
    }
  }
  std::array<double, max_feature_count> values_{};
  std::array<std::uint8_t, max_feature_count> integral_{};
  std::size_t size_ = 0;
};

}  // namespace flowguard::capture::features
