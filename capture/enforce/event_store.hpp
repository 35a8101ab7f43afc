#pragma once
// SQLite event store (--events FILE.db): tables alerts, blocks and unblocks, indexed by time and
// address, in WAL mode so readers (sqlite3 CLI, dashboards) never stall the writer. Writes happen on
// a writer thread that drains a bounded queue in one transaction per batch: the verdict thread only
// enqueues, and when the queue is full the event is dropped and counted, never waited for.
//
// Operator feedback (docs/operations.md, "False positives"): each alert row keeps the flow's feature
// vector (`features`, float32 little-endian BLOB, plus `group_features` for feature groups such as
// host_context) and points at a `feature_schemas` row naming the profile and every feature, with a hash
// of the names, so `flowguard-train export-feedback` can refuse rows of another schema. An operator's
// verdict goes in `feedback` (alert id, label BENIGN, note, operator, time); alerts are never deleted
// for it, and retention keeps marked alerts. Databases written before these columns existed are
// migrated in place at open (columns added, PRAGMA user_version 2); their old alerts have no features.

#include "common/result.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

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
  // The model's input for this flow (profile order) and the feature groups' values (empty when none).
  // Copied from the verdict for alerts only; allow verdicts never reach the store.
  std::vector<float> features, group_features;
};

struct BlockEvent {
  std::int64_t ts_ms = 0;
  std::string address, reason, model_version;
  std::int64_t expires_ms = 0;
  bool manual = false;
  std::string outcome;  // blocked | renewed | dry-run | blocked-but-allowlisted | cap-reached
};

struct UnblockEvent {
  std::int64_t ts_ms = 0;
  std::string address;
  std::string reason;  // manual | expired
};

// The feature layout of this agent run, stored once per distinct layout in `feature_schemas`.
struct FeatureGroupSchema {
  std::string name;  // e.g. "host_context"
  std::vector<std::string> feature_names;
};
struct FeatureSchema {
  std::string profile;  // "corrected", ...; empty: alerts are stored without features
  std::vector<std::string> feature_names;
  std::vector<FeatureGroupSchema> groups;
};
// FNV-1a 64 over the profile, every feature name and every group name and feature name (separated),
// as 16 hex digits: equal hashes = the same columns in the same order.
std::string feature_schema_hash(const FeatureSchema& schema);

// An operator marks alerts as false positives: one alert by id, or every alert from the address
// (the source the verdicts blamed; used for "this block was wrong").
struct FeedbackRequest {
  std::int64_t alert_id = 0;  // > 0: this alert
  std::string address;        // non-empty: every alert whose src_ip is this address
  std::string label = "BENIGN";
  std::string note, operator_name;
};
struct FeedbackOutcome {
  std::vector<std::int64_t> marked;          // alert ids newly marked
  std::vector<std::int64_t> already_marked;  // alert ids that already had this label
  std::size_t without_features = 0;          // marked alerts stored before features were kept
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
  // `schema` is the agent's feature layout (empty profile: alerts are stored without features).
  explicit EventStore(EventStoreOptions options, FeatureSchema schema = {});
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Non-blocking; false when the queue was full (the event is counted in dropped()).
  bool record(AlertEvent event);
  bool record(BlockEvent event);
  bool record(UnblockEvent event);

  // Control thread (flowguardctl mark-fp): waits until everything queued is committed, then adds
  // `feedback` rows on a second connection of its own. Errors: not_found (unknown alert id, no alert
  // from the address), invalid_argument (neither or both of id and address), io_error.
  Result<FeedbackOutcome> mark_false_positive(const FeedbackRequest& request);

  // Waits until everything queued so far is committed (tests, shutdown).
  void flush();
  void stop();

  std::uint64_t written() const { return written_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }
  std::uint64_t write_errors() const { return errors_.load(); }
  std::uint64_t expired_rows() const { return expired_rows_.load(); }
  std::uint64_t feedback_rows() const { return feedback_rows_.load(); }
  // True when open() found an alerts table without the feature columns and added them.
  bool migrated() const { return migrated_; }
  const std::string& path() const { return options_.path; }

 private:
  using Event = std::variant<AlertEvent, BlockEvent, UnblockEvent>;
  bool push(Event&& e);
  void run();
  void write_batch(std::deque<Event>& batch);
  void apply_retention();
  void exec(const char* sql);
  void migrate();
  std::int64_t store_schema();

  EventStoreOptions options_;
  FeatureSchema schema_;
  std::int64_t schema_id_ = 0;  // feature_schemas.id of schema_; 0: none
  bool migrated_ = false;
  std::mutex feedback_mutex_;  // the control thread's connection (opened on first use)
  sqlite3* feedback_db_ = nullptr;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Event> queue_;
  std::uint64_t enqueued_ = 0, committed_ = 0;  // guarded by mutex_
  bool stopping_ = false;
  std::atomic<std::uint64_t> written_{0}, dropped_{0}, errors_{0}, expired_rows_{0}, feedback_rows_{0};
  std::thread writer_;
};

}  // namespace flowguard::capture::enforce
