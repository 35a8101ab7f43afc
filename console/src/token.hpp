#pragma once
// The console's action token: state-changing requests (block, unblock, reload, mark false positive)
// carry it in the X-Flowguard-Token header. It lives in a 0600 file written by deploy/install.sh or, on
// first run, by the console itself (--token-file); a file others can read is refused at start-up.

#include "common/result.hpp"

#include <string>
#include <string_view>

namespace flowguard::console {

// Reads the token (first line, surrounding blanks trimmed, at least 16 characters). When the file does
// not exist and `create` is true, writes 32 random bytes as hex with mode 0600 (O_EXCL) and returns them.
Result<std::string> load_or_create_token(const std::string& path, bool create);

// Constant-time comparison (the length is not secret: tokens have a fixed length).
bool token_equal(std::string_view a, std::string_view b);

}  // namespace flowguard::console
