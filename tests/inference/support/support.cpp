#include "support.hpp"

#include "control_client.hpp"
#include "framing.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <random>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fgtest {

namespace v1 = flowguard::v1;
namespace inf = flowguard::inference;

TempDir::TempDir() {
  std::random_device rd;
  path = fs::temp_directory_path() / ("fg-infer-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path);
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

std::vector<std::string> feature_names(std::size_t n, const std::string& prefix) {
  std::vector<std::string> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

// ------------------------------------------------------------------ AgentClient

AgentClient::AgentClient(const std::string& path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

AgentClient::~AgentClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool AgentClient::send_raw(const std::string& bytes) {
  for (std::size_t off = 0; off < bytes.size();) {
    const auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool AgentClient::send(const v1::AgentMessage& msg) { return send_raw(flowguard::wire::encode_frame(msg)); }

std::optional<v1::ServerMessage> AgentClient::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buf_.size() >= 4) {
      const auto* p = reinterpret_cast<const unsigned char*>(buf_.data());
      const std::uint32_t len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
      if (buf_.size() >= 4 + len) {
        v1::ServerMessage m;
        const bool ok = m.ParseFromArray(buf_.data() + 4, static_cast<int>(len));
        buf_.erase(0, 4 + len);
        if (!ok) return std::nullopt;
        return m;
      }
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char tmp[65536];
    const auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return std::nullopt;
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

std::optional<v1::VerdictBatch> AgentClient::read_verdicts(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = read(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    if (!m) return std::nullopt;
    if (m->has_verdicts()) return m->verdicts();
  }
  return std::nullopt;
}

bool AgentClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char tmp[65536];
    const auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n > 0) buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

std::optional<v1::HelloAck> AgentClient::hello(const std::vector<std::string>& names,
                                               const std::string& profile, const std::string& agent,
                                               const Groups& groups) {
  v1::AgentMessage m;
  auto* h = m.mutable_hello();
  h->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  h->set_agent_id(agent);
  h->set_agent_version("test");
  h->set_feature_profile(profile);
  for (const auto& n : names) h->add_feature_names(n);
  for (const auto& [name, features] : groups) {
    auto* g = h->add_feature_groups();
    g->set_name(name);
    for (const auto& n : features) g->add_feature_names(n);
  }
  if (!send(m)) return std::nullopt;
  auto r = read();
  if (!r || !r->has_hello_ack()) return std::nullopt;
  return r->hello_ack();
}

bool AgentClient::send_flows(std::uint64_t seq, std::uint64_t first, std::size_t n,
                             const std::vector<float>& row, const std::vector<float>& group_row) {
  v1::AgentMessage m;
  auto* b = m.mutable_flows();
  b->set_batch_seq(seq);
  for (std::size_t i = 0; i < n; ++i) {
    auto* f = b->add_flows();
    f->set_flow_id(first + i);
    f->set_src_ip(std::string("\x0a\x00\x00\x01", 4));
    f->set_dst_ip(std::string("\x0a\x00\x00\x02", 4));
    f->set_protocol(6);
    f->set_kind(v1::RECORD_KIND_FINAL);
    f->mutable_features()->Add(row.begin(), row.end());
    f->mutable_group_features()->Add(group_row.begin(), group_row.end());
  }
  return send(m);
}

// ------------------------------------------------------------------ InProcessServer

inf::ServerOptions default_options(const std::string& socket_path) {
  inf::ServerOptions o;
  o.socket_path = socket_path;
  o.handle_signals = false;
  o.batch.max_batch = 16;
  o.batch.max_delay = std::chrono::microseconds(1000);
  o.batch.max_queue = 100000;
  return o;
}

InProcessServer::InProcessServer(const std::string& model_path, const Tweak& tweak, inf::Policy policy,
                                 const std::string& socket_path) {
  std::string path = socket_path;
  if (path.empty()) {
    dir.emplace();
    path = dir->file("infer.sock");
  }
  auto opts = default_options(path);
  opts.model_path = model_path;
  if (tweak) tweak(opts);
  std::vector<std::int64_t> warm{1, static_cast<std::int64_t>(opts.batch.max_batch)};
  auto model = inf::load_model(model_path, warm);
  server = std::make_unique<inf::Server>(opts, model, std::move(policy));
  server->start();
  thread = std::thread([s = server.get()] { s->run(); });
}

void InProcessServer::stop() {
  if (thread.joinable()) {
    server->stop();
    thread.join();
  }
}

InProcessServer::~InProcessServer() { stop(); }

// ------------------------------------------------------------------ processes

Process::Process(const std::vector<std::string>& argv, const std::string& log) : log_path(log) {
  pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
    ::execv(args[0], args.data());
    std::_Exit(127);
  }
}

Process::~Process() {
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      pid = -1;
      if (WIFEXITED(st)) return WEXITSTATUS(st);
      if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

void Process::signal(int sig) const {
  if (pid > 0) ::kill(pid, sig);
}

std::string Process::log() const {
  std::ifstream in(log_path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::pair<int, std::string> run_command(const std::vector<std::string>& argv) {
  TempDir d;
  Process p(argv, d.file("out.log"));
  auto rc = p.wait(30s);
  return {rc.value_or(-1), p.log()};
}

// ------------------------------------------------------------------ control

v1::ControlResponse control(const std::string& path, const v1::ControlRequest& req) {
  return flowguard::control::call(path, req, 60s, "flowguard-infer");
}

v1::ControlResponse control_status(const std::string& path) {
  v1::ControlRequest r;
  r.mutable_status();
  return control(path, r);
}

bool serving(const std::string& control_path) {
  try {
    return control_status(control_path).ok();
  } catch (const std::exception&) {
    return false;
  }
}

v1::ControlResponse control_reload(const std::string& path, const std::string& file) {
  v1::ControlRequest r;
  r.mutable_reload()->set_path(file);
  return control(path, r);
}

}  // namespace fgtest
