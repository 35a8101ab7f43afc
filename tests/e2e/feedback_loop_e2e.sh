#!/usr/bin/env bash
# Operator feedback end to end, on real processes and a real event store (docs/operations.md):
#  1. flowguard-infer serves the shipped model; flowguard-capture replays the demo capture through it
#     (from a FIFO, so the agent stays up after the last packet) and stores every alert with its features;
#  2. flowguardctl mark-fp over the agent's real control socket: an unknown id is a clear error; the
#     open-port probe 10.200.0.66 -> 10.200.0.10:8080 (alerted Portscan) is marked a false positive;
#  3. flowguard-train export-feedback writes it as a BENIGN row; two small gbdt models are trained on the
#     demo capture's own flows labelled by its ground truth, without and with --extra-benign;
#  4. the model with feedback is hot-swapped into the running server (flowguardctl reload) and the capture
#     replayed again: the marked flow is no longer alerted, the rest of the scan still is.
# The model without feedback is the control: it still calls the marked flow an attack, so the change is
# the feedback's doing, not an accident of retraining.
set -euo pipefail
infer=$1 capture=$2 ctl=$3 train=$4 src=$5
pcap=$src/deploy/demo/demo.pcap
model=$src/models/default/model.pt
work=$(mktemp -d /tmp/fg-feedback.XXXXXX)
server= agent= feeder_open=0
cleanup() {
  [ "$feeder_open" = 1 ] && exec 3>&-
  [ -n "$agent" ] && kill "$agent" 2>/dev/null
  [ -n "$server" ] && kill "$server" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in capture.log agent.log capture2.log infer.log train-control.log train-fixed.log; do
    [ -f "$work/$f" ] && { echo "--- $f"; tail -20 "$work/$f"; }
  done
  exit 1
}
q() { sqlite3 "$1" "$2"; }
command -v sqlite3 >/dev/null || { echo "FLOWGUARD-SKIPPED: sqlite3 CLI not installed"; exit 77; }

timeout 600 "$infer" --model "$model" --socket "$work/infer.sock" --control-socket "$work/infer.ctl" \
  >"$work/infer.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do [ -S "$work/infer.sock" ] && break; kill -0 "$server" 2>/dev/null || fail "server exited"; sleep 0.1; done
[ -S "$work/infer.sock" ] || fail "server socket did not appear"

# An event store as an agent before operator feedback left it (schema version 1, one alert): the agent
# migrates it in place; the old alert stays, can be marked, and is skipped by the export (no features).
sqlite3 "$work/events.db" <<'SQL'
CREATE TABLE alerts (id INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, flow_id INTEGER NOT NULL,
  src_ip TEXT NOT NULL, src_port INTEGER NOT NULL, dest_ip TEXT NOT NULL, dest_port INTEGER NOT NULL,
  proto TEXT NOT NULL, class TEXT NOT NULL, score REAL NOT NULL, threshold REAL NOT NULL,
  action TEXT NOT NULL, enforcement TEXT NOT NULL, model TEXT NOT NULL, model_version TEXT NOT NULL,
  reason TEXT NOT NULL, eve TEXT NOT NULL);
INSERT INTO alerts VALUES (1, 1700000000000000, 9, '192.0.2.50', 5555, '10.200.0.10', 80, 'TCP', 'DDoS', 0.99,
  0.9, 'alert', 'dry-run', 'old-model', '1', 'r', '{}');
SQL

# 1. A replay stores every alert with its features (flows of this profile end at the active timeout or at
#    the end of the input, so the verdicts come when the file ends and this agent exits).
timeout 600 "$capture" -r "$pcap" --socket "$work/infer.sock" --enforce dry-run --no-host-allowlist \
  --state-dir none --control-socket none --events "$work/events.db" --events-retention-days 0 \
  --quiet-alerts >"$work/capture.log" 2>&1 || fail "replay exited $?"
grep -q "migrated to schema version 2" "$work/capture.log" || fail "the old event store was not migrated"
[ "$(q "$work/events.db" "SELECT src_ip||' '||class||' '||(features IS NULL) FROM alerts WHERE id=1")" = "192.0.2.50 DDoS 1" ] \
  || fail "the old alert did not survive the migration"
