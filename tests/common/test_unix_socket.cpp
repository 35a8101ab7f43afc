// The Unix-socket library: one path policy and one set of errors for every socket of both processes.
#include <catch2/catch.hpp>

#include "common/unix_socket.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
namespace net = flowguard::net;
using flowguard::ErrorCode;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fg-sock-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

net::ListenOptions opts(const std::string& what = "control socket") {
  net::ListenOptions o;
  o.what = what;
  return o;
}

}  // namespace

TEST_CASE("a path longer than sockaddr_un allows is the same clear error for listen and connect") {
  const std::string long_path = "/tmp/" + std::string(net::kMaxSocketPath, 'x');
  const auto l = net::listen(long_path, opts("agent socket"));
  REQUIRE_FALSE(l);
  CHECK(l.error().code == ErrorCode::invalid_argument);
  CHECK(l.error().message == "agent socket path '" + long_path + "' is too long for a Unix socket (" +
                                 std::to_string(long_path.size()) + " bytes, 107 bytes max)");
  const auto c = net::connect(long_path, 100ms, "agent socket");
  REQUIRE_FALSE(c);
  CHECK(c.error().message == l.error().message);
  CHECK_FALSE(net::validate_path("", "x"));
  // The longest path that fits is accepted, not truncated.
  CHECK(net::validate_path(std::string(net::kMaxSocketPath, 'a')).ok());
  const auto a = net::make_address(std::string(net::kMaxSocketPath, 'a'));
  REQUIRE(a);
  CHECK(std::string(a->addr.sun_path) == std::string(net::kMaxSocketPath, 'a'));
}

TEST_CASE("listen creates the socket file with the requested mode and connect reaches it") {
  TempDir d;
  const auto path = d.file("s.sock");
  auto o = opts();
  o.mode = 0600;
  auto l = net::listen(path, o);
  REQUIRE(l);
  CHECK_FALSE(l->replaced_stale);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  auto c = net::connect(path, 1000ms);
  REQUIRE(c);
  auto s = net::accept(l->fd.get());
  REQUIRE(s);
  REQUIRE(net::write_all(c->get(), std::string_view("hello")).ok());
  std::array<std::byte, 16> buf{};
  REQUIRE(net::wait_readable(s->get(), 1000ms).value_or(false));
  const auto n = net::read_some(s->get(), buf);
  INFO((n ? std::string() : n.error().message));
  REQUIRE(n);
  CHECK(std::string(reinterpret_cast<const char*>(buf.data()), *n) == "hello");
  c->reset();  // peer closes: the next read says so
  const auto eof = net::read_some(s->get(), buf);
  REQUIRE_FALSE(eof);
  CHECK(eof.error().code == ErrorCode::connection_closed);
  CHECK(net::is_listening(path));  // (its probe connection stays in the backlog: checked last)
}

TEST_CASE("a live socket is in use, a stale one is replaced, a plain file is never replaced") {
  TempDir d;
  const auto path = d.file("s.sock");
  {
    auto first = net::listen(path, opts());
    REQUIRE(first);
    const auto second = net::listen(path, opts());
    REQUIRE_FALSE(second);
    CHECK(second.error().code == ErrorCode::already_exists);
    CHECK_THAT(second.error().message, Catch::Contains("in use") && Catch::Contains("already listening"));
  }  // closed without unlink: what a crashed process leaves
  REQUIRE(fs::exists(path));
  CHECK_FALSE(net::is_listening(path));
  auto third = net::listen(path, opts());
  REQUIRE(third);
  CHECK(third->replaced_stale);

  const auto plain = d.file("plain");
  std::ofstream(plain) << "data";
  const auto refused = net::listen(plain, opts());
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("exists and is not a socket"));
  CHECK(fs::file_size(plain) == 4);
}

TEST_CASE("a missing directory is an error unless asked to create it") {
  TempDir d;
  const auto path = d.file("sub/dir/s.sock");
  const auto l = net::listen(path, opts());
  REQUIRE_FALSE(l);
  CHECK(l.error().code == ErrorCode::not_found);
  CHECK_THAT(l.error().message, Catch::Contains("does not exist"));
  auto o = opts();
  o.create_parent = true;
  const auto made = net::listen(path, o);
  REQUIRE(made);
  CHECK(fs::is_directory(d.file("sub/dir")));
}

TEST_CASE("connecting to nobody names the socket and the reason") {
  TempDir d;
  const auto missing = net::connect(d.file("none.sock"), 500ms, "flowguard-infer socket");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::not_found);
  CHECK_THAT(missing.error().message,
             Catch::StartsWith("cannot connect to flowguard-infer socket '" + d.file("none.sock") + "'"));
  {
    auto l = net::listen(d.file("stale.sock"), opts());
    REQUIRE(l);
  }
  const auto refused = net::connect(d.file("stale.sock"), 500ms);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::unavailable);
}

TEST_CASE("a non-blocking listener reports no pending connection as timeout and wait_readable times out") {
  TempDir d;
  auto o = opts();
  o.nonblocking = true;
  auto l = net::listen(d.file("s.sock"), o);
  REQUIRE(l);
  const auto none = net::accept(l->fd.get());
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ErrorCode::timeout);
  auto c = net::connect(d.file("s.sock"), 1000ms);
  REQUIRE(c);
  CHECK(net::wait_readable(c->get(), 10ms).value_or(true) == false);
  REQUIRE(net::set_io_timeout(c->get(), 20ms).ok());
  std::array<std::byte, 4> buf{};
  const auto r = net::read_some(c->get(), buf);  // nothing sent: the receive timeout fires
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::timeout);
}

TEST_CASE("Fd closes on destruction and moves ownership") {
  int raw = -1;
  {
    net::Fd a(::dup(0));
    raw = a.get();
    REQUIRE(raw >= 0);
    net::Fd b(std::move(a));
    CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
    CHECK(b.get() == raw);
  }
  CHECK(::fcntl(raw, F_GETFD) == -1);
}
