#include "model.hpp"

#include "bundle/bundle.hpp"

static_assert(flowguard::models::kMaxBundleBytes == (1ull << 30), "model.hpp repeats the default");

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <malloc.h>

namespace flowguard::inference {

struct TorchModule {
  // forward() on a TorchScript module is safe to call from several workers at once; the module is
  // never modified after load.
  mutable torch::jit::Module module;
};

namespace {

std::string first_line(std::string s) {
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

v1::ModelInfo make_info(const models::Bundle& b) {
  v1::ModelInfo info;
  const auto& m = b.manifest;
  info.set_name(m.name);
  info.set_version(m.version);
  info.set_architecture(m.architecture);
  info.set_feature_profile(m.feature_profile);
  for (const auto& c : m.class_names) info.add_class_names(c);
  info.set_benign_class(m.benign_class);
  info.set_sha256(b.sha256);
  info.set_loaded_at_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
  return info;
}

// The `top_n` largest |contribution| of each row of `contrib` [rows, n_features], strongest first.
void rank_contributions(const torch::Tensor& contrib, std::size_t top_n,
                        std::vector<std::vector<Attribution>>& out) {
  auto a = contrib.accessor<float, 2>();
  const auto rows = static_cast<std::size_t>(contrib.size(0));
  out.assign(rows, {});
  std::vector<std::uint32_t> order(static_cast<std::size_t>(contrib.size(1)));
  const std::size_t n = std::min<std::size_t>(top_n, order.size());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t f = 0; f < order.size(); ++f) order[f] = static_cast<std::uint32_t>(f);
    const auto ri = static_cast<std::int64_t>(r);
    std::partial_sort(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
        [&](std::uint32_t l, std::uint32_t rr) { return std::abs(a[ri][l]) > std::abs(a[ri][rr]); });
    for (std::size_t k = 0; k < n; ++k) out[r].push_back({order[k], a[ri][order[k]]});
  }
}

}  // namespace

void configure_torch_threads(int threads) {
  // Batches of a few hundred flows make intermediate tensors of a few MB (tree bundles: [batch, trees]
  // int64 indices per level). glibc serves blocks that size with mmap and unmaps them on free, so each
  // batch page-faults all its buffers in again: 5-10x slower forwards at batch 256
  // (bench/models/bench_trees.cpp). Keeping such blocks on the heap costs at most the trim threshold of
  // idle memory.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  threads = std::max(threads, 1);
  at::set_num_interop_threads(threads);
  at::set_num_threads(threads);
}

std::shared_ptr<const Model> load_model(const std::string& path,
                                        const std::vector<std::int64_t>& warmup_batches,
                                        std::uint64_t max_bytes) {
  try {
    auto bundle = models::load_bundle(path, max_bytes);
    {
      c10::InferenceMode guard;
      models::validate_bundle(bundle, warmup_batches);
    }
    auto model = std::make_shared<Model>();
    model->manifest = bundle.manifest;
    model->info = make_info(bundle);
    model->path = path;
    model->benign_index = bundle.manifest.benign_index();
    model->has_ood = bundle.manifest.thresholds.ood.has_value() && bundle.module.find_method("ood").has_value();
    model->input_names = bundle.manifest.input_names();
    model->module = std::make_shared<TorchModule>(TorchModule{bundle.module});
    return model;
  } catch (const models::BundleError& e) {
    throw ModelLoadError(e.what());
  } catch (const std::exception& e) {
    throw ModelLoadError("'" + path + "': " + first_line(e.what()));
  }
}

