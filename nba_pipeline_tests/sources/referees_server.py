"""A real HTTP server in a thread answering like official.nba.com's referee assignments page, from the page in
fixtures/nba_referee_assignments (built by hand around the crews recorded for 2024-02-22: SOURCES.md), with scripted
replies for errors."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nba_referee_assignments"
PAGE_2024_02_22 = (FIXTURES / "referee_assignments_2024-02-22.html").read_text()
PATH = "/referee-assignments/"


class RefereesServer:
    """`page` is the HTML served at PATH (edit it to change the day); `script` is a list of (status, body, headers)
    replies given in turn before the page. Every request's path and headers are in `seen`."""

    def __init__(self, page: str = PAGE_2024_02_22):
        self.page = page
        self.script: list[tuple[int, str, dict[str, str]]] = []
        self.seen: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.seen.append((self.path, dict(self.headers)))
                if server.script:
                    status, body, headers = server.script.pop(0)
                elif self.path == PATH:
                    status, body, headers = 200, server.page, {}
                else:
                    status, body, headers = 404, "<html><body>Not Found</body></html>", {}
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RefereesServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
