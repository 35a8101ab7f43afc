// Model bundle benchmark (run by hand): forward() flows per CPU-second at batch 1, 16 and 256 on one
// LibTorch thread, for every bundle named, in the same run; plus explain() cost when the bundle has it.
// Runs with the inference server's thread and allocator set-up (inference/server/model.cpp).
// Inputs: 4096 rows of log-uniform random values (0.1 .. 1e8, like flow counters and rates) with 10%
// NaN; the tree modules do the same work per level whatever the values. Not a test: prints numbers.
//
//   OPENBLAS_NUM_THREADS=1 taskset -c 0 ./bench_trees [--seconds 2] models/default/model.pt /tmp/gbdt.pt ...
#include "bundle/bundle.hpp"
#include "server/model.hpp"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<float> random_rows(std::size_t rows, std::size_t nf) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> e(-1.0, 8.0), u(0.0, 1.0);
  std::vector<float> x(rows * nf);
  for (auto& v : x) v = u(rng) < 0.1 ? std::nanf("") : static_cast<float>(std::pow(10.0, e(rng)));
  return x;
}

// Flows per CPU-second of `fn` over batches of `batch` rows taken in turn from `x`.
template <class F>
double rate(const std::vector<float>& x, std::size_t nf, std::int64_t batch, double seconds, F&& fn) {
  const auto rows = static_cast<std::int64_t>(x.size() / nf);
  std::int64_t done = 0, at = 0;
  for (int i = 0; i < 3; ++i)
    fn(torch::from_blob(const_cast<float*>(x.data()), {batch, static_cast<std::int64_t>(nf)}));
  const double t0 = cpu_seconds();
  double t = t0;
  while (t - t0 < seconds) {
    if (at + batch > rows) at = 0;
    fn(torch::from_blob(const_cast<float*>(x.data() + at * static_cast<std::int64_t>(nf)),
                        {batch, static_cast<std::int64_t>(nf)}));
    at += batch;
    done += batch;
    t = cpu_seconds();
  }
  return static_cast<double>(done) / (t - t0);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else
      paths.emplace_back(argv[i]);
  }
  if (paths.empty()) {
    std::fprintf(stderr, "usage: bench_trees [--seconds S] BUNDLE...\n");
    return 2;
  }
  // The server's set-up: one thread, and its allocator settings (FG_BENCH_GLIBC_DEFAULT=1 keeps glibc's
  // defaults, to show what they cost).
  if (const char* e = std::getenv("FG_BENCH_GLIBC_DEFAULT"); e && std::string(e) == "1") {
    at::set_num_threads(1);
    at::set_num_interop_threads(1);
    std::printf("allocator: glibc defaults\n");
  } else {
    flowguard::inference::configure_torch_threads(1);
    std::printf("allocator: flowguard-infer settings\n");
  }
  std::printf("%-28s %-14s %12s %12s %12s %16s %18s\n", "bundle", "architecture", "batch 1", "batch 16",
              "batch 256", "explain b16", "b256 without ood");
  for (const auto& path : paths) {
    auto b = flowguard::models::load_bundle(path);
    const std::size_t nf = b.manifest.input_width();  // profile features and feature groups
    const auto x = random_rows(4096, nf);
    c10::InferenceMode guard;
    const auto ood = b.module.find_method("ood");
    double r[3];
    const std::int64_t batches[3] = {1, 16, 256};
    for (int i = 0; i < 3; ++i)
      r[i] = rate(x, nf, batches[i], seconds, [&](const torch::Tensor& in) {
        // What the server does per batch: forward, then softmax, and the ood() score when the bundle
        // abstains (docs/model-bundle.md).
        auto p = torch::softmax(b.module.forward({in}).toTensor(), 1);
        if (ood) return p.sum() + (*ood)({in}).toTensor().sum();
        return p;
      });
    std::string plain = "-";
    if (ood)
      plain = std::to_string(static_cast<long>(rate(x, nf, 256, seconds, [&](const torch::Tensor& in) {
        return torch::softmax(b.module.forward({in}).toTensor(), 1);
      })));
    std::string ex = "-";
    if (auto m = b.module.find_method("explain")) {
      const auto cls = torch::zeros({16}, torch::kInt64);
      const double e = rate(x, nf, 16, seconds, [&](const torch::Tensor& in) { return (*m)({in, cls}); });
      ex = std::to_string(static_cast<long>(e));
    }
    std::string name = path.size() > 28 ? path.substr(path.size() - 28) : path;
    std::printf("%-28s %-14s %12.0f %12.0f %12.0f %16s %18s   flows per CPU-second\n", name.c_str(),
                b.manifest.architecture.c_str(), r[0], r[1], r[2], ex.c_str(), plain.c_str());
  }
  return 0;
}
