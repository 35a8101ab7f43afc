#include "dataset.hpp"

#include "profiles.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

namespace flowguard::train {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxNotes = 10;
constexpr double kNaNValue = std::numeric_limits<double>::quiet_NaN();

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n' ||
                        s.front() == '"'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n' || s.back() == '"'))
    s.remove_suffix(1);
  return s;
}

// Splits one CSV line into fields (views into the line). Quoted fields may hold commas; the
// CIC-IDS2017 files never quote, flowguard's export quotes only labels.
void split_fields(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      const std::size_t start = i + 1;
      std::size_t close = line.find('"', start);
      while (close != std::string_view::npos && close + 1 < line.size() && line[close + 1] == '"')
        close = line.find('"', close + 2);
      if (close == std::string_view::npos) {
        out.push_back(line.substr(start));
        return;
      }
      out.push_back(line.substr(start, close - start));
      i = line.find(',', close);
      if (i == std::string_view::npos) return;
      ++i;
      continue;
    }
    const std::size_t comma = line.find(',', i);
    if (comma == std::string_view::npos) {
      out.push_back(line.substr(i));
      return;
    }
    out.push_back(line.substr(i, comma - i));
    i = comma + 1;
  }
}

enum class Cell { kNumber, kNaN, kInf, kBad };

// std::from_chars does not accept a leading '+' and CICFlowMeter prints "Infinity"/"NaN": handle both.
Cell parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (s.empty()) {
    out = kNaNValue;
    return Cell::kNaN;
  }
  if (s.front() == '+') s.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) {
    out = (!s.empty() && s.front() == '-') ? -std::numeric_limits<double>::infinity()
                                           : std::numeric_limits<double>::infinity();
    return Cell::kInf;
  }
  if (ec != std::errc() || ptr != s.data() + s.size()) return Cell::kBad;
  if (std::isnan(out)) return Cell::kNaN;
  if (std::isinf(out)) return Cell::kInf;
  return Cell::kNumber;
}

bool parse_int(std::string_view s, int& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::vector<std::string_view> split_on(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || seps.find(s[i]) != std::string_view::npos) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

struct Layout {
  std::string profile;
  bool nsl_kdd = false;
  std::vector<std::size_t> feature_columns;  // CSV column of each profile feature
  std::vector<std::optional<std::size_t>> group_columns;  // CSV column of each group feature, if present
  bool group_missing = false;                             // some group's columns are absent (NaN)
  std::size_t n_columns = 0;
  std::optional<std::size_t> label, id, timestamp;
  std::optional<std::size_t> duration_feature;  // index in the feature vector
};

std::optional<std::size_t> find_column(const std::vector<std::string>& header, std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  return std::nullopt;
}

bool is_nslkdd_line(const std::vector<std::string_view>& fields) {
  if (fields.size() != 42 && fields.size() != 43) return false;
  const auto& protocols = nslkdd_columns()[1].categories;
  return std::find(protocols.begin(), protocols.end(), trim(fields[1])) != protocols.end();
}

Layout detect_layout(const std::string& file, const std::vector<std::string_view>& first,
                     const LoadOptions& opt) {
  Layout layout;
  if (is_nslkdd_line(first)) {
    if (!opt.profile.empty() && opt.profile != kProfileNslKdd)
      throw DataError(file + ": looks like NSL-KDD (no header, 41 features) but profile '" + opt.profile +
                      "' was requested");
    layout.profile = kProfileNslKdd;
    layout.nsl_kdd = true;
    layout.n_columns = first.size();
    layout.label = 41;
    layout.duration_feature = 0;
    return layout;
  }
  std::vector<std::string> header;
  bool seen_fwd_header_length = false;
  for (auto f : first) {
    std::string name(trim(f));
    // The original CIC-IDS2017 CSVs carry `Fwd Header Length` twice; pandas names the second `.1`.
    if (name == "Fwd Header Length") {
      if (seen_fwd_header_length) name = "Fwd Header Length.1";
      seen_fwd_header_length = true;
    }
    header.push_back(std::move(name));
  }
  layout.n_columns = header.size();
  if (!opt.profile.empty()) {
    layout.profile = opt.profile;
  } else if (find_column(header, "Total TCP Flow Time")) {
    layout.profile = kProfileCorrected;
  } else if (find_column(header, "Idle Min") && find_column(header, "Fwd Header Length.1")) {
    layout.profile = kProfileCicids2017;
  } else {
    throw DataError(file +
                    ": unrecognised header (neither the corrected layout with `Total TCP Flow Time` "
                    "nor the original CIC-IDS2017 layout with two `Fwd Header Length` columns)");
  }
  const auto* names = profile_features(layout.profile);
  if (names == nullptr || layout.profile == kProfileNslKdd)
    throw DataError(file + ": profile '" + layout.profile + "' cannot be read from a CSV with a header");
  std::vector<std::string> missing;
  for (const auto& n : *names) {
    if (auto c = find_column(header, n)) {
      layout.feature_columns.push_back(*c);
    } else {
      missing.push_back(n);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", `" : "`") + missing[i] + "`";
    throw DataError(file + ": " + std::to_string(missing.size()) + " feature column(s) of profile '" +
                    layout.profile + "' missing: " + list + (missing.size() > 5 ? ", ..." : ""));
  }
  for (const auto& g : opt.groups) {
    const auto* gnames = group_features(g);
    if (gnames == nullptr) throw DataError("unknown feature group '" + g + "' (known: host_context)");
    std::size_t found = 0;
    for (const auto& n : *gnames) {
      layout.group_columns.push_back(find_column(header, n));
      found += layout.group_columns.back().has_value();
    }
    // All or nothing: a file with some of a group's columns is a broken export, not missing context.
    if (found != 0 && found != gnames->size())
      throw DataError(file + ": " + std::to_string(gnames->size() - found) + " of the " +
                      std::to_string(gnames->size()) + " columns of feature group '" + g + "' missing");
    layout.group_missing = layout.group_missing || found == 0;
  }
  layout.label = find_column(header, opt.label_column);
  layout.id = find_column(header, "id");
  layout.timestamp = find_column(header, "Timestamp");
  layout.duration_feature = 0;  // `Flow Duration` leads both CIC profiles
  return layout;
}

std::vector<std::string> expand_paths(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(p)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".csv" || ext == ".txt")) in_dir.push_back(e.path().string());
      }
      std::sort(in_dir.begin(), in_dir.end());
      if (in_dir.empty()) throw DataError("directory '" + p + "' holds no .csv or .txt files");
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      throw DataError("data path '" + p + "' does not exist");
    }
  }
  if (files.empty()) throw DataError("no data paths given");
  return files;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

