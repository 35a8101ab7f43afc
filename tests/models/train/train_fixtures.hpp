#pragma once
// Synthetic flow tables written by the trainer tests (no shared data needed): the corrected CSV layout
// with separable classes, plus helpers for temporary directories.

#include "train/profiles.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace fixtures {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("fg-train-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string corrected_header() {
  std::string h = "id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp";
  for (const auto& f : flowguard::train::corrected_features()) h += "," + f;
  return h + ",Label,Attempted Category";
}

// One CSV row in the corrected layout. Class c scales a handful of features so classes separate.
inline std::string corrected_row(std::size_t id, const std::string& label, int cls, std::mt19937_64& rng,
                                 int second) {
  std::lognormal_distribution<double> noise(0.0, 0.3);
  std::string row = std::to_string(id) + ",10.0.0.1-10.0.0.2-1234-80-6,10.0.0.1,1234,10.0.0.2,80,6," +
                    "2017-07-05 12:" + (second / 60 < 10 ? "0" : "") + std::to_string(second / 60) + ":" +
                    (second % 60 < 10 ? "0" : "") + std::to_string(second % 60) + ".000000";
  const auto n = flowguard::train::corrected_features().size();
  for (std::size_t f = 0; f < n; ++f) {
    double base = 10.0 * noise(rng);
    if (f % 7 == 0) base *= std::pow(30.0, cls);  // class signature on every 7th feature
    if (f % 11 == 3) base *= std::pow(0.05, cls);
    row += "," + std::to_string(std::floor(base * 100.0) / 100.0);
  }
  return row + "," + label + ",-1";
}

inline const std::vector<std::string>& synthetic_classes() {
  static const std::vector<std::string> names{"BENIGN", "DoS Hulk", "Portscan"};
  return names;
}

// rows_per_class rows of each synthetic class, timestamps increasing with the row number.
inline void write_synthetic_csv(const std::string& path, std::size_t rows_per_class, std::uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::ofstream out(path);
  out << corrected_header() << "\n";
  std::size_t id = 1000;
  for (std::size_t i = 0; i < rows_per_class; ++i)
    for (int c = 0; c < 3; ++c)
      out << corrected_row(id++, synthetic_classes()[static_cast<std::size_t>(c)], c, rng,
                           static_cast<int>(i % 3600))
          << "\n";
}

}  // namespace fixtures
