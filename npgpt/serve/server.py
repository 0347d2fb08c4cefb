"""The HTTP side of ``npgpt serve``: a standard-library threading server, four routes, no files.

    GET  /  /app.js  /style.css     the page, read from the package (a fixed list: no paths)
    GET  /api/info                  the model: name, chat or completion, sizes, limits
    POST /api/generate              a reply as Server-Sent Events: start, token..., end
    POST /api/inspect               attention and alternatives at one step (JSON)

A POST body is JSON (``Content-Type: application/json``, at most ``MAX_BODY`` bytes). Anything
wrong with a request gets a 4xx and ``{"error": "one line"}``; a tab closed mid-reply just ends
that reply. Each request runs in its own thread (``ThreadingHTTPServer``); at most
``max_streams`` replies stream at once, more get 503. Bound to a loopback address, the server
answers only requests whose Host is a loopback name (a web page elsewhere cannot reach it by
DNS rebinding), and the JSON content type keeps other sites' forms from posting to it.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from .session import RequestError, parse_settings

MAX_BODY = 1 << 20  # bytes
STATIC = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def static_file(name) -> bytes:
    """One of the page's files, from the package's data (never from the file system by URL)."""
    return (resources.files(__package__) / "static" / name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server_version = "npgpt-serve"
    # HTTP/1.1: a reply streams in chunks whose end the browser sees (an HTTP/1.0 body that ends
    # by closing the connection counts as an aborted request in Chromium)
    protocol_version = "HTTP/1.1"
    timeout = 300  # seconds an idle kept-alive connection (or a stalled client) holds its thread
    # send each small event at once: with Nagle's algorithm on, an event waits for the ACK of the
    # one before, which the client may delay by up to 40 ms
    disable_nagle_algorithm = True

    # ------------------------------------------------------------------ plumbing
    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, status, body: bytes, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype + "; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        if status >= 400:  # an unread request body must not be taken for the next request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, status=200):
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _error(self, status, message):
        self._json({"error": message}, status)

    def _host_ok(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        return host in LOOPBACK_NAMES

    def _body(self) -> dict:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            raise RequestError("send the request as JSON (Content-Type: application/json)", 415)
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise RequestError("the request needs a Content-Length", 411) from None
        if n < 0 or n > MAX_BODY:
            raise RequestError(f"the request body is {n} bytes; at most {MAX_BODY} are accepted", 413)
        try:
            body = json.loads(self.rfile.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(f"the request body is not valid JSON ({e})") from None
        except RecursionError:
            raise RequestError("the request body is JSON nested too deeply") from None
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        return body

    # ------------------------------------------------------------------ routes
    def do_GET(self):
        if not self._host_ok():
            return self._error(403, "unknown Host: the server answers only localhost")
        path = urlsplit(self.path).path
        if path == "/api/info":
            return self._json(self.server.session.info())
        if path in STATIC:
            name, ctype = STATIC[path]
            return self._send(200, static_file(name), ctype)
        self._error(404, f"no such page: {path}")

    def do_POST(self):
        if not self._host_ok():
            return self._error(403, "unknown Host: the server answers only localhost")
        path = urlsplit(self.path).path
        routes = {"/api/generate": self._generate, "/api/inspect": self._inspect}
        if path not in routes:
            return self._error(404, f"no such endpoint: {path}")
        try:
            routes[path](self._body())
        except RequestError as e:
            self._error(e.status, str(e))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the tab went away
        except Exception as e:  # a bug: say so, keep serving
            print(f"npgpt serve: {path}: {type(e).__name__}: {e}", file=sys.stderr)
            self._error(500, f"internal error: {type(e).__name__}: {e}")

    def _inspect(self, body):
        s = self.server.session
        settings = parse_settings(body, s.vocab, s.max_tokens)
        self._json(s.inspect(s.check_ids(body.get("ids"), "ids"), settings))

    def _generate(self, body):
        s = self.server.session
        settings = parse_settings(body, s.vocab, s.max_tokens)
        ids, dropped = s.prompt_ids(body, settings)
        if not self.server.streams.acquire(blocking=False):
            raise RequestError(f"busy: {self.server.max_streams} replies are streaming; try again soon", 503)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self._chunked = self.request_version != "HTTP/1.0"  # an HTTP/1.0 client reads to the close
            if self._chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
            self.end_headers()
            self._event({"type": "start", "prompt": [s.token(i) for i in ids], "dropped": dropped})
            reply = list(body.get("prefix") or [])
            for item in s.stream(ids, settings):
                if "stop" in item:  # the reply's text, decoded whole (a token may be part of a character)
                    text = s.tokenizer.decode([i for i in reply if i not in s.special_ids])
                    self._event({"type": "end", "reason": item["stop"], "text": text})
                else:
                    reply.append(item["id"])
                    self._event({"type": "token", **item})
            if self._chunked:
                self.wfile.write(b"0\r\n\r\n")  # the last chunk: the reply is complete
        finally:
            self.server.streams.release()

    def _event(self, obj):
        """One Server-Sent Event (``data: JSON`` and a blank line) in one chunk, flushed at once."""
        data = b"data: " + json.dumps(obj).encode() + b"\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data)  # one HTTP chunk
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the ``Session`` its handlers use."""

    daemon_threads = True  # Ctrl-C does not wait for open replies

    def __init__(self, session, host="127.0.0.1", port=0, max_streams=16, verbose=False):
        self.address_family = _family(host)
        super().__init__((host, port), Handler)
        self.session = session
        self.max_streams = max_streams
        self.streams = threading.BoundedSemaphore(max_streams)
        self.verbose = verbose
        self.loopback_only = _is_loopback(host)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"


def _is_loopback(host) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET
