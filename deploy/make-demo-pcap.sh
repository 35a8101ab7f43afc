#!/usr/bin/env bash
# Regenerates the bundled demo capture deploy/demo/demo.pcap and its ground truth.
#
# Builds a small switched LAN out of network namespaces (nothing is routed outside them):
#
#   fg-demo-srv   10.200.0.10  2001:db8:f00d::10   victim: HTTP/1.1 :80, DNS-like UDP :53 (captured here)
#   fg-demo-cli   10.200.0.20  2001:db8:f00d::20   benign: HTTP downloads (v4+v6), ping
#   fg-demo-cli2  10.200.0.21                      benign: DNS-like queries, ping, idle keep-alive sessions
#   fg-demo-atk1  10.200.0.66                      attacker: nmap SYN scan of the top 1000 ports
#   fg-demo-atk2  10.200.0.77                      attacker: hping3 SYN flood to port 80
#   fg-demo-br    bridge br0 joining one veth per host
#
# Benign traffic runs for the whole capture; the scan starts at ~11 s, the flood at ~20 s. Counts are
# fixed (downloads, queries, pings, scan ports, flood packets) so reruns produce the same shape of
# traffic; packet timing naturally differs. Requires root, iproute2, tcpdump, python3, curl, nmap,
# hping3 (deploy/install-deps.sh --with-demo-tools).
#
# Usage: deploy/make-demo-pcap.sh [OUTPUT_DIR]     (default: deploy/demo next to this script)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${1:-$HERE/demo}"
TRAFFIC="$HERE/demo-traffic.py"
PREFIX=fg-demo
HOSTS=(srv cli cli2 atk1 atk2)
declare -A V4=([srv]=10.200.0.10 [cli]=10.200.0.20 [cli2]=10.200.0.21 [atk1]=10.200.0.66 [atk2]=10.200.0.77)
declare -A V6=([srv]=2001:db8:f00d::10 [cli]=2001:db8:f00d::20)
SRV=${V4[srv]}
SRV6=${V6[srv]}
SNAPLEN=65535            # whole packets: payload sizes are features, truncation would distort them
FLOOD_PACKETS=6000       # hping3 -c
FLOOD_INTERVAL=u500      # hping3 -i: 2000 SYN/s, so the flood lasts ~3 s
MAX_PCAP_BYTES=$((3 * 1024 * 1024))

for tool in ip tcpdump python3 curl nmap hping3 ping timeout; do
  command -v "$tool" >/dev/null || { echo "make-demo-pcap: $tool missing (deploy/install-deps.sh --with-demo-tools)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "make-demo-pcap: run as root (network namespaces, raw sockets)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/fg-demo.XXXXXX)"
chmod 755 "$WORK"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for h in "${HOSTS[@]}" br; do ip netns del "$PREFIX-$h" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

in_ns() { local h=$1; shift; ip netns exec "$PREFIX-$h" "$@"; }
# Background jobs call ip netns exec directly (not the function) so $! is the process itself.
NS=(ip netns exec)
now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# ------------------------------------------------------------------ topology
for h in "${HOSTS[@]}" br; do
  ip netns del "$PREFIX-$h" 2>/dev/null || true
  ip netns add "$PREFIX-$h"
  in_ns "$h" ip link set lo up
done
in_ns br ip link add br0 type bridge stp_state 0
in_ns br ip link set br0 up
for h in "${HOSTS[@]}"; do
  ip link add eth0 netns "$PREFIX-$h" type veth peer name "v-$h" netns "$PREFIX-br"
  # One segment per skb, so the capture shows wire-sized packets like a real NIC would, not 64 KB
  # GSO aggregates (which would distort packet-length features).
  in_ns "$h" ip link set eth0 gso_max_segs 1 gso_max_size 1514
  in_ns br ip link set "v-$h" gso_max_segs 1 gso_max_size 1514 master br0 up
  in_ns "$h" ip addr add "${V4[$h]}/24" dev eth0
  if [ -n "${V6[$h]:-}" ]; then in_ns "$h" ip addr add "${V6[$h]}/64" dev eth0 nodad; fi
  in_ns "$h" ip link set eth0 up
done

# ------------------------------------------------------------------ server content and services
mkdir -p "$WORK/www"
make_file() { head -c "$2" < <(yes "flowguard demo content line, deterministic filler for downloads") > "$WORK/www/$1"; }
make_file index.html 6144
make_file page-small.html 3072
make_file style.css 1200
for kb in 2 4 8 16 32; do make_file "file-${kb}k.bin" $((kb * 1024)); done

