"""Brings up a real flowguard stack for the console tests: flowguard-infer with the shipped model,
flowguard-capture replaying the demo capture from a pipe that stays open (so the agent, its control
socket and its event store stay alive after the last packet), and flowguard-console on a free port.
Everything lives in one temporary directory; every process runs under `timeout` and is killed at exit."""
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time


failures = []


def check(cond, what, detail=""):
    """One named check: prints ok/FAIL (with the evidence) and remembers failures."""
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f"  [{str(detail)[:500]}]"))
    if not cond:
        failures.append(what)


def run_checks(argv, body):
    """Brings the stack up from argv (INFER CAPTURE CONSOLE SRC), runs body(stack), tears it down and
    exits 1 when a check failed."""
    st = Stack(*argv[:4])
    try:
        st.start_backends()
        body(st)
    finally:
        st.close()
    if failures:
        print(f"{len(failures)} check(s) failed: {failures}")
        sys.exit(1)
    print("all checks passed")


def skip(reason):
    print(f"FLOWGUARD-SKIPPED: {reason}")
    sys.exit(77)


class Stack:
    def __init__(self, infer, capture, console, src, keep=False):
        self.bins = dict(infer=infer, capture=capture, console=console)
        self.src = src
        self.work = tempfile.mkdtemp(prefix="fg-console.")
        self.keep = keep
        self.procs = []
        self.pipe = None
        self.port = None
        self.token = None

    def path(self, name):
        return os.path.join(self.work, name)

    def _spawn(self, argv, log, **kw):
        f = open(self.path(log), "wb")
        p = subprocess.Popen(["timeout", "900"] + argv, stdout=f, stderr=subprocess.STDOUT, **kw)
        self.procs.append(p)
        return p

    def _wait_for(self, what, pred, seconds=60, proc=None):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if pred():
                return
            if proc is not None and proc.poll() is not None:
                self.fail(f"{what}: process exited {proc.returncode}")
            time.sleep(0.1)
        self.fail(f"timed out waiting for {what}")

    def fail(self, msg):
        print(f"FAIL: {msg}")
        for name in sorted(os.listdir(self.work)):
            if name.endswith(".log"):
                print(f"--- {name}")
                with open(self.path(name), errors="replace") as f:
                    print("".join(f.readlines()[-20:]))
        self.close()
        sys.exit(1)

    def start_backends(self):
        model = os.path.join(self.src, "models/default/model.pt")
        pcap = os.path.join(self.src, "deploy/demo/demo.pcap")
        if not os.path.exists(model):
            skip("models/default/model.pt absent")
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        infer = self._spawn([self.bins["infer"], "--model", model, "--socket", self.path("infer.sock"),
                             "--control-socket", self.path("infer.ctl")], "infer.log", env=env)
        self._wait_for("flowguard-infer socket", lambda: os.path.exists(self.path("infer.ctl")), 120, infer)
        # 1. The demo capture through both processes, to its end: alerts and (dry-run) blocks in the
        #    event store, the block list saved in the state directory.
        common = ["--socket", self.path("infer.sock"), "--enforce", "dry-run", "--no-host-allowlist",
                  "--state-dir", self.path("state"), "--events", self.path("events.db"),
                  "--alerts", self.path("eve.json"), "--quiet-alerts", "--stats-interval", "0"]
        first = self._spawn([self.bins["capture"], "-r", pcap, "--control-socket", "none"] + common,
                            "capture-replay.log")
        self._wait_for("the demo replay", lambda: first.poll() is not None, 300)
        if first.returncode != 0:
            self.fail(f"flowguard-capture replay exited {first.returncode}")
        # 2. A second agent that stays up: it reads a pcap from a pipe we keep open (the file header, then nothing),
        #    restores the block list from the state directory and serves its control socket.
        cap = self._spawn([self.bins["capture"], "-r", "-", "--control-socket", self.path("capture.ctl")] + common,
                          "capture.log", stdin=subprocess.PIPE)
        self.pipe = cap.stdin
        with open(pcap, "rb") as f:
            self.pipe.write(f.read(24))  # the pcap file header only: the agent opens it and waits for packets
        self.pipe.flush()
        self._wait_for("capture control socket", lambda: os.path.exists(self.path("capture.ctl")), 60, cap)

    def start_console(self, *extra, token=True, events=None, capture_ctl=None, infer_ctl=None, log="console.log"):
        argv = [self.bins["console"], "--port", "0",
                "--events", events or self.path("events.db"),
                "--capture-socket", capture_ctl or self.path("capture.ctl"),
                "--infer-socket", infer_ctl or self.path("infer.ctl")]
        if token:
            argv += ["--token-file", self.path("console.token"), "--create-token"]
        else:
            argv += ["--no-token"]
        argv += list(extra)
        p = self._spawn(argv, log)
        port = []

        def listening():
            with open(self.path(log)) as f:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", f.read())
            if m:
                port.append(int(m.group(1)))
            return bool(port)
        self._wait_for("console listening", listening, 30, p)
        if token:
            with open(self.path("console.token")) as f:
                self.token = f.read().strip()
        return p, port[0]

    def sql(self, q, *args):
        db = sqlite3.connect(f"file:{self.path('events.db')}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(q, args).fetchall()
        finally:
            db.close()

    def close(self):
        if self.pipe:
            try:
                self.pipe.close()
            except OSError:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def request(port, method, path, body=None, headers=None, timeout=30):
    """One HTTP request; returns (status, headers, parsed JSON or text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    text = raw.decode("utf-8", "replace")
    ctype = r.getheader("Content-Type") or ""
    return r.status, dict(r.getheaders()), (json.loads(text) if ctype.startswith("application/json") else text)
