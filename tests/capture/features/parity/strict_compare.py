#!/usr/bin/env python3
"""Strict parity check (docs/features.md, spec §9.6): match rows exactly as cmpflows.py does
(5-tuple + rank of the start time), then compare EVERY field as a string, identifiers and Timestamp
included. Only the non-normative cicids2017 UDP header columns (stale jnetpcap buffer values) are
skipped. Reports unmatched rows on both sides and the first differences.

usage: strict_compare.py ours.csv golden.csv [--max-diffs N] [--allow-unmatched N]
Exit 0 when every golden row is matched (up to --allow-unmatched on either side) and no field differs.
"""
import argparse, collections, csv, datetime, sys

FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S")


def when(s):
    for f in FORMATS:
        try:
            return datetime.datetime.strptime(s.strip(), f).timestamp()
        except ValueError:
            pass
    return 0.0


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = [row for row in r if row]
    names = [h.strip().lower() for h in header]
    def idx(*cands):
        for c in cands:
            if c in names:
                return names.index(c)
        raise SystemExit(f"{path}: missing column {cands}")
    key_cols = [idx("src ip", "source ip"), idx("src port", "source port"), idx("dst ip", "destination ip"),
                idx("dst port", "destination port"), idx("protocol")]
    ts = idx("timestamp")
    groups = collections.defaultdict(list)
    for n, row in enumerate(rows):
        groups[tuple(row[i].strip() for i in key_cols)].append((when(row[ts]), n, row))
    keyed = {}
    for k, members in groups.items():
        for rank, (_, _, row) in enumerate(sorted(members, key=lambda m: (m[0], m[1]))):
            keyed[k + (rank,)] = row
    return header, keyed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("golden")
    ap.add_argument("--max-diffs", type=int, default=10)
    ap.add_argument("--allow-unmatched", type=int, default=0)
    a = ap.parse_args()
    ho, ko = load(a.ours)
    hg, kg = load(a.golden)
    if ho != hg:
        print("header differs:")
        print("  ours:  ", ",".join(ho))
        print("  golden:", ",".join(hg))
        return 1
    legacy = "Init_Win_bytes_forward" in hg
    proto = [h.strip().lower() for h in hg].index("protocol")
    skip_udp = {i for i, h in enumerate(hg)
                if legacy and h.strip() in ("Fwd Header Length", "Bwd Header Length", "min_seg_size_forward")}
    only_g = sorted(set(kg) - set(ko))
    only_o = sorted(set(ko) - set(kg))
    fields = diffs = 0
    shown = 0
    per_col = collections.Counter()
    for k in set(kg) & set(ko):
        g, o = kg[k], ko[k]
        udp = g[proto].strip() == "17"
        for i, (x, y) in enumerate(zip(o, g)):
            if udp and i in skip_udp:
                continue
            fields += 1
            if x != y:
                diffs += 1
                per_col[hg[i].strip()] += 1
                if shown < a.max_diffs:
                    shown += 1
                    print(f"  diff {k} column '{hg[i].strip()}': ours={x!r} golden={y!r}")
    for name, n in per_col.most_common():
        print(f"  {n:8d} differences in '{name}'")
    for k in only_g[: a.max_diffs]:
        print("  only in golden:", ",".join(kg[k][:7]))
    for k in only_o[: a.max_diffs]:
        print("  only in ours:  ", ",".join(ko[k][:7]))
    print(f"strict rows golden={len(kg)} ours={len(ko)} matched={len(set(kg) & set(ko))} "
          f"unmatched_golden={len(only_g)} unmatched_ours={len(only_o)} fields={fields} string_diffs={diffs}")
    ok = diffs == 0 and len(only_g) <= a.allow_unmatched and len(only_o) <= a.allow_unmatched
    return 0 if ok else 1


sys.exit(main())
