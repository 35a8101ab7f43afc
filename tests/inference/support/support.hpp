#pragma once
// Test support for the inference server and the agent link: temp dirs, tiny real TorchScript models
// built in C++, a raw blocking agent client, an in-process server on a real socket, child processes.
// No LibTorch in this header (support_models.cpp has it).

#include "flowguard/v1/control.pb.h"
#include "flowguard/v1/flowguard.pb.h"
#include "server/server.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fgtest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct TempDir {
  fs::path path;
  TempDir();
  ~TempDir();
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<std::string> feature_names(std::size_t n, const std::string& prefix = "f");

// A linear model over `n_features` features with classes {BENIGN, DoS, PortScan}: logit(DoS) = f0 - 1,
// logit(PortScan) = f1 - 1, logit(BENIGN) = 0. So all-zero features -> BENIGN, f0 = 10 -> DoS with
// score ~1 (block), f0 = 1.5 -> DoS with score ~0.56 (alert). Thresholds alert 0.5, block 0.9.
void save_linear_model(const std::string& path, const std::string& version, std::size_t n_features = 4,
                       const std::string& name = "lin", const std::string& profile = "corrected");
// Feature groups as a manifest names them: (group name, feature names).
using Groups = std::vector<std::pair<std::string, std::vector<std::string>>>;
// The linear model above reading `n_features` profile features followed by `groups` (manifest
// feature_groups): logit(DoS) = f0 - 1 as above, but logit(PortScan) = (first feature of the first group) -
// 1, so a verdict shows which group values reached the model.
void save_group_model(const std::string& path, const std::string& version, std::size_t n_features,
                      const Groups& groups);
// Bundles that load but must be refused, and a file that is not a bundle at all.
void save_wrong_shape_model(const std::string& path, std::size_t n_features = 4);
void save_throwing_model(const std::string& path, std::size_t n_features = 4);
void write_garbage(const std::string& path);

// Raw agent client on a real socket (blocking, with timeouts).
class AgentClient {
 public:
  explicit AgentClient(const std::string& socket_path);
  ~AgentClient();
  bool connected() const { return fd_ >= 0; }
  bool send(const flowguard::v1::AgentMessage& msg);
  bool send_raw(const std::string& bytes);
  // Next message, or nullopt on EOF / timeout / garbage.
  std::optional<flowguard::v1::ServerMessage> read(std::chrono::milliseconds timeout = 10s);
  // Reads until a VerdictBatch arrives (skipping model_changed), or nullopt.
  std::optional<flowguard::v1::VerdictBatch> read_verdicts(std::chrono::milliseconds timeout = 10s);
  // True when the server closed the connection within the timeout (messages before EOF are discarded).
  bool wait_closed(std::chrono::milliseconds timeout = 10s);
  std::optional<flowguard::v1::HelloAck> hello(const std::vector<std::string>& names,
                                               const std::string& profile = "corrected",
                                               const std::string& agent = "test-agent",
                                               const Groups& groups = {});
  // A FlowBatch with `n` flows whose feature rows are all `row`.
  bool send_flows(std::uint64_t seq, std::uint64_t first_flow_id, std::size_t n,
                  const std::vector<float>& row, const std::vector<float>& group_row = {});

 private:
  int fd_ = -1;
  std::string buf_;
};

// flowguard-infer in this process, on a real socket in a temp dir.
struct InProcessServer {
  using Tweak = std::function<void(flowguard::inference::ServerOptions&)>;
  explicit InProcessServer(const std::string& model_path, const Tweak& tweak = {},
                           flowguard::inference::Policy policy = {}, const std::string& socket_path = "");
  ~InProcessServer();
  void stop();
  std::string socket() const { return server->options().socket_path; }
  std::string control() const { return server->options().control_path; }
  std::unique_ptr<flowguard::inference::Server> server;
  std::thread thread;
  std::optional<TempDir> dir;
};

flowguard::inference::ServerOptions default_options(const std::string& socket_path);

// Child process with stdout+stderr captured to a file.
struct Process {
  pid_t pid = -1;
  std::string log_path;
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  // Waits for exit; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = 20s);
  void signal(int sig) const;
  std::string log() const;
};

// Runs a command to completion; returns exit code and captured stdout+stderr.
std::pair<int, std::string> run_command(const std::vector<std::string>& argv);

// Polls `cond` every 10 ms until true or the timeout (no timing assertions: only an upper bound).
template <class F>
bool eventually(F&& cond, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

flowguard::v1::ControlResponse control(const std::string& path, const flowguard::v1::ControlRequest& req);
flowguard::v1::ControlResponse control_status(const std::string& path);
// True once a flowguard-infer answers `status` on its control socket (false while it is not up yet).
bool serving(const std::string& control_path);
flowguard::v1::ControlResponse control_reload(const std::string& path, const std::string& file);

}  // namespace fgtest
