#!/usr/bin/env python3
"""Scores flowguard on lab captures (docs/lab.md), standard library only.

Each capture (a .pcap with its .truth.json sidecar) is replayed exactly as a user would: flowguard-infer
with the model, flowguard-capture -r CAPTURE with default flags, enforcement in dry-run, plus the outputs
the scorer reads (--events: every alert verdict and block decision with packet time; --csv: every flow).
The one labelling rule lives in labels.py.

  score.py [--build DIR] [--model M] [--variant NAME:ARG,ARG...] [--json OUT] CAPTURE.pcap|DIR...
  score.py --from-outputs DIR TRUTH.json     (score an existing flows.csv + events.db, no replay)

Variants: the first is always `default` (the --model given, default flags) unless --no-default. In a
variant, ARGs starting with `capture:` go to flowguard-capture (e.g. capture:--link-queue=100000), all
others to flowguard-infer (e.g. --model=path.pt, --policy=policy.yaml).
"""
import argparse
import bisect
import collections
import csv
import datetime
import glob
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labels  # noqa: E402  (the one labelling rule)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# Block outcomes that are a decision to block (dry-run decides without touching the kernel).
DECIDED = {"dry-run", "dry-run-listed", "blocked", "renewed", "still-blocked"}


# ---------------------------------------------------------------------------------------- reading
def parse_csv_time(text):
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            pass
    raise ValueError(f"unknown timestamp format {text!r}")


def read_flows(path):
    """[(src, dst, first_ts_s, endpoints key)] for every final flow record in the agent's --csv output."""
    flows = []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = [h.strip() for h in next(rows)]
        col = {name: header.index(name) for name in header}
        src = col.get("Src IP", col.get("Source IP"))
        dst = col.get("Dst IP", col.get("Destination IP"))
        sport = col.get("Src Port", col.get("Source Port"))
        dport = col.get("Dst Port", col.get("Destination Port"))
        ts = col["Timestamp"]
        for row in rows:
            if row:
                flows.append((row[src], row[dst], parse_csv_time(row[ts]),
                              endpoints(row[src], row[sport], row[dst], row[dport])))
    return flows


def endpoints(src, sport, dst, dport):
    """Direction-free key of a flow's two endpoints (alerts and CSV rows are matched on it)."""
    a, b = (labels.canonical(src), int(sport)), (labels.canonical(dst), int(dport))
    return (a, b) if a <= b else (b, a)


def read_alerts(path):
    """Every alert verdict: (flow_id, ts_s, src, dst, class, score, action, enforcement, endpoints key),
    ts in packet time (the verdict's last packet)."""
    db = sqlite3.connect(path)
    try:
        return [(fid, ts / 1e6, src, dst, cls, score, action, enf, endpoints(src, sp, dst, dp))
                for fid, ts, src, sp, dst, dp, cls, score, action, enf in
                db.execute("SELECT flow_id, ts_us, src_ip, src_port, dest_ip, dest_port, class, score, action, "
                           "enforcement FROM alerts ORDER BY ts_us, id")]
    finally:
        db.close()


def read_block_evidence(path):
    """The server's evidence of each address's first block decision: address -> {rule, flows, offence,
    block_seconds} (empty for an event store older than evidence-based blocking)."""
    db = sqlite3.connect(path)
    try:
        cols = {r[1] for r in db.execute("PRAGMA table_info(blocks)")}
        if "rule" not in cols:
            return {}
        out = {}
        for addr, rule, flows, offence, secs, outcome in db.execute(
                "SELECT address, rule, evidence_flows, offence, block_seconds, outcome FROM blocks ORDER BY id"):
            if rule and outcome in DECIDED:
                out.setdefault(labels.canonical(addr),
                               {"rule": rule, "flows": flows, "offence": offence, "block_seconds": secs})
        return out
    finally:
        db.close()


