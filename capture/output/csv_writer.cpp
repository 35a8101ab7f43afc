#include "output/csv_writer.hpp"

#include "common/error.hpp"

#include "output/java_format.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace flowguard::capture::output {
namespace {

constexpr std::size_t buffer_size = 1 << 20;
// Upper bound of one row: 81 features + identifiers + group columns (capped below), each well below
// java_text_max.
constexpr std::size_t max_group_columns = 64;
constexpr std::size_t max_row_bytes = (100 + max_group_columns) * java_text_max;

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* put_address(char* p, const IpAddress& ip) {
  if (ip.family == 6) {
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, ip.bytes.data(), text, sizeof(text)) != nullptr) return put(p, text);
    return put(p, "::");
  }
  for (int i = 0; i < 4; ++i) {
    if (i != 0) *p++ = '.';
    p += format_long(ip.bytes[static_cast<std::size_t>(i)], p);
  }
  return p;
}

char* put_long(char* p, std::int64_t v) { return p + format_long(v, p); }

bool is_botnet_host(const IpAddress& ip) {
  return ip.family == 4 && ip.bytes[0] == 147 && ip.bytes[1] == 32 && ip.bytes[2] == 84 && ip.bytes[3] == 165;
}

}  // namespace

std::string CsvWriter::header(features::Profile profile, const CsvOptions& options) {
  const std::string_view base = features::csv_header(profile);
  std::string h = options.snapshots ? "Record Kind," : "";
  if (options.group_columns.empty()) return h.append(base);
  // Both profiles end with Label: the group columns go just before it.
  const std::size_t label = base.rfind(',');
  h.append(base.substr(0, label));
  for (const auto name : options.group_columns) h.append(",").append(name);
  return h.append(base.substr(label));
}

CsvWriter::CsvWriter(const std::string& path, features::Profile profile, CsvOptions options)
    : profile_(profile), options_(std::move(options)), path_(path), buffer_(buffer_size) {
  if (options_.group_columns.size() > max_group_columns)
    throw Exception(ErrorCode::invalid_argument, "too many feature-group columns for the CSV writer");
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr) {
    throw Exception(Error::from_errno("cannot open CSV output '" + path + "'", errno));
  }
  const std::string h = header(profile, options_);
  std::memcpy(buffer_.data(), h.data(), h.size());
  used_ = h.size();
  buffer_[used_++] = '\n';
}

CsvWriter::~CsvWriter() {
  if (file_ != nullptr) {
    flush();
    std::fclose(file_);
  }
}

void CsvWriter::flush() {
  if (used_ != 0 && !failed_) {
    if (std::fwrite(buffer_.data(), 1, used_, file_) != used_) failed_ = true;
  }
  used_ = 0;
}

void CsvWriter::close() {
  if (file_ == nullptr) return;
  flush();
  const bool close_failed = std::fclose(file_) != 0;
  file_ = nullptr;
  if (failed_ || close_failed)
    throw Exception(ErrorCode::io_error, "write error on CSV output '" + path_ + "'");
}

void CsvWriter::on_flow(const FlowReport& report) {
  if ((report.kind != RecordKind::final_record && !options_.snapshots) || file_ == nullptr) return;
  if (buffer_.size() - used_ < max_row_bytes) flush();
  char* end = append_row(buffer_.data() + used_, report, profile_, options_);
  *end++ = '\n';
  used_ = static_cast<std::size_t>(end - buffer_.data());
  ++rows_;
}

char* CsvWriter::append_row(char* p, const FlowReport& r, features::Profile profile, const CsvOptions& options) {
  const features::ProfileTraits traits = features::profile_traits(profile);
  if (options.snapshots) p = put(p, r.kind == RecordKind::snapshot ? "snapshot," : "final,");
  // Flow ID: the stored key, "a-b-portA-portB-proto".
  p = put_address(p, r.key_src);
  *p++ = '-';
  p = put_address(p, r.key_dst);
  *p++ = '-';
  p = put_long(p, r.key_src_port);
  *p++ = '-';
  p = put_long(p, r.key_dst_port);
  *p++ = '-';
  p = put_long(p, r.protocol);
  *p++ = ',';
  p = put_address(p, r.src);
  *p++ = ',';
  p = put_long(p, r.src_port);
  *p++ = ',';
  p = put_address(p, r.dst);
  *p++ = ',';
  p = put_long(p, r.dst_port);
  *p++ = ',';
  p = put_long(p, r.protocol);
  *p++ = ',';
  switch (traits.timestamp) {
    case features::TimestampStyle::corrected:
      p += format_corrected_timestamp(r.first_ts_us, p);
      break;
    case features::TimestampStyle::cicids2017:
      p += format_cicids2017_timestamp(r.first_ts_us, p);
      break;
  }
  const std::size_t n = r.features.size();
  for (std::size_t i = 0; i < n; ++i) {
    *p++ = ',';
    const double v = r.features[i];
    if (i < r.feature_integral.size() && r.feature_integral[i] != 0) {
      p = put_long(p, static_cast<std::int64_t>(v));
    } else {
      p += format_java_double(v, p);
    }
  }
  // Group values as the wire carries them (float), shortest text that reads back to the same float.
  // A record without them (group not computed) gets zeros, so the columns never shift.
  for (std::size_t i = 0; i < options.group_columns.size(); ++i) {
    *p++ = ',';
    const float v = i < r.group_features.size() ? r.group_features[i] : 0.0f;
    p = std::to_chars(p, p + java_text_max, v).ptr;
  }
  *p++ = ',';
  switch (traits.label) {
    case features::LabelStyle::need_manual_label:
      p = put(p, "NeedManualLabel");
      break;
    case features::LabelStyle::botnet_hosts:
      p = put(p, is_botnet_host(r.src) || is_botnet_host(r.dst) ? "BOTNET" : "BENIGN");
      break;
  }
  return p;
}

std::string CsvWriter::format_row(const FlowReport& report, features::Profile profile,
                                  const CsvOptions& options) {
  std::string s(max_row_bytes, '\0');
  char* end = append_row(s.data(), report, profile, options);
  s.resize(static_cast<std::size_t>(end - s.data()));
  return s;
}

}  // namespace flowguard::capture::output
