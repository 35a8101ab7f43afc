#include "model_manager.hpp"

#include "handshake.hpp"

#include "common/log_safe.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/inotify.h>

#include <chrono>
#include <cstring>
#include <exception>

namespace flowguard::inference {
namespace {

constexpr std::size_t kModelHistory = 16;

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ModelManager::ModelManager(ModelHolder& holder, const Policy& policy, ServeMetrics& metrics,
                           std::string default_path, std::vector<std::int64_t> warmup_batches,
                           std::uint64_t max_model_bytes)
    : holder_(holder),
      policy_(policy),
      metrics_(metrics),
      default_path_(std::move(default_path)),
      warmup_(std::move(warmup_batches)),
      max_model_bytes_(max_model_bytes) {
  const auto m = holder_.get();
  remember(m);
  warn_unknown_policy_classes(*m);
}

void ModelManager::warn_unknown_policy_classes(const Model& m) const {
  for (const auto& cls : policy_.unknown_classes(m.manifest.class_names))
    spdlog::warn("policy names class '{}', which model {} {} does not have: that rule never applies", cls,
                 m.info.name(), m.info.version());
}

void ModelManager::remember(const std::shared_ptr<const Model>& m) {
  history_.emplace_front(m->info, m->path);
  if (history_.size() > kModelHistory) history_.pop_back();
}

ReloadResult ModelManager::reload(const std::string& requested,
                                  const std::function<std::uint32_t()>& connected_agents,
                                  const std::function<void(const v1::ModelInfo&)>& on_swap) {
  std::lock_guard reload_lock(reload_mu_);
  metrics_.reloads_started.inc();
  const std::string path = requested.empty() ? default_path_ : requested;
  auto fail = [&](const std::string& why) {
    {
      std::lock_guard lock(mu_);
      last_error_ = why;
      last_reload_ms_ = unix_ms_now();
    }
    metrics_.reloads_failed.inc();
    const auto cur = holder_.get();
    spdlog::error("reload refused, still serving {} {}: {}", cur->info.name(), cur->info.version(),
                  log_safe(why, 1024));
    return ReloadResult{false, why};
  };
  if (path.empty()) return fail("no model file given and no --model configured");
  std::shared_ptr<const Model> next;
  try {
    next = load_model(path, warmup_, max_model_bytes_);
  } catch (const std::exception& e) {  // ModelLoadError, or LibTorch's own: the old model stays
    return fail(e.what());
  }
  const auto cur = holder_.get();
  // Sessions fixed their record layout (profile and group slices) at their Hello: the full input schema
  // must stay while agents are connected.
  const auto diff = feature_schema_difference(cur->manifest.feature_profile, cur->input_names,
                                              next->manifest.feature_profile, next->input_names);
  if (const auto agents = connected_agents(); !diff.empty() && agents > 0)
    return fail(
        fmt::format("'{}' ({} {}) has a different feature schema than the serving model and {} agent(s) "
                    "are connected: {}",
                    path, next->info.name(), next->info.version(), agents, diff));
  holder_.exchange(next);
  warn_unknown_policy_classes(*next);
  {
    std::lock_guard lock(mu_);
    last_error_.clear();
    last_reload_ms_ = unix_ms_now();
    remember(next);
  }
  metrics_.reloads_ok.inc();
  auto msg = fmt::format("now serving {} {} (sha256 {}) from '{}', replacing {} {}", next->info.name(),
                         next->info.version(), next->info.sha256().substr(0, 12), path, cur->info.name(),
                         cur->info.version());
  spdlog::info("{}", log_safe(msg, 1024));
  if (on_swap) on_swap(next->info);
  return ReloadResult{true, msg};
}

void ModelManager::fill_history(v1::ControlResponse& resp) const {
  const auto serving = holder_.get();
  std::lock_guard lock(mu_);
  for (const auto& [info, path] : history_) {
    auto* e = resp.add_models();
    *e->mutable_info() = info;
    e->set_path(path);
    e->set_serving(info.sha256() == serving->info.sha256() &&
                   info.loaded_at_unix_ms() == serving->info.loaded_at_unix_ms());
  }
}

void ModelManager::fill_reload_status(v1::Status& st) const {
  std::lock_guard lock(mu_);
  st.set_last_reload_error(last_error_);
  st.set_last_reload_unix_ms(last_reload_ms_);
}

// A plain function, not a coroutine: the headers are copied out with memcpy (GCC 12 does not honour
// alignas() for arrays in coroutine frames).
std::vector<std::string> bundle_files_in_inotify_events(const char* data, std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
    inotify_event ev{};
    std::memcpy(&ev, data + off, sizeof(ev));
    const std::size_t name_at = off + sizeof(inotify_event);
    off = name_at + ev.len;
    if (ev.len == 0 || off > n) continue;
    std::string name(data + name_at, ::strnlen(data + name_at, ev.len));
    if (name.size() < 4 || name.compare(name.size() - 3, 3, ".pt") != 0 || name.front() == '.') continue;
    names.push_back(std::move(name));
  }
  return names;
}

}  // namespace flowguard::inference
