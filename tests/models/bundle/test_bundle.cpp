// Torch before Catch2: both define CHECK.
#include "bundle/bundle.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace flowguard::models;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("fg-bundle-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

Manifest tiny_manifest(int n_features, int n_classes) {
  Manifest m;
  m.name = "tiny";
  m.version = "1";
  m.architecture = "linear";
  m.feature_profile = "corrected";
  for (int i = 0; i < n_features; ++i) m.feature_names.push_back("f" + std::to_string(i));
  m.class_names = {"BENIGN"};
  for (int i = 1; i < n_classes; ++i) m.class_names.push_back("C" + std::to_string(i));
  m.benign_class = "BENIGN";
  return m;
}

// A real TorchScript module built from C++: logits = nan_to_num(x) @ W + b.
torch::jit::Module linear_module(int n_features, int n_classes, const std::string& body = "") {
  torch::jit::Module m("Tiny");
  torch::manual_seed(1);
  m.register_parameter("w", torch::randn({n_features, n_classes}) * 0.01, false);
  m.register_parameter("b", torch::zeros({n_classes}), false);
  m.define(body.empty() ? R"(
    def forward(self, x):
        x = torch.nan_to_num(x, 0.0, 1.0e6, -1.0e6)
        return torch.matmul(x, self.w) + self.b
  )"
                        : body);
  return m;
}

}  // namespace

