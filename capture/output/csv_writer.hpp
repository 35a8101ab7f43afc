#pragma once
// FlowSink that writes final flow records as the reference extractor's CSV: the profile's exact header,
// then one row per flow in emission order (finished flows as they end, open flows at end of input),
// numbers printed the Java way. Snapshots are not written (the references have no such rows).
//
// Two opt-in extensions for training data (both off by default, so the output stays the reference's
// byte for byte): feature-group columns (e.g. host_context) after the profile's statistics, before
// Label; and snapshot rows, marked by an extra first column "Record Kind" (snapshot|final).

#include "features/profile.hpp"
#include "core/flow_report.hpp"

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::capture::output {

struct CsvOptions {
  // Names of the group columns (FlowReport::group_features, in order); empty: none.
  std::vector<std::string_view> group_columns;
  bool snapshots = false;  // write snapshot rows too, with the "Record Kind" column
};

class CsvWriter final : public FlowSink {
 public:
  // Opens (truncates) the file and writes the header; throws flowguard::Exception if it cannot.
  CsvWriter(const std::string& path, features::Profile profile, CsvOptions options = {});
  ~CsvWriter() override;
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  void on_flow(const FlowReport& report) override;
  // Flushes and closes; throws flowguard::Exception on a write error (disk full, ...).
  void close();
  std::uint64_t rows() const { return rows_; }

  // One row without the trailing newline (exposed for tests).
  static std::string format_row(const FlowReport& report, features::Profile profile,
                                const CsvOptions& options = {});
  // The header line without the newline.
  static std::string header(features::Profile profile, const CsvOptions& options = {});

 private:
  static char* append_row(char* p, const FlowReport& report, features::Profile profile,
                          const CsvOptions& options);
  void flush();

  features::Profile profile_;
  CsvOptions options_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::uint64_t rows_ = 0;
  bool failed_ = false;
};

}  // namespace flowguard::capture::output
