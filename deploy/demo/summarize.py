#!/usr/bin/env python3
"""Summarises a flowguard EVE alert file against a demo capture's ground truth (standard library only)."""
import collections
import json
import sys


def main(eve_path, truth_path):
    truth = json.load(open(truth_path))
    attackers = {a["address"]: a["label"] for a in truth["attackers"]}
    benign = {b["address"] for b in truth["benign"]}
    victim = truth["victim"]["address"]

    alerts = []
    with open(eve_path) as f:
        for line in f:
            line = line.strip()
            if line:
                ev = json.loads(line)
                if ev.get("event_type") == "alert":
                    alerts.append(ev)

    per_host = collections.defaultdict(collections.Counter)
    blocked = collections.defaultdict(set)
    for ev in alerts:
        ends = [ev.get("src_ip"), ev.get("dest_ip")]
        host = next((a for a in ends if a in attackers), None) or next((a for a in ends if a != victim), ends[0])
        fg = ev.get("flowguard", {})
        # Repeated alerts are folded into one line; `suppressed` counts the verdicts it stands for.
        per_host[host][fg.get("class", ev["alert"]["signature"])] += 1 + int(fg.get("suppressed", 0))
        if fg.get("block"):
            blocked[host].add(fg.get("enforce_mode", "?"))

    print(f"alert lines: {len(alerts)} (repeats folded)")
    print(f"{'host':<26} {'ground truth':<13} {'alerting flows':>14}  {'block':<8} classes")
    for host in sorted(set(per_host) | set(attackers)):
        label = attackers.get(host, "benign" if host in benign else "?")
        n = sum(per_host[host].values())
        classes = ", ".join(f"{c} x{k}" for c, k in per_host[host].most_common(3)) or "-"
        block = ",".join(sorted(blocked.get(host, ()))) or "-"
        print(f"{host:<26} {label:<13} {n:>14}  {block:<8} {classes}")
    detected = [a for a in attackers if per_host.get(a)]
    false_hosts = [h for h in per_host if h not in attackers]
    false_blocks = [h for h in blocked if h not in attackers]
    print(f"attackers detected: {len(detected)}/{len(attackers)}, blocked: {len([a for a in attackers if blocked.get(a)])}/{len(attackers)}; "
          f"other hosts alerted: {len(false_hosts)}, blocked: {len(false_blocks)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: summarize.py EVE_JSON GROUND_TRUTH_JSON")
    main(sys.argv[1], sys.argv[2])
