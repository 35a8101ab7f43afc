#!/usr/bin/env python3
"""A small, deliberately vulnerable web app for the attack lab (standard library only).

Runs inside the victim namespace behind nginx (/app/ is proxied to it); never expose it elsewhere.
  GET  /app/             login form
  POST /app/login        user/pass check (parameterised; the HTTP brute-force target)
  GET  /app/item?id=N    item lookup built by string concatenation: SQL injection on purpose (sqlmap target)

Usage: vulnapp.py ADDR PORT DB_PATH
"""
import http.server
import socketserver
import sqlite3
import sys
import urllib.parse

FORM = (b"<html><body><h1>Lab shop</h1><form method=post action=/app/login>"
        b"<input name=user><input name=pass type=password><input type=submit></form></body></html>")


def init_db(path):
    db = sqlite3.connect(path)
    db.executescript("""
      DROP TABLE IF EXISTS users; DROP TABLE IF EXISTS items;
      CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, password TEXT);
      CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL);
      INSERT INTO users (name, password) VALUES ('alice', 'correct horse'), ('bob', 'battery staple');
    """)
    db.executemany("INSERT INTO items (name, price) VALUES (?, ?)",
                   [(f"item {i}", 1.5 * i) for i in range(1, 40)])
    db.commit()
    db.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    db_path = ""

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/app/", "/app"):
            return self.reply(200, FORM)
        if url.path == "/app/item":
            item = urllib.parse.parse_qs(url.query).get("id", ["1"])[0]
            db = sqlite3.connect(self.db_path)
            try:
                rows = db.execute("SELECT name, price FROM items WHERE id=" + item).fetchall()  # vulnerable
                body = "".join(f"<p>{n}: {p}</p>" for n, p in rows) or "<p>no such item</p>"
                return self.reply(200, f"<html><body>{body}</body></html>".encode())
            except sqlite3.Error as e:
                return self.reply(500, f"<html><body>database error: {e}</body></html>".encode())
            finally:
                db.close()
        return self.reply(404, b"<html><body>not found</body></html>")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(min(length, 65536)).decode(errors="replace"))
        if urllib.parse.urlsplit(self.path).path != "/app/login":
            return self.reply(404, b"<html><body>not found</body></html>")
        user, password = form.get("user", [""])[0], form.get("pass", [""])[0]
        db = sqlite3.connect(self.db_path)
        ok = db.execute("SELECT 1 FROM users WHERE name=? AND password=?", (user, password)).fetchone()
        db.close()
        self.reply(200, b"<html><body>Welcome back</body></html>" if ok
                   else b"<html><body>Login failed</body></html>")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    init_db(sys.argv[3])
    Handler.db_path = sys.argv[3]
    with Server((sys.argv[1], int(sys.argv[2])), Handler) as srv:
        srv.serve_forever()
