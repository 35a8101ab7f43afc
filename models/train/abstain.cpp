#include "abstain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

namespace flowguard::train {

namespace {

// log-softmax of one row at temperature t, in double precision.
void log_softmax_row(const float* z, std::size_t k, double t, std::vector<double>& out) {
  out.resize(k);
  double mx = -std::numeric_limits<double>::infinity();
  for (std::size_t c = 0; c < k; ++c) mx = std::max(mx, static_cast<double>(z[c]) / t);
  double sum = 0;
  for (std::size_t c = 0; c < k; ++c) sum += std::exp(static_cast<double>(z[c]) / t - mx);
  const double lse = mx + std::log(sum);
  for (std::size_t c = 0; c < k; ++c) out[c] = static_cast<double>(z[c]) / t - lse;
}

}  // namespace

double mean_nll(const std::vector<float>& logits, const std::vector<std::int32_t>& y, std::size_t k,
                double temperature) {
  std::vector<double> lp;
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0) continue;
    log_softmax_row(logits.data() + i * k, k, temperature, lp);
    sum -= lp[static_cast<std::size_t>(y[i])];
    ++n;
  }
  return n ? sum / static_cast<double>(n) : 0.0;
}

double expected_calibration_error(const std::vector<float>& logits, const std::vector<std::int32_t>& y,
                                  std::size_t k, double temperature, int bins) {
  std::vector<double> conf_sum(static_cast<std::size_t>(bins), 0), acc_sum(static_cast<std::size_t>(bins), 0);
  std::vector<std::size_t> count(static_cast<std::size_t>(bins), 0);
  std::vector<double> lp;
  std::size_t n = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0) continue;
    log_softmax_row(logits.data() + i * k, k, temperature, lp);
    const auto best = static_cast<std::size_t>(std::max_element(lp.begin(), lp.end()) - lp.begin());
    const double conf = std::exp(lp[best]);
    auto b = static_cast<std::size_t>(std::min<double>(bins - 1, std::floor(conf * bins)));
    conf_sum[b] += conf;
    acc_sum[b] += best == static_cast<std::size_t>(y[i]) ? 1.0 : 0.0;
    ++count[b];
    ++n;
  }
  double ece = 0;
  for (std::size_t b = 0; b < count.size(); ++b)
    if (count[b]) ece += std::fabs(acc_sum[b] - conf_sum[b]) / static_cast<double>(n);
  return ece;
}

CalibrationFit fit_temperature(const std::vector<float>& logits, const std::vector<std::int32_t>& y,
                               std::size_t k) {
  CalibrationFit fit;
  fit.nll_before = mean_nll(logits, y, k, 1.0);
  fit.ece_before = expected_calibration_error(logits, y, k, 1.0);
  // NLL is unimodal in log T for a fixed set of logits: golden-section search on log T in [1/50, 50].
  auto f = [&](double log_t) { return mean_nll(logits, y, k, std::exp(log_t)); };
  double lo = std::log(0.02), hi = std::log(50.0);
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = hi - g * (hi - lo), b = lo + g * (hi - lo), fa = f(a), fb = f(b);
  for (int it = 0; it < 60 && hi - lo > 1e-5; ++it) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = f(b);
    }
  }
  fit.temperature = std::exp((lo + hi) / 2);
  fit.nll_after = mean_nll(logits, y, k, fit.temperature);
  // Never make it worse than no scaling (a flat search region can end slightly off).
  if (!(fit.nll_after <= fit.nll_before)) {
    fit.temperature = 1.0;
    fit.nll_after = fit.nll_before;
  }
  fit.ece_after = expected_calibration_error(logits, y, k, fit.temperature);
  return fit;
}

OodReference build_ood_reference(const Dataset& train, std::size_t n_features, const OodConfig& config) {
  if (n_features == 0 || n_features > train.n_features())
    throw std::invalid_argument("ood reference: bad feature count");
  OodReference ref;
  ref.n_features = n_features;
  ref.k = config.k;
  // Scaler over the first n_features features (the profile's; groups such as host context are missing
  // for the CIC rows, so they would only measure which source a row came from).
  Dataset head;
  head.feature_names.assign(train.feature_names.begin(),
                            train.feature_names.begin() + static_cast<std::ptrdiff_t>(n_features));
  head.y = train.y;
  head.x.reserve(train.rows() * n_features);
  for (std::size_t i = 0; i < train.rows(); ++i)
    head.x.insert(head.x.end(), train.row(i), train.row(i) + n_features);
  ref.scaler = fit_scaler(head);

  std::map<std::pair<std::int32_t, std::uint32_t>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < train.rows(); ++i)
    groups[{train.y[i], i < train.file_index.size() ? train.file_index[i] : 0u}].push_back(i);
  double root_sum = 0;
  for (const auto& [key, rows] : groups) root_sum += std::sqrt(static_cast<double>(rows.size()));
  std::mt19937_64 rng(config.seed * 0x9E3779B97F4A7C15ULL + 77);
  std::vector<std::size_t> chosen;
  for (auto& [key, rows] : groups) {
    const auto quota = static_cast<std::size_t>(std::ceil(static_cast<double>(config.reference_rows) *
                                                          std::sqrt(static_cast<double>(rows.size())) / root_sum));
    std::vector<std::size_t> r = rows;
    std::shuffle(r.begin(), r.end(), rng);
    r.resize(std::min(r.size(), quota));
    chosen.insert(chosen.end(), r.begin(), r.end());
  }
  std::sort(chosen.begin(), chosen.end());
  if (chosen.size() > config.reference_rows) {
    std::shuffle(chosen.begin(), chosen.end(), rng);
    chosen.resize(config.reference_rows);
    std::sort(chosen.begin(), chosen.end());
  }
  ref.n_rows = chosen.size();
  ref.rows.reserve(ref.n_rows * n_features);
  for (auto i : chosen)
    for (std::size_t f = 0; f < n_features; ++f) {
      const double z = (sanitize_and_transform(train.row(i)[f]) - ref.scaler.center[f]) / ref.scaler.scale[f];
      ref.rows.push_back(static_cast<float>(std::clamp(z, -20.0, 20.0)));
    }
  if (ref.k > static_cast<std::int64_t>(ref.n_rows)) ref.k = static_cast<std::int64_t>(ref.n_rows);
  return ref;
}

