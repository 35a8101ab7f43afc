#!/bin/bash
# A live capture on links nobody sends on (loopback and a veth in network namespaces this script
# creates) must still return `timeout` from PacketSource::next(), in immediate mode and in TPACKET_V3
# block mode, so the agent's idle sweep and periodic statistics run. The probe gets a bounded number of
# next() calls; a next() that never returns is caught by the watchdog below (a hang, not a speed
# check). SIGTERM must still stop a capture waiting on a quiet link. Needs root; exits 77 otherwise.
set -euo pipefail
PROBE=${1:?usage: live_quiet.sh <live_probe binary>}

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "FLOWGUARD-SKIPPED: live capture test needs root and iproute2 (network namespaces)"
  exit 77
fi

NS=fgquiet-$$
NS_PEER=fgquiet-peer-$$
TMP=$(mktemp -d)
PROBE_PID=
cleanup() {
  if [ -n "$PROBE_PID" ]; then kill -KILL "$PROBE_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$NS_PEER" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NS"
ip netns add "$NS_PEER"
ip -n "$NS" link set lo up
# A veth with IPv6 off on both ends (no DAD/router solicitations) and no addresses: nothing is sent.
ip -n "$NS" link add fgqa type veth peer name fgqb netns "$NS_PEER"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.fgqa.disable_ipv6=1
ip netns exec "$NS_PEER" sysctl -qw net.ipv6.conf.fgqb.disable_ipv6=1
ip -n "$NS" link set fgqa up
ip -n "$NS_PEER" link set fgqb up

# Runs the probe with a watchdog; fails if it does not finish in time or exits non-zero.
run_probe() {
  local label=$1; shift
  rm -f "$TMP/ready"
  ip netns exec "$NS" "$PROBE" "$@" &
  PROBE_PID=$!
  for _ in $(seq 100); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PROBE_PID" 2>/dev/null; then
    echo "FAIL: $label: next() did not return within 10 s on a quiet link"
    exit 1
  fi
  local rc=0
  wait "$PROBE_PID" || rc=$?
  PROBE_PID=
  [ "$rc" = 0 ] || { echo "FAIL: $label (probe exit $rc)"; exit 1; }
}

for iface in lo fgqa; do
  for immediate in 1 0; do
    run_probe "quiet $iface immediate=$immediate" quiet "$iface" "$TMP/ready" "$immediate" 20
  done
done

# SIGTERM stops a capture waiting on the quiet veth.
ip netns exec "$NS" "$PROBE" wait-signal fgqa "$TMP/ready2" &
PROBE_PID=$!
for _ in $(seq 100); do [ -s "$TMP/ready2" ] && break; sleep 0.1; done
sleep 0.3
kill -TERM "$PROBE_PID"
for _ in $(seq 50); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PROBE_PID" 2>/dev/null; then echo "FAIL: probe ignored SIGTERM on a quiet link"; exit 1; fi
rc=0
wait "$PROBE_PID" || rc=$?
PROBE_PID=
[ "$rc" = 0 ] || { echo "FAIL: stop by signal on a quiet link (probe exit $rc)"; exit 1; }
echo "quiet-link live capture test passed"
