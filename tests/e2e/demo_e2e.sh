#!/usr/bin/env bash
# The demo end to end: flowguard-infer serves the shipped model, flowguard-capture replays the bundled
# demo capture through it with dry-run enforcement. Checks that every flow got a verdict, that both
# attackers of the ground truth raised alerts, that block decisions were made (dry-run), that the alerts
# carry Suricata's EVE fields, and that the server's control socket answers.
set -euo pipefail
infer=$1 capture=$2 ctl=$3 src=$4
pcap=$src/deploy/demo/demo.pcap
truth=$src/deploy/demo/demo.ground-truth.json
model=$src/models/default/model.pt
work=$(mktemp -d /tmp/fg-e2e.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- capture log"; cat "$work/capture.log" 2>/dev/null | tail -30; echo "--- server log"; tail -30 "$work/infer.log" 2>/dev/null; exit 1; }

"$infer" --model "$model" --socket "$work/infer.sock" --control-socket "$work/infer.ctl" >"$work/infer.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do [ -S "$work/infer.sock" ] && break; kill -0 "$server" 2>/dev/null || fail "server exited"; sleep 0.1; done
[ -S "$work/infer.sock" ] || fail "server socket did not appear"

"$capture" -r "$pcap" --socket "$work/infer.sock" --enforce dry-run --no-host-allowlist --state-dir none \
  --control-socket none --alerts "$work/eve.json" --events "$work/events.db" \
  --metrics-json "$work/metrics.json" >"$work/capture.log" 2>&1 \
  || fail "flowguard-capture exited $?"

# Counters from the agent's metrics document at exit (structured), not from the human stats line.
stats=$(cat "$work/metrics.json")
num() { python3 -c 'import json,sys; print(next(m["value"] for m in json.load(open(sys.argv[1]))["metrics"] if m["key"] == sys.argv[2]))' "$work/metrics.json" "$1"; }
created=$(num flows_created); sent=$(num link_sent); scope=$(num out_of_scope); judged=$(num judged); unjudged=$(num unjudged)
# Every record goes to the server: each flow's final record and its snapshots (early verdicts, on by default).
records=$(( $(num records_final) + $(num records_snapshot) ))
echo "flows=$created records=$records sent=$sent out_of_scope=$scope judged=$judged unjudged=$unjudged"
[ "${created:-0}" -gt 1000 ] || fail "too few flows: $stats"
[ $((sent + scope)) = "$records" ] || fail "records neither sent nor counted out of scope: $stats"
[ "$scope" -lt 100 ] || fail "too many flows out of the judge scope: $stats"
[ "$judged" = "$sent" ] || fail "not every flow was judged: $stats"
[ "$unjudged" = 0 ] || fail "unjudged flows: $stats"

for attacker in $(python3 -c 'import json,sys; print(" ".join(a["address"] for a in json.load(open(sys.argv[1]))["attackers"]))' "$truth"); do
  grep -q "\"src_ip\":\"$attacker\"" "$work/eve.json" || fail "no EVE alert from attacker $attacker"
  echo "attacker $attacker: alerted"
  grep -q "BLOCK $attacker .*dry-run" "$work/capture.log" && { blocked_attackers=$((${blocked_attackers:-0} + 1)); echo "attacker $attacker: dry-run block"; }
done
[ "${blocked_attackers:-0}" -ge 1 ] || fail "no dry-run block decision for any attacker"
python3 - "$work/eve.json" <<'PY' || fail "EVE lines lack Suricata fields"
import json, sys
need = {"timestamp", "flow_id", "event_type", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "alert", "flow"}
for line in open(sys.argv[1]):
    ev = json.loads(line)
    assert need <= ev.keys(), need - ev.keys()
    assert ev["event_type"] == "alert"
    assert {"model", "version", "score", "threshold"} <= ev["alert"]["metadata"].keys()
PY
"$ctl" --socket "$work/infer.ctl" status >"$work/status.txt" || fail "flowguardctl status failed"
grep -q "flowguard-default" "$work/status.txt" || fail "status does not name the model: $(cat "$work/status.txt")"
echo "ok"
