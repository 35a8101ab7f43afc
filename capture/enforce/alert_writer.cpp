#include "enforce/alert_writer.hpp"

#include "common/error.hpp"

#include "enforce/eve.hpp"
#include "enforce/event_store.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace flowguard::capture::enforce {

AlertWriter::AlertWriter(AlertWriterOptions options, EventStore* events)
    : options_(std::move(options)), events_(events) {
  if (!options_.eve_path.empty()) {
    eve_ = std::fopen(options_.eve_path.c_str(), "a");
    if (eve_ == nullptr) {
      throw Exception(ErrorCode::io_error,
                      "cannot open alerts file " + options_.eve_path + ": " + std::strerror(errno));
    }
  }
}

AlertWriter::~AlertWriter() {
  if (eve_ != nullptr) std::fclose(eve_);
}

void AlertWriter::flush() {
  if (eve_ != nullptr) std::fflush(eve_);
}

void AlertWriter::record_event(const FlowVerdict& v, BlockOutcome outcome, const std::string& eve_line) {
  if (events_ == nullptr) return;
  AlertEvent a;
  a.ts_us = v.last_ts_us;
  a.flow_id = v.flow_id;
  a.src_ip = format_address(v.src);
  a.dest_ip = format_address(v.dst);
  a.src_port = v.src_port;
  a.dest_port = v.dst_port;
  a.proto = proto_name(v.protocol);
  a.predicted_class = v.predicted_class;
  a.score = v.score;
  a.threshold = v.threshold;
  a.action = v.action == VerdictAction::block ? "block" : "alert";
  a.enforcement = std::string(to_string(outcome));
  a.model = v.model_name;
  a.model_version = v.model_version;
  a.reason = v.reason;
  a.eve_json = eve_line;  // empty for an alert folded out of the EVE file
  // Kept so an operator can mark the alert a false positive and retrain with it (docs/operations.md).
  a.features.assign(v.features.begin(), v.features.end());
  a.group_features.assign(v.group_features.begin(), v.group_features.end());
  events_->record(std::move(a));
}

bool AlertWriter::emit(const FlowVerdict& v, BlockOutcome outcome, EnforceMode mode) {
  if (v.action != VerdictAction::alert && v.action != VerdictAction::block) return false;

  AlertContext ctx{outcome, mode, 0};
  if (options_.min_interval_s > 0) {
    const auto interval_us = static_cast<std::int64_t>(std::llround(options_.min_interval_s * 1e6));
    std::string key = format_address(v.src);
    key += '|';
    key += v.predicted_class;
    auto it = folds_.find(key);
    if (it == folds_.end()) {
      if (folds_.size() >= options_.max_keys) {
        folds_.clear();
        fold_resets_.fetch_add(1);
      }
      it = folds_.emplace(std::move(key), Fold{v.last_ts_us, 0}).first;
    } else {
      Fold& f = it->second;
      const bool new_block = outcome == BlockOutcome::blocked || outcome == BlockOutcome::dry_run;
      if (v.last_ts_us - f.last_emit_us < interval_us && !new_block) {
        ++f.suppressed;
        suppressed_.fetch_add(1);
        record_event(v, outcome, {});  // the event store keeps every alert; only EVE/console fold
        return false;
      }
      ctx.suppressed_before = f.suppressed;
      f = Fold{std::max(v.last_ts_us, f.last_emit_us), 0};
    }
  }

  const nlohmann::json eve = eve_alert(v, ctx);
  const std::string line = eve.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (eve_ != nullptr) {
    if (std::fputs(line.c_str(), eve_) < 0 || std::fputc('\n', eve_) == EOF || std::fflush(eve_) != 0) {
      write_errors_.fetch_add(1);
    }
  }
  if (options_.console) spdlog::info("{}", console_line(v, ctx));
  record_event(v, outcome, line);
  emitted_.fetch_add(1);
  return true;
}

}  // namespace flowguard::capture::enforce
