#!/usr/bin/env python3
"""export_training.py on a tiny capture with known answers, through the real agent (runs everywhere).

Reuses the scorer test's capture (10 flows: 3 benign sessions + 1 foreign SYN outside any window = 4
BENIGN, 4 scan probes = Portscan, 2 spoofed SYNs in the flood window = DDoS), exports it and checks every
row's label against the rule, the agent's CSV layout, the per-label cap, and the refusal of eval captures.

Usage: test_export.py FLOWGUARD_CAPTURE [FLOWGUARD_TRAIN MODEL]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_score  # noqa: E402  (the tiny capture and its sidecar)
from test_score import check  # noqa: E402

EXPORT = os.path.join(HERE, "export_training.py")


def export(agent, captures, out, *extra):
    return subprocess.run([sys.executable, EXPORT, *captures, "--out", out, "--agent", agent, *extra],
                          capture_output=True, text=True, timeout=120)


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def main(agent, trainer=None, model=None):
    with tempfile.TemporaryDirectory() as work:
        test_score.build(work)
        pcap = os.path.join(work, "tiny.pcap")
        truth_path = os.path.join(work, "tiny.truth.json")
        with open(truth_path) as f:
            truth = json.load(f)
        truth.update({"set": "train", "scenario": "tiny"})
        with open(truth_path, "w") as f:
            json.dump(truth, f)

        out = os.path.join(work, "out")
        r = export(agent, [pcap], out, "--max-per-label", "0")
        check(r.returncode == 0, f"export succeeds ({r.stderr.strip()[-300:]})")
        path = os.path.join(out, "lab-train-tiny.csv")
        check(os.path.exists(path), "one CSV per capture, named after set and scenario")
        header, rows = read(path)
        check("Total TCP Flow Time" in header and "Label" in header and "Src IP" in header,
              "the agent's corrected layout with its Label column")
        col = {h: i for i, h in enumerate(header)}
        labels = {}
        for row in rows:
            labels[row[col["Label"]]] = labels.get(row[col["Label"]], 0) + 1
        check(labels == {"BENIGN": 4, "Portscan": 4, "DDoS": 2}, f"labels by the lab's rule (got {labels})")
        for row in rows:
            src, label = row[col["Src IP"]], row[col["Label"]]
            if test_score.ATTACKER in (src, row[col["Dst IP"]]):
                check(label == "Portscan", f"attacker flow {src} labelled Portscan")
        check("NeedManualLabel" not in {row[col["Label"]] for row in rows}, "no row left unlabelled")
        check("BENIGN 4/4" in r.stdout and "Portscan 4/4" in r.stdout, f"summary printed ({r.stdout.strip()})")

        # The cap keeps at most N rows per label, the same rows on every run.
        capped = os.path.join(work, "capped")
        r1 = export(agent, [pcap], capped, "--max-per-label", "2")
        _, rows1 = read(os.path.join(capped, "lab-train-tiny.csv"))
        r2 = export(agent, [pcap], capped, "--max-per-label", "2")
        _, rows2 = read(os.path.join(capped, "lab-train-tiny.csv"))
        counts = {}
        for row in rows1:
            counts[row[col["Label"]]] = counts.get(row[col["Label"]], 0) + 1
        check(r1.returncode == 0 and counts == {"BENIGN": 2, "Portscan": 2, "DDoS": 2},
              f"--max-per-label 2 keeps 2 per label (got {counts})")
        check(rows1 == rows2, "the subsample is deterministic")

        # Eval captures are for measurement only.
        truth["set"] = "eval"
        with open(truth_path, "w") as f:
            json.dump(truth, f)
        r = export(agent, [pcap], os.path.join(work, "eval"))
        check(r.returncode != 0 and "measurement only" in r.stderr, "an eval capture is refused")
        r = export(agent, [pcap], os.path.join(work, "eval"), "--allow-eval")
        check(r.returncode == 0, "unless --allow-eval is given")

        if trainer and model:
            # flowguard-train reads the export as it is (columns by name, the Label column filled in).
            t = subprocess.run([trainer, "predict", "--model", model, "--data", path, "--out",
                                os.path.join(work, "p.csv")], capture_output=True, text=True, timeout=120)
            check(t.returncode == 0 and "wrote 10 predictions" in t.stdout,
                  f"flowguard-train predict reads the export ({t.stdout.strip()} {t.stderr.strip()[-200:]})")

if __name__ == "__main__":
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__)
    main(*sys.argv[1:])