# ---------------------------------------------------------------------------------------- scoring
def score(truth, flows, alerts, evidence=None):
    """Metrics of one run. truth: labels.Truth; flows: read_flows(); alerts: read_alerts();
    evidence (optional): read_block_evidence()."""
    n_attackers = len(truth.raw["attackers"])
    flow_count = collections.Counter()        # label -> flows
    first_packet = {}                         # attacker index -> first flow start
    starts = collections.defaultdict(list)    # endpoints -> start times of the flows between them
    flow_labels = []
    for src, dst, ts, key in flows:
        label, who = truth.label_flow(src, dst, ts)
        flow_labels.append(who)
        flow_count[label] += 1
        starts[key].append(ts)
        if who is not None:
            first_packet[who] = min(ts, first_packet.get(who, ts))
    for v in starts.values():
        v.sort()

    def flow_start(key, ts):
        """Start of the flow a verdict at ts belongs to: the latest flow between the same endpoints that
        started by then (a verdict's own time is its flow's last packet, which can lie long after the start,
        e.g. SYN-ACK retransmissions to a forged source)."""
        v = starts.get(key)
        if not v:
            return ts
        i = bisect.bisect_right(v, ts + 1e-6)
        return v[i - 1] if i else v[0]

    # One entry per alerted flow: its true label (from its first alert) and the class it was alerted as
    # (the verdict with the highest score).
    alerted = {}
    first_block = {}                          # blocked address -> first decision time (packet time)
    blocked_by = collections.defaultdict(set)  # attacker index -> addresses its flows got blocked
    for fid, ts, src, dst, cls, sc, action, enf, key in alerts:
        if fid not in alerted:
            label, who = truth.label_flow(src, dst, flow_start(key, ts))
            alerted[fid] = [label, who, cls, sc]
        elif sc > alerted[fid][3]:
            alerted[fid][2:] = [cls, sc]
        if action == "block" and enf in DECIDED:
            # The address a block applies to: the flow's initiator, which the server names (block_side)
            # and the block list records; an event store without evidence columns only knows src.
            addr = labels.canonical(src)
            if evidence and addr not in evidence and labels.canonical(dst) in evidence:
                addr = labels.canonical(dst)
            first_block.setdefault(addr, ts)
            blocked_by[alerted[fid][1]].add(addr)

    attack_flows = sum(n for lab, n in flow_count.items() if lab != labels.BENIGN)
    benign_flows = flow_count[labels.BENIGN]
    attack_alerted = sum(1 for a in alerted.values() if a[0] != labels.BENIGN)
    benign_alerted = sum(1 for a in alerted.values() if a[0] == labels.BENIGN)
    confusion = collections.defaultdict(collections.Counter)
    for label, _, cls, _ in alerted.values():
        confusion[label][cls] += 1

    attackers = []
    for i in range(n_attackers):
        a = truth.attacker(i)
        flows_i = sum(1 for v in alerted.values() if v[1] == i)
        total_i = sum(1 for who in flow_labels if who == i)
        if a.get("spoofed"):  # forged sources blocked because of this attack's flows
            times = [first_block[addr] for addr in blocked_by[i] if not truth.in_lab(addr)]
            blocked_at = min(times) if times else None
            blocked_sources = len(times)
        else:
            blocked_at = first_block.get(labels.canonical(a["address"]))
            blocked_sources = None
        start = first_packet.get(i)
        entry = {"address": a["address"] or "spoofed", "host_address": a.get("host_address"),
                 "label": a["label"], "tool": a["tool"], "mode": a["mode"],
                 "flows": total_i, "flows_alerted": flows_i,
                 "blocked": blocked_at is not None,
                 "seconds_to_block": round(blocked_at - start, 3) if blocked_at is not None and start else None}
        if blocked_sources is not None:
            entry["spoofed_sources_blocked"] = blocked_sources
        if evidence and a["address"] and labels.canonical(a["address"]) in evidence:
            entry["block_evidence"] = evidence[labels.canonical(a["address"])]
        attackers.append(entry)

    attacker_addresses = {labels.canonical(a["address"]) for a in truth.raw["attackers"] if a["address"]}
    benign_blocked = sorted(addr for addr in first_block if addr not in attacker_addresses and truth.in_lab(addr))
    return {"flows": {"attack": attack_flows, "benign": benign_flows, "by_label": dict(flow_count)},
            "alerted": {"attack": attack_alerted, "benign": benign_alerted},
            "attack_alerted_pct": pct(attack_alerted, attack_flows),
            "benign_alerted_pct": pct(benign_alerted, benign_flows),
            "attackers": attackers,
            "attackers_blocked": sum(1 for a in attackers if a["blocked"]),
            "benign_hosts_blocked": benign_blocked,
            "confusion": {k: dict(v) for k, v in confusion.items()}}


