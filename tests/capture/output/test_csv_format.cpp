// Java number/time printing, the profiles' CSV headers and model feature names.
#include "features/profile.hpp"
#include "output/csv_writer.hpp"
#include "output/java_format.hpp"

#include <catch2/catch.hpp>
#include "support/skip.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using flowguard::capture::features::csv_header;
using flowguard::capture::features::feature_names;
using flowguard::capture::features::Profile;
using namespace flowguard::capture::output;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

std::string corrected_ts(std::int64_t us) {
  char b[java_text_max];
  return {b, format_corrected_timestamp(us, b)};
}
std::string cicids_ts(std::int64_t us) {
  char b[java_text_max];
  return {b, format_cicids2017_timestamp(us, b)};
}

}  // namespace

TEST_CASE("Java Double.toString formatting", "[csv][java]") {
  CHECK(java_double(0.0) == "0.0");
  CHECK(java_double(-0.0) == "-0.0");
  CHECK(java_double(1.0) == "1.0");
  CHECK(java_double(35.0) == "35.0");
  CHECK(java_double(0.025) == "0.025");
  CHECK(java_double(0.001) == "0.001");
  CHECK(java_double(9.0E-4) == "9.0E-4");
  CHECK(java_double(27001.6700859958) == "27001.6700859958");
  CHECK(java_double(108.66666666666666) == "108.66666666666666");
  CHECK(java_double(9999999.0) == "9999999.0");
  CHECK(java_double(1.0E7) == "1.0E7");
  CHECK(java_double(1.2E8) == "1.2E8");
  CHECK(java_double(1.1751679E8) == "1.1751679E8");
  CHECK(java_double(1.6334933471395833E7) == "1.6334933471395833E7");
  CHECK(java_double(-1234.5) == "-1234.5");
  CHECK(java_double(-2.5E-5) == "-2.5E-5");
  CHECK(java_double(1e21) == "1.0E21");
  CHECK(java_double(123456789012.0) == "1.23456789012E11");
  CHECK(java_double(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(java_double(std::numeric_limits<double>::infinity()) == "Infinity");
  CHECK(java_double(-std::numeric_limits<double>::infinity()) == "-Infinity");
}

TEST_CASE("timestamps: corrected Instant style, cicids2017 12-hour clock", "[csv][time]") {
  CHECK(corrected_ts(1'795'261'900'868'126) == "2026-11-21 11:51:40.868126");
  CHECK(corrected_ts(1'600'000'000'001'000) == "2020-09-13 12:26:40.001");
  CHECK(corrected_ts(0) == "1970-01-01 00:00:00");
  CHECK(corrected_ts(1'499'255'172'897'241) == "2017-07-05 11:46:12.897241");
  CHECK(cicids_ts(1'499'255'172'897'241) == "05/07/2017 11:46:12");
  CHECK(cicids_ts(1'795'221'005'000'000) == "21/11/2026 12:30:05");  // 00:30:05 UTC
  CHECK(cicids_ts(1'795'266'307'999'999) == "21/11/2026 01:05:07");  // 13:05:07 UTC
  CHECK(cicids_ts(1'795'262'400'000'000) == "21/11/2026 12:00:00");  // noon
}

TEST_CASE("profile headers and model feature names", "[csv][features]") {
  const auto corrected = split(std::string(csv_header(Profile::corrected)));
  REQUIRE(corrected.size() == 89);
  CHECK(corrected.front() == "Flow ID");
  CHECK(corrected[88] == "Label");
  const auto legacy = split(std::string(csv_header(Profile::cicids2017)));
  REQUIRE(legacy.size() == 85);
  CHECK(legacy[84] == " Label");

  const auto cn = feature_names(Profile::corrected);
  REQUIRE(cn.size() == 81);
  CHECK(cn.front() == "Flow Duration");
  CHECK(cn.back() == "Total TCP Flow Time");
  for (std::size_t i = 0; i < cn.size(); ++i) CHECK(cn[i] == corrected[i + 7]);

  const auto ln = feature_names(Profile::cicids2017);
  REQUIRE(ln.size() == 77);
  CHECK(ln.front() == "Flow Duration");
  CHECK(ln.back() == "Idle Min");
  CHECK(ln[33] == "Fwd Header Length");
  CHECK(ln[54] == "Fwd Header Length.1");
  CHECK(ln[42] == "FIN Flag Count");
}

TEST_CASE("corrected feature names are the training data's columns", "[csv][features][dataset]") {
  const char* shared = std::getenv("FLOWGUARD_SHARED_DIR");
  const std::string path = std::string(shared ? shared : "") + "/data/cicids2017-improved/BENIGN.csv";
  std::ifstream in(path);
  if (!shared || !in) {
    FLOWGUARD_SKIP("training CSV not available at '" << path << "' (set FLOWGUARD_SHARED_DIR)");
  }
  std::string header;
  std::getline(in, header);
  if (!header.empty() && header.back() == '\r') header.pop_back();
  const auto cols = split(header);
  // id, Flow ID, Src IP, Src Port, Dst IP, Dst Port, Protocol, Timestamp, <features>, Label, Attempted
  // Category
  const auto names = feature_names(Profile::corrected);
  REQUIRE(cols.size() == 1 + 7 + names.size() + 2);
  for (std::size_t i = 0; i < names.size(); ++i) CHECK(names[i] == cols[8 + i]);
  // The CSV writer's layout is the dataset's minus id and Attempted Category.
  std::vector<std::string> layout(cols.begin() + 1, cols.end() - 1);
  CHECK(layout == split(std::string(csv_header(Profile::corrected))));
}
