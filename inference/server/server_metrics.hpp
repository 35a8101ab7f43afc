#pragma once
// flowguard-infer's metrics, registered once in the server's registry (common/metrics.hpp). The I/O
// thread and the workers update them lock-free; `flowguardctl stats`, the periodic stats line and
// flowguard-console's Prometheus /metrics all render the same registry.

#include "common/metrics.hpp"

namespace flowguard::inference {

namespace serve_metrics_detail {
inline metrics::Desc verdicts(const char* action) {
  return {"flowguard_infer_verdicts_total", "Verdicts decided, by action", action, {{"action", action}}};
}

inline metrics::Desc closed(const char* reason, const char* key) {
  return {"flowguard_infer_sessions_closed_total",
          "Agent sessions the server closed on a limit, by reason",
          key,
          {{"reason", reason}}};
}

inline metrics::Desc by_socket(const char* name, const char* help, const char* socket, const char* key) {
  return {name, help, key, {{"socket", socket}}};
}

inline metrics::Desc shed(const char* reason, const char* key) {
  return {"flowguard_infer_flows_shed_total",
          "Flows answered SHED (not judged), by reason",
          key,
          {{"reason", reason}}};
}
}  // namespace serve_metrics_detail

// A new metric: a member below and its registration (name, help) in the constructor; it then shows in
// the stats line, `flowguardctl stats`, JSON and Prometheus without further changes.
struct ServeMetrics {
  // Keys keep the names `flowguardctl stats` printed before the registry existed.
  explicit ServeMetrics(metrics::Registry& r)
      : flow_batches(
            r.counter({"flowguard_infer_flow_batches_total", "FlowBatch frames received from agents"})),
        flows_received(r.counter({"flowguard_infer_flows_received_total", "Flows received from agents"})),
        verdicts_sent(
            r.counter({"flowguard_infer_verdicts_sent_total", "Verdicts handed to a session writer"})),
        verdicts_dropped(r.counter({"flowguard_infer_verdicts_dropped_total",
                                    "Verdicts computed for a session that had already closed"})),
        allow(r.counter(serve_metrics_detail::verdicts("allow"))),
        alert(r.counter(serve_metrics_detail::verdicts("alert"))),
        block(r.counter(serve_metrics_detail::verdicts("block"))),
        shed_overload(r.counter(serve_metrics_detail::shed("overload", "shed_overload"))),
        shed_error(r.counter(serve_metrics_detail::shed("error", "shed_error"))),
        shed_fair_share(r.counter(serve_metrics_detail::shed("fair_share", "shed_fair_share"))),
        inference_batches(r.counter({"flowguard_infer_inference_batches_total", "forward() calls"})),
        inference_rows(r.counter({"flowguard_infer_inference_rows_total", "Flows run through forward()"})),
        explained_rows(r.counter({"flowguard_infer_explained_rows_total", "Verdicts given top features"})),
        unknown(r.counter({"flowguard_infer_unknown_total",
                           "Verdicts marked unknown (ood score > the model's thresholds.ood)", "unknown"})),
        sessions_accepted(r.counter({"flowguard_infer_sessions_accepted_total", "Agent sessions accepted"})),
        sessions_refused(
            r.counter({"flowguard_infer_sessions_refused_total", "Agent sessions refused at Hello"})),
        protocol_errors(r.counter({"flowguard_infer_protocol_errors_total",
                                   "Sessions closed for a bad frame or a protocol violation"})),
        closed_hello_timeout(r.counter(serve_metrics_detail::closed("hello_timeout", "closed_hello_timeout"))),
        closed_frame_timeout(r.counter(serve_metrics_detail::closed("frame_timeout", "closed_frame_timeout"))),
        closed_idle(r.counter(serve_metrics_detail::closed("idle", "closed_idle"))),
        closed_stalled(r.counter(serve_metrics_detail::closed("stalled", "closed_stalled"))),
        agent_refused(r.counter(serve_metrics_detail::by_socket(
            "flowguard_infer_connections_refused_total",
            "Connections closed at accept: connection limit reached or peer not allowed", "agent",
            "refused_agent"))),
        control_refused(r.counter(serve_metrics_detail::by_socket(
            "flowguard_infer_connections_refused_total",
            "Connections closed at accept: connection limit reached or peer not allowed", "control",
            "refused_control"))),
        agent_accept_errors(r.counter(serve_metrics_detail::by_socket(
            "flowguard_infer_accept_errors_total", "accept() failures (e.g. out of file descriptors)", "agent",
            "accept_errors_agent"))),
        control_accept_errors(r.counter(serve_metrics_detail::by_socket(
            "flowguard_infer_accept_errors_total", "accept() failures (e.g. out of file descriptors)",
            "control", "accept_errors_control"))),
        control_timeouts(r.counter({"flowguard_infer_control_timeouts_total",
                                    "Control connections closed idle or mid-frame", "control_timeouts"})),
        control_requests(r.counter({"flowguard_infer_control_requests_total", "Control socket requests"})),
        reloads_started(r.counter({"flowguard_infer_reloads_started_total", "Model reloads begun"})),
        reloads_ok(r.counter({"flowguard_infer_reloads_ok_total", "Model swaps that succeeded"})),
        alerts_below_block(r.counter({"flowguard_infer_evidence_alerts_below_block_total",
                                      "Alert verdicts whose source has not (yet) enough evidence for a block"})),
        evidence_evictions(r.counter({"flowguard_infer_evidence_evictions_total",
                                      "Sources evicted from the full evidence table (oldest/least evidence)"})),
        evidence_duplicates(r.counter({"flowguard_infer_evidence_duplicate_records_total",
                                       "Records of an already counted flow (snapshots): no new evidence", "", {},
                                       1.0, false})),
        evidence_no_initiator(r.counter({"flowguard_infer_evidence_no_initiator_total",
                                         "Alerts without a usable initiator address: no evidence, never blocked",
                                         "", {}, 1.0, false})),
        unknown_not_counted(r.counter({"flowguard_infer_evidence_unknown_total",
                                       "Abstained (unknown) verdicts: never evidence, never a block", "", {}, 1.0,
                                       false})),
        reloads_failed(
            r.counter({"flowguard_infer_reloads_failed_total", "Model loads refused (old model kept)"})),
        inference_us(r.histogram(
            {"flowguard_infer_inference_seconds", "Time of one forward() call", "inference_us", {}, 1e-6},
            metrics::exponential_bounds(50, 2.0, 16))),  // 50 us .. 1.6 s
        batch_flows(
            r.histogram({"flowguard_infer_batch_size_flows", "Flows per forward() call", "batch_flows"},
                        {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096})),
        flow_to_verdict_us(
            r.histogram({"flowguard_infer_flow_to_verdict_seconds",
                         "Server-side time from a FlowBatch's arrival to its verdicts (queue + "
                         "inference), one observation per flow",
                         "flow_to_verdict_us",
                         {},
                         1e-6},
                        metrics::exponential_bounds(100, 2.0, 16))) {}  // 100 us .. 3.3 s

