"""A backend that normalises request paths as eagerly as any framework:
percent-decoding until nothing changes (a double-decoding backend), reading
`\\` as `/` (as WHATWG URL parsers do), then resolving `.`/`..` segments.
Every request is answered 200 with JSON {"raw": target, "path": resolved}
and recorded; `GET /__seen` (asked directly by the test, not through
portico) answers the list of records. Prints `listening on 127.0.0.1:PORT`
first, then serves until killed."""

import json
import posixpath
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEEN = []
LOCK = threading.Lock()


def resolve(target):
    path = target.split("?", 1)[0]
    for _ in range(4):
        decoded = urllib.parse.unquote(path)
        if decoded == path:
            break
        path = decoded
    path = posixpath.normpath(path.replace("\\", "/"))
    # normpath keeps a leading `//`; a backend would not.
    return "/" + path.lstrip("/")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _send(self, body):
        body = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/__seen":
            with LOCK:
                return self._send(list(SEEN))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        record = {"raw": self.path, "path": resolve(self.path)}
        with LOCK:
            SEEN.append(record)
        self._send(record)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