void note(LoadStats& stats, const std::string& text) {
  if (stats.notes.size() < kMaxNotes) stats.notes.push_back(text);
}

}  // namespace

double parse_timestamp(std::string_view text) {
  text = trim(text);
  if (text.empty()) return kNaNValue;
  // Split date and time at ' ' or 'T'.
  const auto sep = text.find_first_of(" T");
  const std::string_view date = text.substr(0, sep);
  std::string_view time = sep == std::string_view::npos ? std::string_view{} : trim(text.substr(sep + 1));
  int y = 0, mo = 0, d = 0;
  if (date.find('-') != std::string_view::npos) {
    const auto p = split_on(date, "-");
    if (p.size() != 3 || !parse_int(p[0], y) || !parse_int(p[1], mo) || !parse_int(p[2], d)) return kNaNValue;
  } else if (date.find('/') != std::string_view::npos) {
    const auto p = split_on(date, "/");  // d/m/y as in the original CIC-IDS2017 CSVs
    if (p.size() != 3 || !parse_int(p[0], d) || !parse_int(p[1], mo) || !parse_int(p[2], y)) return kNaNValue;
  } else {
    return kNaNValue;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1970 || y > 2200) return kNaNValue;
  int hh = 0, mm = 0;
  double ss = 0.0;
  bool pm = false, am = false;
  if (!time.empty()) {
    if (time.size() >= 2) {
      const auto suffix = time.substr(time.size() - 2);
      pm = suffix == "PM" || suffix == "pm";
      am = suffix == "AM" || suffix == "am";
      if (pm || am) time = trim(time.substr(0, time.size() - 2));
    }
    const auto p = split_on(time, ":");
    if (p.size() < 2 || p.size() > 3 || !parse_int(p[0], hh) || !parse_int(p[1], mm)) return kNaNValue;
    if (p.size() == 3) {
      auto [ptr, ec] = std::from_chars(p[2].data(), p[2].data() + p[2].size(), ss);
      if (ec != std::errc() || ptr != p[2].data() + p[2].size()) return kNaNValue;
    }
    if (pm && hh < 12) hh += 12;
    if (am && hh == 12) hh = 0;
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0.0 || ss >= 61.0) return kNaNValue;
  }
  const auto days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return static_cast<double>(days) * 86400.0 + hh * 3600.0 + mm * 60.0 + ss;
}

