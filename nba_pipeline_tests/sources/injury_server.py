"""A real HTTP server in a thread answering like the league's injury-report CDN (`/referee/injury/<file>.pdf`) from
the recorded PDFs in fixtures/nba_injury_report, and like NBA.com's commonallplayers (`/stats/commonallplayers`);
403 for a file that was not published (what the CDN answers), scripted replies per path for errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nba_injury_report"
REPORT_PATH = "/referee/injury"
MISSING = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'


class InjuryReportServer:
    """`files[name]` are the PDF bodies served (the recorded ones; add or remove to change what was published);
    `script[path suffix]` is a list of (status, body) replies given in turn before the normal answer. Every request
    path is in `seen`."""

    def __init__(self):
        self.files: dict[str, bytes] = {p.name: p.read_bytes() for p in FIXTURES.glob("Injury-Report_*.pdf")}
        self.players = json.loads((FIXTURES / "CommonAllPlayers_2024-02-22.json").read_text())
        self.script: dict[str, list[tuple[int, bytes | dict]]] = {}
        self.seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = urlsplit(self.path).path
                server.seen.append(path)
                status, body = server.answer(path)
                text = json.dumps(body).encode() if isinstance(body, dict) else body
                self.send_response(status)
                kind = "application/json" if isinstance(body, dict) else "application/pdf" if text.startswith(b"%PDF") else "application/xml"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str) -> tuple[int, bytes | dict]:
        for suffix, replies in self.script.items():
            if path.endswith(suffix) and replies:
                return replies.pop(0)
        if path.endswith("/commonallplayers"):
            return 200, self.players
        name = path.rsplit("/", 1)[-1]
        if path.startswith(REPORT_PATH + "/") and name in self.files:
            return 200, self.files[name]
        return 403, MISSING

    def __enter__(self) -> InjuryReportServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reports_asked(self) -> list[str]:
        return [p for p in self.seen if p.startswith(REPORT_PATH)]

    def paths_ending(self, suffix: str) -> list[str]:
        return [p for p in self.seen if p.endswith(suffix)]
