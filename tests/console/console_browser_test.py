#!/usr/bin/env python3
"""The console page in headless Chromium (Debian package `chromium`) over a real stack
(tests/console/harness.py): the DOM after the page's scripts ran (--dump-dom with a virtual-time budget)
must show the store's numbers in the KPI cards, bars in the timeline chart, the newest alerts in the
event table and the agent's blocks; then the page unblocks an address and the agent no longer has it.

Driving a click needs the DevTools protocol (a WebSocket, not in Python's standard library), so the
unblock goes through the page's deep link `#token=...&unblock=ADDR`: the page's own code finds that
row's Unblock button and calls click() on it, the same handler a person's click runs (docs/console.md).

Usage: console_browser_test.py INFER CAPTURE CONSOLE SRC_DIR [SCREENSHOT.png]"""
import html.parser
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, request  # noqa: E402


class Dom(html.parser.HTMLParser):
    """Just enough of the DOM: elements by id (with their text), and every element's attributes."""

    def __init__(self, text):
        super().__init__()
        self.by_id, self.elements, self.stack = {}, [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        e = {"tag": tag, "attrs": a, "text": "", "parents": [x["attrs"].get("id") for x in self.stack]}
        self.elements.append(e)
        if "id" in a:
            self.by_id[a["id"]] = e
        if tag not in ("input", "br", "meta", "link", "img", "hr", "col"):
            self.stack.append(e)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for e in self.stack:
            e["text"] += data

    def text(self, id_):
        return self.by_id.get(id_, {}).get("text", "").strip()

    def within(self, id_, tag=None, cls=None):
        return [e for e in self.elements if id_ in e["parents"] and (tag is None or e["tag"] == tag)
                and (cls is None or cls in e["attrs"].get("class", "").split())]


def chromium(*args, timeout=120):
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-extensions", "--user-data-dir=" + CHROME_PROFILE]
    p = subprocess.run(["timeout", str(timeout)] + base + list(args), capture_output=True, text=True)
    return p


def main():
    if not shutil.which("chromium"):
        harness.skip("chromium not installed (Debian package chromium)")
    shot = sys.argv[5] if len(sys.argv) > 5 else None

    def body(st):
        global CHROME_PROFILE
        CHROME_PROFILE = st.path("chrome-profile")
        _, port = st.start_console()
        run(st, port, shot)
    harness.run_checks(sys.argv[1:5], body)


def run(st, port, shot):
    base = f"http://127.0.0.1:{port}/"
    total = st.sql("SELECT COUNT(*) FROM alerts")[0][0]
    newest = [r[0] for r in st.sql("SELECT id FROM alerts ORDER BY id DESC LIMIT 25")]
    p = chromium("--virtual-time-budget=15000", "--dump-dom", base + "#range=all")
    check(p.returncode == 0 and "<html" in p.stdout, "chromium loaded the page", p.stderr[-500:])
    dom = Dom(p.stdout)
    check(dom.by_id.get("kpis") is not None and
          dom.elements[[e["tag"] for e in dom.elements].index("body")]["attrs"].get("data-loaded") == "yes",
          "the page's first refresh completed", dom.text("messages"))
    check(dom.text("kpi-alerts-total") == f"{total:,}", "KPI 'alerts stored' shows the store's count",
          (dom.text("kpi-alerts-total"), total))
    check(dom.text("health-capture") == "agent up" and dom.text("health-infer") == "server up",
          "health badges show both processes up", (dom.text("health-capture"), dom.text("health-infer")))
    check("flowguard-default" in dom.text("kpi-model"), "KPI 'model' names the served model", dom.text("kpi-model"))
    check(dom.text("kpi-active-blocks") == "2", "KPI 'active blocks' shows the agent's two blocks",
          dom.text("kpi-active-blocks"))
    bars = dom.within("timeline", "rect", "bar")
    drawn = sum(int(b["attrs"]["data-count"]) for b in bars)
    check(len(bars) > 0 and drawn == total, "the timeline chart draws bars summing to every stored alert",
          (len(bars), drawn, total))
    classes = {b["attrs"]["data-class"] for b in bars}
    store_classes = {r[0] for r in st.sql("SELECT DISTINCT class FROM alerts")}
    check(classes == store_classes, "the chart has one series per class in the store", (classes, store_classes))
    hb = {e["attrs"]["data-name"]: int(e["attrs"]["data-count"]) for e in dom.within("dist-classes", "div", "hbar")}
    check(hb == dict(st.sql("SELECT class, COUNT(*) FROM alerts GROUP BY class")), "class distribution bars", hb)
    rows = [int(e["attrs"]["data-id"]) for e in dom.within("events-body", "tr") if "data-id" in e["attrs"]]
    check(rows == newest, "the event table lists the 25 newest alerts", (rows[:5], newest[:5]))
    fp = dom.within("events-body", "button", "fp")
    check(len(fp) == len(rows), "every event row has a 'false positive' button", len(fp))
    listed = sorted(e["attrs"]["data-address"] for e in dom.within("blocks-body", "tr") if "data-address" in e["attrs"])
    _, _, b = request(port, "GET", "/api/blocks")
    check(listed == sorted(x["address"] for x in b["blocks"]) and len(listed) == 2,
          "the block list shows the agent's blocks", listed)

    # Unblock from the page (deep link: the page clicks the row's Unblock button; see the docstring).
    victim = listed[0]
    p = chromium("--virtual-time-budget=15000", "--dump-dom", base + f"#token={st.token}&unblock={victim}")
    dom2 = Dom(p.stdout)
    check(f"unblock {victim}: unblocked {victim}" in dom2.text("messages"), "the page reports the unblock",
          dom2.text("messages"))
    after = [e["attrs"]["data-address"] for e in dom2.within("blocks-body", "tr") if "data-address" in e["attrs"]]
    check(victim not in after and len(after) == 1, "the page's block list no longer has it", after)
    _, _, b2 = request(port, "GET", "/api/blocks")
    check(victim not in [x["address"] for x in b2["blocks"]], "the agent no longer blocks it", b2)
    # The same link with a wrong token changes nothing.
    other = after[0] if after else None
    p = chromium("--virtual-time-budget=15000", "--dump-dom", base + f"#token={'0' * 64}&unblock={other}")
    dom3 = Dom(p.stdout)
    check("wrong token" in dom3.text("messages"), "a wrong token is reported on the page", dom3.text("messages"))
    _, _, b3 = request(port, "GET", "/api/blocks")
    check(other in [x["address"] for x in b3["blocks"]], "with a wrong token the block stays", b3)

    if shot:
        p = chromium("--virtual-time-budget=15000", "--window-size=1200,1150", "--screenshot=" + shot,
                     base + "#range=all")
        check(p.returncode == 0 and os.path.getsize(shot) > 10000, f"screenshot written to {shot}", p.stderr[-300:])


if __name__ == "__main__":
    main()
