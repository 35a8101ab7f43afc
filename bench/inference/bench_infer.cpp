// Inference server benchmark (run by hand): flows/s through the real socket for a CNN-LSTM-sized model at
// several batch sizes, and send-to-verdict latency at a fixed offered load. Not a test: prints numbers.
//
//   OPENBLAS_NUM_THREADS=1 taskset -c 0 ./bench_infer [--seconds 3] [--rate 5000]
#include "bundle/bundle.hpp"

#include <ATen/Context.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include "framing.hpp"
#include "link/server_link.hpp"
#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace fs = std::filesystem;
namespace inf = flowguard::inference;
namespace v1 = flowguard::v1;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int kFeatures = 81;
const std::vector<std::string> kClasses{"BENIGN",     "DoS",       "DDoS", "PortScan",
                                        "BruteForce", "WebAttack", "Bot",  "Infiltration"};

std::vector<std::string> names() {
  std::vector<std::string> n;
  for (int i = 0; i < kFeatures; ++i) n.push_back("feature_" + std::to_string(i));
  return n;
}

// Conv1d(1->32, k3) over the feature axis, ReLU, max-pool 2, LSTM(32->64) over the 40 pooled positions,
// dense head on the last hidden state: about 27k parameters, the shape the trainer ships.
void save_cnn_lstm(const std::string& path) {
  torch::manual_seed(7);
  torch::jit::Module m("CnnLstm");
  const int C = 32, H = 64, K = static_cast<int>(kClasses.size());
  m.register_parameter("conv_w", torch::randn({C, 1, 3}) * 0.3, false);
  m.register_parameter("conv_b", torch::zeros({C}), false);
  m.register_parameter("w_ih", torch::randn({4 * H, C}) * 0.1, false);
  m.register_parameter("w_hh", torch::randn({4 * H, H}) * 0.1, false);
  m.register_parameter("b_ih", torch::zeros({4 * H}), false);
  m.register_parameter("b_hh", torch::zeros({4 * H}), false);
  auto fc_b = torch::zeros({K});
  fc_b.index_put_({0}, 6.0);  // mostly benign, like real traffic (attribution runs only on the rest)
  m.register_parameter("fc_w", torch::randn({K, H}) * 0.1, false);
  m.register_parameter("fc_b", fc_b, false);
  m.define(R"(
    def forward(self, x):
        x = torch.nan_to_num(x, 0.0, 0.0, 0.0)
        x = torch.sign(x) * torch.log1p(torch.abs(x))
        h = torch.relu(torch.conv1d(x.unsqueeze(1), self.conv_w, self.conv_b, [1], [1]))
        h = torch.max_pool1d(h, [2], [2]).permute(0, 2, 1)
        z = torch.zeros([1, h.size(0), 64], dtype=h.dtype)
        out = torch.lstm(h, [z, z], [self.w_ih, self.w_hh, self.b_ih, self.b_hh], True, 1, 0.0, False, False, True)
        return torch.matmul(out[1].squeeze(0), self.fc_w.t()) + self.fc_b
  )");
  flowguard::models::Manifest man;
  man.name = "bench_cnn_lstm";
  man.version = "1";
  man.architecture = "cnn_lstm";
  man.feature_profile = "corrected";
  man.feature_names = names();
  man.class_names = kClasses;
  man.benign_class = "BENIGN";
  flowguard::models::save_bundle(m, man, path);
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
  return fd;
}

