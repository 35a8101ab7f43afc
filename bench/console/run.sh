#!/usr/bin/env bash
# flowguard-console speed (issue 14): every query over an event store of 1,000,000 alerts, and the
# console's CPU at idle. Run by hand from the source tree after building console-make-store and
# flowguard-console:
#   bench/console/run.sh [BUILD_DIR=build] [WORK=/var/tmp/fg-console-bench] [ALERTS=1000000]
# The store is made once (about 40 s) and reused; delete WORK/events.db to make it again.
set -euo pipefail
build=${1:-build} work=${2:-/var/tmp/fg-console-bench} alerts=${3:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
[ -f "$work/events.db" ] || timeout 900 "$build/bench/console-make-store" "$work/events.db" "$alerts" 7
ls -la "$work"/events.db*
timeout 600 "$build/console/flowguard-console" --port 0 --events "$work/events.db" --capture-socket none \
  --infer-socket none --no-token >"$work/console.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/console.log" && break; sleep 0.1; done
cpid=$(pgrep -P "$pid")  # the console itself (under timeout)
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/console.log")
# The console reads the store into its aggregate at start (about 1 s per million alerts): wait for that,
# and report it, before timing the queries.
t0=$(date +%s.%N)
until curl -sf "http://127.0.0.1:$port/api/overview" | grep -q '"alerts_total":'"$(sqlite3 "$work/events.db" 'SELECT COUNT(*) FROM alerts')"; do sleep 0.05; done
echo "aggregate caught up with the store $(python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')") s after start"
python3 "$here/bench_queries.py" "$port" "$work/events.db" 5

# Idle CPU with no client: the kernel's per-thread run time (schedstat, nanoseconds) summed over the
# console's threads, and utime+stime (clock ticks) from /proc/PID/stat, over 30 s.
runtime_ns() { cat /proc/$cpid/task/*/schedstat | awk '{s += $1} END {print s}'; }
ticks() { awk '{print $14 + $15}' "/proc/$cpid/stat"; }
hz=$(getconf CLK_TCK)
sleep 2
a=$(ticks) an=$(runtime_ns); sleep 30; b=$(ticks) bn=$(runtime_ns)
python3 -c "t=($b-$a)/$hz; n=($bn-$an)/1e9; print(f'idle CPU over 30 s: {n*1000:.2f} ms run time (schedstat) = {100*n/30:.4f} % of one core; /proc/PID/stat: {t:.2f} s = {100*t/30:.3f} %')"
