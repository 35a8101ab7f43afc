#!/usr/bin/env python3
"""Summarises a flowguard demo run against the capture's ground truth (standard library only).

Reads the event store (every alert verdict and every block decision); the EVE file folds repeated
alerts, so it is only used for the line count. A flow judged several times (snapshots of a live flow,
then its final record) counts once, with the class of its latest alert."""
import collections
import json
import sqlite3
import sys


def main(events_db, eve_path, truth_path):
    truth = json.load(open(truth_path))
    attackers = {a["address"]: a["label"] for a in truth["attackers"]}
    benign = {b["address"] for b in truth["benign"]}
    victim = truth["victim"]["address"]

    db = sqlite3.connect(events_db)
    per_host = collections.defaultdict(collections.Counter)
    for src, dst, cls in db.execute(
            "SELECT src_ip, dest_ip, class FROM alerts WHERE id IN (SELECT max(id) FROM alerts GROUP BY flow_id)"):
        host = src if src in attackers else dst if dst in attackers else (dst if src == victim else src)
        per_host[host][cls] += 1
    blocked = collections.defaultdict(set)
    for address, outcome in db.execute("SELECT address, outcome FROM blocks"):
        blocked[address].add(outcome)
    eve_lines = sum(1 for line in open(eve_path) if line.strip())

    total = sum(sum(c.values()) for c in per_host.values())
    print(f"alerting flows: {total} (EVE lines after folding repeats: {eve_lines})")
    print(f"{'host':<26} {'ground truth':<13} {'alerting flows':>14}  {'block':<8} classes")
    for host in sorted(set(per_host) | set(attackers) | set(blocked)):
        label = attackers.get(host, "benign" if host in benign else "?")
        n = sum(per_host[host].values())
        block = ",".join(sorted(blocked.get(host, ()))) or "-"
        classes = ", ".join(f"{c} x{k}" for c, k in per_host[host].most_common(3)) or "-"
        print(f"{host:<26} {label:<13} {n:>14}  {block:<8} {classes}")
    detected = [a for a in attackers if per_host.get(a)]
    false_hosts = [h for h in per_host if h not in attackers]
    false_blocks = [h for h in blocked if h not in attackers]
    print(f"attackers detected: {len(detected)}/{len(attackers)}, block decisions: "
          f"{len([a for a in attackers if a in blocked])}/{len(attackers)}; "
          f"other hosts alerted: {len(false_hosts)}, blocked: {len(false_blocks)}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: summarize.py EVENTS_DB EVE_JSON GROUND_TRUTH_JSON")
    main(*sys.argv[1:])
