#include "model.hpp"

#include "profiles.hpp"
#include "trees_xgboost.hpp"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace flowguard::train {

namespace {

constexpr int kConv1 = 16, kConv2 = 32, kDense = 64, kMlp1 = 128, kMlp2 = 64;
// cnn_lstm: max-pool 2 leaves 40 positions of 32 channels for an LSTM(32). A small hidden state keeps
// the recurrence cheap (the whole default training run must fit in 15 min on 2 shared cores).
constexpr int kLstmPool = 2, kLstmHidden = 32;

// Shared first steps of every architecture: the scaling lives in the module (docs/model-bundle.md).
constexpr const char* kPrepare = R"(
    def prepare(self, x):
        x = torch.nan_to_num(x, 0.0)
        x = torch.sign(x) * torch.log1p(torch.abs(x))
        x = (x - self.center) / self.scale
        return torch.clamp(x, -20.0, 20.0)
)";

std::string forward_source(const std::string& arch, double dropout) {
  std::ostringstream s;
  s.precision(6);
  const std::string p = std::to_string(dropout);
  s << kPrepare;
  if (arch == "cnn_lstm") {
    // Conv1D over the feature axis finds cross-feature patterns; the LSTM reads the pooled feature
    // maps as a sequence (feature position = time step) and its last hidden state summarises them.
    s << R"(
    def forward(self, x):
        h = self.prepare(x).unsqueeze(1)
        h = torch.relu(torch.conv1d(h, self.conv1_weight, self.conv1_bias, [1], [1]))
        h = torch.relu(torch.conv1d(h, self.conv2_weight, self.conv2_bias, [1], [1]))
        h = torch.max_pool1d(h, [)"
      << kLstmPool << "], [" << kLstmPool << R"(])
        seq = h.transpose(1, 2)
        h0 = torch.zeros([1, seq.size(0), )"
      << kLstmHidden << R"(], dtype=seq.dtype, device=seq.device)
        out = torch.lstm(seq, [h0, h0], [self.lstm_w_ih, self.lstm_w_hh, self.lstm_b_ih, self.lstm_b_hh],
                         True, 1, 0.0, self.training, False, True)
        # Head input: the pooled conv maps themselves (a skip connection, so position-specific
        # patterns reach the head without surviving the recurrence) and the LSTM's last hidden state.
        z = torch.cat([h.flatten(1), out[1][0]], 1)
        z = torch.dropout(z, )"
      << p << R"(, self.training)
        z = torch.relu(torch.addmm(self.fc1_bias, z, self.fc1_weight.t()))
        z = torch.dropout(z, )"
      << p << R"(, self.training)
        return torch.addmm(self.fc2_bias, z, self.fc2_weight.t())
)";
  } else if (arch == "cnn") {
    s << R"(
    def forward(self, x):
        h = self.prepare(x).unsqueeze(1)
        h = torch.relu(torch.conv1d(h, self.conv1_weight, self.conv1_bias, [1], [1]))
        h = torch.relu(torch.conv1d(h, self.conv2_weight, self.conv2_bias, [1], [1]))
        h = torch.max_pool1d(h, [2], [2]).flatten(1)
        z = torch.dropout(h, )"
      << p << R"(, self.training)
        z = torch.relu(torch.addmm(self.fc1_bias, z, self.fc1_weight.t()))
        z = torch.dropout(z, )"
      << p << R"(, self.training)
        return torch.addmm(self.fc2_bias, z, self.fc2_weight.t())
)";
  } else if (arch == "mlp") {
    s << R"(
    def forward(self, x):
        z = self.prepare(x)
        z = torch.relu(torch.addmm(self.fc1_bias, z, self.fc1_weight.t()))
        z = torch.dropout(z, )"
      << p << R"(, self.training)
        z = torch.relu(torch.addmm(self.fc2_bias, z, self.fc2_weight.t()))
        z = torch.dropout(z, )"
      << p << R"(, self.training)
        return torch.addmm(self.fc3_bias, z, self.fc3_weight.t())
)";
  } else {
    throw std::invalid_argument("unknown architecture '" + arch + "' (use cnn_lstm, cnn, mlp, gbdt or rf)");
  }
  return s.str();
}

// PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
torch::Tensor uniform(std::vector<std::int64_t> shape, std::int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return torch::empty(shape).uniform_(-bound, bound);
}

void add_param(torch::jit::Module& m, const std::string& name, torch::Tensor t) {
  m.register_parameter(name, t.set_requires_grad(true), /*is_buffer=*/false);
}

std::vector<torch::Tensor> parameters_of(const torch::jit::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p);
  return out;
}

torch::Tensor as_tensor(const Dataset& data) {
  return torch::from_blob(
             const_cast<float*>(data.x.data()),
             {static_cast<std::int64_t>(data.rows()), static_cast<std::int64_t>(data.n_features())},
             torch::kFloat32)
      .clone();
}

torch::Tensor labels_tensor(const Dataset& data) {
  std::vector<std::int64_t> y(data.y.begin(), data.y.end());
  return torch::tensor(y, torch::kInt64);
}

// gbdt / rf: XGBoost trains, the JSON model is compiled to TorchScript, and the module is checked
// against XGBoost's own margins on the validation rows before anything is exported.
TrainResult train_tree_model(const Dataset& train, const Dataset& val, const TrainConfig& config);

}  // namespace

const std::vector<std::string>& architectures() {
  static const std::vector<std::string> names{"cnn_lstm", "cnn", "mlp", "gbdt", "rf"};
  return names;
}

bool is_tree_arch(const std::string& arch) { return arch == "gbdt" || arch == "rf"; }

std::vector<double> class_weights(const Dataset& train, const TrainConfig& config) {
  // Rare classes count more, normalised to mean 1 over the classes present.
  const std::size_t k = train.class_names.size();
  std::vector<double> counts(k, 0.0);
  for (auto c : train.y) counts[static_cast<std::size_t>(c)] += 1;
  std::vector<double> w(k, 1.0);
  double weight_sum = 0, present = 0;
  for (std::size_t c = 0; c < k; ++c) {
    if (counts[c] == 0) {
      w[c] = 0;
      continue;
    }
    const double inv = static_cast<double>(train.rows()) / (static_cast<double>(k) * counts[c]);
    w[c] = config.class_weighting == "inverse" ? inv
           : config.class_weighting == "sqrt"  ? std::sqrt(inv)
                                               : 1.0;
    weight_sum += w[c];
    ++present;
  }
  for (auto& v : w) v *= present / weight_sum;
  for (std::size_t c = 0; c < k; ++c)
    if (looks_benign(train.class_names[c])) w[c] *= config.benign_weight;
  return w;
}

void use_single_thread() {
  static bool done = false;
  if (done) return;
  done = true;
  at::set_num_threads(1);
  try {
    at::set_num_interop_threads(1);
  } catch (const std::exception&) {
    // Already started by an earlier torch call: harmless, inter-op threads are not used here.
  }
}

double sanitize_and_transform(float raw) {
  double v = raw;
  if (std::isnan(v)) v = 0.0;
  // nan_to_num's default maps +/-Inf to the largest finite float.
  if (std::isinf(v)) v = v > 0 ? std::numeric_limits<float>::max() : std::numeric_limits<float>::lowest();
  // The module computes in float32; do the same so center/scale match what forward() sees.
  const float f = static_cast<float>(v);
  const float t = std::copysign(std::log1p(std::fabs(f)), f);
  return f == 0.0f ? 0.0 : static_cast<double>(t);
}

