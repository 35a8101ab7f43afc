#!/bin/bash
# flowguard-capture on a live interface: a veth pair between two network namespaces this script creates.
# Pings and UDP datagrams from A to B must come out as flow records in the CSV; a flow idle longer than
# the (shortened) flow timeout must be ended by the expiry sweep while the link is quiet; SIGTERM must
# stop the agent cleanly (exit 0, open flows written). Needs root; exits 77 (skip) otherwise.
set -euo pipefail
AGENT=${1:?usage: test_flow_live.sh <flowguard-capture binary>}

. "$(dirname "$0")/../support/netns_pair.sh"
netns_pair_setup fgflow fgfa fgfb 10.202.0

# Flow timeout 1 s so the expiry sweep has something to do within the test.
ip netns exec "$NS_B" "$AGENT" -i fgfb --bpf "host 10.202.0.1" --csv "$TMP/out.csv" --no-server \
  --active-timeout 1 --stats-interval 0.2 --metrics-json "$TMP/metrics.json" 2>"$TMP/stderr" &
BG_PID=$!
# Ready when a stats line shows up (warm-up datagrams to port 9998 keep the capture loop turning).
for _ in $(seq 100); do
  grep -q '^stats' "$TMP/stderr" 2>/dev/null && break
  kill -0 "$BG_PID" 2>/dev/null || { echo "FAIL: agent exited at start-up"; cat "$TMP/stderr"; exit 1; }
  ip netns exec "$NS_A" bash -c 'echo warm-up > /dev/udp/10.202.0.2/9998' || true
  sleep 0.1
done

# One socket, one source port: five datagrams of one UDP flow. Nobody listens on B, so the socket gets
# ECONNREFUSED from B's port-unreachable and that write is not sent: retry it (a few times at most).
ip netns exec "$NS_A" bash -c 'exec 3>/dev/udp/10.202.0.2/9999; for i in $(seq 5); do
  for try in 1 2 3; do echo "flowguard $i" >&3 2>/dev/null && break; done; sleep 0.01; done'
# 12 echo requests over ~3 s: packet time moves on, the UDP flow (idle > 1 s) is expired by the sweep,
# and the ICMP conversation is split by the 1 s flow timeout (corrected: every piece is written).
ip netns exec "$NS_A" ping -c 12 -i 0.25 -W 1 10.202.0.2 >/dev/null
sleep 0.3
kill -TERM "$BG_PID"
rc=0
wait "$BG_PID" || rc=$?
BG_PID=
[ "$rc" = 0 ] || { echo "FAIL: agent exit $rc after SIGTERM"; cat "$TMP/stderr"; exit 1; }

expired=$(python3 -c 'import json,sys; print(next(m["value"] for m in json.load(open(sys.argv[1]))["metrics"] if m["key"] == "flows_expired"))' "$TMP/metrics.json")
[ "${expired:-0}" -ge 1 ] || { echo "FAIL: idle UDP flow not expired by the sweep (flows_expired=${expired:-?})"; exit 1; }
# corrected layout: Src IP(2) Src Port(3) Dst IP(4) Dst Port(5) Protocol(6) ... Total Fwd Packet(9) Total Bwd packets(10)
udp=$(awk -F, '$2=="10.202.0.1" && $5=="9999" && $6=="17" {print $9}' "$TMP/out.csv")
# Echo conversations only (ICMP Type column 87 = 8); the port-unreachable errors for the datagrams are
# flows of their own.
icmp=$(awk -F, '$6=="1" && $87=="8" {f+=$9; b+=$10; n++} END {print f "/" b "/" n}' "$TMP/out.csv")
[ "$udp" = 5 ] || { echo "FAIL: UDP flow row (fwd packets '$udp')"; cat "$TMP/out.csv"; exit 1; }
case "$icmp" in
  12/12/*) ;;
  *) echo "FAIL: ICMP echo rows (fwd/bwd/rows '$icmp')"; cat "$TMP/out.csv"; exit 1 ;;
esac
[ "${icmp##*/}" -ge 2 ] || { echo "FAIL: ICMP conversation not split by the 1 s flow timeout ('$icmp')"; exit 1; }
head -1 "$TMP/out.csv" | grep -q '^Flow ID,Src IP,' || { echo "FAIL: CSV header"; exit 1; }
echo "live flow test passed (flows_expired=$expired, icmp fwd/bwd/rows=$icmp)"
