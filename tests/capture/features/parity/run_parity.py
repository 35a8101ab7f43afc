#!/usr/bin/env python3
"""Parity acceptance test: flowguard-capture against the reference extractors' golden CSVs.

For every folder of <shared>/data/parity: run
    flowguard-capture -r <capture> --profile P --csv ours.csv --no-server
then compare with <folder>/P.csv using <shared>/tools/cmpflows.py (the acceptance thresholds) and
strict_compare.py (every field of every matched row as a string).

Deliberate difference (docs/features.md): flowguard decodes IPv6 natively and builds no pseudo-flows
from non-IPv4 frames. So before comparing, rows with IPv6 addresses are left out of ours, and golden
pseudo-flows (protocol 0, ports 0, and neither address seen in any of our IPv4 rows: the reference made
them from the bytes of an ARP/IPv6/... frame) are left out of the golden file. The unfiltered cmpflows
result is printed too, and at most 1% (or 20) golden rows may be set aside this way.

Then the same capture again with `--decode reference` (the emulation of the reference's jnetpcap scan,
pseudo-flows included): compared UNFILTERED, nothing set aside; cmpflows and the strict comparison must
both pass.

Exit 0 when every folder passes, 1 otherwise, 77 when the shared directory is absent.
"""
import argparse, csv, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = ("input.pcap", "input.pcapng", "test.pcap", "sample.pcap")


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [r for r in rows[1:] if r]


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def columns(header):
    names = [h.strip().lower() for h in header]
    pick = lambda *c: next(names.index(x) for x in c if x in names)
    return (pick("src ip", "source ip"), pick("src port", "source port"), pick("dst ip", "destination ip"),
            pick("dst port", "destination port"), pick("protocol"))


def filter_pair(ours_csv, golden_csv, out_ours, out_golden):
    ho, ro = read(ours_csv)
    hg, rg = read(golden_csv)
    s, sp, d, dp, pr = columns(ho)
    native = [r for r in ro if ":" in r[s] or ":" in r[d]]
    ro4 = [r for r in ro if not (":" in r[s] or ":" in r[d])]
    seen = {r[s] for r in ro4} | {r[d] for r in ro4}
    s, sp, d, dp, pr = columns(hg)
    pseudo = [r for r in rg if r[pr].strip() == "0" and r[sp].strip() == "0" and r[dp].strip() == "0"
              and r[s].strip() not in seen and r[d].strip() not in seen]
    rg_kept = [r for r in rg if r not in pseudo]
    write(out_ours, ho, ro4)
    write(out_golden, hg, rg_kept)
    return len(native), len(pseudo), len(rg)


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1] if lines else ""


