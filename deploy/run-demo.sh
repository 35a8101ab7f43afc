#!/usr/bin/env bash
# Runs the bundled demo: flowguard-infer with the shipped model and flowguard-capture replaying
# deploy/demo/demo.pcap through it, with enforcement in dry-run. Prints the alerts and block decisions
# as they happen, then a summary against the capture's ground truth.
#   deploy/run-demo.sh [BUILD_DIR] [PCAP] [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pcap=${2:-deploy/demo/demo.pcap}
model=${3:-models/default/model.pt}
truth=${pcap%.pcap}.ground-truth.json

for bin in "$build/inference/flowguard-infer" "$build/capture/flowguard-capture"; do
  [ -x "$bin" ] || { echo "run-demo: $bin is not built (run deploy/quickstart.sh)" >&2; exit 1; }
done
[ -f "$model" ] || { echo "run-demo: model $model not found" >&2; exit 1; }

work=$(mktemp -d /tmp/flowguard-demo.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "${FLOWGUARD_DEMO_KEEP:-}" ] && echo "demo files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
export OPENBLAS_NUM_THREADS=1

echo "== flowguard demo: $pcap -> flowguard-capture -> flowguard-infer ($model)"
"$build/inference/flowguard-infer" --model "$model" --socket "$work/infer.sock" \
  --control-socket "$work/infer.ctl" --log-level warn >"$work/infer.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  [ -S "$work/infer.sock" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/infer.log" >&2; echo "run-demo: server failed to start" >&2; exit 1; }
  sleep 0.1
done
[ -S "$work/infer.sock" ] || { echo "run-demo: server socket did not appear" >&2; exit 1; }

"$build/capture/flowguard-capture" -r "$pcap" --socket "$work/infer.sock" \
  --enforce dry-run --no-host-allowlist --state-dir none --control-socket none \
  --alerts "$work/eve.json" --events "$work/events.db" --csv "$work/flows.csv"

echo
echo "== summary"
"$build/inference/flowguardctl" --socket "$work/infer.ctl" status || true
if command -v python3 >/dev/null; then
  python3 deploy/demo/summarize.py "$work/events.db" "$work/eve.json" "$truth"
fi
