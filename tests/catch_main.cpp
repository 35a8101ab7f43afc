// Shared Catch2 main for every test executable.
#define CATCH_CONFIG_RUNNER
// catch_discover_tests reads `--list-test-names-only`; Catch wraps names longer than the console width
// onto a second line, which CTest would register as two tests that match nothing. Never wrap.
#define CATCH_CONFIG_CONSOLE_WIDTH 1000
#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  // A CTest entry whose name filter matches no test case must fail, not pass having run nothing.
  auto& config = session.configData();
  config.warnings = static_cast<Catch::WarnAbout::What>(config.warnings | Catch::WarnAbout::NoTests);
  return session.run();
}
