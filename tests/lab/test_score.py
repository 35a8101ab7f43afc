#!/usr/bin/env python3
"""The lab scorer's arithmetic on a tiny synthetic capture with known answers (runs everywhere).

Writes a pcap with 10 known flows, turns it into flow records with the real agent
(flowguard-capture --no-server --csv), adds a hand-written event store of alert verdicts and block
decisions, and checks every number score.py reports: flow counts by the labelling rule, alerted
percentages, per-attacker block and seconds to block (packet time), benign hosts blocked, confusion.

Usage: test_score.py FLOWGUARD_CAPTURE
"""
import json
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labels  # noqa: E402
import score  # noqa: E402

T0 = 1_780_000_000.0  # packet time of the first packet (2026-05-28)
VICTIM, BENIGN_HOST, ATTACKER = "10.200.1.10", "10.200.1.21", "10.200.1.66"
MAC_A, MAC_B = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def tcp_frame(src, dst, sport, dport, flags, payload=b""):
    s, d = bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 64240, 0, 0) + payload
    tcp = tcp[:16] + struct.pack("!H", checksum(s + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return MAC_A + MAC_B + b"\x08\x00" + ip + tcp


SYN, RST, ACK, FIN, PSH = 0x02, 0x04, 0x10, 0x01, 0x08


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame in sorted(packets, key=lambda p: p[0]):
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int(round((t - sec) * 1e6)), len(frame), len(frame)) + frame)


