#!/bin/bash
# Live capture through libpcap on a veth pair between two network namespaces this script creates:
# UDP datagrams and pings from A to B must be captured and decoded on B's veth (with a BPF filter),
# and SIGTERM must stop a capture blocked waiting for packets. Needs root; exits 77 (skip) otherwise.
set -euo pipefail
PROBE=${1:?usage: live_capture.sh <live_probe binary>}

. "$(dirname "$0")/../support/netns_pair.sh"
netns_pair_setup fgtest fgva fgvb 10.201.0

wait_ready() {
  for _ in $(seq 100); do
    [ -s "$1" ] && return 0
    kill -0 "$BG_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# 1) Count what A sends to B.
ip netns exec "$NS_B" "$PROBE" count fgvb "$TMP/ready1" 20 3 20 &
BG_PID=$!
wait_ready "$TMP/ready1" || { echo "probe did not start"; exit 1; }
ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 1 10.201.0.2 >/dev/null
ip netns exec "$NS_A" bash -c 'for i in $(seq 20); do echo "flowguard $i" > /dev/udp/10.201.0.2/9999; sleep 0.01; done'
rc=0
wait "$BG_PID" || rc=$?
BG_PID=
[ "$rc" = 0 ] || { echo "FAIL: capture/decode on veth (probe exit $rc)"; exit 1; }

# 2) SIGTERM stops a capture that is blocked waiting for packets.
ip netns exec "$NS_B" "$PROBE" wait-signal fgvb "$TMP/ready2" &
BG_PID=$!
wait_ready "$TMP/ready2" || { echo "probe did not start"; exit 1; }
sleep 0.3
kill -TERM "$BG_PID"
for _ in $(seq 50); do kill -0 "$BG_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$BG_PID" 2>/dev/null; then echo "FAIL: probe ignored SIGTERM"; exit 1; fi
rc=0
wait "$BG_PID" || rc=$?
BG_PID=
[ "$rc" = 0 ] || { echo "FAIL: stop by signal (probe exit $rc)"; exit 1; }
echo "live capture test passed"
