#pragma once
// Operator feedback into training (docs/training.md, "Operator feedback"):
//   export_feedback()   the capture agent's event store (--events) -> a CSV of the flows operators
//                       marked as false positives (`flowguardctl mark-fp`), labelled BENIGN, in the
//                       profile's own CSV layout, so load_dataset() reads it like any other input;
//   add_extra_rows()    appends such rows (repeated) to a training split (`train --extra-benign`).
// No LibTorch here.

#include "dataset.hpp"

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace flowguard::train {

struct ExportFeedbackOptions {
  std::string events;   // the agent's SQLite event store
  std::string out;      // CSV to write
  std::string profile;  // empty: the one profile of the marked alerts (an error when they hold several)
  std::string label = "BENIGN";
};

struct ExportFeedbackResult {
  std::string profile;
  std::size_t rows = 0;                    // written
  std::size_t skipped_no_features = 0;     // marked alerts stored before the agent kept features
  std::size_t skipped_other_profile = 0;   // marked alerts of another profile than the one exported
  std::vector<std::string> group_columns;  // feature-group columns written before Label
};

// Throws DataError: unreadable store, no feedback table, feature names in the store that differ from
// the trainer's names for that profile (named), several profiles without --profile, nothing to export.
ExportFeedbackResult export_feedback(const ExportFeedbackOptions& options, std::ostream& log);

// Appends every row of `extra` to `into` `repeat` times (oversampling: a handful of corrected flows
// against thousands of training rows). The feature names must equal (else DataError naming the
// first differences) and every row must carry `required_label`.
// Returns the number of distinct rows added.
std::size_t add_extra_rows(Dataset& into, const Dataset& extra, const std::string& required_label,
                           std::size_t repeat);

// "position 3: 'A' here, 'B' there; ..." for the first few differences of two name lists (empty when equal).
std::string describe_name_differences(const std::vector<std::string>& here,
                                      const std::vector<std::string>& there);

}  // namespace flowguard::train
