#include "protobuf_log.hpp"

#include "common/log_safe.hpp"
#include "common/throttle.hpp"

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <string>

namespace flowguard::wire {
namespace {

std::atomic<std::uint64_t> g_messages{0};
std::mutex g_mu;            // the handler runs on whichever thread parsed
LogThrottle g_throttle;     // guarded by g_mu

void handler(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  g_messages.fetch_add(1, std::memory_order_relaxed);
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    spdlog::critical("libprotobuf {}:{}: {}", filename, line, log_safe(message));
    return;
  }
  if (!spdlog::default_logger_raw()->should_log(spdlog::level::debug)) return;
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(g_mu);
    if (!g_throttle.allow(suppressed)) return;
  }
  spdlog::debug("libprotobuf: {} ({} similar suppressed)", log_safe(message), suppressed);
}

}  // namespace

void route_protobuf_log() { google::protobuf::SetLogHandler(&handler); }

std::uint64_t protobuf_log_messages() { return g_messages.load(std::memory_order_relaxed); }

}  // namespace flowguard::wire