Scaler fit_scaler(const Dataset& train) {
  const std::size_t nf = train.n_features(), n = train.rows();
  Scaler s;
  s.center.assign(nf, 0.0);
  s.scale.assign(nf, 1.0);
  if (n == 0) return s;
  for (std::size_t f = 0; f < nf; ++f) {
    double sum = 0, sum2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double t = sanitize_and_transform(train.row(i)[f]);
      sum += t;
      sum2 += t * t;
    }
    const double mean = sum / static_cast<double>(n);
    const double var = std::max(0.0, sum2 / static_cast<double>(n) - mean * mean);
    s.center[f] = mean;
    // Constant columns keep scale 1 so they map to 0 instead of dividing by zero.
    s.scale[f] = std::sqrt(var) > 1e-6 ? std::sqrt(var) : 1.0;
  }
  return s;
}

torch::jit::Module build_module(const std::string& arch, std::size_t n_features, std::size_t n_classes,
                                const Scaler& scaler, std::uint64_t seed, double dropout) {
  if (is_tree_arch(arch))
    throw std::invalid_argument("'" + arch + "' is a tree ensemble: it is built by training (train_model)");
  const std::string source = forward_source(arch, dropout);  // validates arch first
  if (scaler.center.size() != n_features || scaler.scale.size() != n_features)
    throw std::invalid_argument("scaler has " + std::to_string(scaler.center.size()) +
                                " features, expected " + std::to_string(n_features));
  torch::manual_seed(seed);
  const auto F = static_cast<std::int64_t>(n_features), K = static_cast<std::int64_t>(n_classes);
  torch::jit::Module m("FlowguardClassifier");
  if (!m.hasattr("training")) m.register_attribute("training", c10::BoolType::get(), true);
  m.register_buffer("center", torch::tensor(std::vector<float>(scaler.center.begin(), scaler.center.end())));
  m.register_buffer("scale", torch::tensor(std::vector<float>(scaler.scale.begin(), scaler.scale.end())));
  torch::NoGradGuard no_grad;
  if (arch == "cnn_lstm" || arch == "cnn") {
    add_param(m, "conv1_weight", uniform({kConv1, 1, 3}, 3));
    add_param(m, "conv1_bias", uniform({kConv1}, 3));
    add_param(m, "conv2_weight", uniform({kConv2, kConv1, 3}, kConv1 * 3));
    add_param(m, "conv2_bias", uniform({kConv2}, kConv1 * 3));
    std::int64_t head_in = 0;
    if (arch == "cnn_lstm") {
      add_param(m, "lstm_w_ih", uniform({4 * kLstmHidden, kConv2}, kLstmHidden));
      add_param(m, "lstm_w_hh", uniform({4 * kLstmHidden, kLstmHidden}, kLstmHidden));
      add_param(m, "lstm_b_ih", uniform({4 * kLstmHidden}, kLstmHidden));
      add_param(m, "lstm_b_hh", uniform({4 * kLstmHidden}, kLstmHidden));
      head_in = kConv2 * (F / kLstmPool) + kLstmHidden;
    } else {
      head_in = kConv2 * (F / 2);
    }
    add_param(m, "fc1_weight", uniform({kDense, head_in}, head_in));
    add_param(m, "fc1_bias", uniform({kDense}, head_in));
    add_param(m, "fc2_weight", uniform({K, kDense}, kDense));
    add_param(m, "fc2_bias", uniform({K}, kDense));
  } else {
    add_param(m, "fc1_weight", uniform({kMlp1, F}, F));
    add_param(m, "fc1_bias", uniform({kMlp1}, F));
    add_param(m, "fc2_weight", uniform({kMlp2, kMlp1}, kMlp1));
    add_param(m, "fc2_bias", uniform({kMlp2}, kMlp1));
    add_param(m, "fc3_weight", uniform({K, kMlp2}, kMlp2));
    add_param(m, "fc3_bias", uniform({K}, kMlp2));
  }
  m.define(source);
  return m;
}

