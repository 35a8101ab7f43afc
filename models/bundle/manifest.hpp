#pragma once
// The manifest embedded in every model bundle (extra file `flowguard.json` inside the TorchScript zip).
// It is what makes a bundle self-describing: which features in which order, which classes, which
// thresholds. No LibTorch here, so tools that only read manifests stay light.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace flowguard::models {

inline constexpr const char* kManifestFile = "flowguard.json";
inline constexpr const char* kBundleFormat = "flowguard-model/1";

struct ManifestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How raw features were scaled for training. The bundle's forward() takes RAW features in profile
// order and applies this itself (see docs/model-bundle.md); the manifest copy documents it and lets
// evaluation tools report it.
struct Scaling {
  std::string kind = "none";       // "none", "standard" (x-mean)/std, "minmax" (x-min)/(max-min)
  std::string applied = "module";  // always "module" in format 1
  std::vector<double> center;      // mean or min, one per feature
  std::vector<double> scale;       // std or (max-min), one per feature
  std::string transform;           // optional pre-scaling transform, e.g. "signed_log1p"
};

struct Thresholds {
  // A non-benign prediction becomes an alert at score >= alert, a block at score >= block.
  double alert = 0.5;
  double block = 0.9;
  // Optional per-class overrides of the block threshold (tuned on validation data).
  std::map<std::string, double> block_per_class;
  std::string tuned_for;  // e.g. "target_fpr=0.005 on validation split"
  // Abstention (docs/model-bundle.md): a flow whose `ood(x)` score is above this is "unknown": at most an
  // alert, never a block. Absent: the bundle has no out-of-distribution score.
  std::optional<double> ood;
};

// How the bundle's scores were calibrated and how its out-of-distribution score is computed. The module
// already applies the temperature (forward() returns logits / temperature); this block documents it.
struct Calibration {
  double temperature = 1.0;
  std::string method;      // e.g. "temperature scaling on the validation split"
  std::string ood_method;  // e.g. "knn: mean distance to the 5 nearest of 2048 training rows, ..."
  std::string details_json = "{}";  // free JSON: NLL/ECE before and after, reference size, percentile
};

// A named feature group beyond the profile (e.g. "host_context", docs/host-context.md) that the model
// reads. The agent announces its groups in the Hello; the server refuses a session that lacks one of
// the model's groups or sends it with other names, and drops groups the model does not read.
struct FeatureGroup {
  std::string name;
  std::vector<std::string> feature_names;  // ordered
  friend bool operator==(const FeatureGroup&, const FeatureGroup&) = default;
};

struct Manifest {
  std::string format = kBundleFormat;
  std::string name;
  std::string version;
  std::string architecture;     // "cnn_lstm", "cnn", "mlp", or free text for imported models
  std::string feature_profile;  // "corrected" or "cicids2017"
  std::vector<std::string> feature_names;
  // Optional: groups the model reads. forward() takes the profile features followed by each group's
  // features, in this order (input_names()). Absent or empty: profile features only, as in format 1.
  std::vector<FeatureGroup> feature_groups;
  Scaling scaling;
  std::vector<std::string> class_names;
  std::string benign_class;
  Thresholds thresholds;
  Calibration calibration;
  std::string created_at;  // ISO-8601 UTC
  // Free-form JSON text: training data, command line, metrics summary. Kept verbatim.
  std::string training_json = "{}";

  // Throws ManifestError naming the first problem (missing field, wrong type, inconsistent sizes).
  static Manifest from_json(const std::string& text);
  std::string to_json(int indent = 2) const;
  // Empty when consistent; otherwise one sentence per problem.
  std::vector<std::string> problems() const;
  std::optional<std::size_t> benign_index() const;
  // The model's input columns: feature_names, then each group's names in feature_groups order.
  std::vector<std::string> input_names() const;
  std::size_t input_width() const;
};

}  // namespace flowguard::models
