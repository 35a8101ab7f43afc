#!/usr/bin/env python3
"""Benign user of the attack lab (standard library + the lab's client tools), run inside one client
namespace by tests/lab/lab.sh. Several activity threads run until --duration, each choosing its next
action and think time from a random.Random seeded by --seed, so a seed fixes the plan (packet timing
still varies a little). Every subprocess has a timeout; every socket has a timeout.

Activities: web browsing (keep-alive page loads of a page and its assets, occasional large downloads,
404s, IPv6, app logins with a typo now and then), SSH interactive sessions, scp and sftp, wrong-key
SSH attempts, FTP (anonymous downloads, a mistyped password), DNS (known names and NXDOMAIN), ping,
iperf3 bulk and low-rate TCP/UDP, redis sessions (one wrong password now and then), rsync pulls,
connections to closed ports, long idle keep-alive connections.
"""
import argparse
import importlib.util
import os
import random
import socket
import struct
import subprocess
import threading
import time

_spec = importlib.util.spec_from_file_location(
    "demo_traffic", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "demo-traffic.py"))
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)  # reuse the demo's DNS encoder and HTTP response reader

SSH = ["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]
NAMES = ["www.lab.test", "mail.lab.test", "files.lab.test", "alice.lab.test", "bob.lab.test", "carol.lab.test"]
TYPOS = ["wwww.lab.test", "mial.lab.test", "intranet.lab.test", "files.lab.tset.lab.test", "printer.lab.test"]
SHELL_COMMANDS = ["uptime", "ls -la /usr/share/doc | head -40", "df -h", "cat /proc/loadavg", "ps aux | head -20",
                  "free -m", "uname -a", "ls /etc | head -30", "date", "id", "cat /proc/cpuinfo | head -20"]


class User:
    def __init__(self, a):
        self.a = a
        self.deadline = time.monotonic() + a.duration - 2
        self.log = open(os.path.join(a.work, f"benign-{a.name}.actions"), "a")
        self.lock = threading.Lock()

    def left(self):
        return self.deadline - time.monotonic()

    def note(self, what):
        with self.lock:
            self.log.write(f"{time.time():.3f} {what}\n")
            self.log.flush()

    def run(self, cmd, timeout, stdin=None):
        t = max(1.0, min(timeout, self.left() + 1))
        try:
            return subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=t).returncode
        except subprocess.TimeoutExpired:
            return -1

    def sleep(self, seconds):
        time.sleep(max(0.0, min(seconds, self.left())))

    # ---------------------------------------------------------------- activities
    def browse(self, r):
        """One page load: a keep-alive connection fetching the page and its assets."""
        v6 = self.a.victim6 and r.random() < 0.2
        host = self.a.victim6 if v6 else self.a.victim
        paths = [f"/page{r.randrange(1, 13)}.html" if r.random() < 0.7 else "/index.html", "/style.css", "/app.js"]
        paths += [f"/img/pic{r.randrange(1, 17)}.jpg" for _ in range(r.randrange(2, 7))]
        if r.random() < 0.08:
            paths.append(f"/old/page{r.randrange(100)}.html")  # a stale link: 404
        family = socket.AF_INET6 if v6 else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect((host, 80))
                name = f"[{host}]" if v6 else host
                for p in paths:
                    s.sendall(f"GET {p} HTTP/1.1\r\nHost: {name}\r\nUser-Agent: Mozilla/5.0 lab-browser\r\n"
                              f"Accept: */*\r\nConnection: keep-alive\r\n\r\n".encode())
                    demo.read_response(s)
                    time.sleep(r.uniform(0.01, 0.2))
                self.sleep(r.uniform(0.5, 4))  # reading the page before the browser lets go
        except OSError:
            pass
        self.note(f"browse {len(paths)} {'v6' if v6 else 'v4'}")

    def download(self, r):
        path = r.choice(["/large-1m.bin", "/large-4m.bin", "/large-1m.bin"])
        self.run(["curl", "-s", "-o", "/dev/null", "--limit-rate", f"{r.choice([2, 5, 20])}M",
                  f"http://{self.a.victim}{path}"], 20)
        self.note(f"download {path}")

    def app_login(self, r):
        base = f"http://{self.a.victim}/app"
        user, good = ("alice", "correct horse") if r.random() < 0.5 else ("bob", "battery staple")
        if r.random() < 0.3:  # a typo first
            self.run(["curl", "-s", "-o", "/dev/null", "-d", f"user={user}&pass={good[:-1]}", base + "/login"], 10)
            self.sleep(r.uniform(1, 3))
        self.run(["curl", "-s", "-o", "/dev/null", base + "/"], 10)
        self.run(["curl", "-s", "-o", "/dev/null", "-d", f"user={user}&pass={good}", base + "/login"], 10)
        self.run(["curl", "-s", "-o", "/dev/null", f"{base}/item?id={r.randrange(1, 40)}"], 10)
        self.note("app login")

    def ssh_session(self, r):
        key = os.path.join(self.a.work, "keys", "user")
        if r.random() < 0.2:  # the wrong key first: an authentication failure a real user makes
            self.run(SSH + ["-i", os.path.join(self.a.work, "keys", "wrong"), f"root@{self.a.victim}", "true"], 10)
        cmds = [r.choice(SHELL_COMMANDS) for _ in range(r.randrange(3, 8))]
        try:
            p = subprocess.Popen(SSH + ["-tt", "-i", key, f"root@{self.a.victim}"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            return
        try:
            for c in cmds:  # typing, reading, thinking
                if self.left() < 3:
                    break
                self.sleep(r.uniform(1, 6))
                p.stdin.write((c + "\n").encode())
                p.stdin.flush()
            p.stdin.write(b"exit\n")
            p.stdin.flush()
            p.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()
        self.note(f"ssh {len(cmds)} commands")

    def file_copy(self, r):
        key = os.path.join(self.a.work, "keys", "user")
        opts = SSH[1:]  # scp/sftp take the same -F/-o options
        local = f"/tmp/fg-lab-{self.a.name}-{os.getpid()}.bin"
        if r.random() < 0.5:
            self.run(["scp", "-q", *opts, "-i", key, f"root@{self.a.victim}:{self.a.work}/www/large-1m.bin", local], 20)
            what = "scp get"
        else:
            batch = f"get {self.a.work}/www/page{r.randrange(1, 13)}.html {local}\nls {self.a.work}/www\nbye\n"
            self.run(["sftp", "-q", *opts, "-i", key, "-b", "-", f"root@{self.a.victim}"], 20, batch.encode())
            what = "sftp"
        if os.path.exists(local):
            os.unlink(local)
        self.note(what)

    def ftp(self, r):
        base = f"ftp://{self.a.victim}/pub/"
        if r.random() < 0.2:
            self.run(["curl", "-s", "-o", "/dev/null", "-u", f"{self.a.name}:wrong-password", base], 10)
        self.run(["curl", "-s", "-o", "/dev/null", base], 10)
        self.run(["curl", "-s", "-o", "/dev/null", base + r.choice(["README.txt", "release.tar.gz"])], 20)
        self.note("ftp")

    def dns(self, r):
        for _ in range(r.randrange(1, 5)):
            name = r.choice(TYPOS) if r.random() < 0.25 else r.choice(NAMES)
            q = struct.pack(">HHHHHH", r.randrange(65536), 0x0100, 1, 0, 0, 0) + demo.encode_name(name)
            q += struct.pack(">HH", 28 if r.random() < 0.3 else 1, 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1)
                try:
                    s.sendto(q, (self.a.victim, 53))
                    s.recvfrom(512)
                except OSError:
                    pass
            time.sleep(r.uniform(0, 0.3))
        self.note("dns")

    def ping(self, r):
        six = r.random() < 0.3
        target = self.a.victim6 if six else self.a.victim
        self.run(["ping", "-6" if six else "-4", "-q", "-c", str(r.randrange(2, 6)), "-i", "0.5", target], 6)
        self.note("ping")

    def iperf(self, r):
        mode = r.choice(["bulk", "low-tcp", "low-udp"])
        args = {"bulk": ["-t", str(r.randrange(1, 4)), "-b", f"{r.choice([5, 10, 20])}M"],
                "low-tcp": ["-t", "5", "-b", "200K"],
                "low-udp": ["-u", "-t", "5", "-b", "300K", "-l", "400"]}[mode]
        self.run(["iperf3", "-c", self.a.victim, "-p", str(self.a.iperf_port), *args], 15)
        self.note(f"iperf3 {mode}")

    def redis(self, r):
        pw = "lab-cache-pw" if r.random() > 0.1 else "lab-cache"  # a mistyped password now and then
        cmds = [f"AUTH {pw}"] + [r.choice([f"SET session:{r.randrange(100)} {r.randrange(10**6)}",
                                           f"GET session:{r.randrange(100)}", "INCR hits", "PING",
                                           f"LPUSH queue job{r.randrange(1000)}", "LLEN queue"])
                                 for _ in range(r.randrange(3, 12))]
        self.run(["redis-cli", "-h", self.a.victim, "-p", "6379"], 10, ("\n".join(cmds) + "\n").encode())
        self.note("redis")

    def rsync(self, r):
        dest = f"/tmp/fg-lab-rsync-{self.a.name}-{os.getpid()}"
        self.run(["rsync", "-a", "--timeout=10", f"rsync://{self.a.victim}/pub/img/", dest], 15)
        subprocess.run(["rm", "-rf", dest])
        self.note("rsync")

    def refused(self, r):
        port = r.choice([25, 110, 143, 443, 3306, 8443])
        try:
            socket.create_connection((self.a.victim, port), timeout=2).close()
        except OSError:
            pass
        self.note(f"refused {port}")

    def idle(self, r):
        """A long idle keep-alive connection (a forgotten browser tab)."""
        reqs, gap = r.randrange(2, 4), r.uniform(10, 25)
        try:
            demo.keepalive(self.a.victim, 80, reqs, min(gap, max(1, self.left() / reqs)))
        except OSError:
            pass
        self.note("idle keep-alive")

    # ---------------------------------------------------------------- threads
    def loop(self, seed, actions, think):
        r = random.Random(seed)
        self.sleep(r.uniform(0, 3))
        while self.left() > 2:
            getattr(self, r.choices([a for a, _ in actions], [w for _, w in actions])[0])(r)
            self.sleep(r.expovariate(1.0 / think))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--victim", required=True)
    p.add_argument("--victim6", default="")
    p.add_argument("--work", required=True)
    p.add_argument("--iperf-port", type=int, default=5201)
    a = p.parse_args()
    u = User(a)
    plans = [  # (actions with weights, mean think time in seconds)
        ([("browse", 10), ("download", 1), ("app_login", 1.5)], 3.0),
        ([("ssh_session", 2), ("file_copy", 1), ("ftp", 1.5), ("rsync", 0.7)], 6.0),
        ([("dns", 3), ("ping", 1.5), ("redis", 2), ("iperf", 1), ("refused", 0.5)], 4.0),
        ([("idle", 1)], 5.0),
    ]
    threads = [threading.Thread(target=u.loop, args=(a.seed * 10 + i, acts, think), daemon=True)
               for i, (acts, think) in enumerate(plans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1, u.left() + 30))


if __name__ == "__main__":
    main()
