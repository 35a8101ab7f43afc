#include "output/java_format.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace flowguard::capture::output {
namespace {

struct CivilTime {
  std::int64_t year;
  int month, day, hour, minute, second;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
CivilTime civil_from_seconds(std::int64_t secs) {
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return CivilTime{
      y, m, d, static_cast<int>(rem / 3600), static_cast<int>((rem % 3600) / 60), static_cast<int>(rem % 60)};
}

char* put_digits(char* p, std::int64_t v, int width) {
  char tmp[24];
  int n = 0;
  std::uint64_t u = v < 0 ? 0 : static_cast<std::uint64_t>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0 && n < 20);
  while (n < width) tmp[n++] = '0';
  while (n > 0) *p++ = tmp[--n];
  return p;
}

// Decimal text of unsigned values, two digits per table lookup and 32-bit arithmetic per 8-digit
// block: the same text as std::to_chars in about half the instructions (CSV rows are mostly numbers).
constexpr char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

char* put_pair(char* p, std::uint32_t v) {  // v < 100, exactly 2 digits
  std::memcpy(p, &digit_pairs[2 * v], 2);
  return p + 2;
}

char* put_8_digits(char* p, std::uint32_t v) {  // v < 10^8, exactly 8 digits (leading zeros kept)
  const std::uint32_t hi = v / 10000, lo = v % 10000;
  p = put_pair(p, hi / 100);
  p = put_pair(p, hi % 100);
  p = put_pair(p, lo / 100);
  return put_pair(p, lo % 100);
}

char* put_below_1e8(char* p, std::uint32_t v) {  // no leading zeros
  if (v < 100) {
    if (v < 10) {
      *p = static_cast<char>('0' + v);
      return p + 1;
    }
    return put_pair(p, v);
  }
  if (v < 10000) {
    p = put_below_1e8(p, v / 100);
    return put_pair(p, v % 100);
  }
  p = put_below_1e8(p, v / 10000);
  const std::uint32_t lo = v % 10000;
  p = put_pair(p, lo / 100);
  return put_pair(p, lo % 100);
}

char* put_unsigned(char* p, std::uint64_t v) {
  constexpr std::uint64_t e8 = 100'000'000, e16 = e8 * e8;
  if (v < e8) return put_below_1e8(p, static_cast<std::uint32_t>(v));
  if (v < e16) {
    p = put_below_1e8(p, static_cast<std::uint32_t>(v / e8));
    return put_8_digits(p, static_cast<std::uint32_t>(v % e8));
  }
  p = put_below_1e8(p, static_cast<std::uint32_t>(v / e16));  // <= 1844
  const std::uint64_t rest = v % e16;
  p = put_8_digits(p, static_cast<std::uint32_t>(rest / e8));
  return put_8_digits(p, static_cast<std::uint32_t>(rest % e8));
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

std::size_t format_java_double(double v, char* out) {
  if (std::isnan(v)) {
    std::memcpy(out, "NaN", 3);
    return 3;
  }
  if (std::isinf(v)) {
    if (v > 0) {
      std::memcpy(out, "Infinity", 8);
      return 8;
    }
    std::memcpy(out, "-Infinity", 9);
    return 9;
  }
  char* p = out;
  if (std::signbit(v)) *p++ = '-';
  const double a = std::fabs(v);
  if (a == 0.0) {
    std::memcpy(p, "0.0", 3);
    return static_cast<std::size_t>(p - out) + 3;
  }
  // Whole numbers below 1e7 (most columns: counts, lengths, µs) print as "<integer>.0".
  if (a < 1e7 && a == static_cast<double>(static_cast<std::int64_t>(a))) {
    p += format_long(static_cast<std::int64_t>(a), p);
    std::memcpy(p, ".0", 2);
    return static_cast<std::size_t>(p - out) + 2;
  }
  // Shortest round-trip digits: value = significand * 10^exponent, no trailing zeros. fmt's Dragonbox
  // (libfmt 9, the Debian package fmt::fmt links) gives the same digits as std::to_chars (checked on
  // 10^8 doubles) in half the time; this runs for tens of doubles per CSV row.
  const auto dec = fmt::detail::dragonbox::to_decimal(a);
  char digits[24] = {};
  const int nd = static_cast<int>(put_unsigned(digits, dec.significand) - digits);
  const int exp = dec.exponent + nd - 1;  // scientific form d.ddd * 10^exp
  const char* frac = digits + 1;          // digits after the first one
  const int nfrac = nd - 1;
  // Fraction digits are copied as one fixed 16-byte block (a library call otherwise) and the cursor
  // advanced by the real count: nfrac <= 16, digits[] holds 24 bytes, and out has java_text_max bytes.
  const auto put_frac = [&p](const char* from, int count) {
    std::memcpy(p, from, 16);
    p += count;
  };

  if (a >= 1e-3 && a < 1e7) {
    if (exp >= 0) {  // exp <= 6: "d" + exp more integer digits, then the rest as the fraction
      *p++ = digits[0];
      const int int_from_frac = exp < nfrac ? exp : nfrac;
      put_frac(frac, int_from_frac);
      for (int i = int_from_frac; i < exp; ++i) *p++ = '0';
      *p++ = '.';
      if (nfrac > exp) {
        put_frac(frac + exp, nfrac - exp);
      } else {
        *p++ = '0';
      }
    } else {  // -3 <= exp <= -1: "0." then -exp-1 zeros, then all digits
      *p++ = '0';
      *p++ = '.';
      for (int i = 0; i < -exp - 1; ++i) *p++ = '0';
      *p++ = digits[0];
      put_frac(frac, nfrac);
    }
  } else {
    *p++ = digits[0];
    *p++ = '.';
    if (nfrac > 0) {
      put_frac(frac, nfrac);
    } else {
      *p++ = '0';
    }
    *p++ = 'E';
    p = std::to_chars(p, p + 8, exp).ptr;
  }
  return static_cast<std::size_t>(p - out);
}

std::string java_double(double v) {
  char buf[java_text_max];
  return std::string(buf, format_java_double(v, buf));
}

std::size_t format_long(std::int64_t v, char* out) {
  char* p = out;
  std::uint64_t u = static_cast<std::uint64_t>(v);
  if (v < 0) {
    *p++ = '-';
    u = 0 - u;  // also right for INT64_MIN
  }
  return static_cast<std::size_t>(put_unsigned(p, u) - out);
}

std::size_t format_corrected_timestamp(std::int64_t ts_us, char* out) {
  const std::int64_t secs = floor_div(ts_us, 1'000'000);
  const std::int64_t micros = ts_us - secs * 1'000'000;
  const CivilTime t = civil_from_seconds(secs);
  char* p = put_digits(out, t.year, 4);
  *p++ = '-';
  p = put_digits(p, t.month, 2);
  *p++ = '-';
  p = put_digits(p, t.day, 2);
  *p++ = ' ';
  p = put_digits(p, t.hour, 2);
  *p++ = ':';
  p = put_digits(p, t.minute, 2);
  *p++ = ':';
  p = put_digits(p, t.second, 2);
  if (micros != 0) {
    *p++ = '.';
    if (micros % 1000 == 0) {
      p = put_digits(p, micros / 1000, 3);
    } else {
      p = put_digits(p, micros, 6);
    }
  }
  return static_cast<std::size_t>(p - out);
}

std::size_t format_cicids2017_timestamp(std::int64_t ts_us, char* out) {
  const std::int64_t ms = ts_us / 1000;  // Java long division
  const CivilTime t = civil_from_seconds(floor_div(ms, 1000));
  const int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
  char* p = put_digits(out, t.day, 2);
  *p++ = '/';
  p = put_digits(p, t.month, 2);
  *p++ = '/';
  p = put_digits(p, t.year, 4);
  *p++ = ' ';
  p = put_digits(p, hour12, 2);
  *p++ = ':';
  p = put_digits(p, t.minute, 2);
  *p++ = ':';
  p = put_digits(p, t.second, 2);
  return static_cast<std::size_t>(p - out);
}

}  // namespace flowguard::capture::output