bool send_all(int fd, const std::string& s) {
  for (std::size_t off = 0; off < s.size();) {
    const auto n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads ServerMessages from fd, calling f for each; returns false on EOF.
template <class F>
bool read_messages(int fd, flowguard::wire::FrameDecoder& dec, F&& f) {
  char buf[65536];
  const auto n = ::recv(fd, buf, sizeof(buf), 0);
  if (n <= 0) return false;
  dec.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  std::string_view p;
  v1::ServerMessage m;
  std::string why;
  while (dec.next(p))
    if (flowguard::wire::parse_payload(p, m, why)) f(m);
  return true;
}

std::vector<float> random_rows(std::size_t rows) {
  std::mt19937 rng(1);
  std::lognormal_distribution<float> d(3.0f, 2.0f);
  std::vector<float> v(rows * kFeatures);
  for (auto& x : v) x = d(rng);
  return v;
}

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double process_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Server {
  std::unique_ptr<inf::Server> server;
  std::thread thread;
  Server(const std::string& model, const std::string& sock, std::size_t max_batch, std::size_t explain,
         std::chrono::microseconds max_delay = 2000us) {
    inf::ServerOptions o;
    o.socket_path = sock;
    o.handle_signals = false;
    o.batch.max_batch = max_batch;
    o.batch.max_delay = max_delay;
    o.batch.workers = 1;
    o.batch.max_queue = 1 << 20;
    o.batch.explain_top = explain;
    server = std::make_unique<inf::Server>(
        o, inf::load_model(model, {1, static_cast<std::int64_t>(max_batch)}), inf::Policy{});
    server->start();
    thread = std::thread([this] { server->run(); });
  }
  ~Server() {
    server->stop();
    thread.join();
  }
};

// Throughput: one agent pipelines FlowBatches of `batch` flows (window of 8 batches) for `seconds`.
double throughput(const std::string& model, const std::string& sock, std::size_t batch, double seconds,
                  std::size_t explain, double& mean_rows, double& flows_per_cpu_s) {
  Server srv(model, sock, batch, explain);
  const int fd = connect_to(sock);
  v1::AgentMessage hello;
  auto* h = hello.mutable_hello();
  h->set_protocol_version(1);
  h->set_feature_profile("corrected");
  for (const auto& n : names()) h->add_feature_names(n);
  send_all(fd, flowguard::wire::encode_frame(hello));
  flowguard::wire::FrameDecoder dec;
  bool acked = false;
  while (!acked) read_messages(fd, dec, [&](const v1::ServerMessage& m) { acked = m.has_hello_ack(); });

  const auto rows = random_rows(1024);
  std::vector<std::string> frames;
  for (int k = 0; k < 16; ++k) {
    v1::AgentMessage msg;
    auto* b = msg.mutable_flows();
    for (std::size_t i = 0; i < batch; ++i) {
      auto* f = b->add_flows();
      f->set_flow_id(i);
      const auto r = (k * 37 + i) % 1024;
      f->mutable_features()->Add(rows.begin() + static_cast<long>(r * kFeatures),
                                 rows.begin() + static_cast<long>((r + 1) * kFeatures));
    }
    frames.push_back(flowguard::wire::encode_frame(msg));
  }
  std::atomic<std::uint64_t> sent{0}, answered{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    std::uint64_t k = 0;
    while (!stop.load()) {
      if (sent.load() - answered.load() >= 8) {
        std::this_thread::yield();
        continue;
      }
      if (!send_all(fd, frames[k++ % frames.size()])) return;
      ++sent;
    }
  });
  const auto t0 = Clock::now();
  const double cpu0 = process_cpu_s();
  std::uint64_t flows = 0;
  while (Clock::now() - t0 < std::chrono::duration<double>(seconds)) {
    read_messages(fd, dec, [&](const v1::ServerMessage& m) {
      if (m.has_verdicts()) {
        flows += static_cast<std::uint64_t>(m.verdicts().verdicts_size());
        ++answered;
      }
    });
  }
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  flows_per_cpu_s = static_cast<double>(flows) / (process_cpu_s() - cpu0);
  stop = true;
  while (answered.load() < sent.load())
    if (!read_messages(fd, dec, [&](const v1::ServerMessage& m) { answered += m.has_verdicts() ? 1 : 0; }))
      break;
  sender.join();
  ::close(fd);
  const auto& c = srv.server->counters();
  mean_rows = static_cast<double>(c.inference_rows.value()) /
              std::max<double>(1, static_cast<double>(c.inference_batches.value()));
  return static_cast<double>(flows) / dt;
}

struct LatencySink : flowguard::capture::VerdictSink {
  std::mutex mu;
  std::unordered_map<std::uint64_t, Clock::time_point> sent_at;
  std::vector<double> us;
  void on_verdict(const flowguard::capture::FlowVerdict& v) override {
    const auto now = Clock::now();
    std::lock_guard l(mu);
    auto it = sent_at.find(v.flow_id);
    if (it == sent_at.end()) return;
    us.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
    sent_at.erase(it);
  }
};

// Latency: the real agent link (ServerLink) offered `rate` flows/s; time from on_flow() to on_verdict().
void latency(const std::string& model, const std::string& sock, double rate, double seconds,
             unsigned delay_ms, std::size_t link_batch, std::chrono::microseconds server_delay) {
  Server srv(model, sock, 64, 3, server_delay);
  LatencySink sink;
  flowguard::capture::LinkOptions o;
  o.socket_path = sock;
  o.batch_flows = link_batch;
  o.delay_ms = delay_ms;
  flowguard::capture::ServerLink link(o, {"corrected", names()}, &sink);
  link.start();
  link.wait_connected(5s);
  const auto rows = random_rows(1024);
  std::vector<double> feats(kFeatures);
  flowguard::capture::FlowReport r;
  // Unicast addresses: a record from 0.0.0.0 is out of the judge scope (judge_scope.hpp) and never sent,
  // which is why this section used to print n=0.
  r.src.family = r.dst.family = 4;
  r.src.bytes = {10, 0, 0, 1};
  r.dst.bytes = {10, 0, 0, 2};
  r.src_port = 40000;
  r.dst_port = 80;
  r.protocol = 6;
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const double cpu0 = process_cpu_s();
  const auto t0 = Clock::now();
  const auto n = static_cast<std::uint64_t>(rate * seconds);
  for (std::uint64_t i = 0; i < n; ++i) {
    // Paced with sleeps (not a spin) so the load generator does not steal the server's core.
    const auto due = t0 + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    for (int k = 0; k < kFeatures; ++k)
      feats[static_cast<std::size_t>(k)] = rows[(i % 1024) * kFeatures + static_cast<std::size_t>(k)];
    r.flow_id = i;
    r.features = feats;
    {
      std::lock_guard l(sink.mu);
      sink.sent_at[i] = Clock::now();
    }
    link.on_flow(r);
  }
  link.flush(10s);
  // CPU of the whole process (load generator, link and server alike) per wall second: what a shorter
  // batching delay costs, since smaller batches mean more forwards for the same flows.
  const double cores = (process_cpu_s() - cpu0) /
                       std::chrono::duration<double>(Clock::now() - t0).count();
  link.stop();
  auto& v = sink.us;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    return v.empty() ? 0.0
                     : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  const auto c = link.counters();
  const auto& k = srv.server->counters();
  std::printf(
      "  server: %llu forwards, mean batch %.1f rows, %llu alert + %llu block verdicts explained=%llu; "
      "process CPU %.0f%% of a core\n",
      static_cast<unsigned long long>(k.inference_batches.value()),
      static_cast<double>(k.inference_rows.value()) /
          std::max<double>(1, static_cast<double>(k.inference_batches.value())),
      static_cast<unsigned long long>(k.alert.value()), static_cast<unsigned long long>(k.block.value()),
      static_cast<unsigned long long>(k.explained_rows.value()), cores * 100.0);
  std::printf(
      "latency @ %.0f flows/s, link batch %zu, link delay %u ms, server max-delay %lld us: n=%zu p50=%.0f us "
      "p90=%.0f us p99=%.0f us max=%.0f us "
      "(judged %llu, shed %llu, unjudged %llu, out of scope %llu)\n",
      rate, link_batch, delay_ms, static_cast<long long>(server_delay.count()), v.size(), pct(0.5), pct(0.9),
      pct(0.99), v.empty() ? 0.0 : v.back(), static_cast<unsigned long long>(c.judged),
      static_cast<unsigned long long>(c.shed), static_cast<unsigned long long>(c.unjudged()),
      static_cast<unsigned long long>(c.out_of_scope));
}

// The model alone: Model::predict() on this thread, flows per CPU-second (independent of machine load).
void forward_only(const std::string& model_path) {
  auto model = inf::load_model(model_path, {1, 256});
  const auto rows = random_rows(256);
  std::vector<inf::Prediction> out;
  std::vector<float> probs;
  std::string why;
  for (std::size_t b : {1, 16, 64, 256}) {
    const std::span<const float> x(rows.data(), b * kFeatures);
    for (int i = 0; i < 5; ++i) model->predict(x, b, out, &probs, why);
    std::size_t flows = 0;
    const double c0 = thread_cpu_s();
    while (thread_cpu_s() - c0 < 1.0) {
      model->predict(x, b, out, &probs, why);
      flows += b;
    }
    std::printf("forward only  batch %4zu: %9.0f flows per CPU-second (%.0f us per forward)\n", b,
                static_cast<double>(flows) / (thread_cpu_s() - c0),
                (thread_cpu_s() - c0) * 1e6 / static_cast<double>(flows / b));
  }
  // Attribution (gradient x input) runs only for alert/block verdicts; its cost per explained flow:
  std::vector<std::uint32_t> cls(16, 1);
  std::vector<std::vector<inf::Attribution>> attr;
  const std::span<const float> x(rows.data(), 16 * kFeatures);
  const bool ok = model->explain(x, 16, cls, 3, attr);
  const double c0 = thread_cpu_s();
  int n = 0;
  while (thread_cpu_s() - c0 < 1.0 && ok) {
    model->explain(x, 16, cls, 3, attr);
    ++n;
  }
  std::printf("explain       batch   16: %s, %.0f us per explained flow (top feature of row 0: %s)\n",
              ok ? "works" : "FAILED", ok ? (thread_cpu_s() - c0) * 1e6 / (16.0 * n) : 0.0,
              ok && !attr.empty() && !attr[0].empty() ? names()[attr[0][0].feature].c_str() : "-");
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3, rate = 5000;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--seconds") seconds = std::stod(argv[i + 1]);
    if (std::string(argv[i]) == "--rate") rate = std::stod(argv[i + 1]);
    if (std::string(argv[i]) == "--only") only = argv[i + 1];
  }
  spdlog::set_level(spdlog::level::warn);
  inf::configure_torch_threads(1);
  if (const char* e = std::getenv("FG_BENCH_EXECUTOR"); e && std::string(e) == "simple") {
    torch::jit::getProfilingMode() = false;
    torch::jit::getExecutorMode() = false;
  }
  if (const char* e = std::getenv("FG_BENCH_MKLDNN"); e && std::string(e) == "0")
    at::globalContext().setUserEnabledMkldnn(false);
  std::printf("mkldnn available: %d\n", static_cast<int>(at::hasMKLDNN()));
  const auto dir = fs::temp_directory_path() / ("fg-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto model = (dir / "cnn_lstm.pt").string();
  save_cnn_lstm(model);
  std::printf(
      "model: CNN-LSTM (conv1d 32ch k3, maxpool 2, LSTM 64, dense %zu classes), %d features; 1 worker, 1 "
      "torch thread\n",
      kClasses.size(), kFeatures);
  if (only.empty() || only == "forward") forward_only(model);
  for (std::size_t explain : {std::size_t{0}, std::size_t{3}}) {
    for (std::size_t b : {1, 16, 64, 256}) {
      if (!only.empty() && only != "throughput") break;
      double mean_rows = 0, per_cpu = 0;
      const double fps =
          throughput(model, (dir / "t.sock").string(), b, seconds, explain, mean_rows, per_cpu);
      std::printf(
          "socket batch %4zu explain %zu: %9.0f flows/s wall, %9.0f flows per process-CPU-second "
          "(mean forward batch %.1f rows)\n",
          b, explain, fps, per_cpu, mean_rows);
    }
  }
  if (only.empty() || only == "latency") {
    latency(model, (dir / "l.sock").string(), rate, seconds, 1, 64, 2000us);
    latency(model, (dir / "l.sock").string(), rate, seconds, 1, 64, 1000us);
    latency(model, (dir / "l.sock").string(), rate, seconds, 1, 64, 500us);
    latency(model, (dir / "l.sock").string(), rate, seconds, 0, 64, 1000us);
    latency(model, (dir / "l.sock").string(), rate, seconds, 5, 256, 2000us);
    // Work-conserving batching: a free worker takes whatever is queued at once (batches still grow
    // under load, because flows queue while the worker is busy).
    latency(model, (dir / "l.sock").string(), rate, seconds, 1, 64, 0us);
    latency(model, (dir / "l.sock").string(), rate, seconds, 0, 64, 0us);
  }
  fs::remove_all(dir);
}
