#pragma once
// The agent's side of the socket to flowguard-infer. on_flow() runs on the capture thread and never
// allocates: it copies the record into a preallocated single-producer ring. A sender thread batches the
// ring into FlowBatch frames, keeps what it sent in a bounded in-flight table, and reconnects with capped
// exponential backoff; a receiver thread per connection matches VerdictBatches to the in-flight
// records and hands FlowVerdicts to the VerdictSink.
//
// When the ring is full or the server is away, LinkOptions::backpressure decides:
// - fail_open (live capture): the record is counted unjudged and on_flow() returns at once. Records in
//   flight when a connection drops (a server crash) are kept, at most LinkOptions::resend_max_flows with
//   the oldest dropped first (counted connection_lost), and re-sent (counted `resent`) if a new
//   connection is up within resend_window; after that their moment has passed and they count
//   connection_lost (a live flow sends a fresh snapshot anyway).
// - wait (replaying a file): on_flow() waits on a condition variable until the sender frees a slot;
//   records queue while the server is away, and what was in flight on a lost connection is re-sent
//   after the reconnect (counted `resent`), so every record is judged. If nothing moves for wait_limit
//   (server gone or stalled) the link gives up: failure() says why, WaitHooks::gave_up is called and
//   from then on the link fails open.

#include "common/metrics.hpp"
#include "core/flow_report.hpp"
#include "link/link_options.hpp"
#include "core/verdict.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace flowguard::capture {

struct LinkCounters {
  std::uint64_t offered = 0;  // records given to on_flow()
  std::uint64_t sent = 0;     // records sent to the server
  std::uint64_t judged = 0;   // verdicts allow/alert/block received
  std::uint64_t alert = 0, block = 0;
  std::uint64_t shed = 0;          // the server answered SHED (overloaded): fail open
  std::uint64_t out_of_scope = 0;  // multicast/broadcast/unspecified-source flows, not sent (judge_scope.hpp)
  // Unjudged records (fail open), by reason:
  std::uint64_t unjudged_queue_full = 0;       // the link queue was full ("queue drops")
  std::uint64_t unjudged_server_away = 0;      // not connected when the record arrived or was queued
  std::uint64_t unjudged_connection_lost = 0;  // in flight when the connection dropped
  std::uint64_t unjudged_missing_verdict = 0;  // the server's VerdictBatch did not answer it
  std::uint64_t unjudged_bad_record = 0;       // wrong number of features for the schema
  std::uint64_t unjudged_stopped = 0;          // still queued or in flight at stop()
  std::uint64_t resent = 0;  // wait mode: records re-sent after a reconnect (not in `sent` again)
  std::uint64_t connects = 0, reconnects = 0;  // successful handshakes; those after the first
  std::uint64_t hello_refused = 0;
  std::uint64_t server_errors = 0;     // ServerMessage.error received
  std::uint64_t unknown_verdicts = 0;  // verdicts for flows not in flight (ignored)
  std::uint64_t model_changes = 0;

  std::uint64_t unjudged() const {
    return unjudged_queue_full + unjudged_server_away + unjudged_connection_lost + unjudged_missing_verdict +
           unjudged_bad_record + unjudged_stopped;
  }
};

// Wait mode only; both are called on the capture thread.
struct WaitHooks {
  std::function<bool()> cancelled;  // polled while waiting (every 100 ms): true ends the wait (e.g. SIGINT)
  std::function<void()> gave_up;    // the wait limit passed: stop reading input
};

class ServerLink final : public FlowSink {
 public:
  // `sink` receives every verdict (including SHED) on the receiver thread; it may be null.
  ServerLink(LinkOptions options, LinkSchema schema, VerdictSink* sink);
  ~ServerLink() override;
  ServerLink(const ServerLink&) = delete;
  ServerLink& operator=(const ServerLink&) = delete;

  void set_wait_hooks(WaitHooks hooks);  // before start()
  // Observes each verdict's latency from on_flow() to delivery, in microseconds (before start()).
  void set_latency_histogram(metrics::Histogram* histogram);
  void start();
  // Waits until the first handshake succeeded (true) or `timeout` passed. The agent calls this once at
  // start-up so the first packets of a capture file are not failed open for want of a connection.
  bool wait_connected(std::chrono::milliseconds timeout);
  // Capture thread. Never allocates; blocks only in wait mode (bounded, see above).
  void on_flow(const FlowReport& report) override;
  // Waits until every record handed over so far has a verdict or is counted unjudged. Returns false
  // when nothing moved (no record sent, answered or dropped) for `idle_timeout`, or after the link gave
  // up. Call before stop() at the end of a capture file.
  bool flush(std::chrono::milliseconds idle_timeout);
  // Disconnects and joins the threads; anything still queued or in flight is counted unjudged_stopped.
  void stop();

  LinkCounters counters() const;
  bool connected() const;
  // The last handshake refusal or connection problem ("" when none since the last success).
  std::string last_error() const;
  // Wait mode: why the link gave up ("" while it has not).
  std::string failure() const;
  // name + " " + version of the model that judged the latest verdict batch / the last model_changed.
  std::string model() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

std::unique_ptr<ServerLink> make_server_link(const LinkOptions& options, LinkSchema schema,
                                             VerdictSink* sink);

}  // namespace flowguard::capture
