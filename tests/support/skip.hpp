#pragma once
// Skipping a test case that cannot run here (no root, no shared data set) so that CTest reports it as
// SKIPPED with its reason instead of passed. Catch2 v2 has no skip: FLOWGUARD_SKIP prints
// `FLOWGUARD-SKIPPED: <reason>`, records the skip and returns from the test case; the shared Catch main
// (support/catch_main.cpp) then exits 77, which flowguard_catch_tests() registers as SKIP_RETURN_CODE.
// Use it only in the TEST_CASE body (it returns from the enclosing function).
#include <sstream>
#include <string>

namespace flowguard::test {
// Prints the marker line and remembers that the running test case was skipped.
void mark_skipped(const std::string& reason);
// True once any test case of this process called mark_skipped.
bool any_skipped();
}  // namespace flowguard::test

#define FLOWGUARD_SKIP(reason)                                     \
  do {                                                             \
    std::ostringstream flowguard_skip_reason_;                     \
    flowguard_skip_reason_ << reason;                              \
    ::flowguard::test::mark_skipped(flowguard_skip_reason_.str()); \
    return;                                                        \
  } while (false)