"${NS[@]}" $PREFIX-srv python3 "$TRAFFIC" http-server "$WORK/www" 0.0.0.0 80 & PIDS+=($!)
"${NS[@]}" $PREFIX-srv python3 "$TRAFFIC" http-server "$WORK/www" "::" 8080 & PIDS+=($!)
"${NS[@]}" $PREFIX-srv python3 "$TRAFFIC" dns-server "$SRV" 53 90 & PIDS+=($!)
for _ in $(seq 50); do  # wait (bounded) until the server answers
  in_ns cli curl -s -o /dev/null --max-time 1 "http://$SRV/index.html" && break
  sleep 0.1
done

# ------------------------------------------------------------------ capture
"${NS[@]}" $PREFIX-srv tcpdump -i eth0 -s "$SNAPLEN" -U -Z root -w "$WORK/demo.pcap" 2>"$WORK/tcpdump.log" & TCPDUMP_PID=$!
PIDS+=($TCPDUMP_PID)
sleep 1
CAPTURE_START=$(now)

# ------------------------------------------------------------------ benign traffic
(  # browsing and downloads from cli: 30 fetches rotating through file sizes, 1.5 s apart
  sizes=(2 4 8 16 32)
  for i in $(seq 0 29); do
    if (( i % 3 == 0 )); then
      in_ns cli curl -s -o /dev/null -o /dev/null --max-time 10 "http://$SRV/index.html" "http://$SRV/style.css" || true
    fi
    in_ns cli curl -s -o /dev/null --max-time 10 "http://$SRV/file-${sizes[i % 5]}k.bin" || true
    sleep 1.5
  done
) & PIDS+=($!); BENIGN=($!)
(  # IPv6 client: a few downloads spread over the capture
  for i in $(seq 0 5); do
    in_ns cli curl -s -g -o /dev/null --max-time 10 "http://[$SRV6]:8080/file-16k.bin" || true
    sleep 8
  done
) & PIDS+=($!); BENIGN+=($!)
"${NS[@]}" $PREFIX-cli ping -q -c 40 -i 1 "$SRV" >/dev/null & PIDS+=($!); BENIGN+=($!)
"${NS[@]}" $PREFIX-cli ping -6 -q -c 10 -i 4 "$SRV6" >/dev/null & PIDS+=($!); BENIGN+=($!)
"${NS[@]}" $PREFIX-cli2 python3 "$TRAFFIC" dns-client "$SRV" 53 100 0.5 & PIDS+=($!); BENIGN+=($!)
"${NS[@]}" $PREFIX-cli2 ping -q -c 45 -i 1 "$SRV" >/dev/null & PIDS+=($!); BENIGN+=($!)
for s in 0 1 2; do  # idle keep-alive sessions: 5 requests with 7 s of silence between them
  ( sleep $((s * 4)); in_ns cli2 python3 "$TRAFFIC" keepalive "$SRV" 80 5 7 || true ) & PIDS+=($!); BENIGN+=($!)
done

# ------------------------------------------------------------------ attacks
sleep 11
SCAN_START=$(now)
in_ns atk1 timeout 60 nmap -sS -n -T4 --top-ports 1000 -oN "$WORK/nmap.txt" "$SRV" >/dev/null
SCAN_END=$(now)

sleep 8
FLOOD_START=$(now)
in_ns atk2 timeout 20 hping3 -S -p 80 -s 20000 -i "$FLOOD_INTERVAL" -c "$FLOOD_PACKETS" "$SRV" \
  >/dev/null 2>"$WORK/hping3.log" || true
FLOOD_END=$(now)

for pid in "${BENIGN[@]}"; do wait "$pid" || true; done
sleep 2
CAPTURE_END=$(now)
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true

# ------------------------------------------------------------------ checks and outputs
PCAP="$WORK/demo.pcap"
size=$(stat -c %s "$PCAP")
count() { tcpdump -nr "$PCAP" "$@" 2>/dev/null | wc -l; }
total=$(count)
scan_syn=$(count "src host ${V4[atk1]} and tcp[tcpflags] & tcp-syn != 0")
scan_ports=$(tcpdump -nr "$PCAP" "src host ${V4[atk1]} and tcp[tcpflags] == tcp-syn" 2>/dev/null \
  | sed -n 's/.* > [0-9.]*\.\([0-9]*\):.*/\1/p' | sort -u | wc -l)
flood_syn=$(count "src host ${V4[atk2]} and dst port 80 and tcp[tcpflags] == tcp-syn")
linktype=$(tcpdump -r "$PCAP" -c 1 2>&1 >/dev/null | sed -n 's/.*link-type \([^ ]*\).*/\1/p')
echo "make-demo-pcap: $total packets, $size bytes, link-type $linktype; scan SYNs $scan_syn" \
     "($scan_ports distinct ports), flood SYNs $flood_syn"