std::vector<float> predict_proba(torch::jit::Module& module, const float* x, std::size_t rows,
                                 std::size_t n_features, std::size_t batch) {
  c10::InferenceMode guard;
  std::vector<float> out;
  for (std::size_t start = 0; start < rows; start += batch) {
    const std::size_t n = std::min(batch, rows - start);
    auto xb = torch::from_blob(const_cast<float*>(x + start * n_features),
                               {static_cast<std::int64_t>(n), static_cast<std::int64_t>(n_features)},
                               torch::kFloat32);
    auto p = torch::softmax(module.forward({xb}).toTensor(), 1).contiguous();
    out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  return out;
}

std::vector<float> predict_proba(torch::jit::Module& module, const Dataset& data, std::size_t batch) {
  return predict_proba(module, data.x.data(), data.rows(), data.n_features(), batch);
}

TrainResult train_model(const Dataset& train, const Dataset& val, const TrainConfig& config) {
  if (train.rows() == 0) throw std::invalid_argument("no training rows");
  if (train.class_names != val.class_names) throw std::invalid_argument("train and val class lists differ");
  use_single_thread();
  if (is_tree_arch(config.arch)) return train_tree_model(train, val, config);
  // Plain interpretation of the graph: no profiling-driven re-optimisation between epochs, so runs
  // are reproducible bit for bit.
  torch::jit::setGraphExecutorOptimize(false);
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t k = train.class_names.size();
  TrainResult result;
  result.scaler = fit_scaler(train);
  result.module =
      build_module(config.arch, train.n_features(), k, result.scaler, config.seed, config.dropout);

  result.class_weights = class_weights(train, config);
  const auto weights =
      torch::tensor(std::vector<float>(result.class_weights.begin(), result.class_weights.end()));

  const auto x_train = as_tensor(train), y_train = labels_tensor(train);
  const auto x_val = as_tensor(val), y_val = labels_tensor(val);
  auto params = parameters_of(result.module);
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(config.learning_rate));
  std::vector<torch::Tensor> best;
  double best_val = std::numeric_limits<double>::infinity();
  int since_best = 0;
  double lr = config.learning_rate;
  std::mt19937_64 rng(config.seed);
  std::vector<std::int64_t> order(train.rows());
  std::iota(order.begin(), order.end(), 0);
  const bool tty = ::isatty(2) != 0;
  const auto n_batches = static_cast<int>((train.rows() + static_cast<std::size_t>(config.batch_size) - 1) /
                                          static_cast<std::size_t>(config.batch_size));

  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto te = std::chrono::steady_clock::now();
    result.module.train(true);
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    std::size_t seen = 0;
    for (int b = 0; b < n_batches; ++b) {
      const auto start = static_cast<std::size_t>(b) * static_cast<std::size_t>(config.batch_size);
      const auto end = std::min(order.size(), start + static_cast<std::size_t>(config.batch_size));
      const auto idx =
          torch::tensor(std::vector<std::int64_t>(order.begin() + static_cast<std::ptrdiff_t>(start),
                                                  order.begin() + static_cast<std::ptrdiff_t>(end)),
                        torch::kInt64);
      const auto xb = x_train.index_select(0, idx), yb = y_train.index_select(0, idx);
      optimizer.zero_grad();
      auto logits = result.module.forward({xb}).toTensor();
      auto loss = torch::nn::functional::cross_entropy(
          logits, yb, torch::nn::functional::CrossEntropyFuncOptions().weight(weights));
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(end - start);
      seen += end - start;
      if (config.progress && tty && (b % 8 == 0 || b + 1 == n_batches)) {
        const int width = 30, filled = (b + 1) * width / n_batches;
        std::fprintf(stderr, "\r  epoch %3d/%d [%s%s] batch %4d/%d loss %.4f   ", epoch, config.epochs,
                     std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - filled), '.').c_str(), b + 1, n_batches,
                     loss_sum / static_cast<double>(seen));
      }
    }
    // Validation loss with the training objective (same class weights), in eval mode.
    result.module.train(false);
    double val_loss = 0, val_acc = 0;
    if (val.rows() > 0) {
      torch::NoGradGuard no_grad;
      auto logits = result.module.forward({x_val}).toTensor();
      val_loss = torch::nn::functional::cross_entropy(
                     logits, y_val, torch::nn::functional::CrossEntropyFuncOptions().weight(weights))
                     .item<double>();
      val_acc = logits.argmax(1).eq(y_val).to(torch::kFloat64).mean().item<double>();
    }
    EpochLog log{epoch,
                 loss_sum / static_cast<double>(seen),
                 val_loss,
                 val_acc,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count(),
                 lr};
    result.history.push_back(log);
    const bool improved = val.rows() == 0 || val_loss < best_val - 1e-6;
    if (improved) {
      best_val = val_loss;
      result.best_epoch = epoch;
      since_best = 0;
      best.clear();
      for (const auto& p : params) best.push_back(p.detach().clone());
    } else {
      ++since_best;
      // Halve the step size after two flat epochs; stop after `patience`.
      if (since_best % 2 == 0) {
        lr /= 2;
        for (auto& group : optimizer.param_groups())
          static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      }
    }
    if (config.progress) {
      std::fprintf(stderr, "%s  epoch %3d/%d train loss %.4f  val loss %.4f  val acc %.4f  %.1fs%s\n",
                   tty ? "\r" : "", epoch, config.epochs, log.train_loss, log.val_loss, log.val_accuracy,
                   log.seconds, improved ? "  *" : "");
    }
    if (since_best >= config.patience) break;
  }
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  }
  result.module.train(false);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