def build(work):
    pk = []
    # 3 benign flows (complete TCP sessions) at t=0, 10, 20
    for i, t in enumerate((0.0, 10.0, 20.0)):
        sp = 40000 + i
        pk += [(T0 + t, tcp_frame(BENIGN_HOST, VICTIM, sp, 80, SYN)),
               (T0 + t + 0.001, tcp_frame(VICTIM, BENIGN_HOST, 80, sp, SYN | ACK)),
               (T0 + t + 0.002, tcp_frame(BENIGN_HOST, VICTIM, sp, 80, ACK | PSH, b"GET / HTTP/1.1\r\n\r\n")),
               (T0 + t + 0.003, tcp_frame(BENIGN_HOST, VICTIM, sp, 80, FIN | ACK)),
               (T0 + t + 0.004, tcp_frame(VICTIM, BENIGN_HOST, 80, sp, FIN | ACK)),
               (T0 + t + 0.005, tcp_frame(BENIGN_HOST, VICTIM, sp, 80, ACK))]
    # 4 scan probes from the attacker at t=1.0, 1.1, 1.2, 1.3 (SYN, RST back)
    for i in range(4):
        t = 1.0 + i * 0.1
        pk += [(T0 + t, tcp_frame(ATTACKER, VICTIM, 50000, 1 + i, SYN)),
               (T0 + t + 0.001, tcp_frame(VICTIM, ATTACKER, 1 + i, 50000, RST | ACK))]
    # 2 spoofed SYNs inside the flood window (t=30, 31) and 1 foreign SYN far outside it (t=50)
    pk += [(T0 + 30.0, tcp_frame("198.51.100.7", VICTIM, 1234, 80, SYN)),
           (T0 + 31.0, tcp_frame("198.51.100.8", VICTIM, 1235, 80, SYN)),
           (T0 + 50.0, tcp_frame("203.0.113.9", VICTIM, 1236, 80, SYN))]
    write_pcap(os.path.join(work, "tiny.pcap"), pk)

    truth = {"format": "flowguard-lab-truth/1", "lab_prefixes": ["10.200.1.0/24", "fd00:200:1::/64"],
             "attackers": [
                 {"address": ATTACKER, "spoofed": False, "label": "Portscan", "tool": "nmap", "mode": "SYN",
                  "start": iso(T0 + 0.9), "end": iso(T0 + 1.5)},
                 {"address": None, "spoofed": True, "label": "DDoS", "tool": "hping3", "mode": "spoofed",
                  "start": iso(T0 + 29.5), "end": iso(T0 + 31.5)}],
             "benign": [{"address": BENIGN_HOST}, {"address": VICTIM}]}
    with open(os.path.join(work, "tiny.truth.json"), "w") as f:
        json.dump(truth, f)

    db = sqlite3.connect(os.path.join(work, "events.db"))
    db.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, ts_us INTEGER, flow_id INTEGER, src_ip TEXT, "
               "src_port INTEGER, dest_ip TEXT, dest_port INTEGER, proto TEXT, class TEXT, score REAL, "
               "threshold REAL, action TEXT, enforcement TEXT, model TEXT, model_version TEXT, reason TEXT, eve TEXT)")
    us = lambda t: int(round((T0 + t) * 1e6))  # noqa: E731
    rows = [  # flow_id, t, src, sport, dst, dport, class, score, action, enforcement
        (11, 1.0, ATTACKER, 50000, VICTIM, 1, "Portscan", 0.7, "alert", "none"),
        (12, 1.1, ATTACKER, 50000, VICTIM, 2, "DDoS", 0.8, "alert", "none"),
        (12, 1.15, ATTACKER, 50000, VICTIM, 2, "Portscan", 0.6, "alert", "none"),  # lower score: still DDoS
        (13, 3.0, ATTACKER, 50000, VICTIM, 3, "Portscan", 0.99, "block", "dry-run"),  # 2.0 s after t=1.0
        (13, 3.5, ATTACKER, 50000, VICTIM, 3, "Portscan", 0.99, "block", "dry-run-listed"),
        (21, 10.0, BENIGN_HOST, 40001, VICTIM, 80, "SSH-Patator", 0.97, "block", "dry-run"),
        # A verdict 20 s after its flow began (SYN-ACK retransmissions), beyond the window and its grace:
        # still the flood's, because the rule looks at the flow's start. Decision 0.5 s after t=30.
        (31, 30.5, "198.51.100.7", 1234, VICTIM, 80, "DDoS", 0.95, "block", "dry-run"),
        (31, 50.0, "198.51.100.7", 1234, VICTIM, 80, "DDoS", 0.96, "block", "dry-run-listed"),
        (41, 50.0, "203.0.113.9", 1236, VICTIM, 80, "DDoS", 0.4, "block", "not-blockable"),  # no decision
    ]
    db.executemany("INSERT INTO alerts (ts_us, flow_id, src_ip, src_port, dest_ip, dest_port, proto, class, score, "
                   "threshold, action, enforcement, model, model_version, reason, eve) "
                   "VALUES (?,?,?,?,?,?,'tcp',?,?,0.5,?,?,'m','1','','')",
                   [(us(t), fid, s, sp, d, dp, c, sc, a, e) for fid, t, s, sp, d, dp, c, sc, a, e in rows])
    db.commit()
    db.close()


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def main(agent):
    with tempfile.TemporaryDirectory() as work:
        build(work)
        subprocess.run([agent, "-r", os.path.join(work, "tiny.pcap"), "--no-server", "--csv",
                        os.path.join(work, "flows.csv")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        flows = score.read_flows(os.path.join(work, "flows.csv"))
        check(len(flows) == 10, f"the agent wrote 10 flow records (got {len(flows)})")
        truth = labels.load(os.path.join(work, "tiny.truth.json"))
        r = score.score(truth, flows, score.read_alerts(os.path.join(work, "events.db")))
        check(r["flows"]["by_label"] == {"BENIGN": 4, "Portscan": 4, "DDoS": 2},
              f"rule labels 4 benign, 4 scan, 2 spoofed flood flows (got {r['flows']['by_label']})")
        check(r["alerted"] == {"attack": 4, "benign": 2}, f"alerted flows by truth (got {r['alerted']})")
        check(r["attack_alerted_pct"] == 66.67 and r["benign_alerted_pct"] == 50.0,
              f"percentages 66.67 / 50.0 (got {r['attack_alerted_pct']} / {r['benign_alerted_pct']})")
        scan, flood = r["attackers"]
        check(scan["blocked"] and scan["seconds_to_block"] == 2.0 and scan["flows"] == 4 and scan["flows_alerted"] == 3,
              f"scanner blocked 2.0 s after its first packet, 3/4 flows alerted (got {scan})")
        check(flood["blocked"] and flood["seconds_to_block"] == 0.5 and flood["spoofed_sources_blocked"] == 1,
              f"spoofed flood: one forged source blocked 0.5 s in (got {flood})")
        check(r["benign_hosts_blocked"] == [BENIGN_HOST], f"benign host blocked (got {r['benign_hosts_blocked']})")
        check(r["confusion"] == {"Portscan": {"Portscan": 2, "DDoS": 1}, "BENIGN": {"SSH-Patator": 1, "DDoS": 1},
                                 "DDoS": {"DDoS": 1}},
              f"confusion by highest-scoring verdict per flow (got {r['confusion']})")
        o = score.merge([("a", r), ("b", r)])
        check(o["flows"] == {"attack": 12, "benign": 8} and o["attack_alerted_pct"] == 66.67
              and o["attackers_blocked"] == 4 and o["benign_hosts_blocked"] == ["a:10.200.1.21", "b:10.200.1.21"]
              and o["median_seconds_to_block"] == 2.0, f"overall sums two captures (got {o['flows']}, {o['alerted']})")
        table = score.table({"variants": ["v"], "captures": {"x/tiny": {"v": r}}, "overall": {"v": o}})
        check("66.7% (4/6)" in table and "50.0% (2/4)" in table and "blocked 2.0 s" in table,
              "the table shows the same numbers")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
