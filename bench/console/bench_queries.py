#!/usr/bin/env python3
"""Times every console API query over HTTP against a running flowguard-console (bench/console/run.sh):
   bench_queries.py PORT EVENTS_DB [repeats=5]
Prints one line per query: median and worst wall time of the whole HTTP request in ms, and the rows or
series it returned. The ranges end at the newest stored alert."""
import http.client
import sqlite3
import statistics
import sys
import time
import urllib.parse


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t0) * 1000
    c.close()
    return r.status, ms, body


def main():
    port, db = int(sys.argv[1]), sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n, lo, hi = con.execute("SELECT COUNT(*), MIN(ts_us), MAX(ts_us) FROM alerts").fetchone()
    rare = con.execute("SELECT class FROM alerts GROUP BY class ORDER BY COUNT(*) LIMIT 1").fetchone()[0]
    quiet = con.execute("SELECT src_ip FROM alerts WHERE id = (SELECT MIN(id) FROM alerts)").fetchone()[0]
    mid_id = con.execute("SELECT MAX(id) / 2 FROM alerts").fetchone()[0]
    con.close()
    to = hi // 1000 + 1
    print(f"store: {n} alerts over {(hi - lo) / 86400e6:.1f} days; rare class '{rare}', quiet source {quiet}")
    q = urllib.parse.quote
    cases = [("overview (KPIs, counts, both peers)", "/api/overview")]
    for name, span in (("15 min", 900_000), ("1 h", 3_600_000), ("24 h", 86_400_000), ("7 days (all)", 8 * 86_400_000)):
        cases.append((f"timeline {name}, 60 buckets", f"/api/timeline?from_ms={to - span}&to_ms={to}&buckets=60"))
        cases.append((f"distribution {name} (classes, actions, top 10 sources)",
                      f"/api/distribution?from_ms={to - span}&to_ms={to}&top=10"))
    cases += [
        ("events: newest page (50)", "/api/events?limit=50"),
        ("events: keyset page in the middle", f"/api/events?limit=50&before_id={mid_id}"),
        ("events: page of 500", "/api/events?limit=500"),
        (f"events: rare class '{rare}'", f"/api/events?limit=50&class={q(rare)}"),
        ("events: action=block", "/api/events?limit=50&action=block"),
        (f"events: quiet address {quiet}", f"/api/events?limit=50&address={quiet}"),
        ("events: address 192.168.1.7 (destination)", "/api/events?limit=50&address=192.168.1.7"),
        ("events: search 'slowloris'", "/api/events?limit=50&q=slowloris"),
        ("events: search with no match", "/api/events?limit=50&q=no-such-text"),
        ("events: class with no rows (one whole 100,000-id window)", "/api/events?limit=50&class=nope"),
        ("events: its next window (keyset)", "/api/events?limit=50&class=nope&before_id=900001"),
        ("events: search no match, last 24 h", f"/api/events?limit=50&q=no-such-text&from_ms={to - 86_400_000}"),
        (f"events: rare class + time range 24 h", f"/api/events?limit=50&class={q(rare)}&from_ms={to - 86_400_000}"),
        ("events: one alert by id", f"/api/events/{mid_id}"),
        ("/metrics (peers absent)", "/metrics"),
    ]
    worst_all = 0
    print(f"{'query':58} {'median ms':>10} {'max ms':>8}  status")
    for name, path in cases:
        times, status = [], None
        for _ in range(repeats):
            status, ms, body = get(port, path)
            times.append(ms)
        worst_all = max(worst_all, max(times))
        note = "" if status == 200 else " " + body[:120].decode(errors="replace")
        print(f"{name:58} {statistics.median(times):10.1f} {max(times):8.1f}  {status}{note}")
    print(f"worst of all: {worst_all:.1f} ms")


if __name__ == "__main__":
    main()
