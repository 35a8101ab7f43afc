#!/usr/bin/env bash
# The smallest real lab scenario end to end (CTest label `lab`): records a short `portscan` capture in
# network namespaces with the real services and tools, then scores it with the shipped model through
# flowguard-capture and flowguard-infer. Needs root and the lab packages; otherwise SKIPs (exit 77)
# with the reason. Asserts the recording and the scorer's report, not the model's quality.
#   e2e.sh BUILD_DIR
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BUILD=${1:?usage: e2e.sh BUILD_DIR}
missing=$("$HERE/lab.sh" check 2>&1) || { echo "FLOWGUARD-SKIPPED: $missing"; exit 77; }
for bin in "$BUILD/inference/flowguard-infer" "$BUILD/capture/flowguard-capture"; do
  [ -x "$bin" ] || { echo "FLOWGUARD-SKIPPED: $bin not built"; exit 77; }
done

out=$(mktemp -d /tmp/fg-lab-e2e.XXXXXX)
trap 'rm -rf "$out"' EXIT
timeout 180 "$HERE/lab.sh" record portscan --set eval --seed 7 --duration 25 --out "$out"
pcap=$out/eval/portscan.pcap truth=$out/eval/portscan.truth.json
[ -s "$pcap" ] && [ -s "$truth" ] || { echo "FAIL: no capture or ground truth written"; exit 1; }
timeout 300 python3 "$HERE/score.py" --build "$BUILD" --json "$out/score.json" "$pcap"

python3 - "$truth" "$out/score.json" <<'PY'
import json, sys
truth, report = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        sys.exit(1)
atk = truth["attackers"]
check(len(atk) == 2 and all(a["start"] < a["end"] and a["command"].startswith("nmap") for a in atk),
      "ground truth names both nmap attackers with their windows and commands")
check(all(k in truth["generated"]["tools"] for k in ("nmap", "nginx", "openssh-server", "tcpdump")),
      "ground truth records tool versions")
r = report["captures"]["eval/portscan"]["default"]
check(r["flows"]["by_label"].get("Portscan", 0) >= 900,
      f"the connect scan of 1000 ports appears as >= 900 Portscan flows ({r['flows']['by_label']})")
check(r["flows"]["benign"] >= 20, f"benign users made >= 20 flows ({r['flows']['benign']})")
check([a["address"] for a in r["attackers"]] == [a["address"] for a in atk], "one scorer entry per attacker")
o = report["overall"]["default"]
check(o["alerted"]["attack"] + o["alerted"]["benign"] == sum(sum(v.values()) for v in o["confusion"].values()),
      "every alerted flow is in the confusion table")
PY