[ "$(q "$work/events.db" "PRAGMA user_version")" = 2 ] || fail "user_version not 2 after the migration"
last=$(q "$work/events.db" "SELECT COUNT(*) FROM alerts WHERE id > 1")
echo "alerts stored: $last, with features: $(q "$work/events.db" "SELECT COUNT(features) FROM alerts")"
[ "$last" -gt 5000 ] || fail "too few alerts stored: $last"
[ "$(q "$work/events.db" "SELECT COUNT(*) FROM alerts WHERE features IS NULL AND id > 1")" = 0 ] || fail "alerts without features"
[ "$(q "$work/events.db" "SELECT length(features) FROM alerts WHERE id > 1 LIMIT 1")" = $((81 * 4)) ] || fail "feature blob is not 81 float32"

# The running agent that owns this event store and its control socket: it reads a FIFO we hold open
# (a pcap header, then nothing), so it stays up, connected to the server, like a live agent.
mkfifo "$work/in.pcap"
timeout 600 "$capture" -r "$work/in.pcap" --socket "$work/infer.sock" --enforce dry-run --no-host-allowlist \
  --state-dir none --control-socket "$work/capture.ctl" --events "$work/events.db" --events-retention-days 0 \
  --quiet-alerts >"$work/agent.log" 2>&1 &
agent=$!
exec 3>"$work/in.pcap"
feeder_open=1
head -c 24 "$pcap" >&3
for _ in $(seq 1 300); do [ -S "$work/capture.ctl" ] && break; kill -0 "$agent" 2>/dev/null || fail "agent exited"; sleep 0.1; done
[ -S "$work/capture.ctl" ] || fail "agent control socket did not appear"

id=$(q "$work/events.db" "SELECT id FROM alerts WHERE src_ip='10.200.0.66' AND dest_ip='10.200.0.10' AND dest_port=8080 ORDER BY id LIMIT 1")
[ -n "$id" ] || fail "no alert for the probe of 10.200.0.10:8080"
sport=$(q "$work/events.db" "SELECT src_port FROM alerts WHERE id=$id")
echo "marking alert $id: $(q "$work/events.db" "SELECT src_ip||':'||src_port||' -> '||dest_ip||':'||dest_port||' '||class||' '||round(score,3) FROM alerts WHERE id=$id")"

# 2. flowguardctl over the agent's real control socket.
if "$ctl" --capture-socket "$work/capture.ctl" mark-fp --alert 99999999 >"$work/unknown.txt" 2>&1; then
  fail "marking an unknown alert id succeeded: $(cat "$work/unknown.txt")"
fi
grep -q "no alert with id 99999999 in the event store" "$work/unknown.txt" || fail "unclear error: $(cat "$work/unknown.txt")"
echo "unknown id: $(cat "$work/unknown.txt")"
"$ctl" --capture-socket "$work/capture.ctl" mark-fp --alert "$id" --note "our own health check" --operator e2e \
  >"$work/mark.txt" 2>&1 || fail "mark-fp failed: $(cat "$work/mark.txt")"
grep -q "marked 1 alert(s) as false positive (BENIGN): $id" "$work/mark.txt" || fail "mark-fp said: $(cat "$work/mark.txt")"
[ "$(q "$work/events.db" "SELECT alert_id||'|'||label||'|'||note||'|'||operator FROM feedback")" = "$id|BENIGN|our own health check|e2e" ] \
  || fail "feedback row: $(q "$work/events.db" "SELECT * FROM feedback")"
[ "$(q "$work/events.db" "SELECT COUNT(*) FROM alerts WHERE id=$id")" = 1 ] || fail "the marked alert was deleted"
"$ctl" --capture-socket "$work/capture.ctl" mark-fp --alert 1 >"$work/mark-old.txt" 2>&1 || fail "marking the old alert: $(cat "$work/mark-old.txt")"
grep -q "1 of them were stored without features" "$work/mark-old.txt" || fail "old alert: $(cat "$work/mark-old.txt")"
exec 3>&-
feeder_open=0
wait "$agent" || fail "agent exited $?"
agent=

# 3. Export, then train with and without the feedback on the capture's own flows (labelled by its ground truth).
"$train" export-feedback --events "$work/events.db" --out "$work/fp.csv" >"$work/export.log" 2>&1 \
  || fail "export-feedback: $(cat "$work/export.log")"
cat "$work/export.log"
grep -q "1 marked alert(s) have no stored features" "$work/export.log" || fail "export did not count the old alert"
[ "$(wc -l <"$work/fp.csv")" = 2 ] || fail "fp.csv should hold a header and one row: $(cat "$work/fp.csv")"
python3 - "$work/fp.csv" "$sport" "$id" <<'PY' || fail "fp.csv is not the marked flow as a BENIGN row"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = rows[0]
assert r["Src IP"] == "10.200.0.66" and r["Src Port"] == sys.argv[2] and r["Dst Port"] == "8080", r
assert r["Label"] == "BENIGN" and r["Feedback Alert ID"] == sys.argv[3], r
assert "Total TCP Flow Time" in r and float(r["Total Fwd Packet"]) >= 1, r
PY

