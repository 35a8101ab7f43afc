#!/usr/bin/env python3
"""Benign traffic roles for deploy/make-demo-pcap.sh (standard library only).

Every role is bounded (fixed counts, socket timeouts) so the demo generator always terminates.

  http-server  ROOT ADDR PORT          HTTP/1.1 file server with keep-alive (threaded)
  dns-server   ADDR PORT SECONDS       answers DNS-format A queries over UDP for SECONDS
  dns-client   SERVER PORT COUNT GAP   COUNT queries for fixed names, GAP seconds apart
  keepalive    SERVER PORT REQS IDLE   one TCP connection, REQS GETs with IDLE seconds of silence between
"""
import http.server
import socket
import socketserver
import struct
import sys
import time

NAMES = ["www.example.com", "mail.example.org", "intranet.example.net", "updates.example.com",
         "cdn.example.org", "api.example.net", "ntp.example.com", "wiki.example.org"]


class KeepAliveHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent connections like a real browser/server pair
    timeout = 30                   # idle keep-alive connections close after 30 s

    def log_message(self, *args):
        pass


class ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def http_server(root, addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ThreadingHTTPServer.address_family = family
    handler = lambda *a, **kw: KeepAliveHandler(*a, directory=root, **kw)  # noqa: E731
    with ThreadingHTTPServer((addr, int(port)), handler) as srv:
        srv.serve_forever()


def encode_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def dns_server(addr, port, seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, int(port)))
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            query, peer = sock.recvfrom(512)
        except socket.timeout:
            break
        if len(query) < 12:
            continue
        qid = query[:2]
        question = query[12:]
        # A record 192.0.2.x (TEST-NET-1) derived from the query so answers differ per name.
        ip = bytes([192, 0, 2, 1 + (sum(question) % 250)])
        header = qid + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + ip
        sock.sendto(header + question + answer, peer)


def dns_client(server, port, count, gap):
    for i in range(int(count)):
        # A fresh socket (random source port) per query, as a stub resolver does.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(1.0)
        name = NAMES[i % len(NAMES)]
        query = struct.pack(">HHHHHH", (0x1000 + i) & 0xFFFF, 0x0100, 1, 0, 0, 0)
        query += encode_name(name) + struct.pack(">HH", 1, 1)
        sock.sendto(query, (server, int(port)))
        try:
            sock.recvfrom(512)
        except socket.timeout:
            pass
        sock.close()
        time.sleep(float(gap))


def keepalive(server, port, reqs, idle):
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect((server, int(port)))
        host = f"[{server}]" if ":" in server else server
        for i in range(int(reqs)):
            path = "/page-small.html" if i % 2 == 0 else "/style.css"
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: demo-browser/1.0\r\n"
                         f"Accept: */*\r\nConnection: keep-alive\r\n\r\n".encode())
            read_response(sock)
            time.sleep(float(idle))


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return
        body += chunk


ROLES = {"http-server": http_server, "dns-server": dns_server, "dns-client": dns_client,
         "keepalive": keepalive}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ROLES:
        sys.exit(__doc__)
    ROLES[sys.argv[1]](*sys.argv[2:])
