#!/usr/bin/env python3
"""Turns lab captures into labelled training CSVs for flowguard-train (docs/lab.md, models/README.md).

For every CAPTURE.pcap with its CAPTURE.truth.json sidecar:
  1. the real agent extracts the flows: flowguard-capture -r CAPTURE.pcap --no-server --csv ...
     (plus --csv-groups GROUP and --csv-snapshots when asked, so host-context columns and snapshot rows of
     partial flows are included);
  2. every row is labelled with the lab's one rule (labels.py, Truth.label_flow), nothing else;
  3. rows are capped per label (--max-per-label, a deterministic subsample keyed on the row's flow
     identity, so the same capture always gives the same file) and written as
     OUT/lab-SET-SCENARIO.csv in the agent's own CSV layout with the Label column filled in.

The trainer reads these files as they are (columns are found by name). It splits every input file on its
own (time split within each class and file), so the lab rows of each capture are spread over train,
validation and test like the CIC rows.

Only `train` captures may be used for training and tuning; `eval` captures are for measurement
(docs/lab.md). The script refuses a directory named `eval` unless --allow-eval is given (for tests and
for measuring how a model does on exported eval rows, never for training).

  export_training.py /var/tmp/flowguard-lab/train --out DIR [--build build] [--groups host_context]
                     [--snapshots] [--max-per-label 2000]
"""
import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labels  # noqa: E402
import score  # noqa: E402  (its CSV timestamp parser: one definition of the agent's time format)


def find_captures(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".pcap"))
        else:
            out.append(p)
    return out


def truth_path(pcap):
    return pcap[: -len(".pcap")] + ".truth.json"


def extract(agent, pcap, csv_path, groups, snapshots, timeout):
    cmd = [agent, "-r", pcap, "--no-server", "--csv", csv_path]
    if groups:
        cmd += ["--csv-groups", groups]
    if snapshots:
        cmd += ["--csv-snapshots"]
    r = subprocess.run(["timeout", str(timeout), *cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")


def keep_rank(row_key):
    """A stable pseudo-random rank of a row: the subsample does not depend on file order or Python's hash."""
    return hashlib.sha256(row_key.encode()).hexdigest()


def label_rows(truth, csv_path):
    """(header, rows, labels): the agent's rows with the rule's label for each."""
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        col = {name: i for i, name in enumerate(header)}
        for need in ("Src IP", "Dst IP", "Timestamp", "Label"):
            if need not in col:
                raise RuntimeError(f"{csv_path}: the agent's CSV has no '{need}' column")
        rows, names = [], []
        for row in reader:
            if not row:
                continue
            label, _ = truth.label_flow(row[col["Src IP"]], row[col["Dst IP"]],
                                        score.parse_csv_time(row[col["Timestamp"]]))
            row[col["Label"]] = label
            rows.append(row)
            names.append(label)
    return header, rows, names


def subsample(header, rows, names, cap):
    """At most `cap` rows per label (0: keep all), chosen by a hash of the flow's identity; file order kept."""
    if cap <= 0:
        return rows, names
    col = {name: i for i, name in enumerate(header)}
    key_cols = [col[c] for c in ("Flow ID", "Timestamp", "Record Kind") if c in col]
    by_label = {}
    for i, name in enumerate(names):
        by_label.setdefault(name, []).append(i)
    keep = set()
    for name, idx in by_label.items():
        if len(idx) <= cap:
            keep.update(idx)
        else:
            ranked = sorted(idx, key=lambda i: keep_rank("|".join(rows[i][c] for c in key_cols) + f"|{i}"))
            keep.update(ranked[:cap])
    order = sorted(keep)
    return [rows[i] for i in order], [names[i] for i in order]


def export(pcap, out_dir, agent, groups, snapshots, cap, timeout):
    truth = labels.load(truth_path(pcap))
    with tempfile.TemporaryDirectory(prefix="fg-export-") as work:
        raw = os.path.join(work, "flows.csv")
        extract(agent, pcap, raw, groups, snapshots, timeout)
        header, rows, names = label_rows(truth, raw)
    total = {}
    for n in names:
        total[n] = total.get(n, 0) + 1
    rows, names = subsample(header, rows, names, cap)
    kept = {}
    for n in names:
        kept[n] = kept.get(n, 0) + 1
    name = f"lab-{truth.raw.get('set', 'set')}-{truth.raw.get('scenario', os.path.basename(pcap)[:-5])}.csv"
    out = os.path.join(out_dir, name)
    tmp = out + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, out)
    return out, total, kept


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("captures", nargs="+", help="capture files or directories of CAPTURE.pcap + CAPTURE.truth.json")
    p.add_argument("--out", required=True, help="output directory (one CSV per capture)")
    p.add_argument("--build", default="build", help="build directory holding capture/flowguard-capture")
    p.add_argument("--agent", help="path of flowguard-capture (default: BUILD/capture/flowguard-capture)")
    p.add_argument("--groups", default="", help="feature groups to append (--csv-groups), e.g. host_context")
    p.add_argument("--snapshots", action="store_true", help="also export snapshot rows (--csv-snapshots)")
    p.add_argument("--max-per-label", type=int, default=2000,
                   help="keep at most this many rows per label per capture (0: all)")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per capture")
    p.add_argument("--allow-eval", action="store_true",
                   help="accept captures from a set named 'eval' (measurement only, never for training)")
    a = p.parse_args()
    agent = a.agent or os.path.join(a.build, "capture", "flowguard-capture")
    if not os.access(agent, os.X_OK):
        sys.exit(f"export_training.py: no flowguard-capture at {agent} (build it, or pass --agent)")
    captures = find_captures(a.captures)
    if not captures:
        sys.exit("export_training.py: no .pcap files found")
    os.makedirs(a.out, exist_ok=True)
    for pcap in captures:
        if not os.path.exists(truth_path(pcap)):
            sys.exit(f"export_training.py: {pcap} has no sidecar {truth_path(pcap)}")
        t = labels.load(truth_path(pcap))
        if t.raw.get("set") == "eval" and not a.allow_eval:
            sys.exit(f"export_training.py: {pcap} is an eval capture (measurement only); "
                     "pass --allow-eval only for measurement")
        out, total, kept = export(pcap, a.out, agent, a.groups, a.snapshots, a.max_per_label, a.timeout)
        summary = ", ".join(f"{k} {kept[k]}/{total[k]}" for k in sorted(total))
        print(f"{out}: {sum(kept.values())} rows ({summary})")


if __name__ == "__main__":
    main()
