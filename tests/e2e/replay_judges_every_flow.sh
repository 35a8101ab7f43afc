#!/usr/bin/env bash
# Replaying a capture judges every flow (issue 16): the demo capture through a deliberately throttled
# flowguard-infer (8 flows per forward pass, one worker) with a tiny link queue, so the reader is far
# faster than the server. With the default `--link-backpressure auto` the reader waits instead of failing
# open: every flow is judged, and two replays give the same verdict counts per class. Then the server is
# absent: the replay gives up after --link-wait-s with a clear error and exit code 1.
set -euo pipefail
infer=$1 capture=$2 src=$3
pcap=$src/deploy/demo/demo.pcap
model=$src/models/default/model.pt
work=$(mktemp -d /tmp/fg-replay.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# Evidence-based blocking remembers sources across sessions (a repeat offender is blocked at once), so
# the second replay would see blocks where the first saw alerts: per-flow decisions keep the two
# replays comparable (this test is about every flow being judged, not about the evidence layer).
printf 'evidence: {enabled: false}\n' >"$work/policy.yaml"
timeout 600 "$infer" --model "$model" --policy "$work/policy.yaml" --socket "$work/infer.sock" --control-socket "$work/infer.ctl" \
  --max-batch 8 --workers 1 >"$work/infer.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do [ -S "$work/infer.sock" ] && break; kill -0 "$server" 2>/dev/null || fail "server exited"; sleep 0.1; done
[ -S "$work/infer.sock" ] || fail "server socket did not appear"

replay() {  # replay NAME: alerts in NAME.eve and NAME.db, metrics in NAME.stats (--metrics-json)
  timeout 300 "$capture" -r "$pcap" --socket "$work/infer.sock" --link-queue 16 --link-batch 8 --stats-interval 0 \
    --enforce dry-run --no-host-allowlist --state-dir none --control-socket none --alerts "$work/$1.eve" --events "$work/$1.db" \
    --metrics-json "$work/$1.stats" >"$work/$1.log" 2>&1 || fail "flowguard-capture exited $? on replay $1"
}
# A counter by its stats key from the structured metrics of replay NAME.
num() { python3 -c 'import json,sys; print(next(m["value"] for m in json.load(open(sys.argv[1]))["metrics"] if m["key"] == sys.argv[2]))' "$work/$2.stats" "$1"; }
# Verdict counts per class: allow/alert/block totals, then alert and block verdicts per predicted class
# from the event store (which, unlike the folded EVE log, has a row for every one).
classes() {
  echo "judged=$(num judged "$1") alert=$(num alert "$1") block=$(num block "$1")"
  python3 -c 'import sqlite3,sys
for a,k,n in sqlite3.connect(sys.argv[1]).execute("SELECT action, class, count(*) FROM alerts GROUP BY 1, 2 ORDER BY 1, 2"):
    print(f"{a} {k}={n}")' "$work/$1.db"
}

for run in 1 2; do
  replay "run$run"
  created=$(num flows_created "run$run"); sent=$(num link_sent "run$run"); scope=$(num out_of_scope "run$run")
  # Every record is judged: each flow's final record and its snapshots (early verdicts, on by default).
  records=$(( $(num records_final "run$run") + $(num records_snapshot "run$run") ))
  judged=$(num judged "run$run"); unjudged=$(num unjudged "run$run"); shed=$(num shed "run$run")
  echo "run $run: flows=$created sent=$sent out_of_scope=$scope judged=$judged shed=$shed unjudged=$unjudged"
  [ "${created:-0}" -gt 1000 ] || fail "too few flows: $(cat "$work/run$run.stats")"
  [ $((sent + scope)) = "$records" ] || fail "records neither sent nor out of scope: $(cat "$work/run$run.stats")"
  [ "$judged" = "$sent" ] || fail "not every flow was judged: $(cat "$work/run$run.stats")"
  [ "$unjudged" = 0 ] || fail "unjudged flows: $(cat "$work/run$run.stats")"
  classes "run$run" >"$work/run$run.classes"
done
diff "$work/run1.classes" "$work/run2.classes" || fail "two replays of the same capture disagree"
echo "verdicts per class (both runs):"; cat "$work/run1.classes"

# The server is gone: the reader waits --link-wait-s for it, then stops with a clear error and exit 1.
set +e
timeout 60 "$capture" -r "$pcap" --socket "$work/absent.sock" --link-queue 8 --link-wait-s 1 --stats-interval 0 \
  >"$work/absent.log" 2>&1
rc=$?
set -e
echo "server absent: exit $rc: $(grep 'giving up' "$work/absent.log" | tail -1)"
[ "$rc" = 1 ] || fail "expected exit 1 with the server absent, got $rc"
grep -q "flowguard-capture: server link: flowguard-infer at $work/absent.sock was not reachable" "$work/absent.log" \
  || fail "no clear error for the absent server"
grep -q -- "--link-wait-s" "$work/absent.log" || fail "the error does not name --link-wait-s"
echo "ok"
