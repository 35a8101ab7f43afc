#pragma once
// Loading labelled flow tables for training and evaluation: CIC-IDS2017 CSVs in the corrected (CNS2022)
// layout and flowguard's own export (same layout), the original MachineLearningCVE / TrafficLabelling
// layouts, and NSL-KDD text files. No LibTorch here.
//
// Policy for odd values (docs/training.md): NaN, +/-Infinity and negative durations occur in real flow
// data and in live traffic alike, so rows holding them are KEPT and counted; the model maps them to
// finite values itself. Rows that cannot be parsed (wrong field count, non-numeric text in a feature)
// are DROPPED and counted, never guessed.

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowguard::train {

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LoadStats {
  std::size_t files = 0;
  std::size_t rows_read = 0;  // data lines seen (header excluded, blank lines ignored)
  std::size_t rows_kept = 0;
  std::size_t rows_dropped_malformed = 0;
  std::size_t rows_with_nan = 0;           // kept; NaN includes empty feature cells
  std::size_t rows_with_inf = 0;           // kept
  std::size_t rows_negative_duration = 0;  // kept
  std::size_t cells_nan = 0;
  std::size_t cells_inf = 0;
  std::size_t rows_bad_timestamp = 0;     // kept; their time is taken as unknown (NaN)
  std::size_t rows_unknown_category = 0;  // NSL-KDD value outside the standard vocabulary; kept
  std::size_t rows_relabelled = 0;        // labels renamed by LoadOptions::label_map; kept
  std::size_t rows_group_missing = 0;     // rows of files without a requested group's columns (NaN); kept
  std::vector<std::string> notes;         // first few drop reasons with file:line
};

struct Dataset {
  std::string profile;  // corrected, cicids2017 or nsl-kdd
  std::vector<std::string> feature_names;  // the profile's features, then every group's (LoadOptions::groups)
  std::vector<std::string> groups;         // feature groups appended after the profile's features
  std::size_t n_profile_features = 0;      // feature_names[0, n_profile_features) are the profile's
  std::vector<float> x;                  // row-major [rows x features], raw values (NaN/Inf kept)
  std::vector<std::string> class_names;  // labels present, sorted
  std::vector<std::int32_t> y;           // index into class_names, -1 when the input has no label
  std::vector<std::string> ids;          // `id` column when present, else the 1-based data row number
  std::vector<double> time;              // flow start, seconds since epoch; NaN when unknown
  std::vector<std::uint32_t> file_index;
  std::vector<std::string> files;
  bool has_labels = false;
  bool has_timestamps = false;
  LoadStats stats;

  std::size_t rows() const { return y.size(); }
  std::size_t n_features() const { return feature_names.size(); }
  const float* row(std::size_t i) const { return x.data() + i * feature_names.size(); }
};

struct LoadOptions {
  std::string profile;  // empty: detect from the header; otherwise required to match
  std::string label_column = "Label";
  bool require_labels = true;
  // Labels renamed on load (e.g. merged_label_map(): labels with the same observable behaviour become
  // one class). Applied to every file, so CIC rows and lab rows get the same classes.
  std::map<std::string, std::string> label_map;
  // Feature groups appended after the profile's features (e.g. "host_context"). A file without a group's
  // columns (the CIC sample) gives NaN for them: "missing", which trees route by a learned default
  // direction (docs/training.md, "Feature groups").
  std::vector<std::string> groups;
};

// Every PATH may be a file or a directory (its *.csv and *.txt files, sorted by name, are read).
// All files must share one profile. Throws DataError naming the file and problem.
Dataset load_dataset(const std::vector<std::string>& paths, const LoadOptions& options = {});

// Parses "2017-07-06 12:39:06.818901", "2017-07-06T12:39:06", "6/7/2017 12:39(:06)( PM)" (d/m/y, as
// in the original CIC-IDS2017 CSVs). Returns NaN when the text is not a timestamp.
double parse_timestamp(std::string_view text);

// A subset of rows (a split), keeping class_names so indices stay comparable.
Dataset subset(const Dataset& data, const std::vector<std::size_t>& rows);

}  // namespace flowguard::train
