#include "bundle.hpp"

#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace flowguard::models {

std::string sha256_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BundleError("cannot read '" + path + "'");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw BundleError("sha256 init failed");
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

void check_bundle_file(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw BundleError("model bundle '" + path + "' does not exist or is not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw BundleError("cannot read the size of '" + path + "': " + ec.message());
  if (size > max_bytes)
    throw BundleError("'" + path + "' is " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(max_bytes) + "-byte limit for a model bundle (--max-model-bytes)");
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BundleError("cannot read '" + path + "'");
  in.read(magic, sizeof magic);
  if (in.gcount() != 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != 3 || magic[3] != 4)
    throw BundleError("'" + path +
                      "' is not a loadable TorchScript module: it does not start with the zip signature "
                      "(a model bundle is a zip archive written by flowguard-train)");
}

Bundle load_bundle(const std::string& path, std::uint64_t max_bytes) {
  check_bundle_file(path, max_bytes);
  std::error_code ec;
  Bundle b;
  b.path = path;
  b.file_bytes = std::filesystem::file_size(path, ec);
  b.sha256 = sha256_file_hex(path);
  torch::jit::ExtraFilesMap extra{{kManifestFile, ""}};
  try {
    b.module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    throw BundleError("'" + path + "' is not a loadable TorchScript module: " + what);
  }
  const std::string& text = extra[kManifestFile];
  if (text.empty())
    throw BundleError("'" + path + "' has no embedded " + std::string(kManifestFile) +
                      " manifest (see docs/model-bundle.md for how to add one)");
  try {
    b.manifest = Manifest::from_json(text);
  } catch (const ManifestError& e) {
    throw BundleError("'" + path + "': " + e.what());
  }
  if (!b.module.find_method("forward")) throw BundleError("'" + path + "' has no forward() method");
  b.module.eval();
  return b;
}

void validate_bundle(Bundle& bundle, const std::vector<std::int64_t>& batch_sizes) {
  const auto n_features = static_cast<std::int64_t>(bundle.manifest.input_width());
  const auto n_classes = static_cast<std::int64_t>(bundle.manifest.class_names.size());
  auto check = [&](const torch::Tensor& x, const std::string& what) {
    torch::jit::IValue out;
    try {
      out = bundle.module.forward({x});
    } catch (const std::exception& e) {
      std::string msg = e.what();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      throw BundleError("'" + bundle.path + "': forward() threw on " + what + ": " + msg);
    }
    if (!out.isTensor())
      throw BundleError("'" + bundle.path + "': forward() must return a tensor of logits (" + what + ")");
    auto y = out.toTensor();
    if (y.dim() != 2 || y.size(0) != x.size(0) || y.size(1) != n_classes) {
      std::ostringstream s;
      s << "'" << bundle.path << "': forward() returned shape " << y.sizes() << " on " << what
        << ", expected [" << x.size(0) << ", " << n_classes << "] (one logit per class in the manifest)";
      throw BundleError(s.str());
    }
    if (!torch::isfinite(y).all().item<bool>())
      throw BundleError("'" + bundle.path + "': forward() produced NaN/Inf logits on " + what);
  };
  for (auto b : batch_sizes) {
    if (b <= 0) continue;
    torch::manual_seed(0);
    check(torch::rand({b, n_features}) * 1000.0, "a random batch of " + std::to_string(b));
  }
  // Raw flow features include NaN and +/-Inf; a bundle must cope with them.
  auto odd = torch::zeros({2, n_features});
  odd.index_put_({0}, std::numeric_limits<float>::quiet_NaN());
  odd.index_put_({1}, std::numeric_limits<float>::infinity());
  check(odd, "a batch holding NaN and Infinity features");
  // Optional explain(x, classes) -> [batch, n_features (+1 bias column)] (docs/model-bundle.md).
  if (auto explain = bundle.module.find_method("explain")) {
    torch::Tensor e;
    try {
      e = (*explain)({odd, torch::zeros({2}, torch::kInt64)}).toTensor();
    } catch (const std::exception& ex) {
      std::string msg = ex.what();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      throw BundleError("'" + bundle.path + "': explain() threw: " + msg);
    }
    if (e.dim() != 2 || e.size(0) != 2 || (e.size(1) != n_features && e.size(1) != n_features + 1) ||
        !torch::isfinite(e).all().item<bool>())
      throw BundleError("'" + bundle.path +
                        "': explain() must return finite [batch, n_features(+1)] contributions");
  }
  // Abstention: a manifest with thresholds.ood needs ood(x) -> finite [batch] scores (docs/model-bundle.md).
  auto ood = bundle.module.find_method("ood");
  if (bundle.manifest.thresholds.ood && !ood)
    throw BundleError("'" + bundle.path + "': the manifest sets thresholds.ood but the module has no ood()");
  if (ood) {
    torch::Tensor o;
    try {
      o = (*ood)({odd}).toTensor();
    } catch (const std::exception& ex) {
      std::string msg = ex.what();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      throw BundleError("'" + bundle.path + "': ood() threw: " + msg);
    }
    if (o.dim() != 1 || o.size(0) != 2 || !torch::isfinite(o).all().item<bool>())
      throw BundleError("'" + bundle.path + "': ood() must return finite [batch] scores");
  }
}

void save_bundle(const torch::jit::Module& module, const Manifest& manifest, const std::string& path) {
  if (auto p = manifest.problems(); !p.empty()) throw BundleError("refusing to save: manifest " + p.front());
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  torch::jit::ExtraFilesMap extra{{kManifestFile, manifest.to_json()}};
  try {
    module.save(tmp, extra);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw BundleError("cannot write '" + tmp + "': " + e.what());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw BundleError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  }
}

}  // namespace flowguard::models
