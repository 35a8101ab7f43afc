#pragma once
// Number and time text exactly as the reference extractors (Java) print them.

#include <cstddef>
#include <cstdint>
#include <string>

namespace flowguard::capture::output {

// Longest text any of the functions below writes, plus room.
inline constexpr std::size_t java_text_max = 48;

// Java Double.toString: shortest round-trip digits; plain notation with at least one fractional digit
// for 1e-3 <= |v| < 1e7, otherwise "d.dddE±n" ("1.0E7", "9.0E-4"); "NaN", "Infinity", "-0.0".
// Writes into out (>= java_text_max bytes) and returns the length.
std::size_t format_java_double(double v, char* out);
std::string java_double(double v);

// Java long printed with Long.toString.
std::size_t format_long(std::int64_t v, char* out);

// corrected "Timestamp": Instant.toString of the µs instant in UTC with 'T' -> ' ' and no 'Z':
// "yyyy-MM-dd HH:mm:ss", then ".SSS" if the µs are a whole number of ms, else ".SSSSSS" (none if 0).
std::size_t format_corrected_timestamp(std::int64_t ts_us, char* out);
// cicids2017 "Timestamp": ms = ts_us / 1000 formatted "dd/MM/yyyy hh:mm:ss" on the 12-hour clock
// (01-12, no AM/PM marker), UTC (the golden files' JVM zone).
std::size_t format_cicids2017_timestamp(std::int64_t ts_us, char* out);

}  // namespace flowguard::capture::output
