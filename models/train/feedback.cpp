#include "feedback.hpp"

#include "profiles.hpp"

#include "features/profile.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

namespace flowguard::train {

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The capture agent's encoding (capture/enforce/event_store.cpp): float32 little-endian.
std::vector<float> decode_floats(const void* data, int bytes) {
  std::vector<float> out(static_cast<std::size_t>(bytes) / 4);
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t u = 0;
    for (int b = 0; b < 4; ++b)
      u |= static_cast<std::uint32_t>(p[i * 4 + static_cast<std::size_t>(b)]) << (8 * b);
    float f;
    static_assert(sizeof f == sizeof u);
    std::memcpy(&f, &u, sizeof f);
    out[i] = f;
  }
  return out;
}

// As CICFlowMeter prints odd values (load_dataset() reads them back as NaN / +-Infinity).
std::string number(float v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));  // float32 round-trips exactly
  return buf;
}

int protocol_number(const std::string& name) {
  if (name == "TCP") return 6;
  if (name == "UDP") return 17;
  if (name == "ICMP") return 1;
  if (name == "IPv6-ICMP" || name == "ICMPv6") return 58;
  try {
    return std::stoi(name);
  } catch (...) {
    return 0;
  }
}

std::string timestamp(std::int64_t ts_us) {
  const std::time_t t = static_cast<std::time_t>(ts_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06lld",
                static_cast<long long>(((ts_us % 1'000'000) + 1'000'000) % 1'000'000));
  return buf;
}