"$capture" -r "$pcap" --no-server --csv "$work/demo.csv" >/dev/null 2>&1 || fail "csv export of the demo capture"
python3 - "$work/demo.csv" "$work/labelled.csv" <<'PY' || fail "labelling the demo flows"
import csv, sys
attackers = {"10.200.0.66": "PortScan", "10.200.0.77": "DoS"}
with open(sys.argv[1]) as f, open(sys.argv[2], "w", newline="") as g:
    r = csv.reader(f); w = csv.writer(g)
    header = next(r); w.writerow(header)
    src, dst, label = header.index("Src IP"), header.index("Dst IP"), header.index("Label")
    for row in r:
        row[label] = attackers.get(row[src]) or attackers.get(row[dst]) or "BENIGN"
        w.writerow(row)
PY
common=(--data "$work/labelled.csv" --arch gbdt --trees 20 --early-stopping 5 --split random --seed 3 --quiet)
timeout 600 "$train" train "${common[@]}" --out "$work/control.pt" --name feedback-control --version 1 \
  >"$work/train-control.log" 2>&1 || fail "training the control model"
timeout 600 "$train" train "${common[@]}" --extra-benign "$work/fp.csv" --out "$work/fixed.pt" --name feedback-fixed \
  --version 2 >"$work/train-fixed.log" 2>&1 || fail "training with --extra-benign"
grep -q "added 1 operator-feedback row(s) labelled BENIGN x 20 to the training split" "$work/train-fixed.log" \
  || fail "the feedback row did not reach training: $(grep -i extra "$work/train-fixed.log")"
"$train" predict --model "$work/control.pt" --data "$work/fp.csv" --out "$work/control-pred.csv" >/dev/null
"$train" predict --model "$work/fixed.pt" --data "$work/fp.csv" --out "$work/fixed-pred.csv" >/dev/null
echo "marked flow, model without feedback: $(tail -1 "$work/control-pred.csv"); with feedback: $(tail -1 "$work/fixed-pred.csv")"
tail -1 "$work/control-pred.csv" | grep -q ",PortScan," || fail "control model does not call the flow PortScan (test premise)"
tail -1 "$work/fixed-pred.csv" | grep -q ",BENIGN," || fail "model with feedback does not call the flow BENIGN"

# 4. Hot swap into the running server, replay, and look for the flow.
"$ctl" --socket "$work/infer.ctl" reload "$work/fixed.pt" >"$work/reload.txt" 2>&1 || fail "reload: $(cat "$work/reload.txt")"
"$ctl" --socket "$work/infer.ctl" status >"$work/status.txt" || fail "status"
grep -q "feedback-fixed 2" "$work/status.txt" || fail "server does not serve the new model: $(cat "$work/status.txt")"
kill -0 "$server" || fail "server died in the swap"
timeout 600 "$capture" -r "$pcap" --socket "$work/infer.sock" --enforce dry-run --no-host-allowlist --state-dir none \
  --control-socket none --events "$work/events2.db" --events-retention-days 0 --quiet-alerts \
  --metrics-json "$work/metrics2.json" >"$work/capture2.log" 2>&1 || fail "second replay exited $?"
grep -q "flowguard-infer at .* (model feedback-fixed 2)" "$work/capture2.log" || fail "second replay not served by the new model"
unjudged=$(python3 -c 'import json,sys; print(next(m["value"] for m in json.load(open(sys.argv[1]))["metrics"] if m["key"] == "unjudged"))' "$work/metrics2.json")
[ "$unjudged" = 0 ] || fail "$unjudged flows unjudged in the second replay"
again=$(q "$work/events2.db" "SELECT COUNT(*) FROM alerts WHERE src_ip='10.200.0.66' AND src_port=$sport AND dest_port=8080")
scan=$(q "$work/events2.db" "SELECT COUNT(*) FROM alerts WHERE src_ip='10.200.0.66'")
flood=$(q "$work/events2.db" "SELECT COUNT(*) FROM alerts WHERE src_ip='10.200.0.77'")
echo "after the swap: marked flow alerted $again time(s); other scan alerts $scan; flood alerts $flood"
[ "$again" = 0 ] || fail "the marked flow is still alerted after retraining with the feedback"
[ "$scan" -gt 900 ] || fail "the retrained model lost the port scan ($scan alerts)"
[ "$flood" -gt 5000 ] || fail "the retrained model lost the SYN flood ($flood alerts)"
echo "ok"