Dataset load_dataset(const std::vector<std::string>& paths, const LoadOptions& options) {
  Dataset data;
  const auto files = expand_paths(paths);
  std::vector<std::string> labels_raw;  // per kept row, mapped to indices at the end
  std::vector<std::string_view> fields;
  std::size_t global_row = 0;
  bool any_without_labels = false, any_without_timestamps = false;

  for (const auto& file : files) {
    const std::string text = read_file(file);
    std::size_t pos = 0, line_no = 0;
    auto next_line = [&](std::string_view& line) {
      while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        const auto end = nl == std::string::npos ? text.size() : nl;
        line = std::string_view(text).substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!trim(line).empty()) return true;
      }
      return false;
    };
    std::string_view line;
    if (!next_line(line)) throw DataError(file + ": empty file");
    if (line.size() >= 3 && static_cast<unsigned char>(line[0]) == 0xEF) line.remove_prefix(3);  // UTF-8 BOM
    split_fields(line, fields);
    const Layout layout = detect_layout(file, fields, options);
    if (data.profile.empty()) {
      data.profile = layout.profile;
      data.feature_names = *profile_features(layout.profile);
      data.n_profile_features = data.feature_names.size();
      for (const auto& g : options.groups) {
        if (layout.nsl_kdd) throw DataError(file + ": NSL-KDD has no feature groups");
        const auto* gnames = group_features(g);
        data.feature_names.insert(data.feature_names.end(), gnames->begin(), gnames->end());
        data.groups.push_back(g);
      }
    } else if (data.profile != layout.profile) {
      throw DataError(file + ": profile '" + layout.profile + "' differs from the earlier files' '" +
                      data.profile + "'; load one profile at a time");
    }
    if (!layout.label) {
      if (options.require_labels)
        throw DataError(file + ": no `" + options.label_column +
                        "` column (add one to label flowguard's own CSV export)");
      any_without_labels = true;
    }
    if (!layout.timestamp) any_without_timestamps = true;
    const auto file_idx = static_cast<std::uint32_t>(data.files.size());
    data.files.push_back(file);
    ++data.stats.files;
    const std::size_t nf = data.feature_names.size();
    std::vector<float> row(nf);

    bool have_line = layout.nsl_kdd;  // NSL-KDD has no header: the first line is data
    while (have_line || next_line(line)) {
      have_line = false;
      split_fields(line, fields);
      ++data.stats.rows_read;
      ++global_row;
      const auto where = file + ":" + std::to_string(line_no);
      if (fields.size() != layout.n_columns) {
        ++data.stats.rows_dropped_malformed;
        note(data.stats, where + ": " + std::to_string(fields.size()) + " fields, header has " +
                             std::to_string(layout.n_columns));
        continue;
      }
      bool bad = false, nan = false, inf = false, unknown_category = false;
      std::size_t nan_cells = 0, inf_cells = 0;
      if (layout.nsl_kdd) {
        std::fill(row.begin(), row.end(), 0.0f);
        std::size_t out = 0;
        const auto& cols = nslkdd_columns();
        for (std::size_t c = 0; c < cols.size() && !bad; ++c) {
          if (!cols[c].categories.empty()) {
            const auto v = trim(fields[c]);
            const auto& cats = cols[c].categories;
            const auto it = std::find(cats.begin(), cats.end(), v);
            if (it == cats.end()) {
              unknown_category = true;  // the whole one-hot group stays zero
            } else {
              row[out + static_cast<std::size_t>(it - cats.begin())] = 1.0f;
            }
            out += cats.size();
            continue;
          }
          double v = 0;
          const Cell cell = parse_number(fields[c], v);
          if (cell == Cell::kBad) {
            bad = true;
            note(data.stats,
                 where + ": `" + cols[c].name + "` is not a number: '" + std::string(fields[c]) + "'");
            break;
          }
          nan_cells += cell == Cell::kNaN;
          inf_cells += cell == Cell::kInf;
          row[out++] = static_cast<float>(v);
        }
      } else {
        const std::size_t np = layout.feature_columns.size();
        for (std::size_t f = np; f < nf; ++f) {
          // Group features: NaN (missing) when the file has no such column, parsed like the others if it has.
          row[f] = std::numeric_limits<float>::quiet_NaN();
          const auto& col = layout.group_columns[f - np];
          if (!col) continue;
          double v = 0;
          const Cell cell = parse_number(fields[*col], v);
          if (cell == Cell::kBad) {
            bad = true;
            note(data.stats, where + ": `" + data.feature_names[f] + "` is not a number: '" +
                                 std::string(fields[*col]) + "'");
            break;
          }
          row[f] = static_cast<float>(v);
        }
        for (std::size_t f = 0; f < np && !bad; ++f) {
          double v = 0;
          const Cell cell = parse_number(fields[layout.feature_columns[f]], v);
          if (cell == Cell::kBad) {
            bad = true;
            note(data.stats, where + ": `" + data.feature_names[f] + "` is not a number: '" +
                                 std::string(fields[layout.feature_columns[f]]) + "'");
            break;
          }
          nan_cells += cell == Cell::kNaN;
          inf_cells += cell == Cell::kInf;
          row[f] = static_cast<float>(v);  // doubles beyond float range become +/-Inf, counted below
          if (cell == Cell::kNumber && std::isinf(row[f])) ++inf_cells;
        }
      }
      std::string label;
      if (!bad && layout.label) {
        label = std::string(trim(fields[*layout.label]));
        if (!options.label_map.empty() && !label.empty()) {
          std::string mapped = map_label(options.label_map, label);
          if (mapped != label) {
            ++data.stats.rows_relabelled;
            label = std::move(mapped);
          }
        }
        if (label.empty()) {
          bad = true;
          note(data.stats, where + ": empty label");
        }
      }
      if (bad) {
        ++data.stats.rows_dropped_malformed;
        continue;
      }
      nan = nan_cells > 0;
      inf = inf_cells > 0;
      data.stats.cells_nan += nan_cells;
      data.stats.cells_inf += inf_cells;
      data.stats.rows_with_nan += nan;
      data.stats.rows_with_inf += inf;
      data.stats.rows_unknown_category += unknown_category;
      data.stats.rows_group_missing += layout.group_missing;
      if (layout.duration_feature && row[*layout.duration_feature] < 0.0f)
        ++data.stats.rows_negative_duration;
      double t = kNaNValue;
      if (layout.timestamp) {
        t = parse_timestamp(fields[*layout.timestamp]);
        if (std::isnan(t)) ++data.stats.rows_bad_timestamp;
      }
      data.x.insert(data.x.end(), row.begin(), row.end());
      labels_raw.push_back(std::move(label));
      data.ids.push_back(layout.id ? std::string(trim(fields[*layout.id])) : std::to_string(global_row));
      data.time.push_back(t);
      data.file_index.push_back(file_idx);
      ++data.stats.rows_kept;
    }
  }
  data.has_labels = !any_without_labels;
  data.has_timestamps = !any_without_timestamps && data.stats.rows_bad_timestamp == 0;
  std::set<std::string> names;
  for (const auto& l : labels_raw)
    if (!l.empty()) names.insert(l);
  data.class_names.assign(names.begin(), names.end());
  std::unordered_map<std::string, std::int32_t> index;
  for (std::size_t i = 0; i < data.class_names.size(); ++i)
    index[data.class_names[i]] = static_cast<std::int32_t>(i);
  data.y.reserve(labels_raw.size());
  for (const auto& l : labels_raw) data.y.push_back(l.empty() ? -1 : index.at(l));
  return data;
}

Dataset subset(const Dataset& data, const std::vector<std::size_t>& rows) {
  Dataset out;
  out.profile = data.profile;
  out.feature_names = data.feature_names;
  out.groups = data.groups;
  out.n_profile_features = data.n_profile_features;
  out.class_names = data.class_names;
  out.files = data.files;
  out.has_labels = data.has_labels;
  out.has_timestamps = data.has_timestamps;
  const std::size_t nf = data.n_features();
  out.x.reserve(rows.size() * nf);
  for (auto r : rows) {
    out.x.insert(out.x.end(), data.row(r), data.row(r) + nf);
    out.y.push_back(data.y[r]);
    out.ids.push_back(data.ids[r]);
    out.time.push_back(data.time[r]);
    out.file_index.push_back(data.file_index[r]);
  }
  out.stats.rows_kept = rows.size();
  return out;
}

}  // namespace flowguard::train
