#pragma once
// SQLite event store (--events FILE.db): tables alerts, blocks and unblocks, indexed by time and
// address, in WAL mode so readers (sqlite3 CLI, dashboards) never stall the writer. Writes happen on
// a writer thread that drains a bounded queue in one transaction per batch: the verdict thread only
// enqueues, and when the queue is full the event is dropped and counted, never waited for.

#include "core/verdict.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

struct sqlite3;

namespace flowguard::capture::enforce {

struct AlertEvent {
  std::int64_t ts_us = 0;  // packet time of the flow's last packet
  std::uint64_t flow_id = 0;
  std::string src_ip, dest_ip;
  std::uint16_t src_port = 0, dest_port = 0;
  std::string proto;
  std::string predicted_class;
  double score = 0, threshold = 0;
  std::string action;       // verdict action: alert | block
  std::string enforcement;  // what enforcement did: blocked, dry-run, allowlisted, ...
  std::string model, model_version, reason;
  std::string eve_json;  // the full EVE line
};

struct BlockEvent {
  std::int64_t ts_ms = 0;
  std::string address, reason, model_version;
  std::int64_t expires_ms = 0;
  bool manual = false;
  std::string outcome;  // blocked | renewed | dry-run | blocked-but-allowlisted | cap-reached
  BlockEvidence evidence;  // the server's evidence (rule empty: none, e.g. manual)
};

struct UnblockEvent {
  std::int64_t ts_ms = 0;
  std::string address;
  std::string reason;  // manual | expired
};

struct EventStoreOptions {
  std::string path;
  std::uint32_t retention_days = 30;  // 0: keep forever
  std::size_t queue_capacity = 8192;
  std::size_t batch_max = 512;
};

class EventStore {
 public:
  // Opens (creating if needed) the database and starts the writer thread. Throws flowguard::Exception
  // at start-up when the file cannot be opened or the schema cannot be created.
  explicit EventStore(EventStoreOptions options);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Non-blocking; false when the queue was full (the event is counted in dropped()).
  bool record(AlertEvent event);
  bool record(BlockEvent event);
  bool record(UnblockEvent event);

  // Waits until everything queued so far is committed (tests, shutdown).
  void flush();
  void stop();

  std::uint64_t written() const { return written_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }
  std::uint64_t write_errors() const { return errors_.load(); }
  std::uint64_t expired_rows() const { return expired_rows_.load(); }
  const std::string& path() const { return options_.path; }

 private:
  using Event = std::variant<AlertEvent, BlockEvent, UnblockEvent>;
  bool push(Event&& e);
  void run();
  void write_batch(std::deque<Event>& batch);
  void apply_retention();
  void exec(const char* sql);
  void migrate();  // adds the columns newer versions write to a database an older version created

  EventStoreOptions options_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Event> queue_;
  std::uint64_t enqueued_ = 0, committed_ = 0;  // guarded by mutex_
  bool stopping_ = false;
  std::atomic<std::uint64_t> written_{0}, dropped_{0}, errors_{0}, expired_rows_{0};
  std::thread writer_;
};

}  // namespace flowguard::capture::enforce
