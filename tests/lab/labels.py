#!/usr/bin/env python3
"""Ground truth of lab captures (docs/lab.md): the sidecar format and THE labelling rule.

The rule (label_flow), used by the scorer and nothing else:
  1. a flow with an endpoint equal to an attacker's address carries that attacker's label;
  2. otherwise, a flow with an endpoint outside the lab prefixes whose first packet lies inside the
     window of a spoofed-source attack (widened by GRACE_S) carries that attack's label;
  3. every other flow is BENIGN.
Attacker hosts send nothing but their attack, so (1) needs no time window.

  labels.py write-truth --work DIR ...     (called by lab.sh: prints the sidecar JSON)
"""
import argparse
import datetime
import ipaddress
import json
import os
import sys

BENIGN = "BENIGN"
GRACE_S = 5.0  # spoofed floods: SYN-ACK retransmissions to forged sources trail the window


def parse_time(text):
    """ISO-8601 UTC ('...Z') to POSIX seconds."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Truth:
    def __init__(self, truth):
        self.raw = truth
        self.lab = [ipaddress.ip_network(n) for n in truth["lab_prefixes"]]
        self.by_address = {}
        self.spoofed = []
        for i, a in enumerate(truth["attackers"]):
            if a.get("spoofed"):
                self.spoofed.append((parse_time(a["start"]) - GRACE_S, parse_time(a["end"]) + GRACE_S, i))
            else:
                self.by_address[canonical(a["address"])] = i
        self.benign_hosts = {canonical(b["address"]) for b in truth["benign"]}

    def attacker(self, index):
        return self.raw["attackers"][index]

    def in_lab(self, address):
        ip = ipaddress.ip_address(address)
        return any(ip in n for n in self.lab)

    def label_flow(self, src, dst, first_ts):
        """(label, attacker index or None) for a flow between src and dst starting at first_ts (s)."""
        src, dst = canonical(src), canonical(dst)
        for end in (src, dst):
            if end in self.by_address:
                i = self.by_address[end]
                return self.attacker(i)["label"], i
        if not (self.in_lab(src) and self.in_lab(dst)):
            for lo, hi, i in self.spoofed:
                if lo <= first_ts <= hi:
                    return self.attacker(i)["label"], i
        return BENIGN, None


def canonical(address):
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def load(path):
    with open(path) as f:
        return Truth(json.load(f))


def write_truth(args):
    w = args.work
    attackers = []
    windows = {}
    with open(os.path.join(w, "attacks.tsv")) as f:
        for line in f:
            i, start, end, rc = line.rstrip("\n").split("\t")
            windows[int(i)] = (start, end, int(rc))
    with open(os.path.join(w, "attackers.tsv")) as f:
        for line in f:
            i, address, label, tool, mode, spoofed = line.rstrip("\n").split("\t")
            i = int(i)
            start, end, rc = windows[i]
            with open(os.path.join(w, f"cmd{i}.txt")) as c:
                command = c.read().rstrip("\n")
            attackers.append({"address": None if spoofed == "1" else address, "host_address": address,
                              "spoofed": spoofed == "1", "label": label, "tool": tool, "mode": mode,
                              "command": command.replace(w, "$WORK"), "start": start, "end": end,
                              "exit_code": rc})
    versions = {}
    with open(os.path.join(w, "versions.tsv")) as f:
        for line in f:
            if "\t" in line:
                name, version = line.rstrip("\n").split("\t", 1)
                versions[name] = version
    versions["python3"] = sys.version.split()[0]
    benign = []
    for spec in args.benign:
        address, rest = spec.split("=", 1)
        name, kinds = rest.split(":", 1)
        benign.append({"address": address, "name": name, "traffic": kinds.split(",")})
    truth = {
        "format": "flowguard-lab-truth/1",
        "scenario": args.scenario, "set": args.set, "seed": args.seed, "duration_s": args.duration,
        "pcap": f"{args.scenario}.pcap",
        "capture": {"start": args.start, "end": args.end, "point": "victim eth0, both directions, snaplen 0",
                    "link_type": "EN10MB"},
        "lab_prefixes": [args.lab4, args.lab6],
        "victim": {"address": args.victim, "address6": args.victim6,
                   "services": ["tcp/80 nginx (+ /app/ vulnerable sqlite app)", "tcp/22 sshd", "tcp/21 vsftpd",
                                "udp+tcp/53 dnsmasq", "tcp/873 rsync daemon", "tcp/6379 redis",
                                "tcp+udp/5201-5203 iperf3"]},
        "attackers": attackers,
        "benign": benign + [{"address": args.victim, "name": "victim",
                             "traffic": ["server side of all benign traffic"]}],
        "rule": __doc__.split("The rule (label_flow), used by the scorer and nothing else:\n", 1)[1]
                .split("\n\n", 1)[0].strip(),
        "grace_s": GRACE_S,
        "backscatter_dropped_at_sink": args.backscatter_dropped,
        "generated": {"by": "tests/lab/lab.sh", "kernel": os.uname().release, "tools": versions,
                      "wall_seconds": args.wall_seconds},
    }
    json.dump(truth, sys.stdout, indent=2)
    sys.stdout.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("write-truth")
    for name in ("work", "scenario", "set", "start", "end", "victim", "victim6", "lab4", "lab6"):
        t.add_argument("--" + name, required=True)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--duration", type=int, required=True)
    t.add_argument("--backscatter-dropped", type=int, default=0)
    t.add_argument("--wall-seconds", type=float, default=0)
    t.add_argument("--benign", action="append", default=[])
    args = p.parse_args()
    if args.cmd == "write-truth":
        write_truth(args)


if __name__ == "__main__":
    main()