bool Model::predict(std::span<const float> x, std::size_t rows, std::vector<Prediction>& out,
                    std::vector<float>* probs, std::string& why) const {
  out.clear();
  if (rows == 0) return true;
  const auto nf = static_cast<std::int64_t>(n_features());
  const auto nc = static_cast<std::int64_t>(n_classes());
  try {
    c10::InferenceMode guard;
    // from_blob does not copy: the worker's buffer outlives the forward call.
    auto input = torch::from_blob(const_cast<float*>(x.data()), {static_cast<std::int64_t>(rows), nf},
                                  torch::kFloat32);
    auto logits = module->module.forward({input}).toTensor();
    if (logits.dim() != 2 || logits.size(0) != static_cast<std::int64_t>(rows) || logits.size(1) != nc) {
      why = "model returned logits of the wrong shape";
      return false;
    }
    auto p = torch::softmax(logits.to(torch::kFloat32), 1).contiguous();
    auto [best, idx] = p.max(1);
    auto best_a = best.accessor<float, 1>();
    auto idx_a = idx.accessor<std::int64_t, 1>();
    out.resize(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      out[i].class_index = static_cast<std::uint32_t>(idx_a[static_cast<std::int64_t>(i)]);
      out[i].score = best_a[static_cast<std::int64_t>(i)];
      // A NaN probability would compare false against every threshold and read as "allow, score nan":
      // make it an explicit zero-confidence benign-looking row instead.
      if (!std::isfinite(out[i].score)) out[i].score = 0;
    }
    if (has_ood) {
      // ood(x) -> [rows]; a non-finite score (cannot happen with a validated bundle) counts as unknown:
      // abstaining is the safe side.
      auto ood = module->module.get_method("ood")({input}).toTensor().to(torch::kFloat32).contiguous();
      if (ood.dim() != 1 || ood.size(0) != static_cast<std::int64_t>(rows)) {
        why = "model returned ood scores of the wrong shape";
        out.clear();
        return false;
      }
      const float* o = ood.data_ptr<float>();
      const double limit = *manifest.thresholds.ood;
      for (std::size_t i = 0; i < rows; ++i) {
        out[i].ood = std::isfinite(o[i]) ? o[i] : std::numeric_limits<float>::max();
        out[i].unknown = !(o[i] <= limit);
      }
    }
    if (probs) {
      probs->assign(p.data_ptr<float>(), p.data_ptr<float>() + rows * static_cast<std::size_t>(nc));
    }
    return true;
  } catch (const std::exception& e) {
    why = "forward() failed: " + first_line(e.what());
    out.clear();
    return false;
  }
}

bool Model::explain(std::span<const float> x, std::size_t rows, std::span<const std::uint32_t> classes,
                    std::size_t top_n, std::vector<std::vector<Attribution>>& out) const {
  out.clear();
  if (rows == 0 || top_n == 0) return true;
  const auto nf = static_cast<std::int64_t>(n_features());
  if (auto method = module->module.find_method("explain")) {
    // The bundle brings its own attribution (tree ensembles: Saabas path contributions,
    // docs/model-bundle.md): explain(x, classes) -> [rows, n_features (+ bias column)].
    try {
      c10::InferenceMode guard;
      auto input = torch::from_blob(const_cast<float*>(x.data()), {static_cast<std::int64_t>(rows), nf},
                                    torch::kFloat32);
      std::vector<std::int64_t> cls(classes.begin(), classes.end());
      auto c = (*method)({input, torch::tensor(cls, torch::kInt64)}).toTensor();
      if (c.dim() != 2 || c.size(0) != static_cast<std::int64_t>(rows) || c.size(1) < nf) return false;
      rank_contributions(
          torch::nan_to_num(c.narrow(1, 0, nf).to(torch::kFloat32), 0.0, 0.0, 0.0).contiguous(), top_n, out);
      return true;
    } catch (const std::exception&) {
      out.clear();
      return false;
    }
  }
  try {
    // Attribution needs autograd, so this runs outside InferenceMode on a fresh (non-inference) tensor.
    torch::AutoGradMode grad_on(true);
    auto input =
        torch::from_blob(const_cast<float*>(x.data()), {static_cast<std::int64_t>(rows), nf}, torch::kFloat32)
            .clone()
            .requires_grad_(true);
    auto logits = module->module.forward({input}).toTensor();
    std::vector<std::int64_t> cls(classes.begin(), classes.end());
    auto index = torch::tensor(cls, torch::kInt64).unsqueeze(1);
    auto picked = logits.gather(1, index).sum();
    auto grads = torch::autograd::grad({picked}, {input}, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    if (grads.empty() || !grads[0].defined()) return false;
    rank_contributions(torch::nan_to_num(grads[0] * input.detach(), 0.0, 0.0, 0.0).contiguous(), top_n, out);
    return true;
  } catch (const std::exception&) {
    out.clear();
    return false;
  }
}

}  // namespace flowguard::inference
