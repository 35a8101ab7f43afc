#include "framing.hpp"
#include "protobuf_log.hpp"
#include "flowguard/v1/flowguard.pb.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

using namespace flowguard;

namespace {

// Runs fn with this process's stderr sent to a file; returns what was written there.
template <typename Fn>
std::string stderr_of(Fn&& fn) {
  char path[] = "/tmp/fg-stderr-XXXXXX";
  const int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ::unlink(path);
  return text.str();
}

// A Hello whose agent_id is not UTF-8, as a hostile agent would send it.
std::string hello_with_invalid_utf8() {
  v1::AgentMessage m;
  m.mutable_hello()->set_agent_id("agent-Z");
  std::string bytes = m.SerializeAsString();
  const auto at = bytes.find('Z');
  REQUIRE(at != std::string::npos);
  bytes[at] = '\xff';
  return bytes;
}

}  // namespace

TEST_CASE("libprotobuf's diagnostics about a peer's bad strings are routed, not written raw to stderr") {
  const std::string payload = hello_with_invalid_utf8();
  // Without the route, libprotobuf itself writes the line: the situation this guards against.
  v1::AgentMessage msg;
  std::string why;
  bool parsed = true;
  const std::string raw = stderr_of([&] { parsed = wire::parse_payload(payload, msg, why); });
  CHECK_FALSE(parsed);
  CHECK(raw.find("invalid UTF-8") != std::string::npos);

  wire::route_protobuf_log();
  const auto before = wire::protobuf_log_messages();
  const std::string routed = stderr_of([&] {
    for (int i = 0; i < 1000; ++i) {
      msg.Clear();
      parsed = wire::parse_payload(payload, msg, why);
    }
  });
  CHECK_FALSE(parsed);
  CHECK(why.find("malformed flowguard.v1.AgentMessage") != std::string::npos);
  CHECK(routed.empty());  // default level (info): libprotobuf's debug-level lines are not shown
  CHECK(wire::protobuf_log_messages() - before == 1000);  // but every one is counted
}