TEST_CASE("manifest JSON round-trips and rejects inconsistent content") {
  auto m = tiny_manifest(3, 2);
  m.thresholds.block_per_class["C1"] = 0.8;
  m.training_json = R"({"rows": 10})";
  const auto back = Manifest::from_json(m.to_json());
  CHECK(back.feature_names == m.feature_names);
  CHECK(back.thresholds.block_per_class.at("C1") == Approx(0.8));
  CHECK(back.benign_index() == 0u);
  CHECK(back.training_json.find("\"rows\":10") != std::string::npos);

  CHECK_THROWS_WITH(Manifest::from_json("{"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(Manifest::from_json(R"({"format":"flowguard-model/1"})"),
                    Catch::Contains("missing field 'name'"));
  auto bad = m;
  bad.benign_class = "NOPE";
  CHECK_THROWS_WITH(Manifest::from_json(bad.to_json()), Catch::Contains("benign_class 'NOPE'"));
  bad = m;
  bad.format = "other/9";
  CHECK_THROWS_WITH(Manifest::from_json(bad.to_json()), Catch::Contains("unsupported format"));
}

TEST_CASE("manifest feature_groups: round trip, input order, consistency checks") {
  auto m = tiny_manifest(3, 2);
  // Without groups the JSON has no feature_groups key (older bundles read and write as before).
  CHECK(m.to_json().find("feature_groups") == std::string::npos);
  CHECK(m.input_width() == 3);
  m.feature_groups.push_back({"host_context", {"hc_a", "hc_b"}});
  m.feature_groups.push_back({"other", {"o"}});
  const auto back = Manifest::from_json(m.to_json());
  REQUIRE(back.feature_groups.size() == 2);
  CHECK((back.feature_groups == m.feature_groups));
  CHECK(back.input_width() == 6);
  CHECK(back.input_names() == std::vector<std::string>{"f0", "f1", "f2", "hc_a", "hc_b", "o"});

  auto bad = m;
  bad.feature_groups[1].name = "host_context";
  CHECK_THROWS_WITH(Manifest::from_json(bad.to_json()), Catch::Contains("listed twice"));
  bad = m;
  bad.feature_groups[1].feature_names = {"f1"};
  CHECK_THROWS_WITH(Manifest::from_json(bad.to_json()), Catch::Contains("repeat a feature name"));
  bad = m;
  bad.feature_groups[0].feature_names.clear();
  CHECK_THROWS_WITH(Manifest::from_json(bad.to_json()), Catch::Contains("has no feature_names"));
  bad = m;
  bad.scaling.kind = "standard";
  bad.scaling.center.assign(3, 0.0);  // profile only: the groups need theirs too
  bad.scaling.scale.assign(3, 1.0);
  CHECK_THROWS_WITH(Manifest::from_json(bad.to_json()), Catch::Contains("one value per feature"));
  CHECK_THROWS_WITH(Manifest::from_json(R"({"format":"flowguard-model/1","name":"n","version":"1",
      "feature_profile":"corrected","feature_names":["a"],"feature_groups":{"x":1},
      "class_names":["B","C"],"benign_class":"B"})"),
                    Catch::Contains("must be an array"));
}

TEST_CASE("a bundle reading a feature group validates with the wider input") {
  TempDir dir;
  const std::string path = (dir.path / "g.pt").string();
  auto m = tiny_manifest(3, 2);
  m.feature_groups.push_back({"host_context", {"hc_a", "hc_b"}});
  save_bundle(linear_module(5, 2), m, path);
  Bundle b = load_bundle(path);
  CHECK_NOTHROW(validate_bundle(b, {1, 4}));
  // A module that only takes the profile's 3 columns does not fit the manifest's 5.
  save_bundle(linear_module(3, 2), m, path);
  Bundle narrow = load_bundle(path);
  CHECK_THROWS(validate_bundle(narrow, {1, 4}));
}

TEST_CASE("a saved bundle loads with its manifest and passes validation") {
  c10::InferenceMode guard;
  TempDir dir;
  const auto path = (dir.path / "tiny.pt").string();
  save_bundle(linear_module(5, 3), tiny_manifest(5, 3), path);
  auto b = load_bundle(path);
  CHECK(b.manifest.name == "tiny");
  CHECK(b.manifest.class_names.size() == 3);
  CHECK(b.sha256.size() == 64);
  CHECK(b.file_bytes > 0);
  REQUIRE_NOTHROW(validate_bundle(b, {1, 16, 64}));
  auto y = b.module.forward({torch::ones({4, 5})}).toTensor();
  CHECK(y.size(0) == 4);
  CHECK(y.size(1) == 3);
  // No temporary file left behind.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);
}

TEST_CASE("bad bundles are refused with a reason") {
  c10::InferenceMode guard;
  TempDir dir;
  SECTION("missing file") {
    CHECK_THROWS_WITH(load_bundle((dir.path / "absent.pt").string()), Catch::Contains("does not exist"));
  }
  SECTION("corrupt file") {
    const auto path = (dir.path / "corrupt.pt").string();
    std::ofstream(path) << "this is not a zip archive";
    CHECK_THROWS_WITH(load_bundle(path), Catch::Contains("not a loadable TorchScript module"));
  }
  SECTION("TorchScript without a manifest") {
    const auto path = (dir.path / "plain.pt").string();
    linear_module(4, 2).save(path);
    CHECK_THROWS_WITH(load_bundle(path), Catch::Contains("no embedded flowguard.json"));
  }
  SECTION("wrong output shape") {
    const auto path = (dir.path / "shape.pt").string();
    save_bundle(linear_module(4, 3), tiny_manifest(4, 2), path);  // manifest says 2 classes
    auto b = load_bundle(path);
    CHECK_THROWS_WITH(validate_bundle(b), Catch::Contains("expected [1, 2]"));
  }
  SECTION("forward throws on the feature count") {
    const auto path = (dir.path / "features.pt").string();
    save_bundle(linear_module(4, 2), tiny_manifest(6, 2), path);  // manifest says 6 features
    auto b = load_bundle(path);
    CHECK_THROWS_WITH(validate_bundle(b), Catch::Contains("forward() threw"));
  }
  SECTION("NaN features produce NaN logits") {
    const auto path = (dir.path / "nan.pt").string();
    save_bundle(linear_module(4, 2, R"(
    def forward(self, x):
        return torch.matmul(x, self.w) + self.b
    )"),
                tiny_manifest(4, 2), path);
    auto b = load_bundle(path);
    CHECK_THROWS_WITH(validate_bundle(b), Catch::Contains("NaN/Inf logits"));
  }
}