[ "$linktype" = "EN10MB" ] || { echo "make-demo-pcap: expected Ethernet link type" >&2; exit 1; }
(( size <= MAX_PCAP_BYTES )) || { echo "make-demo-pcap: capture is $size bytes, over the 3 MB budget" >&2; exit 1; }
(( scan_ports >= 900 )) || { echo "make-demo-pcap: the scan reached only $scan_ports ports" >&2; exit 1; }
(( flood_syn >= FLOOD_PACKETS * 9 / 10 )) || { echo "make-demo-pcap: only $flood_syn flood SYNs captured" >&2; exit 1; }

mkdir -p "$OUT_DIR"
cp "$PCAP" "$OUT_DIR/demo.pcap"
chmod 644 "$OUT_DIR/demo.pcap"
open_ports=$(sed -n 's#^\([0-9]*\)/tcp *open.*#\1#p' "$WORK/nmap.txt" | paste -sd, -)

export CAPTURE_START CAPTURE_END SCAN_START SCAN_END FLOOD_START FLOOD_END total size scan_syn scan_ports \
  flood_syn open_ports SNAPLEN FLOOD_PACKETS FLOOD_INTERVAL
export V_SRV=${V4[srv]} V_SRV6=$SRV6 V_CLI=${V4[cli]} V_CLI6=${V6[cli]} V_CLI2=${V4[cli2]} \
  V_ATK1=${V4[atk1]} V_ATK2=${V4[atk2]}
export NMAP_VERSION="$(nmap --version | head -1)"
export HPING3_VERSION="$(hping3 --version 2>&1 | head -1)"
export TCPDUMP_VERSION="$(tcpdump --version 2>&1 | head -1)"
export CURL_VERSION="$(curl --version | head -1 | cut -d' ' -f1-2)"
export PYTHON_VERSION="$(python3 --version)"
export KERNEL="$(uname -sr)"
python3 - "$OUT_DIR/demo.ground-truth.json" <<'EOF'
import json, os, sys
e = os.environ
truth = {
    "pcap": "demo.pcap",
    "link_type": "EN10MB",
    "snaplen": int(e["SNAPLEN"]),
    "packets": int(e["total"]),
    "bytes": int(e["size"]),
    "capture": {"start": e["CAPTURE_START"], "end": e["CAPTURE_END"],
                "point": "victim fg-demo-srv eth0 (both directions)"},
    "victim": {"address": e["V_SRV"], "address6": e["V_SRV6"],
               "services": ["tcp/80 http", "tcp/8080 http (IPv6)", "udp/53 dns-like"],
               "open_tcp_ports_seen_by_nmap": [int(p) for p in e["open_ports"].split(",") if p]},
    "attackers": [
        {"address": e["V_ATK1"], "label": "PortScan", "cicids2017_label": "PortScan",
         "attack": "nmap TCP SYN scan of the top 1000 ports",
         "command": "nmap -sS -n -T4 --top-ports 1000 " + e["V_SRV"],
         "start": e["SCAN_START"], "end": e["SCAN_END"],
         "syn_packets": int(e["scan_syn"]), "distinct_ports": int(e["scan_ports"])},
        {"address": e["V_ATK2"], "label": "DoS", "cicids2017_label": "DoS/DDoS (SYN flood)",
         "attack": "hping3 TCP SYN flood to port 80",
         "command": f"hping3 -S -p 80 -s 20000 -i {e['FLOOD_INTERVAL']} -c {e['FLOOD_PACKETS']} {e['V_SRV']}",
         "start": e["FLOOD_START"], "end": e["FLOOD_END"], "syn_packets": int(e["flood_syn"])},
    ],
    "benign": [
        {"address": e["V_CLI"], "address6": e["V_CLI6"],
         "traffic": "HTTP/1.1 downloads 2 KB..32 KB (30 + 10 page fetches), 6 IPv6 downloads, ping, ping6"},
        {"address": e["V_CLI2"],
         "traffic": "100 DNS-format UDP queries/answers, ping, 3 idle keep-alive HTTP sessions (5 requests, 7 s idle)"},
        {"address": e["V_SRV"], "traffic": "server side of all of the above"},
    ],
    "rule": "every flow whose source or destination is an attacker address belongs to that attack; "
            "all other flows are BENIGN",
    "generated": {"by": "deploy/make-demo-pcap.sh", "date": e["CAPTURE_START"], "kernel": e["KERNEL"],
                  "tools": {"nmap": e["NMAP_VERSION"], "hping3": e["HPING3_VERSION"],
                            "tcpdump": e["TCPDUMP_VERSION"], "curl": e["CURL_VERSION"],
                            "python": e["PYTHON_VERSION"]}},
}
with open(sys.argv[1], "w") as f:
    json.dump(truth, f, indent=2)
    f.write("\n")
EOF
echo "make-demo-pcap: wrote $OUT_DIR/demo.pcap and $OUT_DIR/demo.ground-truth.json"
