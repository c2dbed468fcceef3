"""A real HTTP server for download tests: 127.0.0.1, ephemeral port, a daemon thread, bounded lifetime.

Routes serve bytes with configurable misbehaviour (HTTP status, Range support, a Content-Length larger than the body,
a stall); every request's path and headers are recorded so tests can prove what the client asked for.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass
class Route:
    """What one path serves."""

    body: bytes = b""
    status: int = 200
    ranges: bool = True  # honour "Range: bytes=N-" with 206
    extra_length: int = 0  # announce this many bytes more than are sent, then close (truncated body)
    stall_after: int | None = None  # after sending this many body bytes, go silent ...
    stall_seconds: float = 0.0  # ... for this long (the client's timeout should be shorter)


@dataclasses.dataclass
class Request:
    path: str
    headers: dict[str, str]


class LocalHTTPServer:
    """``with LocalHTTPServer() as srv: url = srv.add('/f', Route(b'...'))``; stops itself after ``lifetime``."""

    def __init__(self, lifetime: float = 20.0):
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.sent: dict[str, int] = {}  # body bytes written per path (last request)
        self._stop = threading.Event()
        self._lifetime = lifetime
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.status != 200:
                    self.send_error(route.status)
                    return
                body, start = route.body, 0
                rng = self.headers.get("Range")
                if route.ranges and rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes=") : -1])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                    if route.ranges:
                        self.send_header("Accept-Ranges", "bytes")
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload) + route.extra_length))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                sent = 0
                try:
                    if route.stall_after is not None:
                        self.wfile.write(payload[: route.stall_after])
                        self.wfile.flush()
                        sent = min(route.stall_after, len(payload))
                        server._stop.wait(route.stall_seconds)
                    self.wfile.write(payload[sent:])
                    sent = len(payload)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    server.sent[self.path] = sent
                self.close_connection = True

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, client_address: None
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._serve, name="test-http-server", daemon=True)

    def _serve(self) -> None:
        timer = threading.Timer(self._lifetime, self.stop)
        timer.daemon = True
        timer.start()
        try:
            self._httpd.serve_forever(poll_interval=0.05)
        finally:
            timer.cancel()

    def add(self, path: str, route: Route) -> str:
        """Serve ``route`` at ``path``; return its URL."""
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> LocalHTTPServer:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wake stalled handlers
        if not getattr(self, "_stopped", False):
            self._stopped = True
            threading.Thread(target=self._httpd.shutdown, daemon=True).start()

    def close(self) -> None:
        self.stop()
        self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
