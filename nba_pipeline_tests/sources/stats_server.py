"""A real HTTP server in a thread that answers like stats.nba.com from recorded bodies (fixtures/nba_stats_api),
with scripted misbehaviour per endpoint: statuses, Retry-After, truncated or malformed bodies, slow answers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_at: int | None = None  # send only this many bytes of the body, then close (a connection dropped mid-body)


@dataclass
class Seen:
    path: str
    endpoint: str
    params: dict[str, str]
    headers: dict[str, str]
    at: float


class StatsServer:
    """`script[endpoint]` is a list of replies given in turn (the last one repeats); `routes(endpoint, params)`
    answers when no script is set. Every request is recorded in `seen`."""

    def __init__(self, routes):
        self.routes, self.script, self.seen = routes, {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)  # an absolute URL when the request came through us as a proxy
                endpoint = url.path.rstrip("/").rsplit("/", 1)[-1]
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.seen.append(Seen(self.path, endpoint, params, dict(self.headers), time.monotonic()))
                queue = server.script.get(endpoint)
                reply = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else server.routes(endpoint, params)
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    self.wfile.write(reply.body if reply.cut_at is None else reply.body[: reply.cut_at])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StatsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests_to(self, endpoint: str) -> list[Seen]:
        return [s for s in self.seen if s.endpoint == endpoint]