namespace {

TrainResult train_tree_model(const Dataset& train, const Dataset& val, const TrainConfig& config) {
  const auto t0 = std::chrono::steady_clock::now();
  TrainResult result;
  result.class_weights = class_weights(train, config);
  TreeParams p;
  p.arch = config.arch;
  p.trees = config.trees;
  p.max_depth = config.max_depth;
  p.eta = config.eta;
  p.early_stopping = config.early_stopping;
  p.threads = config.threads;
  p.seed = config.seed;
  p.progress = config.progress;
  const auto trained = train_xgboost(train, val, p, result.class_weights);
  result.xgboost_json = trained.model_json;
  for (const auto& r : trained.history)
    result.history.push_back({r.round, r.train_loss, r.val_loss, r.val_accuracy, r.seconds, p.eta});
  result.best_epoch = trained.best_round;
  const TreeEnsemble ensemble = parse_xgboost_json(trained.model_json);
  const TreeStrategy strategy =
      config.tree_strategy == "auto" ? choose_strategy(ensemble) : parse_tree_strategy(config.tree_strategy);
  result.module = compile_ensemble(ensemble, strategy, &result.compiled);
  // The compiled module must reproduce XGBoost: margins on the validation rows (or training rows when
  // there is no validation split).
  const Dataset& check = val.rows() > 0 ? val : train;
  const std::size_t rows = std::min<std::size_t>(check.rows(), 20000), k = train.class_names.size();
  if (rows > 0) {
    const auto ref = xgboost_predict(trained.model_json, check.x.data(), rows, check.n_features(),
                                     XgbOutput::kMargin, config.threads);
    c10::InferenceMode guard;
    auto xb = torch::from_blob(
        const_cast<float*>(check.x.data()),
        {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(check.n_features())}, torch::kFloat32);
    auto got = result.module.forward({xb}).toTensor().contiguous();
    const float* g = got.data_ptr<float>();
    for (std::size_t i = 0; i < rows * k; ++i)
      result.compile_max_abs_diff =
          std::max(result.compile_max_abs_diff, static_cast<double>(std::fabs(g[i] - ref[i])));
    if (!(result.compile_max_abs_diff <= 1e-3))
      throw std::runtime_error("compiled tree module disagrees with XGBoost by " +
                               std::to_string(result.compile_max_abs_diff) + " on the validation margins");
  }
  result.module.train(false);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace

}  // namespace flowguard::train