  metrics::Counter& flow_batches;  // FlowBatch frames received
  metrics::Counter& flows_received;
  metrics::Counter& verdicts_sent;     // verdicts handed to a session writer
  metrics::Counter& verdicts_dropped;  // computed for a session that had already closed
  metrics::Counter& allow;
  metrics::Counter& alert;
  metrics::Counter& block;
  metrics::Counter& shed_overload;      // queue full
  metrics::Counter& shed_error;         // forward() failed, or the feature schema changed under the flow
  metrics::Counter& shed_fair_share;    // the session was over its share of the queue (others connected)
  metrics::Counter& inference_batches;  // forward() calls
  metrics::Counter& inference_rows;
  metrics::Counter& explained_rows;
  metrics::Counter& unknown;  // abstention: at most an alert, never a block
  metrics::Counter& sessions_accepted;
  metrics::Counter& sessions_refused;  // HelloAck accepted=false
  metrics::Counter& protocol_errors;   // sessions closed for a bad frame or protocol violation
  metrics::Counter& closed_hello_timeout;  // no Hello in time
  metrics::Counter& closed_frame_timeout;  // stopped mid-frame
  metrics::Counter& closed_idle;           // nothing received for idle_timeout
  metrics::Counter& closed_stalled;        // reading stopped (caps) and the agent read nothing
  metrics::Counter& agent_refused;         // over max_sessions or peer not allowed
  metrics::Counter& control_refused;
  metrics::Counter& agent_accept_errors;
  metrics::Counter& control_accept_errors;
  metrics::Counter& control_timeouts;
  metrics::Counter& control_requests;
  metrics::Counter& reloads_started;  // a reload began on the loader thread (status answers meanwhile)
  metrics::Counter& reloads_ok;
  metrics::Counter& alerts_below_block;
  metrics::Counter& evidence_evictions;
  metrics::Counter& evidence_duplicates;
  metrics::Counter& evidence_no_initiator;
  metrics::Counter& unknown_not_counted;
  metrics::Counter& reloads_failed;

  metrics::Histogram& inference_us;  // one forward() call, microseconds
  metrics::Histogram& batch_flows;   // rows per forward() call
  metrics::Histogram&
      flow_to_verdict_us;  // FlowBatch received -> its verdicts serialized (queue + inference)
};

}  // namespace flowguard::inference
