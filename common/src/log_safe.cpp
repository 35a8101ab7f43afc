#include "common/log_safe.hpp"

namespace flowguard {

std::string log_safe(std::string_view s, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::size_t shown = s.size() < max ? s.size() : max;
  std::string out;
  out.reserve(shown + 16);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (shown < s.size()) out += "...(+" + std::to_string(s.size() - shown) + " bytes)";
  return out;
}

}  // namespace flowguard
