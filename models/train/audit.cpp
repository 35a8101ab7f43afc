#include "audit.hpp"

#include <cmath>
#include <cstring>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace flowguard::train {

namespace {

// Bytes of a feature vector with every NaN made identical, so equal rows hash equally.
std::string row_key(const Dataset& data, std::size_t r) {
  std::string key(data.n_features() * sizeof(float), '\0');
  const float* p = data.row(r);
  for (std::size_t f = 0; f < data.n_features(); ++f) {
    float v = std::isnan(p[f]) ? std::numeric_limits<float>::quiet_NaN() : p[f];
    if (v == 0.0f) v = 0.0f;  // -0 == +0
    std::memcpy(key.data() + f * sizeof(float), &v, sizeof(float));
  }
  return key;
}

}  // namespace

Audit audit_dataset(const Dataset& data, const Split* split) {
  Audit a;
  a.profile = data.profile;
  a.files = data.files;
  a.stats = data.stats;
  a.rows = data.rows();
  const std::size_t k = data.class_names.size(), nf = data.n_features(), n = data.rows();
  a.class_counts.resize(k);
  for (std::size_t c = 0; c < k; ++c) a.class_counts[c] = {data.class_names[c], {0, 0, 0, 0}};
  for (std::size_t i = 0; i < n; ++i)
    if (data.y[i] >= 0) ++a.class_counts[static_cast<std::size_t>(data.y[i])].second[0];
  if (split != nullptr) {
    a.split_description = split->description;
    const std::vector<std::size_t>* parts[] = {&split->train, &split->val, &split->test};
    for (std::size_t p = 0; p < 3; ++p)
      for (auto r : *parts[p])
        if (data.y[r] >= 0) ++a.class_counts[static_cast<std::size_t>(data.y[r])].second[p + 1];
  }

  // Columns: constant, duplicates of an earlier column, NaN/Inf/negative counts.
  std::unordered_map<std::string, std::size_t> column_seen;
  for (std::size_t f = 0; f < nf; ++f) {
    std::string col(n * sizeof(float), '\0');
    std::size_t nan = 0, inf = 0, neg = 0;
    bool constant = true;
    for (std::size_t i = 0; i < n; ++i) {
      float v = data.row(i)[f];
      nan += std::isnan(v);
      inf += std::isinf(v);
      neg += v < 0.0f;
      if (std::isnan(v)) v = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(col.data() + i * sizeof(float), &v, sizeof(float));
      if (i > 0 && std::memcmp(col.data() + i * sizeof(float), col.data(), sizeof(float)) != 0)
        constant = false;
    }
    const auto& name = data.feature_names[f];
    if (nan) a.nan_by_column.emplace_back(name, nan);
    if (inf) a.inf_by_column.emplace_back(name, inf);
    if (neg) a.negative_by_column.emplace_back(name, neg);
    if (constant) {
      a.constant_columns.push_back(name);
      continue;  // constant columns are trivially duplicates of each other; list them once
    }
    auto [it, inserted] = column_seen.emplace(std::move(col), f);
    if (!inserted) a.duplicate_columns.emplace_back(name, data.feature_names[it->second]);
  }

  // Rows: exact duplicates, and duplicates carrying another label (irreducible error).
  std::unordered_map<std::string, std::int32_t> first_label;
  first_label.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto [it, inserted] = first_label.emplace(row_key(data, i), data.y[i]);
    if (!inserted) (it->second == data.y[i] ? a.duplicate_rows : a.conflicting_duplicate_rows) += 1;
  }
  if (split != nullptr) {
    std::unordered_map<std::string, std::int32_t> train_rows;
    train_rows.reserve(split->train.size());
    for (auto r : split->train) train_rows.emplace(row_key(data, r), data.y[r]);
    for (auto r : split->test) {
      const auto it = train_rows.find(row_key(data, r));
      if (it == train_rows.end()) continue;
      ++a.test_rows_seen_in_train;
      if (it->second != data.y[r]) ++a.test_rows_seen_in_train_other_label;
    }
    for (auto r : split->val) a.val_rows_seen_in_train += train_rows.count(row_key(data, r));
  }
  return a;
}

std::string format_audit(const Audit& a) {
  std::ostringstream s;
  s << "data audit: profile " << a.profile << ", " << a.files.size() << " file(s), " << a.rows
    << " rows kept of " << a.stats.rows_read << " read\n";
  s << "  dropped (malformed): " << a.stats.rows_dropped_malformed
    << "; kept with NaN: " << a.stats.rows_with_nan << " rows (" << a.stats.cells_nan
    << " cells); kept with Inf: " << a.stats.rows_with_inf << " rows (" << a.stats.cells_inf
    << " cells); negative Flow Duration: " << a.stats.rows_negative_duration
    << "; unparsable Timestamp: " << a.stats.rows_bad_timestamp << "\n";
  for (const auto& n : a.stats.notes) s << "    " << n << "\n";
  if (!a.split_description.empty()) s << "  split: " << a.split_description << "\n";
  s << "  class                               total    train      val     test\n";
  for (const auto& [name, c] : a.class_counts) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-32s %8zu %8zu %8zu %8zu\n", name.c_str(), c[0], c[1], c[2], c[3]);
    s << line;
  }
  s << "  constant columns (" << a.constant_columns.size() << "):";
  for (const auto& c : a.constant_columns) s << " `" << c << "`";
  s << "\n  duplicate columns (" << a.duplicate_columns.size() << "):";
  for (const auto& [c, of] : a.duplicate_columns) s << " `" << c << "`=`" << of << "`";
  s << "\n  exact duplicate rows: " << a.duplicate_rows << " same label, " << a.conflicting_duplicate_rows
    << " with a different label\n";
  s << "  leakage: " << a.test_rows_seen_in_train << " test rows (" << a.test_rows_seen_in_train_other_label
    << " with another label) and " << a.val_rows_seen_in_train
    << " validation rows have a feature vector identical to a training row\n";
  return s.str();
}

}  // namespace flowguard::train
