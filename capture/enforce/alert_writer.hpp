#pragma once
// Emits alerts for alert/block verdicts: an EVE JSON line (--alerts FILE), a console line and an
// event-store row. A flood produces one verdict per flow, thousands per second from one source, so
// alerts are folded per (source, class): at most one per --alert-interval of packet time (packet
// time keeps pcap replays deterministic); the folded count rides on the next alert as
// flowguard.suppressed / "(+N similar)". A verdict that newly blocks a source is always emitted.
// The event store (--events) is the complete record: it gets a row for every alert verdict, folded
// or not (folded rows have an empty `eve` column).

#include "enforce/block_manager.hpp"
#include "core/verdict.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>

namespace flowguard::capture::enforce {

class EventStore;

struct AlertWriterOptions {
  std::string eve_path;           // empty: no EVE file
  bool console = true;            // human line per alert via spdlog
  double min_interval_s = 1.0;    // per (src, class); 0 = every alert
  std::size_t max_keys = 16'384;  // fold table bound; cleared (and counted) when full
};

class AlertWriter {
 public:
  // Opens the EVE file for appending. Throws flowguard::Exception (start-up only) when it cannot.
  AlertWriter(AlertWriterOptions options, EventStore* events);
  ~AlertWriter();
  AlertWriter(const AlertWriter&) = delete;
  AlertWriter& operator=(const AlertWriter&) = delete;

  // Returns true when an alert was emitted (false: not an alert/block verdict, or folded).
  bool emit(const FlowVerdict& verdict, BlockOutcome outcome, EnforceMode mode);
  void flush();

  std::uint64_t emitted() const { return emitted_.load(); }
  std::uint64_t suppressed() const { return suppressed_.load(); }
  std::uint64_t write_errors() const { return write_errors_.load(); }
  std::uint64_t fold_table_resets() const { return fold_resets_.load(); }

 private:
  void record_event(const FlowVerdict& verdict, BlockOutcome outcome, const std::string& eve_line);

  struct Fold {
    std::int64_t last_emit_us = 0;
    std::uint64_t suppressed = 0;
  };

  AlertWriterOptions options_;
  EventStore* events_;
  std::FILE* eve_ = nullptr;
  std::unordered_map<std::string, Fold> folds_;  // only touched from the verdict thread
  std::atomic<std::uint64_t> emitted_{0}, suppressed_{0}, write_errors_{0}, fold_resets_{0};
};

}  // namespace flowguard::capture::enforce
