#pragma once
// Hot model swaps: load and warm up a bundle beside the serving model, refuse it (keeping the old one)
// when it fails or changes the feature schema under connected agents, publish it atomically, and keep
// the history of models served in this run. No Asio here: the server runs reload() on its loader thread.

#include "model.hpp"
#include "policy.hpp"
#include "server_metrics.hpp"

#include "flowguard/v1/control.pb.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flowguard::inference {

struct ReloadResult {
  bool ok = false;
  std::string message;  // what happened (ok) or why the model was refused (!ok)
};

class ModelManager {
 public:
  // `default_path`: the model reloaded when none is named (SIGHUP, `flowguardctl reload`).
  ModelManager(ModelHolder& holder, const Policy& policy, ServeMetrics& metrics, std::string default_path,
               std::vector<std::int64_t> warmup_batches, std::uint64_t max_model_bytes = 1ull << 30);

  // Blocking, thread-safe, serialized with every other reload. `connected_agents`: accepted sessions,
  // asked after the load (a schema change is refused while any agent is connected). `on_swap` runs after a
  // successful swap.
  ReloadResult reload(const std::string& path, const std::function<std::uint32_t()>& connected_agents,
                      const std::function<void(const v1::ModelInfo&)>& on_swap);

  // Never wait for a reload in progress (they run on the io thread): they read the state a reload
  // publishes under a separate short lock.
  void fill_history(v1::ControlResponse& resp) const;  // `flowguardctl models`
  void fill_reload_status(v1::Status& st) const;       // last reload error and time
  void warn_unknown_policy_classes(const Model& m) const;

 private:
  void remember(const std::shared_ptr<const Model>& m);

  ModelHolder& holder_;
  const Policy& policy_;
  ServeMetrics& metrics_;
  const std::string default_path_;
  const std::vector<std::int64_t> warmup_;
  const std::uint64_t max_model_bytes_;
  std::mutex reload_mu_;   // serializes reloads (held for the whole load: seconds)
  mutable std::mutex mu_;  // guards the fields below; held only to copy them
  std::string last_error_;
  std::int64_t last_reload_ms_ = 0;
  std::deque<std::pair<v1::ModelInfo, std::string>> history_;  // newest first
};

// The bundle files named by a buffer of inotify records: finished "*.pt" files only (save_bundle() writes
// "<name>.tmp.<pid>" and renames it to "<name>"; hidden files are ignored).
std::vector<std::string> bundle_files_in_inotify_events(const char* data, std::size_t n);

}  // namespace flowguard::inference