def pct(n, d):
    return round(100.0 * n / d, 2) if d else None


def merge(results):
    """Overall metrics of several captures for one variant."""
    out = {"flows": {"attack": 0, "benign": 0}, "alerted": {"attack": 0, "benign": 0}, "attackers": [],
           "benign_hosts_blocked": [], "confusion": collections.defaultdict(collections.Counter)}
    for name, r in results:
        for k in ("attack", "benign"):
            out["flows"][k] += r["flows"][k]
            out["alerted"][k] += r["alerted"][k]
        out["attackers"] += [dict(a, capture=name) for a in r["attackers"]]
        out["benign_hosts_blocked"] += [f"{name}:{h}" for h in r["benign_hosts_blocked"]]
        for lab, row in r["confusion"].items():
            out["confusion"][lab].update(row)
    out["confusion"] = {k: dict(v) for k, v in out["confusion"].items()}
    out["attack_alerted_pct"] = pct(out["alerted"]["attack"], out["flows"]["attack"])
    out["benign_alerted_pct"] = pct(out["alerted"]["benign"], out["flows"]["benign"])
    out["attackers_blocked"] = sum(1 for a in out["attackers"] if a["blocked"])
    times = sorted(a["seconds_to_block"] for a in out["attackers"] if a["seconds_to_block"] is not None)
    out["median_seconds_to_block"] = times[len(times) // 2] if times else None
    return out


# ---------------------------------------------------------------------------------------- running
def run_pipeline(build, pcap, infer_args, capture_args, work):
    """Replays pcap through flowguard-infer + flowguard-capture; returns (flows.csv, events.db)."""
    infer = os.path.join(build, "inference", "flowguard-infer")
    agent = os.path.join(build, "capture", "flowguard-capture")
    sock, ctl = os.path.join(work, "infer.sock"), os.path.join(work, "infer.ctl")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    log = open(os.path.join(work, "infer.log"), "w")
    server = subprocess.Popen(["timeout", "1800", infer, "--socket", sock, "--control-socket", ctl,
                               "--log-level", "warn", *infer_args], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(600):  # bounded wait for the socket (a model load takes a few seconds)
            if os.path.exists(sock):
                break
            if server.poll() is not None:
                raise RuntimeError(f"flowguard-infer exited: {open(log.name).read()[-2000:]}")
            time.sleep(0.1)
        else:
            raise RuntimeError("flowguard-infer socket did not appear")
        csv_path, db_path = os.path.join(work, "flows.csv"), os.path.join(work, "events.db")
        metrics_path = os.path.join(work, "metrics.json")
        cmd = ["timeout", "1800", agent, "-r", pcap, "--socket", sock, "--enforce", "dry-run",
               "--no-host-allowlist", "--state-dir", "none", "--control-socket", "none",
               "--events", db_path, "--csv", csv_path, "--metrics-json", metrics_path, *capture_args]
        with open(os.path.join(work, "capture.log"), "w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
        if rc != 0:
            raise RuntimeError(f"flowguard-capture failed ({rc}): {open(out.name).read()[-2000:]}")
        return csv_path, db_path, agent_counters(metrics_path)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def agent_counters(metrics_path):
    """The agent's final counters that tell whether every flow was judged (fail-open, shed), read from
    its structured metrics (--metrics-json, written with the last stats line)."""
    with open(metrics_path) as f:
        samples = json.load(f)["metrics"]
    found = {m["key"]: m["value"] for m in samples if m.get("type") == "counter" and not m.get("labels")}
    wanted = ("packets", "flows_created", "judged", "shed", "unjudged", "unjudged_queue_full",
              "unjudged_connection_lost", "out_of_scope")
    return {k: int(found[k]) for k in wanted if k in found}


def parse_variant(spec, model):
    name, _, rest = spec.partition(":")
    infer, capture = [], []
    for arg in filter(None, rest.split(",")):
        (capture if arg.startswith("capture:") else infer).append(arg.removeprefix("capture:"))
    if not any(a.startswith("--model") for a in infer):
        infer = ["--model", model] + infer
    return name, infer, capture


def find_captures(paths):
    out = []
    for p in paths:
        out += sorted(glob.glob(os.path.join(p, "**", "*.pcap"), recursive=True)) if os.path.isdir(p) else [p]
    return [(p, p[:-len(".pcap")] + ".truth.json") for p in out]


def capture_name(pcap):
    return f"{os.path.basename(os.path.dirname(os.path.abspath(pcap)))}/{os.path.basename(pcap)[:-5]}"


# ---------------------------------------------------------------------------------------- output
def fmt_pct(r, key):
    v = r[key + "_pct"]
    return "-" if v is None else f"{v:.1f}% ({r['alerted'][key.split('_')[0]]}/{r['flows'][key.split('_')[0]]})"


def table(report):
    lines = []
    variants = report["variants"]
    head = f"{'capture':<20} {'variant':<12} {'attack flows alerted':>24} {'benign flows alerted':>22} " \
           f"{'attackers blocked':>17}  benign hosts blocked"
    lines += [head, "-" * len(head)]
    rows = list(report["captures"].items()) + [("OVERALL", report["overall"])]
    for name, per in rows:
        for v in variants:
            r = per[v]
            blocked = f"{r['attackers_blocked']}/{len(r['attackers'])}"
            hosts = collections.Counter(h.split(":", 1)[1] if name == "OVERALL" and "/" in h.split(":", 1)[0] else h
                                        for h in r["benign_hosts_blocked"])
            shown = ", ".join(h if n == 1 else f"{h} (in {n} captures)" for h, n in sorted(hosts.items())) or "-"
            lines.append(f"{name:<20} {v:<12} {fmt_pct(r, 'attack_alerted'):>24} {fmt_pct(r, 'benign_alerted'):>22} "
                         f"{blocked:>17}  {shown}")
    lines += ["", "per attacker (seconds from its first packet to the block decision, packet time):"]
    for name, per in report["captures"].items():
        for i, a in enumerate(per[variants[0]]["attackers"]):
            cells = []
            for v in variants:
                b = per[v]["attackers"][i]
                s = f"blocked {b['seconds_to_block']:.1f} s" if b["blocked"] and b["seconds_to_block"] is not None \
                    else ("blocked" if b["blocked"] else "not blocked")
                if b.get("block_evidence"):
                    s += f" (rule {b['block_evidence']['rule']}, {b['block_evidence']['flows']} flows)"
                cells.append(f"{v}: {s}, {b['flows_alerted']}/{b['flows']} flows alerted")
            lines.append(f"  {name:<20} {a['address']:<12} {a['label']:<27} {a['tool']} {a['mode']}")
            lines.append(f"  {'':<20} {' | '.join(cells)}")
    for v in variants:
        conf = report["overall"][v]["confusion"]
        classes = sorted({c for row in conf.values() for c in row})
        lines += ["", f"confusion of alerted flows, variant {v} (rows: ground truth; columns: alerted class):"]
        if not classes:
            lines.append("  (no alerts)")
            continue
        w = max(10, *(len(c) for c in classes))
        lines.append(f"  {'':<28}" + "".join(f"{c[:w]:>{w + 2}}" for c in classes))
        for lab in sorted(conf):
            lines.append(f"  {lab:<28}" + "".join(f"{conf[lab].get(c, 0):>{w + 2}}" for c in classes))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("captures", nargs="*")
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--model", default=os.path.join(REPO, "models", "default", "model.pt"))
    p.add_argument("--variant", action="append", default=[], help="NAME:ARG,ARG... (see above)")
    p.add_argument("--no-default", action="store_true", help="score only the --variant runs")
    p.add_argument("--json", help="write the report as JSON here")
    p.add_argument("--keep", help="keep each run's outputs under this directory")
    p.add_argument("--from-outputs", nargs=2, metavar=("DIR", "TRUTH"),
                   help="score DIR/flows.csv + DIR/events.db against TRUTH (no replay)")
    a = p.parse_args()

    if a.from_outputs:
        d, truth_path = a.from_outputs
        db = os.path.join(d, "events.db")
        r = score(labels.load(truth_path), read_flows(os.path.join(d, "flows.csv")), read_alerts(db),
                  read_block_evidence(db))
        report = {"variants": ["given"], "captures": {"given": {"given": r}},
                  "overall": {"given": merge([("given", r)])}}
    else:
        if not a.captures:
            p.error("no captures given")
        variants = ([] if a.no_default else [("default", ["--model", a.model], [])]) + \
                   [parse_variant(v, a.model) for v in a.variant]
        report = {"variants": [v[0] for v in variants], "captures": {}, "overall": {},
                  "commands": {v[0]: {"infer": v[1], "capture": v[2]} for v in variants}}
        captures = find_captures(a.captures)
        if not captures:
            p.error("no .pcap found")
        per_variant = collections.defaultdict(list)
        for pcap, truth_path in captures:
            if not os.path.exists(truth_path):
                sys.exit(f"score: {truth_path} missing (every capture needs its ground truth)")
            truth = labels.load(truth_path)
            name = capture_name(pcap)
            report["captures"][name] = {}
            for vname, infer_args, capture_args in variants:
                work = tempfile.mkdtemp(prefix="fg-score.")
                if a.keep:
                    work = os.path.join(a.keep, vname, name.replace("/", "-"))
                    os.makedirs(work, exist_ok=True)
                    for f in ("flows.csv", "events.db", "infer.sock", "infer.ctl"):
                        if os.path.exists(os.path.join(work, f)):
                            os.unlink(os.path.join(work, f))
                t0 = time.monotonic()
                csv_path, db_path, counters = run_pipeline(a.build, pcap, infer_args, capture_args, work)
                r = score(truth, read_flows(csv_path), read_alerts(db_path), read_block_evidence(db_path))
                r["agent"] = counters
                r["replay_seconds"] = round(time.monotonic() - t0, 1)
                report["captures"][name][vname] = r
                per_variant[vname].append((name, r))
                if not a.keep:
                    subprocess.run(["rm", "-rf", work])
                print(f"score: {name} [{vname}] attack alerted {r['attack_alerted_pct']}%, benign alerted "
                      f"{r['benign_alerted_pct']}%, {r['attackers_blocked']}/{len(r['attackers'])} attackers blocked "
                      f"({r['replay_seconds']} s; agent {counters})", file=sys.stderr)
                if counters.get("unjudged"):
                    print(f"score: WARNING {name} [{vname}]: {counters['unjudged']} flows were never judged "
                          f"(fail open); results may vary run to run", file=sys.stderr)
        for vname, results in per_variant.items():
            report["overall"][vname] = merge(results)
    print(table(report))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
