#pragma once
// FlowSink that writes final flow records as the reference extractor's CSV: the profile's exact header,
// then one row per flow in emission order (finished flows as they end, open flows at end of input),
// numbers printed the Java way. Snapshots are not written (the references have no such rows).

#include "features/profile.hpp"
#include "core/flow_report.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace flowguard::capture::output {

class CsvWriter final : public FlowSink {
 public:
  // Opens (truncates) the file and writes the header; throws flowguard::Exception if it cannot.
  CsvWriter(const std::string& path, features::Profile profile);
  ~CsvWriter() override;
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  void on_flow(const FlowReport& report) override;
  // Flushes and closes; throws flowguard::Exception on a write error (disk full, ...).
  void close();
  std::uint64_t rows() const { return rows_; }

  // One row without the trailing newline (exposed for tests).
  static std::string format_row(const FlowReport& report, features::Profile profile);

 private:
  static char* append_row(char* p, const FlowReport& report, features::Profile profile);
  void flush();

  features::Profile profile_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  std::size_t used_ = 0;
  std::uint64_t rows_ = 0;
  bool failed_ = false;
};

}  // namespace flowguard::capture::output
