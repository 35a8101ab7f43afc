#pragma once
// Fixed-size windowed statistics on packet time, for the host-context table (host_context.hpp).
//
// A window of length W keeps two buckets aligned to multiples of W: the current one and the one
// before. The estimate over the last W at time t weights the previous bucket by the part of it that
// still lies in the window (the "sliding window counter" of rate limiters):
//     estimate = current + previous * (1 - (t mod W) / W)
// which is exact for a steady rate and never more than one bucket off. Distinct counts use small
// linear-counting bitmaps (Whang et al. 1990: n ~ m ln(m / zero bits)); the window's distinct estimate
// is the current bucket's count plus the items seen only in the previous bucket, weighted as above.
// Everything is plain fixed-size data: no allocation, trivially copyable, zero = empty.

#include <bit>
#include <cmath>
#include <cstdint>

namespace flowguard::capture::context {

// A bitmap of Words x 64 bits for linear counting.
template <int Words>
struct Bitmap {
  static constexpr int bits = Words * 64;
  std::uint64_t w[Words];

  void set(std::uint64_t hash) {
    const auto bit = static_cast<unsigned>(hash % bits);
    w[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }
  int ones() const {
    int n = 0;
    for (int i = 0; i < Words; ++i) n += std::popcount(w[i]);
    return n;
  }
  Bitmap operator|(const Bitmap& o) const {
    Bitmap r;
    for (int i = 0; i < Words; ++i) r.w[i] = w[i] | o.w[i];
    return r;
  }
  // Linear-counting estimate. A full bitmap says "at least about m ln m" (the estimate with one zero
  // bit left), which is where the sketch saturates (128 bits: ~620, 64 bits: ~266). From a table of
  // the m + 1 possible answers: no logarithm on the packet path.
  double estimate() const { return table().v[ones()]; }

 private:
  struct Table {
    double v[bits + 1];
    Table() {
      for (int ones = 0; ones <= bits; ++ones) {
        const int zero = bits - ones;
        v[ones] = zero == bits ? 0.0 : bits * std::log(static_cast<double>(bits) / (zero == 0 ? 1 : zero));
      }
    }
  };
  static const Table& table() {
    static const Table t;
    return t;
  }
};

// Two buckets of one window. `Bucket` is a plain struct of counters/bitmaps, zero when empty.
template <typename Bucket>
struct Sliding {
  std::uint32_t epoch;  // floor(t / W) of `cur` (seconds-scale windows fit 32 bits until 2106)
  Bucket cur, prev;

  // The bucket to add to at packet time t (µs). A packet older than the current bucket (out-of-order
  // capture) is added to the current one rather than rewriting the past.
  Bucket& at(std::int64_t t_us, std::int64_t window_us) {
    const auto e = static_cast<std::uint32_t>(t_us / window_us);
    if (e > epoch) {
      prev = e == epoch + 1 ? cur : Bucket{};
      cur = Bucket{};
      epoch = e;
    }
    return cur;
  }

  // Weights of (cur, prev) in the window ending at now_us: {1, 1-frac} when cur is the live bucket,
  // {1-frac, 0} when cur has just become the previous one, {0, 0} when both are older.
  struct Weights {
    double cur, prev;
  };
  Weights weights(std::int64_t now_us, std::int64_t window_us) const {
    const auto e = static_cast<std::uint32_t>(now_us / window_us);
    const double rest = 1.0 - static_cast<double>(now_us % window_us) / static_cast<double>(window_us);
    if (e <= epoch) return {1.0, e == epoch ? rest : 1.0};
    if (e == epoch + 1) return {rest, 0.0};
    return {0.0, 0.0};
  }
};

// Windowed sum of one counter member of Bucket.
template <typename Bucket, typename T>
double windowed(const Sliding<Bucket>& s, T Bucket::*member, std::int64_t now_us, std::int64_t window_us) {
  const auto w = s.weights(now_us, window_us);
  return w.cur * static_cast<double>(s.cur.*member) + w.prev * static_cast<double>(s.prev.*member);
}

// Windowed distinct count of one bitmap member of Bucket: the current bucket's items plus those seen
// only in the previous bucket, the latter weighted by the part of the previous bucket still in the window.
template <typename Bucket, int Words>
double windowed_distinct(const Sliding<Bucket>& s, Bitmap<Words> Bucket::*member, std::int64_t now_us,
                         std::int64_t window_us) {
  const auto w = s.weights(now_us, window_us);
  const double cur = (s.cur.*member).estimate();
  if (w.prev == 0.0) return w.cur * cur;
  const double both = ((s.cur.*member) | (s.prev.*member)).estimate();
  return cur + (both > cur ? both - cur : 0.0) * w.prev;
}

}  // namespace flowguard::capture::context