torch::jit::Module wrap_with_abstention(const torch::jit::Module& inner, double temperature,
                                        const OodReference& ref) {
  torch::jit::Module m("FlowguardAbstaining");
  m.register_attribute("training", c10::BoolType::get(), false);
  m.register_module("inner", inner);
  m.register_buffer("temperature", torch::tensor(static_cast<float>(temperature)));
  m.register_buffer("ood_center", torch::tensor(std::vector<float>(ref.scaler.center.begin(), ref.scaler.center.end())));
  m.register_buffer("ood_scale", torch::tensor(std::vector<float>(ref.scaler.scale.begin(), ref.scaler.scale.end())));
  // The reference rows travel as float16 (half the size; standardised values within +/-20 keep 3
  // significant digits, plenty for a distance), transposed for the matmul.
  auto rows = torch::tensor(ref.rows).reshape({static_cast<std::int64_t>(ref.n_rows),
                                               static_cast<std::int64_t>(ref.n_features)});
  m.register_buffer("ood_ref_t", rows.t().contiguous().to(torch::kFloat16));
  m.register_attribute("ood_features", c10::IntType::get(), static_cast<std::int64_t>(ref.n_features));
  m.register_attribute("ood_k", c10::IntType::get(), ref.k);
  std::ostringstream src;
  src << R"(
def forward(self, x: Tensor) -> Tensor:
    return self.inner.forward(x) / self.temperature

def ood(self, x: Tensor) -> Tensor:
    z = torch.narrow(x, 1, 0, self.ood_features)
    z = torch.nan_to_num(z, 0.0, 3.4028234663852886e+38, -3.4028234663852886e+38)
    z = torch.sign(z) * torch.log1p(torch.abs(z))
    z = torch.clamp((z - self.ood_center) / self.ood_scale, -20.0, 20.0)
    r = self.ood_ref_t.float()
    d = (z * z).sum(1, keepdim=True) + (r * r).sum(0).unsqueeze(0) - 2.0 * torch.matmul(z, r)
    d = torch.clamp(d, min=0.0)
    near = torch.topk(d, self.ood_k, 1, False).values
    return torch.sqrt(near).mean(1)
)";
  if (inner.find_method("explain")) src << R"(
def explain(self, x: Tensor, classes: Tensor) -> Tensor:
    return self.inner.explain(x, classes) / self.temperature
)";
  m.define(src.str());
  m.eval();
  return m;
}

std::vector<float> predict_logits(torch::jit::Module& module, const Dataset& data, std::size_t batch) {
  c10::InferenceMode guard;
  std::vector<float> out;
  const std::size_t nf = data.n_features();
  for (std::size_t start = 0; start < data.rows(); start += batch) {
    const std::size_t n = std::min(batch, data.rows() - start);
    auto xb = torch::from_blob(const_cast<float*>(data.x.data() + start * nf),
                               {static_cast<std::int64_t>(n), static_cast<std::int64_t>(nf)}, torch::kFloat32);
    auto z = module.forward({xb}).toTensor().to(torch::kFloat32).contiguous();
    out.insert(out.end(), z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
  }
  return out;
}

std::vector<float> predict_ood(torch::jit::Module& module, const Dataset& data, std::size_t batch) {
  c10::InferenceMode guard;
  std::vector<float> out;
  auto method = module.get_method("ood");
  const std::size_t nf = data.n_features();
  for (std::size_t start = 0; start < data.rows(); start += batch) {
    const std::size_t n = std::min(batch, data.rows() - start);
    auto xb = torch::from_blob(const_cast<float*>(data.x.data() + start * nf),
                               {static_cast<std::int64_t>(n), static_cast<std::int64_t>(nf)}, torch::kFloat32);
    auto z = method({xb}).toTensor().to(torch::kFloat32).contiguous();
    out.insert(out.end(), z.data_ptr<float>(), z.data_ptr<float>() + z.numel());
  }
  return out;
}

double percentile(std::vector<float> values, double p) {
  values.erase(std::remove_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); }),
               values.end());
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace flowguard::train