def row(folder, mode, profile, golden_rows, summary, strict_summary, set_aside):
    fields = strict_summary.split("fields=")[-1].split()[0] if "fields=" in strict_summary else "?"
    diffs = strict_summary.split("string_diffs=")[-1] if "string_diffs=" in strict_summary else "?"
    flows = summary.split("flows=")[1].split("%")[0] if "flows=" in summary else "?"
    values = summary.split("values=")[1].split("%")[0] if "values=" in summary else "?"
    ours_rows = summary.split("ours ")[1].split(",")[0] if "ours " in summary else "?"
    return (f"| {folder} | {mode} | {profile} | {golden_rows} | {ours_rows} | {flows} | {values} | {fields} | "
            f"{diffs} | {set_aside} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capture", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--profile", required=True, choices=["corrected", "cicids2017"])
    ap.add_argument("--work", required=True)
    a = ap.parse_args()

    parity = os.path.join(a.shared, "data", "parity")
    cmpflows = os.path.join(a.shared, "tools", "cmpflows.py")
    if not os.path.isdir(parity) or not os.path.isfile(cmpflows):
        print(f"FLOWGUARD-SKIPPED: parity data not found under '{a.shared}' (set FLOWGUARD_SHARED_DIR)")
        return 77
    os.makedirs(a.work, exist_ok=True)
    failures = []
    table = ["| capture | decode | profile | golden rows | ours | flows % | values % | strict fields | string diffs | set aside (ours IPv6 / golden pseudo) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for folder in sorted(os.listdir(parity)):
        path = os.path.join(parity, folder)
        golden = os.path.join(path, a.profile + ".csv")
        inputs = [os.path.join(path, n) for n in INPUTS if os.path.isfile(os.path.join(path, n))]
        if not os.path.isdir(path) or not os.path.isfile(golden) or not inputs:
            continue
        ours = os.path.join(a.work, folder + ".csv")
        run = subprocess.run([a.capture, "-r", inputs[0], "--profile", a.profile, "--csv", ours, "--no-server",
                              "--stats-interval", "0"], capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(folder)
            print(f"FAIL {folder}: flowguard-capture exited {run.returncode}: {run.stderr.strip()}")
            continue
        raw = subprocess.run([sys.executable, cmpflows, ours, golden], capture_output=True, text=True)
        f_ours, f_golden = ours + ".ipv4.csv", ours + ".golden.csv"
        native, pseudo, golden_rows = filter_pair(ours, golden, f_ours, f_golden)
        cmp = subprocess.run([sys.executable, cmpflows, f_ours, f_golden, "-v"], capture_output=True, text=True)
        strict = subprocess.run([sys.executable, os.path.join(HERE, "strict_compare.py"), f_ours, f_golden],
                                capture_output=True, text=True)
        summary, strict_summary = last_line(cmp.stdout), last_line(strict.stdout)
        ok = cmp.returncode == 0 and strict.returncode == 0 and pseudo <= max(20, golden_rows // 100)
        print(f"{'ok  ' if ok else 'FAIL'} {folder} [{a.profile}, --decode native]")
        print(f"     unfiltered: {last_line(raw.stdout)}")
        print(f"     set aside:  {native} IPv6 rows of ours, {pseudo} pseudo-flow rows of the golden file")
        print(f"     cmpflows:   {summary}")
        print(f"     strict:     {strict_summary}")
        if not ok:
            failures.append(folder)
            print(cmp.stdout)
            print(strict.stdout)
        table.append(row(folder, "native", a.profile, golden_rows, summary, strict_summary, f"{native} / {pseudo}"))

        # --decode reference: the reference's own decoding, so nothing is set aside.
        ours_ref = os.path.join(a.work, folder + ".reference.csv")
        run = subprocess.run([a.capture, "-r", inputs[0], "--profile", a.profile, "--decode", "reference", "--csv",
                              ours_ref, "--no-server", "--stats-interval", "0"], capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(folder + " (reference)")
            print(f"FAIL {folder}: flowguard-capture --decode reference exited {run.returncode}: {run.stderr.strip()}")
            continue
        cmp = subprocess.run([sys.executable, cmpflows, ours_ref, golden, "-v"], capture_output=True, text=True)
        strict = subprocess.run([sys.executable, os.path.join(HERE, "strict_compare.py"), ours_ref, golden],
                                capture_output=True, text=True)
        summary, strict_summary = last_line(cmp.stdout), last_line(strict.stdout)
        ok = cmp.returncode == 0 and strict.returncode == 0
        print(f"{'ok  ' if ok else 'FAIL'} {folder} [{a.profile}, --decode reference, unfiltered]")
        print(f"     cmpflows:   {summary}")
        print(f"     strict:     {strict_summary}")
        if not ok:
            failures.append(folder + " (reference)")
            print(cmp.stdout)
            print(strict.stdout)
        table.append(row(folder, "reference", a.profile, golden_rows, summary, strict_summary, "none"))
    with open(os.path.join(a.work, "parity-table.md"), "w") as f:
        f.write("\n".join(table) + "\n")
    print("\n".join(table))
    if failures:
        print(f"parity FAILED for {len(failures)} capture(s): {', '.join(failures)}")
        return 1
    print("parity ok: every capture passes")
    return 0


sys.exit(main())
