#pragma once
// A loaded, validated model as the server serves it. The TorchScript module sits behind an opaque
// pointer so that only model.cpp pays for the LibTorch headers; everything else sees the manifest and
// the ModelInfo that goes on the wire.

#include "bundle/manifest.hpp"
#include "common/error.hpp"
#include "flowguard/v1/flowguard.pb.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowguard::inference {

struct TorchModule;  // model.cpp

struct Prediction {
  std::uint32_t class_index = 0;
  float score = 0;  // softmax probability of class_index
  // Abstention (docs/model-bundle.md): the bundle's ood(x) score and whether it reaches the manifest's
  // thresholds.ood (strictly above). A bundle without them gives ood = 0, unknown = false.
  float ood = 0;
  bool unknown = false;
};

struct Attribution {
  std::uint32_t feature = 0;
  float contribution = 0;
};

class Model {
 public:
  models::Manifest manifest;
  v1::ModelInfo info;
  std::string path;
  // The forward input's width: profile features, then the manifest's feature groups.
  std::size_t n_features() const { return manifest.input_width(); }
  std::size_t n_classes() const { return manifest.class_names.size(); }
  std::optional<std::size_t> benign_index;
  bool has_ood = false;  // the manifest sets thresholds.ood and the module has ood(x)
  std::vector<std::string> input_names;  // manifest.input_names(): names of the forward input's columns

  // Runs forward + softmax on `rows` x n_features() raw features (row-major). Writes one Prediction per
  // row and, when `probs` is non-null, rows x n_classes() probabilities. Returns false and sets `why`
  // when LibTorch throws (the caller sheds those flows); never throws.
  bool predict(std::span<const float> x, std::size_t rows, std::vector<Prediction>& out,
               std::vector<float>* probs, std::string& why) const;

  // Per-feature attribution of each row's class `classes[r]`; the `top_n` largest |contribution| per
  // row, strongest first. A bundle with an `explain(x, classes)` method supplies its own (tree ensembles:
  // Saabas path contributions to the class margin); otherwise gradient x input of the class logit.
  // Returns false (and leaves `out` empty) when neither works (e.g. a module that is not differentiable).
  bool explain(std::span<const float> x, std::size_t rows, std::span<const std::uint32_t> classes,
               std::size_t top_n, std::vector<std::vector<Attribution>>& out) const;

  std::shared_ptr<TorchModule> module;
};

// A model that cannot be served (start-up, or a refused reload): the shared boundary exception.
struct ModelLoadError : flowguard::Exception {
  explicit ModelLoadError(std::string message) : Exception(ErrorCode::invalid_argument, std::move(message)) {}
};

// Loads a bundle, checks the manifest, runs warm-up forwards at `warmup_batches` (plus a NaN/Inf
// batch). Throws ModelLoadError naming the file and the reason. Runs on the caller's thread.
// `max_bytes`: larger files are refused before they are read (default models::kMaxBundleBytes, 1 GiB).
std::shared_ptr<const Model> load_model(const std::string& path,
                                        const std::vector<std::int64_t>& warmup_batches,
                                        std::uint64_t max_bytes = 1ull << 30);

// Sets LibTorch's intra-op and inter-op pool sizes, and keeps multi-MB tensor buffers on the heap
// (glibc mallopt) so batches do not page-fault them in again. Call once, before the first model is loaded.
void configure_torch_threads(int threads);

// The serving model. Readers take a shared_ptr copy per batch, so a swap never pulls a model out from
// under a batch that is running: the old model is freed when its last batch finishes.
class ModelHolder {
 public:
  explicit ModelHolder(std::shared_ptr<const Model> m) : current_(std::move(m)) {}
  std::shared_ptr<const Model> get() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  std::shared_ptr<const Model> exchange(std::shared_ptr<const Model> m) {
    std::lock_guard lock(mu_);
    current_.swap(m);
    return m;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Model> current_;
};

}  // namespace flowguard::inference
