// Torch before anything that may pull in Catch2.
#include "bundle/bundle.hpp"

#include "support.hpp"

#include <fstream>

namespace fgtest {

using flowguard::models::Manifest;

namespace {

Manifest manifest(const std::string& name, const std::string& version, std::size_t n_features,
                  const std::string& profile) {
  Manifest m;
  m.name = name;
  m.version = version;
  m.architecture = "linear";
  m.feature_profile = profile;
  m.feature_names = feature_names(n_features);
  m.class_names = {"BENIGN", "DoS", "PortScan"};
  m.benign_class = "BENIGN";
  m.thresholds.alert = 0.5;
  m.thresholds.block = 0.9;
  m.created_at = "2026-01-01T00:00:00Z";
  return m;
}

// `portscan_input`: the input column that drives the PortScan logit (1 unless a group model says).
torch::jit::Module linear(std::size_t nf, std::int64_t out_classes, const std::string& body = "",
                          std::int64_t portscan_input = 1) {
  torch::jit::Module m("Linear");
  auto w = torch::zeros({static_cast<std::int64_t>(nf), out_classes});
  auto b = torch::zeros({out_classes});
  if (out_classes >= 3 && nf >= 2) {
    w.index_put_({0, 1}, 1.0);
    w.index_put_({portscan_input, 2}, 1.0);
    b.index_put_({1}, -1.0);
    b.index_put_({2}, -1.0);
  }
  m.register_parameter("w", w, false);
  m.register_parameter("b", b, false);
  m.define(body.empty() ? R"(
    def forward(self, x):
        x = torch.nan_to_num(x, 0.0, 0.0, 0.0)
        return torch.matmul(x, self.w) + self.b
  )"
                        : body);
  return m;
}

}  // namespace

void save_linear_model(const std::string& path, const std::string& version, std::size_t nf,
                       const std::string& name, const std::string& profile) {
  flowguard::models::save_bundle(linear(nf, 3), manifest(name, version, nf, profile), path);
}

void save_group_model(const std::string& path, const std::string& version, std::size_t nf,
                      const Groups& groups) {
  Manifest m = manifest("grouped", version, nf, "corrected");
  std::size_t width = nf;
  for (const auto& [name, features] : groups) {
    m.feature_groups.push_back({name, features});
    width += features.size();
  }
  flowguard::models::save_bundle(linear(width, 3, "", static_cast<std::int64_t>(nf)), m, path);
}

void save_wrong_shape_model(const std::string& path, std::size_t nf) {
  flowguard::models::save_bundle(linear(nf, 2), manifest("shape", "X", nf, "corrected"), path);
}

void save_throwing_model(const std::string& path, std::size_t nf) {
  flowguard::models::save_bundle(linear(nf, 3, R"(
    def forward(self, x):
        assert x.size(0) < 0, "this model always fails"
        return torch.matmul(x, self.w) + self.b
  )"),
                                 manifest("throws", "X", nf, "corrected"), path);
}

void write_garbage(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  out << "PK\x03\x04 this is not a TorchScript archive";
}

}  // namespace fgtest