std::string quoted(const std::string& s) {
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw DataError("cannot open event store '" + path + "': " + why);
    }
    sqlite3_busy_timeout(db_, 5000);  // the agent may be writing (WAL: readers do not block it)
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* get() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class Query {
 public:
  Query(sqlite3* db, const char* sql, const std::string& what) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
      throw DataError(what + ": " + sqlite3_errmsg(db));
  }
  ~Query() { sqlite3_finalize(st_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  bool row() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) throw DataError(std::string("event store: ") + sqlite3_errmsg(db_));
    return false;
  }
  std::int64_t i64(int c) { return sqlite3_column_int64(st_, c); }
  std::string text(int c) {
    const auto* t = sqlite3_column_text(st_, c);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  bool null(int c) { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  std::vector<float> floats(int c) {
    return decode_floats(sqlite3_column_blob(st_, c), sqlite3_column_bytes(st_, c));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

struct StoredSchema {
  std::int64_t id = 0;
  std::string profile;
  std::vector<std::string> features;
  std::vector<std::string> group_columns;  // "group\tname" in the store; the name alone as a column
  std::string hash;
};

}  // namespace

std::string describe_name_differences(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::string out;
  int shown = 0;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n && shown < 5; ++i) {
    const std::string x = i < a.size() ? "'" + a[i] + "'" : "(none)";
    const std::string y = i < b.size() ? "'" + b[i] + "'" : "(none)";
    if (x == y) continue;
    out += (out.empty() ? "" : "; ") + ("position " + std::to_string(i + 1) + ": " + x + " vs " + y);
    ++shown;
  }
  if (!out.empty() && a.size() != b.size())
    out += " (" + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " names)";
  return out;
}

ExportFeedbackResult export_feedback(const ExportFeedbackOptions& o, std::ostream& log) {
  Db db(o.events);
  {
    Query t(
        db.get(),
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('feedback','feature_schemas')",
        "event store " + o.events);
    if (!t.row() || t.i64(0) != 2)
      throw DataError(
          "event store '" + o.events +
          "' has no feedback tables: it was written by an agent without operator feedback (open it "
          "once with a current flowguard-capture --events to migrate it), or it is not an event store");
  }

  // Every schema that marked alerts point at, checked against the trainer's own feature names.
  std::map<std::int64_t, StoredSchema> schemas;
  {
    Query q(db.get(),
            "SELECT DISTINCT s.id, s.profile, s.feature_names, s.group_feature_names, s.names_hash "
            "FROM feedback f JOIN alerts a ON a.id = f.alert_id JOIN feature_schemas s ON s.id = a.schema_id "
            "WHERE f.label = ?1",
            "event store " + o.events);
    q.bind(1, o.label);
    while (q.row()) {
      StoredSchema s;
      s.id = q.i64(0);
      s.profile = q.text(1);
      s.features = split_lines(q.text(2));
      for (const auto& line : split_lines(q.text(3))) {
        const auto tab = line.find('\t');
        s.group_columns.push_back(tab == std::string::npos ? line : line.substr(tab + 1));
      }
      s.hash = q.text(4);
      schemas.emplace(s.id, std::move(s));
    }
  }
  std::set<std::string> profiles;
  for (const auto& [id, s] : schemas) profiles.insert(s.profile);
  std::string profile = o.profile;
  if (profile.empty()) {
    if (profiles.size() > 1) {
      std::string list;
      for (const auto& p : profiles) list += (list.empty() ? "" : ", ") + p;
      throw DataError("the marked alerts in '" + o.events + "' hold several feature profiles (" + list +
                      "); choose one with --profile");
    }
    if (!profiles.empty()) profile = *profiles.begin();
  }
  if (profile.empty() || !profiles.count(profile)) {
    throw DataError("no alert marked " + o.label + " with stored features" +
                    (o.profile.empty() ? std::string() : " of profile '" + o.profile + "'") + " in '" +
                    o.events + "' (mark one with flowguardctl mark-fp --alert ID)");
  }
  const auto* trainer_names = profile_features(profile);
  const auto parsed = capture::features::parse_profile(profile);
  if (trainer_names == nullptr || !parsed)
    throw DataError("the marked alerts use feature profile '" + profile +
                    "', which this flowguard-train does not know");
  // One layout per export: the columns must mean the same thing in every row.
  const StoredSchema* chosen = nullptr;
  for (const auto& [id, s] : schemas) {
    if (s.profile != profile) continue;
    if (s.features != *trainer_names)
      throw DataError("the event store's '" + profile +
                      "' feature names differ from this flowguard-train's: " +
                      describe_name_differences(s.features, *trainer_names) +
                      " (an agent of another version wrote them; export with a matching flowguard-train)");
    if (chosen != nullptr && chosen->group_columns != s.group_columns)
      throw DataError("the marked '" + profile + "' alerts were stored with different feature groups (" +
                      describe_name_differences(chosen->group_columns, s.group_columns) +
                      "); export them from separate event stores");
    chosen = &s;
  }

  ExportFeedbackResult r;
  r.profile = profile;
  r.group_columns = chosen->group_columns;

  // The profile's reference header, feature-group columns inserted before Label (as
  // `flowguard-capture --csv-groups` writes them), and the alert id as an extra, non-feature column.
  std::string header(capture::features::csv_header(*parsed));
  const auto label_at = header.rfind(',');
  std::string groups;
  for (const auto& g : r.group_columns) groups += "," + g;
  header = header.substr(0, label_at) + groups + header.substr(label_at) + ",Feedback Alert ID";

  std::ofstream out(o.out, std::ios::trunc);
  if (!out) throw DataError("cannot write '" + o.out + "'");
  out << header << "\n";

  Query q(
      db.get(),
      "SELECT a.id, a.ts_us, a.src_ip, a.src_port, a.dest_ip, a.dest_port, a.proto, a.features, "
      "a.group_features, a.schema_id, s.profile "
      "FROM feedback f JOIN alerts a ON a.id = f.alert_id LEFT JOIN feature_schemas s ON s.id = a.schema_id "
      "WHERE f.label = ?1 ORDER BY a.id",
      "event store " + o.events);
  q.bind(1, o.label);
  const std::size_t nf = trainer_names->size();
  while (q.row()) {
    if (q.null(7) || q.null(9)) {
      ++r.skipped_no_features;
      continue;
    }
    if (q.text(10) != profile) {
      ++r.skipped_other_profile;
      continue;
    }
    const auto features = q.floats(7);
    auto group = q.null(8) ? std::vector<float>() : q.floats(8);
    if (features.size() != nf) {
      ++r.skipped_no_features;  // cannot happen with the agent's writer (it checks the width)
      continue;
    }
    if (group.size() != r.group_columns.size()) group.assign(r.group_columns.size(), std::nanf(""));
    const std::string src = q.text(2), dst = q.text(4);
    const int proto = protocol_number(q.text(6));
    const std::string sport = std::to_string(q.i64(3)), dport = std::to_string(q.i64(5));
    out << quoted(src + "-" + dst + "-" + sport + "-" + dport + "-" + std::to_string(proto)) << ',' << src
        << ',' << sport << ',' << dst << ',' << dport << ',' << proto << ',' << timestamp(q.i64(1));
    for (float v : features) out << ',' << number(v);
    for (float v : group) out << ',' << number(v);
    out << ',' << quoted(o.label) << ',' << q.i64(0) << "\n";
    ++r.rows;
  }
  out.flush();
  if (!out) throw DataError("error writing '" + o.out + "'");
  log << "exported " << r.rows << " flow(s) marked " << o.label << " (profile " << profile << ", " << nf
      << " features"
      << (r.group_columns.empty() ? std::string()
                                  : " + " + std::to_string(r.group_columns.size()) + " group features")
      << ") to " << o.out;
  if (r.skipped_no_features)
    log << "; " << r.skipped_no_features << " marked alert(s) have no stored features";
  if (r.skipped_other_profile) log << "; " << r.skipped_other_profile << " of another profile skipped";
  log << "\n";
  if (r.rows == 0)
    throw DataError("nothing exported: no marked alert in '" + o.events + "' has stored features");
  return r;
}

std::size_t add_extra_rows(Dataset& into, const Dataset& extra, const std::string& required_label,
                           std::size_t repeat) {
  if (extra.feature_names != into.feature_names)
    throw DataError("the extra rows' features (profile '" + extra.profile +
                    "') differ from the training data's ('" + into.profile +
                    "'): " + describe_name_differences(extra.feature_names, into.feature_names));
  const auto target = std::find(into.class_names.begin(), into.class_names.end(), required_label);
  if (target == into.class_names.end())
    throw DataError("class '" + required_label + "' is not among the training labels");
  const auto y = static_cast<std::int32_t>(target - into.class_names.begin());
  for (std::size_t i = 0; i < extra.rows(); ++i) {
    const auto& label = extra.class_names[static_cast<std::size_t>(extra.y[i])];
    if (label != required_label)
      throw DataError("extra row " + extra.ids[i] + " is labelled '" + label + "'; only '" + required_label +
                      "' rows may be added this way");
  }
  const std::size_t nf = into.n_features();
  const auto file = static_cast<std::uint32_t>(into.files.size());
  for (const auto& f : extra.files) into.files.push_back(f);
  for (std::size_t k = 0; k < repeat; ++k) {
    for (std::size_t i = 0; i < extra.rows(); ++i) {
      into.x.insert(into.x.end(), extra.row(i), extra.row(i) + nf);
      into.y.push_back(y);
      into.ids.push_back("extra:" + extra.ids[i]);
      into.time.push_back(extra.time.empty() ? std::nan("") : extra.time[i]);
      into.file_index.push_back(file + (extra.file_index.empty() ? 0 : extra.file_index[i]));
    }
  }
  return extra.rows();
}

}  // namespace flowguard::train
