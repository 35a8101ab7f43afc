#pragma once
// A model bundle: one TorchScript file whose forward(x: float[batch, n_features]) returns class logits
// [batch, n_classes], with the manifest embedded as the extra file `flowguard.json`. Loading validates
// the manifest and runs warm-up forward passes, so a bad file is refused before it can serve.
// Only the inference server and the trainer include this header (it pulls in LibTorch).

#include "manifest.hpp"

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowguard::models {

struct BundleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Bundle {
  torch::jit::Module module;
  Manifest manifest;
  std::string path;
  std::string sha256;  // hex digest of the file as loaded
  std::uint64_t file_bytes = 0;
};

// Largest bundle file loaded by default (flowguard-infer --max-model-bytes).
inline constexpr std::uint64_t kMaxBundleBytes = 1ull << 30;

// Cheap checks before anything reads the whole file (hashing a huge file would take minutes): a
// regular file, at most `max_bytes`, starting with the zip signature (TorchScript files are zip
// archives). Throws BundleError with the reason.
void check_bundle_file(const std::string& path, std::uint64_t max_bytes = kMaxBundleBytes);

// check_bundle_file(), then reads the file, parses and checks the manifest. Throws BundleError naming
// the problem (unreadable file, too large, not TorchScript, no manifest, invalid manifest).
Bundle load_bundle(const std::string& path, std::uint64_t max_bytes = kMaxBundleBytes);

// Runs forward() at each batch size on finite inputs, plus NaN/Inf inputs (flows legitimately carry
// them, e.g. Flow Bytes/s of a one-packet flow), and checks the output is float [B, n_classes] and
// finite. Throws BundleError with the failing batch size and reason. Call under c10::InferenceMode.
void validate_bundle(Bundle& bundle, const std::vector<std::int64_t>& batch_sizes = {1, 16});

// Writes module + manifest atomically (temporary file, then rename), so a directory watcher never
// sees a half-written bundle.
void save_bundle(const torch::jit::Module& module, const Manifest& manifest, const std::string& path);

std::string sha256_file_hex(const std::string& path);

}  // namespace flowguard::models
